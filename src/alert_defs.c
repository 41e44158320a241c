/*-------------------------------------------------------------------------
 *
 * alert_defs.c
 *	  Alerting definitions: create/alter/drop destinations and alert rules
 *	  (privileged definitions), with their validation: URLs, secrets,
 *	  headers, schedules, message templates.  Evaluating rules and building
 *	  messages is alert.c's; sending is deliver.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "alert_defs.h"
#include "core/alert_core.h"
#include "core/cron.h"
#include "core/mail.h"
#include "core/netguard.h"
#include "core/template.h"
#include "core/uuid5.h"
#include "defs.h"
#include "fnargs.h"
#include "guc.h"
#include "privilege.h"
#include "spiutil.h"
#include "tripl.h"
#include "worker_shmem.h"

TRIPL_SQL_FUNCTION(tripl_create_destination);
TRIPL_SQL_FUNCTION(tripl_alter_destination);
TRIPL_SQL_FUNCTION(tripl_drop_destination);
TRIPL_SQL_FUNCTION(tripl_retry_deliveries);
TRIPL_SQL_FUNCTION(tripl_create_alert_rule);
TRIPL_SQL_FUNCTION(tripl_alter_alert_rule);
TRIPL_SQL_FUNCTION(tripl_drop_alert_rule);

#define DEFAULT_TELEGRAM_URL	"https://api.telegram.org"
#define DEFAULT_PAGERDUTY_URL	"https://events.pagerduty.com/v2/enqueue"
#define DEFAULT_LINEAR_URL		"https://api.linear.app/graphql"

/* A UUID, as Linear's ids are (a POSIX regular expression) */
#define LINEAR_UUID	"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#define MAX_SECRET_LENGTH		4096

/* Placeholders a message template may use */
static const char *const template_names[] = {
	"rule", "destination", "database", "count", "summary", "items",
	"metric", "direction", "actual", "expected", "absolute_delta",
	"percent_delta", "bucket", "z_score", "unit", "detector",
	"incident_id", "description"
};


/*--------------------------------------------------------------------
 * Privileges and validation
 *--------------------------------------------------------------------
 */

/* Refuse unless superuser or member of tripl_admin */
void
alert_require_admin(const char *what)
{
	if (!caller_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", what),
				 errhint("Only superusers and members of the tripl_admin role may do this.")));
}

/*
 * Check a destination URL: http/https (smtp/smtps for email), no literal
 * private addresses
 */
static void
check_destination_url(const char *url, const char *type)
{
	char		host[NETGUARD_HOST_BUFLEN];
	char		err[256];
	char		why[128];
	int			port;
	bool		implicit_tls;

	if (strcmp(type, "email") == 0 ?
		!mail_url_check(url, host, sizeof(host), &port, &implicit_tls, err, sizeof(err)) :
		!url_check(url, host, sizeof(host), &port, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid destination URL: %s", err),
				 strcmp(type, "email") == 0 ?
				 errhint("An email destination's url is smtp://host:port (STARTTLS) or smtps://host:port (TLS).") : 0));
	if (!tripl_allow_private_destinations && host_literal_is_forbidden(host, why, sizeof(why)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("destination URL points to a %s", why),
				 errhint("Outbound alerts may not reach private, loopback or link-local addresses unless a superuser sets tripl.allow_private_destinations = on.")));
}

/* A secret: bounded, printable, no line breaks (it may become a header) */
static void
check_secret(const char *secret)
{
	const unsigned char *p;

	check_text_length(secret, MAX_SECRET_LENGTH, "secret");
	if (secret[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret must not be empty")));
	for (p = (const unsigned char *) secret; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("secret must not contain control characters")));
	}
}

/*
 * An HTTP header name we may set: a token that is not one tripl sets
 * itself (deliver.c: Content-Type, Expect, Idempotency-Key, X-Tripl-Attempt
 * and the User-Agent; curl: Host, Content-Length, Accept and the framing
 * headers), nor any other in tripl's own X-Tripl- namespace, nor a
 * hop-by-hop header.  A duplicate would be sent twice or replace ours.
 */
static void
check_header_name(const char *h)
{
	static const char *const reserved[] = {
		"content-type", "content-length", "host", "idempotency-key", "transfer-encoding",
		"connection", "user-agent", "expect", "te", "upgrade", "trailer", "keep-alive",
		"accept", "proxy-connection"
	};
	const char *p;
	int			i;

	if (h[0] == '\0' || strlen(h) > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret_header must be 1 to 100 characters")));
	for (p = h; *p; p++)
	{
		if (!(isalnum((unsigned char) *p) || *p == '-' || *p == '_') || IS_HIGHBIT_SET(*p))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("secret_header \"%s\" is not a valid HTTP header name", h)));
	}
	for (i = 0; i < (int) lengthof(reserved); i++)
	{
		if (pg_strcasecmp(h, reserved[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("secret_header \"%s\" is set by tripl itself", h),
					 errhint("Reserved: Content-Type, Content-Length, Host, Idempotency-Key, User-Agent, Accept, Expect, Connection, Transfer-Encoding, TE, Upgrade, Trailer, Keep-Alive, Proxy-Connection and every X-Tripl-* header.")));
	}
	if (pg_strncasecmp(h, "x-tripl-", 8) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret_header \"%s\" is set by tripl itself", h),
				 errdetail("X-Tripl-* headers are reserved for tripl (it sends X-Tripl-Attempt with every request)."),
				 errhint("Use another name, e.g. X-Webhook-Token or Authorization.")));
}

/* A cron schedule; NULL or empty means none */
static void
check_schedule(const char *schedule)
{
	CronSchedule cs;
	char		err[256];

	if (!cron_parse(schedule, &cs, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid schedule: %s", err),
				 errhint("Use five cron fields (minute hour day-of-month month day-of-week), e.g. '0 9 * * 1-5', in UTC.")));
}

/* A Telegram bot token goes into the URL path: letters, digits, ':', '_', '-' */
static void
check_telegram_token(const char *token)
{
	const char *p;

	for (p = token; *p; p++)
	{
		if (!(isalnum((unsigned char) *p) || *p == ':' || *p == '_' || *p == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a Telegram bot token has only letters, digits, ':', '_' and '-'")));
	}
}

/* The URL shown for a Slack destination (its real URL is the secret) */
static char *
redacted_url(const char *url)
{
	char		host[NETGUARD_HOST_BUFLEN];
	char		err[256];
	int			port;
	const char *scheme_end = strstr(url, "://");

	if (!url_check(url, host, sizeof(host), &port, err, sizeof(err)) || scheme_end == NULL)
		return pstrdup("(redacted)");
	return psprintf("%.*s://%s/...", (int) (scheme_end - url), url, host);
}

static char *check_jira_options(const char *options);
static char *check_linear_options(const char *options);

/*
 * Run a query over a destination's options, o ($1::jsonb): the type of o
 * and its keys outside allowed (an SQL list) are checked here, columns are
 * the caller's, from column 2 of row 0 on.  what names the destination
 * kind ("an email destination"), names its options for the hint.
 */
static void
options_query(const char *options, const char *what, const char *allowed, const char *names,
			  const char *columns)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(options);
	catalog_execute(psprintf("SELECT jsonb_typeof(o), "
							 "(SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(CASE WHEN jsonb_typeof(o) = 'object' "
							 "  THEN o ELSE '{}' END) k WHERE k NOT IN (%s)), %s "
							 "FROM (SELECT $1::jsonb AS o) s", allowed, columns),
					1, types, values, NULL, true, 0);
	if (strcmp(spi_text(0, 0), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object")));
	if (spi_text(0, 1) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown option for %s: %s", what, spi_text(0, 1)),
				 errhint("The options of %s are %s.", what, names)));
}

/*
 * A destination's options (the settings of its type), checked and made
 * into the jsonb text stored in tripl.destinations.options.  Email has
 * from (an address), to (1 to 50 addresses, an array or one string) and
 * starttls (boolean, default true; false only for smtp://); jira has
 * check_jira_options', linear check_linear_options'; other types have none.
 */
static char *
check_options(const char *type, const char *options, const char *url)
{
	StringInfoData out;
	char		err[256];
	const char *from;
	ArrayType  *to;
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int			i;
	bool		isnull;
	bool		starttls = true;

	if (strcmp(type, "jira") == 0)
		return check_jira_options(options);
	if (strcmp(type, "linear") == 0)
		return check_linear_options(options);
	if (strcmp(type, "email") != 0)
	{
		if (options != NULL && strcmp(options, "{}") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s destinations take no options", type),
					 errhint("Only email, jira and linear destinations have options.")));
		return pstrdup("{}");
	}
	if (options == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an email destination needs options with from and to"),
				 errhint("E.g. options => '{\"from\": \"tripl@example.com\", \"to\": [\"ops@example.com\"]}'.")));
	options_query(options, "an email destination", "'from', 'to', 'starttls'", "from, to and starttls",
				  "jsonb_typeof(o->'from'), o->>'from', jsonb_typeof(o->'to'), "
				  "(SELECT bool_and(jsonb_typeof(e) = 'string') FROM jsonb_array_elements(CASE jsonb_typeof(o->'to') "
				  "  WHEN 'array' THEN o->'to' WHEN 'string' THEN jsonb_build_array(o->'to') ELSE '[]' END) e), "
				  "ARRAY(SELECT e FROM jsonb_array_elements_text(CASE jsonb_typeof(o->'to') "
				  "  WHEN 'array' THEN o->'to' WHEN 'string' THEN jsonb_build_array(o->'to') ELSE '[]' END) e), "
				  "jsonb_typeof(o->'starttls'), o->>'starttls'");
	if (spi_text(0, 2) == NULL || strcmp(spi_text(0, 2), "string") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"from\" must be an email address")));
	from = spi_text(0, 3);
	if (!mail_address_check(from, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"from\": %s", err)));
	if (spi_text(0, 5) == NULL || strcmp(spi_text(0, 5), "t") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"to\" must be an address or an array of 1 to %d addresses", MAIL_MAX_RECIPIENTS)));
	to = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull));
	deconstruct_array(to, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
	if (n < 1 || n > MAIL_MAX_RECIPIENTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"to\" must be an address or an array of 1 to %d addresses", MAIL_MAX_RECIPIENTS)));
	if (spi_text(0, 7) != NULL)
	{
		if (strcmp(spi_text(0, 7), "boolean") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"starttls\" must be true or false")));
		starttls = strcmp(spi_text(0, 8), "true") == 0;
		if (!starttls && strncmp(url, "smtp://", 7) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"starttls\": false is only for smtp:// URLs"),
					 errhint("An smtps:// URL always uses TLS.")));
	}
	initStringInfo(&out);
	appendStringInfoString(&out, "{\"from\": ");
	escape_json(&out, from);
	appendStringInfoString(&out, ", \"to\": [");
	for (i = 0; i < n; i++)
	{
		char	   *addr = TextDatumGetCString(elems[i]);

		if (!mail_address_check(addr, err, sizeof(err)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"to\": %s", err)));
		if (i > 0)
			appendStringInfoString(&out, ", ");
		escape_json(&out, addr);
	}
	appendStringInfo(&out, "], \"starttls\": %s}", starttls ? "true" : "false");
	return out.data;
}

/*
 * A Jira destination's options: project (a project key), issue_type (a
 * name, default Task), labels (up to 10, letters, digits, '_', '-', '.'),
 * api_version (2 or 3, default 3)
 */
static char *
check_jira_options(const char *options)
{
	const char *p;
	char	   *project;
	char	   *issue_type;
	char	   *labels;
	char	   *transition;
	int			version;

	if (options == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a jira destination needs options with a project"),
				 errhint("E.g. options => '{\"project\": \"OPS\", \"issue_type\": \"Task\", \"labels\": [\"metrics\"]}'.")));
	options_query(options, "a jira destination", "'project', 'issue_type', 'labels', 'api_version', 'resolve_transition'",
				  "project, issue_type, labels, api_version and resolve_transition",
				  "CASE WHEN jsonb_typeof(o->'project') = 'string' THEN o->>'project' END, "
				  "CASE WHEN o->'issue_type' IS NULL THEN 'Task' WHEN jsonb_typeof(o->'issue_type') = 'string' THEN o->>'issue_type' END, "
				  "CASE WHEN o->'labels' IS NULL THEN '' WHEN jsonb_typeof(o->'labels') = 'array' "
				  "  AND (SELECT bool_and(jsonb_typeof(e) = 'string') FROM jsonb_array_elements(o->'labels') e) "
				  "  AND jsonb_array_length(o->'labels') <= 10 "
				  "  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(o->'labels') l WHERE l !~ '^[A-Za-z0-9_.-]{1,100}$') "
				  "  THEN array_to_string(ARRAY(SELECT jsonb_array_elements_text(o->'labels')), ' ') END, "
				  "CASE WHEN o->'api_version' IS NULL THEN 3 WHEN o->>'api_version' IN ('2', '3') THEN (o->>'api_version')::int ELSE 0 END, "
				  "CASE WHEN o->'resolve_transition' IS NULL THEN '' WHEN jsonb_typeof(o->'resolve_transition') = 'string' "
				  "  AND length(o->>'resolve_transition') BETWEEN 1 AND 100 AND o->>'resolve_transition' !~ '[[:cntrl:]]' "
				  "  THEN o->>'resolve_transition' END");
	transition = (char *) spi_text(0, 6);
	if (transition == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"resolve_transition\" must be the name of a Jira transition (1 to 100 characters, no control characters)"),
				 errhint("The name shown on the issue's workflow button, e.g. \"Done\"; it is looked up when an incident closes.")));
	project = (char *) spi_text(0, 2);
	issue_type = (char *) spi_text(0, 3);
	labels = (char *) spi_text(0, 4);
	version = atoi(spi_text(0, 5));
	if (project == NULL || project[0] == '\0' || strlen(project) > 32)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"project\" must be a Jira project key")));
	for (p = project; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (p > project && ((*p >= '0' && *p <= '9') || *p == '_'))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"project\" must be a Jira project key (upper-case letters, then letters, digits or '_')")));
	if (issue_type == NULL || issue_type[0] == '\0' || strlen(issue_type) > 60)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"issue_type\" must be an issue type name of 1 to 60 characters")));
	for (p = issue_type; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"issue_type\" must not contain control characters")));
	if (labels == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"labels\" must be an array of at most 10 labels of 1 to 100 letters, digits, '_', '-' or '.'")));
	for (p = labels; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '_' || *p == '-' || *p == '.' || *p == ' ') || IS_HIGHBIT_SET(*p))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a Jira label has only letters, digits, '_', '-' and '.'")));
	if (version == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"api_version\" must be 2 or 3")));
	{
		StringInfoData out;
		char	   *copy = pstrdup(labels);
		char	   *tok;
		char	   *save = NULL;
		bool		first = true;

		initStringInfo(&out);
		appendStringInfoString(&out, "{\"project\": ");
		escape_json(&out, project);
		appendStringInfoString(&out, ", \"issue_type\": ");
		escape_json(&out, issue_type);
		appendStringInfoString(&out, ", \"labels\": [");
		for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		{
			if (!first)
				appendStringInfoString(&out, ", ");
			escape_json(&out, tok);
			first = false;
		}
		appendStringInfo(&out, "], \"api_version\": %d", version);
		if (transition[0] != '\0')
		{
			appendStringInfoString(&out, ", \"resolve_transition\": ");
			escape_json(&out, transition);
		}
		appendStringInfoChar(&out, '}');
		return out.data;
	}
}

/*
 * A Linear destination's options: team_id (the team's id, a UUID; issues
 * are created in it) and label_ids (up to 10 label ids, UUIDs)
 */
static char *
check_linear_options(const char *options)
{
	const char *team;
	const char *labels;
	StringInfoData out;
	char	   *copy;
	char	   *tok;
	char	   *save = NULL;
	bool		first = true;

	if (options == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a linear destination needs options with a team_id"),
				 errhint("E.g. options => '{\"team_id\": \"9cfb482a-81e3-4154-b5b9-2c805e70a02d\", \"label_ids\": []}' (the team's id, from Linear's API or its settings).")));
	options_query(options, "a linear destination", "'team_id', 'label_ids'", "team_id and label_ids",
				  "CASE WHEN jsonb_typeof(o->'team_id') = 'string' AND o->>'team_id' ~* '^" LINEAR_UUID "$' THEN lower(o->>'team_id') END, "
				  "CASE WHEN o->'label_ids' IS NULL THEN '' WHEN jsonb_typeof(o->'label_ids') = 'array' "
				  "  AND jsonb_array_length(o->'label_ids') <= 10 "
				  "  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(o->'label_ids') e "
				  "                  WHERE jsonb_typeof(e) <> 'string' OR e #>> '{}' !~* '^" LINEAR_UUID "$') "
				  "  THEN array_to_string(ARRAY(SELECT lower(jsonb_array_elements_text(o->'label_ids'))), ' ') END");
	team = spi_text(0, 2);
	labels = spi_text(0, 3);
	if (team == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"team_id\" must be a Linear team id (a UUID)"),
				 errhint("Query { teams { nodes { id key name } } } in Linear's API explorer, or copy it from the team's settings.")));
	if (labels == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"label_ids\" must be an array of at most 10 Linear label ids (UUIDs)")));
	initStringInfo(&out);
	appendStringInfoString(&out, "{\"team_id\": ");
	escape_json(&out, team);
	appendStringInfoString(&out, ", \"label_ids\": [");
	copy = pstrdup(labels);
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
	{
		if (!first)
			appendStringInfoString(&out, ", ");
		escape_json(&out, tok);
		first = false;
	}
	appendStringInfoString(&out, "]}");
	return out.data;
}

/*
 * An email destination's secret is "username:password" (the SMTP login), a
 * jira destination's "email:api_token" (Basic authentication)
 */
static void
check_email_secret(const char *secret, const char *type)
{
	const char *colon = strchr(secret, ':');
	bool		jira = strcmp(type, "jira") == 0;

	if (colon == NULL || colon == secret)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a%s %s destination's secret is \"%s\"", jira ? "" : "n", type,
						jira ? "email:api_token" : "username:password"),
				 errhint(jira ? "The Atlassian account's email, a colon, an API token." :
						 "The SMTP login: the user name, a colon, the password.")));
}

/*--------------------------------------------------------------------
 * Destinations
 *--------------------------------------------------------------------
 */

/* SQL: tripl.create_destination(name, type, url, secret, secret_header, chat_id, schedule, enabled) */
Datum
tripl_create_destination(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	char	   *type = fn_arg_text(fcinfo, 1);
	char	   *url = fn_arg_text(fcinfo, 2);
	char	   *secret = fn_arg_text(fcinfo, 3);
	char	   *secret_header = fn_arg_text(fcinfo, 4);
	char	   *chat_id = fn_arg_text(fcinfo, 5);
	char	   *schedule = fn_arg_text(fcinfo, 6);
	bool		enabled = PG_ARGISNULL(7) ? true : PG_GETARG_BOOL(7);
	char	   *options = PG_NARGS() > 8 && !PG_ARGISNULL(8) ?
		DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(8))) : NULL;
	char	   *shown_url;
	int64		id;
	Oid			types[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID};
	Datum		values[8];
	char		nulls[9] = "        ";

	alert_require_admin("create an alert destination");
	check_definition_name(name, "destination");
	if (type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("type must not be NULL"),
				 errhint("Use webhook, slack, telegram, pagerduty, email, teams, jira or linear.")));
	if (strcmp(type, "webhook") != 0 && strcmp(type, "slack") != 0 &&
		strcmp(type, "telegram") != 0 && strcmp(type, "pagerduty") != 0 &&
		strcmp(type, "email") != 0 && strcmp(type, "teams") != 0 && strcmp(type, "jira") != 0 &&
		strcmp(type, "linear") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid destination type \"%s\"", type),
				 errhint("Use webhook, slack, telegram, pagerduty, email, teams, jira or linear.")));
	if (secret_header && strcmp(type, "webhook") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret_header is only for webhook destinations")));
	if (chat_id && strcmp(type, "telegram") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chat_id is only for telegram destinations")));
	if (schedule && schedule[0] == '\0')
		schedule = NULL;
	if (schedule)
	{
		if (strcmp(type, "pagerduty") == 0 || strcmp(type, "jira") == 0 || strcmp(type, "linear") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s destinations cannot be digests", type),
					 errhint("They get one event or issue per incident, as it happens.")));
		check_schedule(schedule);
	}

	if (strcmp(type, "webhook") == 0)
	{
		if (url == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("url is required for a webhook destination")));
		if ((secret == NULL) != (secret_header == NULL))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("secret and secret_header go together for a webhook destination"),
					 errhint("The secret is sent as the value of the header named by secret_header.")));
		if (secret_header)
			check_header_name(secret_header);
		shown_url = url;
	}
	else if (strcmp(type, "slack") == 0 || strcmp(type, "teams") == 0)
	{
		if (url == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("url is required for a %s destination", type),
					 errhint("Use the webhook URL %s gave you; tripl keeps it as the secret.",
							 strcmp(type, "slack") == 0 ? "Slack" : "the Teams workflow")));
		if (secret)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a %s destination takes no secret: its URL is the secret", type)));
		secret = url;
		shown_url = redacted_url(url);
	}
	else if (strcmp(type, "jira") == 0)
	{
		if (url == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("url is required for a jira destination"),
					 errhint("The site's base URL, e.g. https://example.atlassian.net.")));
		if (secret == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("secret is required for a jira destination"),
					 errhint("Pass \"email:api_token\" (Basic authentication).")));
		check_secret(secret);
		check_email_secret(secret, type);
		shown_url = url;
	}
	else if (strcmp(type, "linear") == 0)
	{
		if (url == NULL)
			url = DEFAULT_LINEAR_URL;
		if (secret == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("secret is required for a linear destination"),
					 errhint("Pass a Linear API key (lin_api_...), or \"Bearer <OAuth access token>\".")));
		shown_url = url;
	}
	else if (strcmp(type, "email") == 0)
	{
		if (url == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("url is required for an email destination"),
					 errhint("The SMTP server: smtp://host:587 (STARTTLS) or smtps://host:465 (TLS).")));
		if (secret)
		{
			check_secret(secret);
			check_email_secret(secret, type);
		}
		shown_url = url;
	}
	else
	{
		bool		telegram = strcmp(type, "telegram") == 0;

		if (url == NULL)
			url = telegram ? DEFAULT_TELEGRAM_URL : DEFAULT_PAGERDUTY_URL;
		if (secret == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("secret is required for a %s destination", type),
					 errhint(telegram ? "Pass the bot token as secret." : "Pass the Events v2 routing key as secret.")));
		if (telegram)
		{
			if (chat_id == NULL || chat_id[0] == '\0' || strlen(chat_id) > 64)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("chat_id is required for a telegram destination (at most 64 characters)")));
			check_telegram_token(secret);
		}
		shown_url = url;
	}
	check_destination_url(url, type);
	if (secret)
		check_secret(secret);

	SPI_connect();
	options = check_options(type, options, url);
	values[0] = CStringGetTextDatum(name);
	catalog_execute("SELECT 1 FROM tripl.destinations WHERE name = $1", 1, types, values, NULL, true, 0);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("destination \"%s\" already exists", name)));
	values[1] = CStringGetTextDatum(type);
	values[2] = CStringGetTextDatum(shown_url);
	spi_param_text(values, nulls, 3, secret_header);
	spi_param_text(values, nulls, 4, chat_id);
	spi_param_text(values, nulls, 5, schedule);
	values[6] = BoolGetDatum(enabled);
	values[7] = CStringGetTextDatum(options);
	/* called through the 0.1 signature (before ALTER EXTENSION UPDATE): no options column yet */
	catalog_execute(PG_NARGS() > 8 ?
					"INSERT INTO tripl.destinations (name, type, url, secret_header, chat_id, schedule, "
					"enabled, owner, last_flushed_at, options) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, current_user::regrole, tripl.now(), $8::jsonb) RETURNING id" :
					"INSERT INTO tripl.destinations (name, type, url, secret_header, chat_id, schedule, "
					"enabled, owner, last_flushed_at) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, current_user::regrole, tripl.now()) RETURNING id",
					PG_NARGS() > 8 ? 8 : 7, types, values, nulls, false, 0);
	id = spi_int64(0, 0);
	if (secret)
	{
		Oid			t2[3] = {INT8OID, TEXTOID, OIDOID};
		Datum		v2[3];

		v2[0] = Int64GetDatum(id);
		v2[1] = CStringGetTextDatum(secret);
		v2[2] = ObjectIdGetDatum(GetUserId());
		catalog_execute("INSERT INTO tripl.destination_secrets (destination_id, secret, owner) "
						"VALUES ($1, $2, $3::regrole)", 3, t2, v2, NULL, false, 0);
	}
	/* the owner is the caller, not catalog_execute's role */
	{
		Oid			t2[2] = {INT8OID, OIDOID};
		Datum		v2[2];

		v2[0] = Int64GetDatum(id);
		v2[1] = ObjectIdGetDatum(GetUserId());
		catalog_execute("UPDATE tripl.destinations SET owner = $2::regrole WHERE id = $1",
						2, t2, v2, NULL, false, 0);
	}
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* Load a destination by name (id, type, owner), erroring when missing */
int64
alert_destination_id(const char *name, Oid *owner, char **type)
{
	check_definition_name(name, "destination");
	(void) select_definition("destination", "destinations", "id, owner::oid::int8, type", name, 0, false);
	if (owner)
		*owner = (Oid) spi_int64(0, 1);
	if (type)
		*type = (char *) spi_text(0, 2);
	return spi_int64(0, 0);
}

/* Owner (or superuser) only */
static void
require_owner(Oid owner, const char *what, const char *name)
{
	if (!superuser() && !has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of %s \"%s\"", what, name)));
}

/*
 * A destination carries its owner's secret (a Slack URL, a bot token, a
 * routing key, a header value): only its owner, a member of the owning
 * role or a superuser may test, change or drop it, or have alert rules
 * send to it (`to` says which, e.g. "test it")
 */
void
alert_require_destination_owner(Oid owner, const char *name, const char *to)
{
	const char *role;

	if (superuser() || has_privs_of_role(GetUserId(), owner))
		return;
	role = GetUserNameFromId(owner, true);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("must be owner of destination \"%s\" to %s", name, to),
			 errdetail("Destination \"%s\" belongs to role \"%s\".", name, role ? role : "(dropped)"),
			 errhint("Only the owner of a destination, members of the owning role and superusers may test, change or drop it, or create or change alert rules that send to it.")));
}

/*
 * SQL: tripl.alter_destination(name, enabled, url, secret, schedule,
 * secret_header).  NULL leaves a setting as it is; at least one must be
 * given, and each one given is either applied or refused (never ignored).
 */
Datum
tripl_alter_destination(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	char	   *url = fn_arg_text(fcinfo, 2);
	char	   *secret = fn_arg_text(fcinfo, 3);
	char	   *schedule = fn_arg_text(fcinfo, 4);
	char	   *secret_header = PG_NARGS() > 5 ? fn_arg_text(fcinfo, 5) : NULL;
	char	   *options = PG_NARGS() > 6 && !PG_ARGISNULL(6) ?
		DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(6))) : NULL;
	bool		has_enabled = !PG_ARGISNULL(1);
	char	   *type;
	Oid			owner;
	int64		id;
	bool		has_secret;
	char	   *stored_header;
	char	   *stored_url;
	bool		url_is_secret;
	Oid			types[6] = {INT8OID, BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[7] = "      ";

	alert_require_admin("change an alert destination");
	SPI_connect();
	id = alert_destination_id(name, &owner, &type);
	alert_require_destination_owner(owner, name, "change it");
	if (!has_enabled && url == NULL && secret == NULL && schedule == NULL && secret_header == NULL &&
		options == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nothing to change for destination \"%s\"", name),
				 errhint("Pass at least one of enabled, url, secret, secret_header, schedule or options.")));
	values[0] = Int64GetDatum(id);
	catalog_execute("SELECT d.secret_header, EXISTS (SELECT 1 FROM tripl.destination_secrets s "
					"WHERE s.destination_id = d.id), d.url FROM tripl.destinations d WHERE d.id = $1",
					1, types, values, NULL, true, 0);
	stored_header = (char *) spi_text(0, 0);
	has_secret = strcmp(spi_text(0, 1), "t") == 0;
	stored_url = (char *) spi_text(0, 2);
	url_is_secret = strcmp(type, "slack") == 0 || strcmp(type, "teams") == 0;

	if (secret_header && strcmp(type, "webhook") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret_header is only for webhook destinations")));
	if (url_is_secret && secret)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s destination takes no secret: change its url instead", type),
				 errhint("The webhook URL is the secret of a %s destination.", type)));
	if (options)
		options = check_options(type, options, url ? url : stored_url);
	if (url)
	{
		check_destination_url(url, type);
		if (url_is_secret)
		{
			secret = url;
			url = redacted_url(url);
		}
	}
	if (secret)
	{
		check_secret(secret);
		if (strcmp(type, "telegram") == 0)
			check_telegram_token(secret);
		if (strcmp(type, "email") == 0 || strcmp(type, "jira") == 0)
			check_email_secret(secret, type);
	}
	if (strcmp(type, "webhook") == 0)
	{
		/* the secret is sent as the value of the header secret_header names */
		if (secret_header)
			check_header_name(secret_header);
		if (secret && secret_header == NULL && stored_header == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("webhook destination \"%s\" has no secret_header to send the secret in", name),
					 errhint("Pass secret_header too, e.g. tripl.alter_destination('%s', secret => '...', secret_header => 'X-Webhook-Token').",
							 name)));
		if (secret_header && secret == NULL && !has_secret)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("webhook destination \"%s\" has no secret to send in header \"%s\"",
							name, secret_header),
					 errhint("Pass secret too: secret and secret_header go together for a webhook destination.")));
	}
	if (schedule && schedule[0] != '\0')
	{
		if (strcmp(type, "pagerduty") == 0 || strcmp(type, "jira") == 0 || strcmp(type, "linear") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s destinations cannot be digests", type)));
		check_schedule(schedule);
	}
	if (has_enabled)
		values[1] = BoolGetDatum(PG_GETARG_BOOL(1));
	else
		nulls[1] = 'n';
	spi_param_text(values, nulls, 2, url);
	spi_param_text(values, nulls, 3, schedule);
	spi_param_text(values, nulls, 4, secret_header);
	spi_param_text(values, nulls, 5, options);
	catalog_execute("UPDATE tripl.destinations SET enabled = coalesce($2, enabled), url = coalesce($3, url), "
					"schedule = CASE WHEN $4 IS NULL THEN schedule WHEN $4 = '' THEN NULL ELSE $4 END, "
					"secret_header = coalesce($5, secret_header), options = coalesce($6::jsonb, options) "
					"WHERE id = $1", 6, types, values, nulls, false, 0);
	if (secret)
	{
		/* a webhook made without a secret has no row yet: its owner's */
		values[2] = CStringGetTextDatum(secret);
		catalog_execute("INSERT INTO tripl.destination_secrets (destination_id, secret, owner) "
						"SELECT id, $3, owner FROM tripl.destinations WHERE id = $1 "
						"ON CONFLICT (destination_id) DO UPDATE SET secret = EXCLUDED.secret",
						3, types, values, NULL, false, 0);
	}
	/* deliveries that waited for a disabled destination can go now */
	if (has_enabled && PG_GETARG_BOOL(1))
		worker_wake_delivery();
	SPI_finish();
	PG_RETURN_VOID();
}

/* SQL: tripl.drop_destination(name) */
Datum
tripl_drop_destination(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	Oid			owner;
	int64		id;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	alert_require_admin("drop an alert destination");
	SPI_connect();
	id = alert_destination_id(name, &owner, NULL);
	alert_require_destination_owner(owner, name, "drop it");
	refuse_drop_if_used("SELECT name FROM tripl.alert_rules WHERE destination_id = $1 ORDER BY name",
						id, "destination", name, "alert rules",
						"Drop those rules first with tripl.drop_alert_rule().");
	values[0] = Int64GetDatum(id);
	catalog_execute("DELETE FROM tripl.destinations WHERE id = $1", 1, types, values, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/*--------------------------------------------------------------------
 * Rules
 *--------------------------------------------------------------------
 */

/* A message template: every placeholder must be one tripl knows */
static void
check_template(const char *tmpl)
{
	char		err[256];

	check_text_length(tmpl, TRIPL_MAX_TEXT_LENGTH, "message_template");
	if (!template_check(tmpl, template_names, lengthof(template_names), err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid message_template: %s", err),
				 errhint("The placeholders are: rule, destination, database, count, summary, items, metric, direction, actual, expected, absolute_delta, percent_delta, bucket, z_score, unit, detector, incident_id, description.")));
}

/* A finite, non-negative float argument */
static double
nonneg_arg(FunctionCallInfo fcinfo, int i, const char *what, double dflt)
{
	double		v;

	if (PG_ARGISNULL(i))
		return dflt;
	v = PG_GETARG_FLOAT8(i);
	if (!isfinite(v) || v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number, at least 0", what)));
	return v;
}

/* SQL: tripl.create_alert_rule(...) */
Datum
tripl_create_alert_rule(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	char	   *destination = fn_arg_text(fcinfo, 1);
	bool		all_metrics = PG_ARGISNULL(2);
	List	   *metrics = fn_arg_name_list(fcinfo, 2, "metrics");
	bool		spike = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
	bool		drop = PG_ARGISNULL(4) ? true : PG_GETARG_BOOL(4);
	double		min_pct = nonneg_arg(fcinfo, 5, "min_percent_delta", 30);
	double		min_abs = nonneg_arg(fcinfo, 6, "min_absolute_delta", 0);
	double		min_exp = nonneg_arg(fcinfo, 7, "min_expected", 0);
	Interval   *cooldown = PG_ARGISNULL(8) ? NULL : PG_GETARG_INTERVAL_P(8);
	char	   *tmpl = fn_arg_text(fcinfo, 9);
	bool		enabled = PG_ARGISNULL(11) ? true : PG_GETARG_BOOL(11);
	bool		notify_on_resolve = PG_NARGS() <= 12 || PG_ARGISNULL(12) ? true : PG_GETARG_BOOL(12);
	int64		dest_id;
	Oid			dest_owner;
	int64		id;
	ListCell   *lc;
	Oid			types[13] = {TEXTOID, INT8OID, BOOLOID, BOOLOID, BOOLOID, FLOAT8OID, FLOAT8OID,
	FLOAT8OID, INTERVALOID, TEXTOID, TIMESTAMPTZOID, BOOLOID, BOOLOID};
	Datum		values[13];
	char		nulls[14] = "             ";

	alert_require_admin("create an alert rule");
	check_definition_name(name, "alert rule");
	if (destination == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("destination must not be NULL")));
	if (!all_metrics && metrics == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metrics must not be empty"),
				 errhint("Pass NULL to watch every monitored metric.")));
	if (!spike && !drop)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a rule must notify on spikes, drops or both")));
	if (cooldown && (cooldown->month != 0 || cooldown->day < 0 || cooldown->time < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cooldown must be a non-negative interval without months")));
	if (tmpl)
		check_template(tmpl);

	SPI_connect();
	dest_id = alert_destination_id(destination, &dest_owner, NULL);
	alert_require_destination_owner(dest_owner, destination, "create alert rules that send to it");
	values[0] = CStringGetTextDatum(name);
	catalog_execute("SELECT 1 FROM tripl.alert_rules WHERE name = $1", 1, types, values, NULL, true, 0);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("alert rule \"%s\" already exists", name)));
	foreach(lc, metrics)
		(void) defs_metric(lfirst(lc), false);

	values[1] = Int64GetDatum(dest_id);
	values[2] = BoolGetDatum(all_metrics);
	values[3] = BoolGetDatum(spike);
	values[4] = BoolGetDatum(drop);
	values[5] = Float8GetDatum(min_pct);
	values[6] = Float8GetDatum(min_abs);
	values[7] = Float8GetDatum(min_exp);
	if (cooldown)
		values[8] = IntervalPGetDatum(cooldown);
	else
		nulls[8] = 'n';
	spi_param_text(values, nulls, 9, tmpl);
	if (PG_ARGISNULL(10))
		nulls[10] = 'n';
	else
		values[10] = PG_GETARG_DATUM(10);
	values[11] = BoolGetDatum(enabled);
	values[12] = BoolGetDatum(notify_on_resolve);
	/* called through the 0.1 signature (before ALTER EXTENSION UPDATE): no notify_on_resolve yet */
	catalog_execute(PG_NARGS() > 12 ?
					"INSERT INTO tripl.alert_rules (name, destination_id, all_metrics, notify_on_spike, "
					"notify_on_drop, min_percent_delta, min_absolute_delta, min_expected, cooldown, "
					"message_template, muted_until, enabled, owner, notify_on_resolve) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, '1 day'), $10, $11, $12, "
					"'-'::regrole, $13) RETURNING id" :
					"INSERT INTO tripl.alert_rules (name, destination_id, all_metrics, notify_on_spike, "
					"notify_on_drop, min_percent_delta, min_absolute_delta, min_expected, cooldown, "
					"message_template, muted_until, enabled, owner) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, '1 day'), $10, $11, $12, "
					"'-'::regrole) RETURNING id",
					PG_NARGS() > 12 ? 13 : 12, types, values, nulls, false, 0);
	id = spi_int64(0, 0);
	{
		Oid			t2[2] = {INT8OID, OIDOID};
		Datum		v2[2];

		v2[0] = Int64GetDatum(id);
		v2[1] = ObjectIdGetDatum(GetUserId());
		catalog_execute("UPDATE tripl.alert_rules SET owner = $2::regrole WHERE id = $1",
						2, t2, v2, NULL, false, 0);
	}
	foreach(lc, metrics)
	{
		Oid			t2[2] = {INT8OID, TEXTOID};
		Datum		v2[2];

		v2[0] = Int64GetDatum(id);
		v2[1] = CStringGetTextDatum((char *) lfirst(lc));
		catalog_execute("INSERT INTO tripl.alert_rule_metrics (rule_id, metric_id) "
						"SELECT $1, id FROM tripl.metrics WHERE name = $2", 2, t2, v2, NULL, false, 0);
	}
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* Load a rule's id and owner by name */
static int64
rule_id(const char *name, Oid *owner)
{
	check_definition_name(name, "alert rule");
	(void) select_definition("alert rule", "alert_rules", "id, owner::oid::int8", name, 0, false);
	*owner = (Oid) spi_int64(0, 1);
	return spi_int64(0, 0);
}

/* SQL: tripl.alter_alert_rule(name, enabled, muted_until, unmute, message_template, notify_on_resolve) */
Datum
tripl_alter_alert_rule(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	bool		unmute = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	char	   *tmpl = fn_arg_text(fcinfo, 4);
	Oid			owner;
	Oid			types[6] = {INT8OID, BOOLOID, TIMESTAMPTZOID, BOOLOID, TEXTOID, BOOLOID};
	Datum		values[6];
	char		nulls[7] = "      ";

	alert_require_admin("change an alert rule");
	if (unmute && !PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("muted_until and unmute cannot be combined")));
	if (tmpl)
		check_template(tmpl);
	SPI_connect();
	values[0] = Int64GetDatum(rule_id(name, &owner));
	require_owner(owner, "alert rule", name);
	/* the rule's messages go out through its destination's secret */
	catalog_execute("SELECT d.name, d.owner::oid::int8 FROM tripl.alert_rules r "
					"JOIN tripl.destinations d ON d.id = r.destination_id WHERE r.id = $1",
					1, types, values, NULL, true, 0);
	alert_require_destination_owner((Oid) spi_int64(0, 1), spi_text(0, 0), "change alert rules that send to it");
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		values[1] = BoolGetDatum(PG_GETARG_BOOL(1));
	if (PG_ARGISNULL(2))
		nulls[2] = 'n';
	else
		values[2] = PG_GETARG_DATUM(2);
	values[3] = BoolGetDatum(unmute);
	spi_param_text(values, nulls, 4, tmpl);
	if (PG_NARGS() <= 5 || PG_ARGISNULL(5))
		nulls[5] = 'n';
	else
		values[5] = BoolGetDatum(PG_GETARG_BOOL(5));
	catalog_execute("UPDATE tripl.alert_rules SET enabled = coalesce($2, enabled), "
					"muted_until = CASE WHEN $4 THEN NULL ELSE coalesce($3, muted_until) END, "
					"message_template = coalesce($5, message_template), "
					"notify_on_resolve = coalesce($6, notify_on_resolve) WHERE id = $1",
					6, types, values, nulls, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/* SQL: tripl.drop_alert_rule(name) */
Datum
tripl_drop_alert_rule(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	Oid			owner;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	alert_require_admin("drop an alert rule");
	SPI_connect();
	values[0] = Int64GetDatum(rule_id(name, &owner));
	require_owner(owner, "alert rule", name);
	catalog_execute("DELETE FROM tripl.alert_rules WHERE id = $1", 1, types, values, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * SQL: tripl.retry_deliveries(destination).  The dead deliveries of the
 * destination (NULL: of every destination the caller may use) become
 * pending again, due now, with their attempts counted afresh; their last
 * error stays until the next attempt.  Returns how many.
 */
Datum
tripl_retry_deliveries(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, OIDOID};
	Datum		values[3];
	char		nulls[4] = "   ";
	uint64		n;

	alert_require_admin("retry deliveries");
	SPI_connect();
	values[1] = TimestampTzGetDatum(tripl_now());
	values[2] = ObjectIdGetDatum(GetUserId());
	if (!PG_ARGISNULL(0))
	{
		char	   *name = fn_arg_text(fcinfo, 0);
		Oid			owner;
		char	   *type;

		values[0] = Int64GetDatum(alert_destination_id(name, &owner, &type));
		alert_require_destination_owner(owner, name, "retry its deliveries");
	}
	else
		nulls[0] = 'n';

	/* $1 NULL: every destination whose owner the caller has the rights of */
	catalog_execute("UPDATE tripl.deliveries x SET status = 'pending', attempts = 0, next_attempt_at = $2 "
					"FROM tripl.destinations d "
					"WHERE d.id = x.destination_id AND x.status = 'dead' "
					"AND ($1 IS NULL AND (SELECT rolsuper FROM pg_roles WHERE oid = $3) "
					"     OR $1 IS NULL AND pg_has_role($3, d.owner::oid, 'USAGE') "
					"     OR d.id = $1)",
					3, types, values, nulls, false, 0);
	n = SPI_processed;
	SPI_finish();
	if (n > 0)
		worker_wake_delivery();
	PG_RETURN_INT64((int64) n);
}

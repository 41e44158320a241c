/*-------------------------------------------------------------------------
 *
 * deliver.c
 *	  Sending the outbox (tripl.deliveries) over HTTP, and email over SMTP,
 *	  with libcurl, at least once, never inside an open transaction.
 *
 *	  A pass: (1) in one short transaction, claim due deliveries (pending
 *	  and due, or "sending" with an expired lease) with FOR UPDATE SKIP
 *	  LOCKED, mark them sending with a lease and commit; (2) send them all
 *	  concurrently with a curl multi handle, outside any transaction;
 *	  (3) in a second transaction record each result: 2xx sent; 408, 429,
 *	  5xx and network errors back to pending with exponential backoff and
 *	  jitter (honouring Retry-After), counted from when the failure was
 *	  observed; other statuses, refused addresses and too many attempts
 *	  dead.  A crash after (1) leaves leased rows that the
 *	  next pass reclaims when the lease expires, and every attempt carries
 *	  the delivery's Idempotency-Key, so receivers can drop duplicates.
 *
 *	  Email (doc/alerting.md, "Email"): the message is built from the
 *	  stored subject and parts by core/mail.c when sent; STARTTLS is
 *	  required on smtp:// unless the destination turned it off; a 5xx
 *	  reply is final, anything else that fails is retried.
 *
 *	  Safety: only http and https (smtp and smtps for email), no redirects,
 *	  no proxies, and every
 *	  address a host name resolves to is checked right before connecting
 *	  (curl's open-socket callback), so loopback, private, link-local and
 *	  metadata addresses are refused unless tripl.allow_private_destinations
 *	  is on.  Nothing stored shows a secret: the response body of a
 *	  destination with a secret is not kept, and its error texts lose
 *	  every trace of the secret (alert_redact_secret).
 *
 *	  Passes run in background workers: tripl.deliver() starts a short-lived
 *	  one and waits for it; the scheduler's delivery worker runs them in a
 *	  loop.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/alert_core.h"
#include "core/mail.h"
#include "core/netguard.h"
#include "deliver.h"
#include "guc.h"
#include "runlog.h"
#include "spiutil.h"
#include "tripl.h"

TRIPL_SQL_FUNCTION(tripl_deliver);

PGDLLEXPORT void tripl_deliver_worker_main(Datum arg);

/* Longest response body kept, in bytes */
#define MAX_RESPONSE	1024

/* Longest answer of a tracker that is read (an issue key, a comment list), in bytes */
#define MAX_TRACKER_ANSWER	(1024 * 1024)

/* The request a tracker (jira, linear) delivery makes now (doc/alerting.md, "Jira", "Linear") */
typedef enum TrackerStep
{
	TRACKER_NONE = 0,			/* not a tracker delivery */
	TRACKER_TEST,				/* jira: GET the project; linear: read the team; checks the login */
	TRACKER_SEARCH,				/* find the incident's issue by its marker tripl-<ref> */
	TRACKER_CREATE,				/* open the incident's issue */
	TRACKER_COMMENTS,			/* a retried comment: is it there already (its marker)? */
	TRACKER_COMMENT,			/* comment on the issue */
	TRACKER_TRANSITIONS,		/* jira resolution: the transitions the issue offers */
	TRACKER_TRANSITION			/* jira resolution: make the named one */
} TrackerStep;

/* What a lease adds to the request timeouts (see deliver_effective_lease_ms) */
#define DELIVERY_LEASE_MARGIN_MS	10000

/* What a pass needs to know (copied into a worker started by tripl.deliver) */
typedef struct DeliverSettings
{
	TimestampTz now;			/* tripl_now() when the pass was set up */
	bool		mocked;			/* now is tripl.mock_now */
	TimestampTz real_start;		/* the real clock at that moment */
	int			max_deliveries;
	bool		allow_private;
	int			connect_timeout_ms;
	int			timeout_ms;
	int			max_attempts;
	int			retry_base_ms;
	int			retry_cap_ms;
	int			lease_ms;
	int			concurrency;
	char		ca_file[MAXPGPATH];	/* empty: the system's store */
} DeliverSettings;

/* Shared with the caller of tripl.deliver() */
typedef struct DeliverShared
{
	Oid			dboid;
	Oid			roleoid;
	DeliverSettings settings;
	bool		done;
	int			sent;
	char		error[512];
} DeliverShared;

/* One request in flight */
typedef struct Outgoing
{
	int64		id;
	int			attempts;
	char	   *url;			/* malloc'd */
	char	   *body;			/* malloc'd */
	char	   *secret;			/* what redaction looks for; palloc'd, may be NULL */
	struct curl_slist *headers;
	bool		is_mail;		/* an email (SMTP), not an HTTP request */
	struct curl_slist *rcpt;	/* email: the recipients */
	char	   *mail;			/* email: the whole message (malloc'd) */
	size_t		mail_len;
	size_t		mail_pos;		/* bytes handed to curl so far */
	bool		invalid;		/* could not be sent as stored: dead */
	TrackerStep tr_step;		/* jira, linear: the request in flight */
	bool		tr_linear;		/* a linear delivery (else jira) */
	bool		tr_done;		/* nothing to send (the issue is already open) */
	bool		tr_open;		/* the delivery opens the issue (not a comment) */
	bool		tr_resolve;		/* the delivery is the incident's resolution */
	bool		tr_recorded;	/* the issue was known before (tripl.tickets) */
	bool		tr_tried;		/* an earlier attempt may have reached the tracker (a retry, or
								 * revived by tripl.retry_deliveries, which counts attempts afresh) */
	bool		tr_failed;		/* linear: a GraphQL answer reporting an error */
	bool		tr_rate_limited;	/* linear: ... the error RATELIMITED */
	int			tr_version;		/* jira: REST API version (2 or 3) */
	char	   *tr_base;		/* jira: .../rest/api/N; linear: the GraphQL URL (malloc'd) */
	char	   *tr_create;		/* the create body (malloc'd) */
	char	   *tr_comment;		/* jira: the comment body; linear: its text as a JSON string (malloc'd) */
	char	   *tr_search;		/* jira: the search URL; linear: the search body (malloc'd) */
	char	   *tr_test;		/* jira: the project URL; linear: the team query (malloc'd) */
	char	   *tr_transition;	/* jira: the transition to make on resolution, or NULL (malloc'd) */
	char	   *tr_url;			/* the URL of the request in flight (malloc'd) */
	char	   *tr_body;		/* the body of the request in flight, if built for it (malloc'd) */
	char		tr_key[64];		/* the issue (known, found or created): OPS-1, ENG-1 */
	char		tr_id[64];		/* the tracker's internal id of the issue */
	char		tr_ref[64];
	char		tr_marker[64];	/* tripl-d-<idempotency key>: in every comment */
	char		tr_transition_id[64];
	char		tr_error[256];	/* linear: the GraphQL error */
	char		tr_warning[300];	/* sent, but: the transition is not offered */
	int64		dest_id;
	char	   *tracker;		/* the tracker's answer, parsed, never stored (malloc'd) */
	size_t		tracker_len;
	size_t		tracker_cap;	/* bytes allocated for it */
	CURL	   *easy;
	char		errbuf[CURL_ERROR_SIZE];
	bool		keep_body;		/* false for a destination with a secret */
	char		response[MAX_RESPONSE + 1];
	size_t		response_len;	/* bytes received, up to MAX_RESPONSE */
	char		retry_after[64];
	bool		refused;
	char		refused_why[160];
	bool		allow_private;
	bool		finished;
	CURLcode	code;
	long		status;
	TimestampTz done_at;		/* real clock when the answer (or failure) came; 0 if none */
} Outgoing;

static bool curl_ready = false;

/* Initialise libcurl once per process; clean it up at exit */
static void
curl_cleanup_at_exit(int code, Datum arg)
{
	curl_global_cleanup();
}

/* Make sure libcurl is initialised */
static void
ensure_curl(void)
{
	if (curl_ready)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		elog(ERROR, "could not initialise libcurl");
	on_proc_exit(curl_cleanup_at_exit, (Datum) 0);
	curl_ready = true;
}

/*
 * The lease a claim takes: tripl.delivery_lease, but never shorter than a
 * pass can take (every request of a pass ends within tripl.delivery_timeout,
 * queueing included; the connect timeout and 10 s for the two transactions
 * around the sends are added for safety), so a pass that is still sending
 * is never taken over
 */
int
deliver_effective_lease_ms(void)
{
	int64		floor_ms = (int64) tripl_delivery_timeout_ms + tripl_delivery_connect_timeout_ms +
		DELIVERY_LEASE_MARGIN_MS;

	return (int) Min(Max((int64) tripl_delivery_lease_ms, floor_ms), (int64) PG_INT32_MAX);
}

/* The settings of this session/process */
static void
settings_from_gucs(DeliverSettings *ds, int max_deliveries)
{
	ds->now = tripl_now();
	ds->mocked = tripl_now_is_mocked();
	ds->real_start = GetCurrentTimestamp();
	ds->max_deliveries = max_deliveries;
	ds->allow_private = tripl_allow_private_destinations;
	ds->connect_timeout_ms = tripl_delivery_connect_timeout_ms;
	ds->timeout_ms = tripl_delivery_timeout_ms;
	ds->max_attempts = tripl_delivery_max_attempts;
	ds->retry_base_ms = tripl_delivery_retry_base_ms;
	ds->retry_cap_ms = tripl_delivery_retry_cap_ms;
	ds->lease_ms = deliver_effective_lease_ms();
	ds->concurrency = tripl_delivery_concurrency;
	strlcpy(ds->ca_file, tripl_delivery_ca_file ? tripl_delivery_ca_file : "", sizeof(ds->ca_file));
}

/*
 * What of a destination's secret must never be stored: the secret, except
 * that a Slack destination's secret is its whole URL, whose scheme and
 * host are shown in tripl.destinations (and named in connection errors):
 * there it is the path and query after the host
 */
static const char *
secret_to_redact(const char *type, const char *secret)
{
	const char *p;

	/* an email or jira destination's secret is "user:password": the password */
	if (secret != NULL && (strcmp(type, "email") == 0 || strcmp(type, "jira") == 0) && strchr(secret, ':') != NULL)
		return strchr(secret, ':') + 1;
	if (secret == NULL || (strcmp(type, "slack") != 0 && strcmp(type, "teams") != 0))
		return secret;
	p = strstr(secret, "://");
	p = p ? strpbrk(p + 3, "/?#") : NULL;
	return (p && p[1] != '\0') ? p : secret;
}

/*
 * When a request's answer (or failure) was observed, on tripl's clock: the
 * real time, or with tripl.mock_now the mock time plus the real time the
 * pass has taken so far (so a retry waits its backoff after the failure,
 * not after the start of the pass, in tests too)
 */
static int64
observed_us(const DeliverSettings *ds, TimestampTz real)
{
	if (ds->mocked)
		return ts_to_unix(ds->now) + Max(real - ds->real_start, 0);
	return ts_to_unix(real);
}

/* Printable ASCII copy of bytes from the network (others become '?') */
static char *
printable(const char *bytes, size_t len)
{
	char	   *out = palloc(len + 1);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) bytes[i];

		out[i] = (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) ? (char) c : '?';
	}
	out[len] = '\0';
	return out;
}

/* curl: open a socket only to an allowed address */
static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	Outgoing   *o = clientp;
	char		why[128];

	if (!o->allow_private && sockaddr_is_forbidden(&addr->addr, why, sizeof(why)))
	{
		o->refused = true;
		snprintf(o->refused_why, sizeof(o->refused_why), "refused to connect to a %s", why);
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

/* curl: keep the start of the response body */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Outgoing   *o = userdata;
	size_t		n = size * nmemb;
	size_t		room = MAX_RESPONSE - o->response_len;

	if (room > 0)
	{
		size_t		k = n < room ? n : room;

		/* the body of a destination with a secret is never kept, see record() */
		if (o->keep_body)
			memcpy(o->response + o->response_len, ptr, k);
		o->response_len += k;
		o->response[o->response_len] = '\0';
	}
	if (o->tracker != NULL && o->tracker_len < MAX_TRACKER_ANSWER)
	{
		size_t		k = Min(n, MAX_TRACKER_ANSWER - o->tracker_len);

		if (o->tracker_len + k + 1 > o->tracker_cap)
		{
			size_t		cap = Min(Max(o->tracker_cap * 2, o->tracker_len + k + 1), (size_t) MAX_TRACKER_ANSWER + 1);
			char	   *bigger = realloc(o->tracker, cap);

			if (bigger == NULL)
				return 0;		/* fails the transfer: retried */
			o->tracker = bigger;
			o->tracker_cap = cap;
		}
		memcpy(o->tracker + o->tracker_len, ptr, k);
		o->tracker_len += k;
		o->tracker[o->tracker_len] = '\0';
	}
	return n;
}

/* curl: remember a Retry-After header */
static size_t
header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	Outgoing   *o = userdata;
	size_t		n = size * nitems;

	if (n > 12 && pg_strncasecmp(buffer, "Retry-After:", 12) == 0)
	{
		size_t		start = 12;
		size_t		end = n;

		while (start < end && (buffer[start] == ' ' || buffer[start] == '\t'))
			start++;
		while (end > start && (buffer[end - 1] == '\r' || buffer[end - 1] == '\n' || buffer[end - 1] == ' '))
			end--;
		if (end - start < sizeof(o->retry_after))
		{
			memcpy(o->retry_after, buffer + start, end - start);
			o->retry_after[end - start] = '\0';
		}
	}
	return n;
}

/* curl: hand over the next part of an email */
static size_t
mail_read_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	Outgoing   *o = userdata;
	size_t		room = size * nitems;
	size_t		left = o->mail_len - o->mail_pos;
	size_t		n = left < room ? left : room;

	memcpy(buffer, o->mail + o->mail_pos, n);
	o->mail_pos += n;
	return n;
}

/* curl: abort transfers when the process is asked to stop */
static int
progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	return (ProcDiePending || QueryCancelPending) ? 1 : 0;
}

/*
 * The options of every request: its URL, time limits, the address guard
 * (open_socket_cb), the trusted CAs, what to do with the answer
 */
static void
set_common_options(Outgoing *o, const DeliverSettings *ds)
{
	curl_easy_setopt(o->easy, CURLOPT_URL, o->url);
	curl_easy_setopt(o->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(o->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(o->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) ds->connect_timeout_ms);
	curl_easy_setopt(o->easy, CURLOPT_TIMEOUT_MS, (long) ds->timeout_ms);
	curl_easy_setopt(o->easy, CURLOPT_ERRORBUFFER, o->errbuf);
	curl_easy_setopt(o->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	curl_easy_setopt(o->easy, CURLOPT_OPENSOCKETDATA, o);
	curl_easy_setopt(o->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(o->easy, CURLOPT_WRITEDATA, o);
	curl_easy_setopt(o->easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(o->easy, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(o->easy, CURLOPT_PRIVATE, o);
	if (ds->ca_file[0] != '\0')
		curl_easy_setopt(o->easy, CURLOPT_CAINFO, ds->ca_file);
}

/*
 * Prepare an email (doc/alerting.md, "Email"): the message built from the
 * stored subject and parts (core/mail.c), sent over SMTP with STARTTLS
 * required (unless the destination turned it off for an smtp:// URL) or
 * over SMTPS, with the login of the secret "user:password"
 */
static bool
prepare_mail(Outgoing *o, const char *url, const char *secret, const char *options_from,
			 const char *options_to, bool starttls, const char *subject, const char *text,
			 const char *html, const char *key, int64 created_us, const DeliverSettings *ds)
{
	MailMessage m;
	char		err[256];
	char	   *to_copy = pstrdup(options_to ? options_to : "");
	const char **to = palloc0(sizeof(char *) * (MAIL_MAX_RECIPIENTS + 1));
	int			n_to = 0;
	char	   *tok;
	char	   *save = NULL;
	char	   *built;
	char		addr[MAIL_MAX_ADDRESS + 3];

	o->is_mail = true;
	o->url = strdup(url);
	o->easy = curl_easy_init();
	if (o->url == NULL || o->easy == NULL)
		return false;
	o->allow_private = ds->allow_private;
	for (tok = strtok_r(to_copy, " ", &save); tok && n_to < MAIL_MAX_RECIPIENTS; tok = strtok_r(NULL, " ", &save))
		to[n_to++] = tok;
	/* checked when defined; checked again, as they become SMTP commands and headers */
	if (options_from == NULL || !mail_address_check(options_from, err, sizeof(err)) || n_to == 0 ||
		subject == NULL || text == NULL)
	{
		o->invalid = true;
		snprintf(o->errbuf, sizeof(o->errbuf), "the destination's from/to options or the stored message are not valid");
		return true;
	}
	for (int i = 0; i < n_to; i++)
	{
		if (!mail_address_check(to[i], err, sizeof(err)))
		{
			o->invalid = true;
			snprintf(o->errbuf, sizeof(o->errbuf), "invalid recipient: %s", err);
			return true;
		}
		snprintf(addr, sizeof(addr), "<%s>", to[i]);
		o->rcpt = curl_slist_append(o->rcpt, addr);
	}
	m.from = options_from;
	m.to = to;
	m.n_to = n_to;
	m.subject = subject;
	m.text = text;
	m.html = html;
	m.date_us = created_us;
	m.key = key;
	built = mail_build(&m);
	o->mail_len = strlen(built);
	o->mail = malloc(o->mail_len + 1);
	if (o->mail == NULL)
		return false;
	memcpy(o->mail, built, o->mail_len + 1);
	snprintf(addr, sizeof(addr), "<%s>", options_from);
	set_common_options(o, ds);
	curl_easy_setopt(o->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(o->easy, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(o->easy, CURLOPT_MAIL_RCPT, o->rcpt);
	curl_easy_setopt(o->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(o->easy, CURLOPT_READFUNCTION, mail_read_cb);
	curl_easy_setopt(o->easy, CURLOPT_READDATA, o);
	curl_easy_setopt(o->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t) o->mail_len);
	curl_easy_setopt(o->easy, CURLOPT_USE_SSL, (long) (starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
	if (secret && strchr(secret, ':'))
	{
		char	   *user = pnstrdup(secret, strchr(secret, ':') - secret);

		curl_easy_setopt(o->easy, CURLOPT_USERNAME, user);
		curl_easy_setopt(o->easy, CURLOPT_PASSWORD, strchr(secret, ':') + 1);
	}
	return true;
}

/* A malloc'd copy of a palloc'd string (NULL stays NULL) */
static char *
mdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/*
 * The message as Atlassian Document Format (v3): a code block, and the
 * marker (if any) as a paragraph after it; or as text (v2)
 */
static void
jira_text(StringInfo b, const char *text, int version, const char *marker)
{
	if (version == 2)
	{
		escape_json(b, marker ? psprintf("%s\n\n%s", text[0] ? text : "-", marker) : (text[0] ? text : "-"));
		return;
	}
	appendStringInfoString(b, "{\"type\": \"doc\", \"version\": 1, \"content\": [{\"type\": \"codeBlock\", "
						   "\"content\": [{\"type\": \"text\", \"text\": ");
	escape_json(b, text[0] ? text : "-");
	appendStringInfoString(b, "}]}");
	if (marker)
	{
		appendStringInfoString(b, ", {\"type\": \"paragraph\", \"content\": [{\"type\": \"text\", \"text\": ");
		escape_json(b, marker);
		appendStringInfoString(b, "}]}");
	}
	appendStringInfoString(b, "]}");
}

/*
 * The message as Markdown for Linear: a fenced code block (its fence
 * longer than any run of backticks in the text, so nothing in a metric
 * name or template becomes markup), then the marker line
 */
static char *
linear_markdown(const char *text, const char *marker)
{
	StringInfoData b;
	int			run = 0;
	int			longest = 0;
	int			fence;
	const char *p;

	for (p = text; *p; p++)
	{
		run = (*p == '`') ? run + 1 : 0;
		longest = Max(longest, run);
	}
	fence = Max(3, longest + 1);
	initStringInfo(&b);
	for (int i = 0; i < fence; i++)
		appendStringInfoChar(&b, '`');
	appendStringInfo(&b, "\n%s\n", text[0] ? text : "-");
	for (int i = 0; i < fence; i++)
		appendStringInfoChar(&b, '`');
	appendStringInfo(&b, "\n\n%s", marker);
	return b.data;
}

/* A URL of the issue: .../issue/KEY/what (malloc'd) */
static char *
jira_issue_url(Outgoing *o, const char *what)
{
	return mdup(psprintf("%s/issue/%s%s", o->tr_base, o->tr_key, what));
}

/* Point the request at the step's URL, method and body */
static void
tracker_set_step(Outgoing *o, TrackerStep step)
{
	StringInfoData b;
	const char *body = NULL;

	o->tr_step = step;
	o->tracker_len = 0;
	if (o->tracker)
		o->tracker[0] = '\0';
	o->response_len = 0;
	o->retry_after[0] = '\0';
	free(o->tr_url);
	free(o->tr_body);
	o->tr_url = o->tr_body = NULL;
	initStringInfo(&b);
	if (o->tr_linear)
	{
		/* every request is a POST of a GraphQL document to the one URL */
		o->tr_url = mdup(o->tr_base);
		switch (step)
		{
			case TRACKER_TEST:
				body = o->tr_test;
				break;
			case TRACKER_SEARCH:
				body = o->tr_search;
				break;
			case TRACKER_CREATE:
				body = o->tr_create;
				break;
			case TRACKER_COMMENTS:
				appendStringInfo(&b, "{\"query\": \"query TriplComments($id: String!) { issue(id: $id) "
								 "{ comments(first: 250) { nodes { body } } } }\", \"variables\": {\"id\": \"%s\"}}",
								 o->tr_id);
				break;
			case TRACKER_COMMENT:
				appendStringInfo(&b, "{\"query\": \"mutation TriplCommentCreate($input: CommentCreateInput!) "
								 "{ commentCreate(input: $input) { success comment { id } } }\", "
								 "\"variables\": {\"input\": {\"issueId\": \"%s\", \"body\": %s}}}",
								 o->tr_id, o->tr_comment);
				break;
			default:
				break;
		}
	}
	else
	{
		switch (step)
		{
			case TRACKER_TEST:
				o->tr_url = mdup(o->tr_test);
				break;
			case TRACKER_SEARCH:
				o->tr_url = mdup(o->tr_search);
				break;
			case TRACKER_CREATE:
				o->tr_url = mdup(psprintf("%s/issue", o->tr_base));
				body = o->tr_create;
				break;
			case TRACKER_COMMENTS:
				o->tr_url = jira_issue_url(o, "/comment?orderBy=-created&maxResults=100");
				break;
			case TRACKER_COMMENT:
				o->tr_url = jira_issue_url(o, "/comment");
				body = o->tr_comment;
				break;
			case TRACKER_TRANSITIONS:
				o->tr_url = jira_issue_url(o, "/transitions");
				break;
			case TRACKER_TRANSITION:
				o->tr_url = jira_issue_url(o, "/transitions");
				appendStringInfo(&b, "{\"transition\": {\"id\": \"%s\"}}", o->tr_transition_id);
				break;
			default:
				break;
		}
	}
	if (b.len > 0)
	{
		o->tr_body = mdup(b.data);
		body = o->tr_body;
	}
	curl_easy_setopt(o->easy, CURLOPT_URL, o->tr_url ? o->tr_url : "");
	if (body == NULL)
		curl_easy_setopt(o->easy, CURLOPT_HTTPGET, 1L);
	else
	{
		curl_easy_setopt(o->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(o->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(o->easy, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	}
}

/* Out of memory while preparing: the delivery is retried */
static bool
tracker_oom(Outgoing *o)
{
	o->invalid = true;
	snprintf(o->errbuf, sizeof(o->errbuf), "out of memory preparing the request");
	return false;
}

/*
 * The first request of a tracker delivery.  With the issue known
 * (tripl.tickets) a comment is posted (on a retry, or a delivery revived by
 * tripl.retry_deliveries, after checking that the
 * earlier attempt did not post it: every comment carries the marker
 * tripl-d-<idempotency key>); without it, the first attempt to open it
 * creates it, and anything else (a retry, whose first attempt may have
 * created it; a comment) first searches for the marker tripl-<ref> the
 * issue was created with (a Jira label, text in a Linear description).
 */
static void
tracker_first_step(Outgoing *o, const char *action, const char *known_key, const char *known_id)
{
	if (strcmp(action, "test") == 0)
	{
		tracker_set_step(o, TRACKER_TEST);
		return;
	}
	if (known_key && alert_jira_key_valid(known_key) &&
		(!o->tr_linear || (known_id && alert_tracker_id_valid(known_id))))
	{
		strlcpy(o->tr_key, known_key, sizeof(o->tr_key));
		strlcpy(o->tr_id, known_id ? known_id : "", sizeof(o->tr_id));
		o->tr_recorded = true;
		if (o->tr_open)
			o->tr_done = true;	/* opened by an earlier delivery */
		else
			tracker_set_step(o, o->tr_tried ? TRACKER_COMMENTS : TRACKER_COMMENT);
	}
	else if (o->tr_open && !o->tr_tried)
		tracker_set_step(o, TRACKER_CREATE);
	else
		tracker_set_step(o, TRACKER_SEARCH);
}

/* What jira and linear deliveries share: the answer buffer, the ref and marker */
static bool
tracker_common(Outgoing *o, const char *action, const char *ref, const char *key)
{
	o->tracker_cap = 4096;
	o->tracker = malloc(o->tracker_cap);
	if (o->tracker == NULL)
		return tracker_oom(o);
	o->tracker[0] = '\0';
	strlcpy(o->tr_ref, ref ? ref : "", sizeof(o->tr_ref));
	snprintf(o->tr_marker, sizeof(o->tr_marker), "tripl-d-%s", key);
	o->tr_open = strcmp(action, "open") == 0;
	o->tr_resolve = strcmp(action, "resolve") == 0;
	return true;
}

/*
 * Prepare a jira delivery (Jira Cloud REST API v3, or v2): the requests it
 * may need (see tracker_first_step), with the incident's label
 * tripl-<ref>; on resolution, after the comment, the transition named by
 * the destination's resolve_transition, if any
 */
static void
prepare_jira(Outgoing *o, const char *base_url, const char *secret, const char *project,
			 const char *issue_type, const char *labels, int version, const char *action,
			 const char *ref, const char *known_key, const char *known_id, const char *summary,
			 const char *text, const char *transition, const char *key)
{
	StringInfoData b;
	char	   *jql;
	char	   *esc;
	char	   *tok;
	char	   *save = NULL;
	char	   *copy;
	size_t		blen = strlen(base_url);

	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	o->tr_version = version;
	o->tr_base = mdup(psprintf("%.*s/rest/api/%d", (int) blen, base_url, version));
	if (o->tr_base == NULL || !tracker_common(o, action, ref, key))
	{
		tracker_oom(o);
		return;
	}
	curl_easy_setopt(o->easy, CURLOPT_USERPWD, secret ? secret : "");
	curl_easy_setopt(o->easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
	o->headers = curl_slist_append(o->headers, "Accept: application/json");
	curl_easy_setopt(o->easy, CURLOPT_HTTPHEADER, o->headers);
	if (strcmp(action, "test") == 0)
	{
		o->tr_test = mdup(psprintf("%s/project/%s", o->tr_base, project));
		tracker_first_step(o, action, NULL, NULL);
		return;
	}
	if (o->tr_resolve && transition && transition[0])
		o->tr_transition = mdup(transition);
	/* the issue, with the incident's label */
	initStringInfo(&b);
	appendStringInfoString(&b, "{\"fields\": {\"project\": {\"key\": ");
	escape_json(&b, project);
	appendStringInfoString(&b, "}, \"issuetype\": {\"name\": ");
	escape_json(&b, issue_type);
	appendStringInfoString(&b, "}, \"summary\": ");
	escape_json(&b, summary ? summary : "tripl");
	appendStringInfo(&b, ", \"labels\": [\"tripl\", \"tripl-%s\"", o->tr_ref);
	copy = pstrdup(labels ? labels : "");
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
	{
		appendStringInfoString(&b, ", ");
		escape_json(&b, tok);
	}
	appendStringInfoString(&b, "], \"description\": ");
	jira_text(&b, text ? text : "", version, NULL);
	appendStringInfoString(&b, "}}");
	o->tr_create = mdup(b.data);
	resetStringInfo(&b);
	appendStringInfoString(&b, "{\"body\": ");
	jira_text(&b, text ? text : "", version, o->tr_marker);
	appendStringInfoChar(&b, '}');
	o->tr_comment = mdup(b.data);
	jql = psprintf("labels = \"tripl-%s\"", o->tr_ref);
	esc = curl_easy_escape(o->easy, jql, 0);
	o->tr_search = mdup(psprintf("%s/%s?jql=%s&fields=key&maxResults=1", o->tr_base,
								 version == 2 ? "search" : "search/jql", esc ? esc : ""));
	curl_free(esc);
	if (o->tr_create == NULL || o->tr_comment == NULL || o->tr_search == NULL ||
		(o->tr_resolve && transition && transition[0] && o->tr_transition == NULL))
	{
		tracker_oom(o);
		return;
	}
	tracker_first_step(o, action, known_key, known_id);
}

/*
 * Prepare a linear delivery (Linear's GraphQL API): issueCreate in the
 * destination's team with its labels, the description ending with the
 * marker tripl-<ref> that a search finds again; commentCreate for later
 * messages and the resolution; the API key in the Authorization header
 */
static void
prepare_linear(Outgoing *o, const char *url, const char *secret, const char *team,
			   const char *label_ids, const char *action, const char *ref, const char *known_key,
			   const char *known_id, const char *summary, const char *text, const char *key)
{
	StringInfoData b;
	char	   *tok;
	char	   *save = NULL;
	char	   *copy;
	char	   *marker;
	bool		first = true;

	o->tr_linear = true;
	o->tr_base = mdup(url);
	if (o->tr_base == NULL || !tracker_common(o, action, ref, key))
	{
		tracker_oom(o);
		return;
	}
	o->headers = curl_slist_append(o->headers, "Accept: application/json");
	o->headers = curl_slist_append(o->headers, psprintf("Authorization: %s", secret ? secret : ""));
	curl_easy_setopt(o->easy, CURLOPT_HTTPHEADER, o->headers);
	initStringInfo(&b);
	if (strcmp(action, "test") == 0)
	{
		appendStringInfoString(&b, "{\"query\": \"query TriplTeam($id: String!) { team(id: $id) { id key name } }\", "
							   "\"variables\": {\"id\": ");
		escape_json(&b, team ? team : "");
		appendStringInfoString(&b, "}}");
		o->tr_test = mdup(b.data);
		if (o->tr_test == NULL)
			tracker_oom(o);
		else
			tracker_first_step(o, action, NULL, NULL);
		return;
	}
	marker = psprintf("tripl-%s", o->tr_ref);
	appendStringInfoString(&b, "{\"query\": \"mutation TriplIssueCreate($input: IssueCreateInput!) "
						   "{ issueCreate(input: $input) { success issue { id identifier url } } }\", "
						   "\"variables\": {\"input\": {\"teamId\": ");
	escape_json(&b, team ? team : "");
	appendStringInfoString(&b, ", \"title\": ");
	escape_json(&b, summary ? summary : "tripl");
	appendStringInfoString(&b, ", \"description\": ");
	escape_json(&b, linear_markdown(text ? text : "", marker));
	appendStringInfoString(&b, ", \"labelIds\": [");
	copy = pstrdup(label_ids ? label_ids : "");
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
	{
		if (!first)
			appendStringInfoString(&b, ", ");
		escape_json(&b, tok);
		first = false;
	}
	appendStringInfoString(&b, "]}}}");
	o->tr_create = mdup(b.data);
	resetStringInfo(&b);
	escape_json(&b, linear_markdown(text ? text : "", o->tr_marker));
	o->tr_comment = mdup(b.data);
	resetStringInfo(&b);
	appendStringInfoString(&b, "{\"query\": \"query TriplIssueSearch($filter: IssueFilter) "
						   "{ issues(filter: $filter, first: 1, includeArchived: true) { nodes { id identifier } } }\", "
						   "\"variables\": {\"filter\": {\"team\": {\"id\": {\"eq\": ");
	escape_json(&b, team ? team : "");
	appendStringInfoString(&b, "}}, \"description\": {\"contains\": ");
	escape_json(&b, marker);
	appendStringInfoString(&b, "}}}}");
	o->tr_search = mdup(b.data);
	if (o->tr_create == NULL || o->tr_comment == NULL || o->tr_search == NULL)
	{
		tracker_oom(o);
		return;
	}
	tracker_first_step(o, action, known_key, known_id);
}

/* After the comment: a jira resolution makes its transition, if it names one */
static bool
tracker_after_comment(Outgoing *o)
{
	if (o->tr_resolve && o->tr_transition != NULL)
	{
		tracker_set_step(o, TRACKER_TRANSITIONS);
		return true;
	}
	return false;
}

/*
 * The issue in a tracker's answer (a search's first, or the created one):
 * its key (Jira's "key", Linear's "identifier") and internal id (Linear
 * needs it to comment), both checked, as they go into URLs and bodies
 */
static bool
tracker_issue(Outgoing *o)
{
	char		key[64];
	char		id[64];

	if (!alert_json_first_string(o->tracker, o->tr_linear ? "identifier" : "key", key, sizeof(key)) ||
		!alert_jira_key_valid(key))
		return false;
	if (!alert_json_first_string(o->tracker, "id", id, sizeof(id)) || !alert_tracker_id_valid(id))
	{
		if (o->tr_linear)
			return false;
		id[0] = '\0';
	}
	strlcpy(o->tr_key, key, sizeof(o->tr_key));
	strlcpy(o->tr_id, id, sizeof(o->tr_id));
	return true;
}

/*
 * A tracker request ended: set up the next one and return true, or return
 * false when the delivery is done (or failed with this answer)
 */
static bool
tracker_next(Outgoing *o)
{
	char		code[64];
	char		offered[200];

	if (o->code != CURLE_OK)
		return false;
	/* Linear answers errors with 200 (and 400) and a body of "errors" */
	if (o->tr_linear && (o->status == 200 || o->status == 400) &&
		!alert_graphql_ok(o->tracker, o->tr_error, sizeof(o->tr_error), code, sizeof(code), &o->tr_rate_limited))
	{
		o->tr_failed = true;
		if (code[0])
			snprintf(o->tr_error + strlen(o->tr_error), sizeof(o->tr_error) - strlen(o->tr_error), " (%s)", code);
		return false;
	}
	if (o->status < 200 || o->status > 299)
		return false;
	switch (o->tr_step)
	{
		case TRACKER_SEARCH:
			if (tracker_issue(o))
			{
				if (o->tr_open)
					return false;	/* the first attempt did open it */
				/* an earlier attempt may have commented already */
				tracker_set_step(o, o->tr_tried ? TRACKER_COMMENTS : TRACKER_COMMENT);
				return true;
			}
			/* no such issue yet: open it, with this message */
			tracker_set_step(o, TRACKER_CREATE);
			return true;
		case TRACKER_CREATE:
			(void) tracker_issue(o);
			return false;
		case TRACKER_COMMENTS:
			if (o->tracker_len < MAX_TRACKER_ANSWER && strstr(o->tracker, o->tr_marker) != NULL)
				return tracker_after_comment(o);	/* posted by an earlier attempt */
			tracker_set_step(o, TRACKER_COMMENT);
			return true;
		case TRACKER_COMMENT:
			return tracker_after_comment(o);
		case TRACKER_TRANSITIONS:
			if (alert_jira_transition_id(o->tracker, o->tr_transition, o->tr_transition_id,
										 sizeof(o->tr_transition_id), offered, sizeof(offered)))
			{
				tracker_set_step(o, TRACKER_TRANSITION);
				return true;
			}
			/* sent (the comment is there), with the reason it stayed where it is */
			snprintf(o->tr_warning, sizeof(o->tr_warning),
					 "resolution comment posted, but %s does not offer the transition \"%s\" (offered: %s)%s",
					 o->tr_key, o->tr_transition, offered[0] ? offered : "none",
					 o->tr_tried ? "; an earlier attempt may have made it" : "");
			return false;
		default:
			return false;
	}
}

/* Prepare a curl easy handle for one HTTP delivery */
static bool
prepare_request(Outgoing *o, const char *type, const char *base_url, const char *secret_header,
				const char *secret, const char *key, const DeliverSettings *ds)
{
	char		header[8192];
	char	   *url;

	if (strcmp(type, "telegram") == 0)
		url = psprintf("%s/bot%s/sendMessage", base_url, secret ? secret : "");
	else if ((strcmp(type, "slack") == 0 || strcmp(type, "teams") == 0) && secret)
		url = pstrdup(secret);
	else
		url = pstrdup(base_url);
	o->url = strdup(url);
	o->easy = curl_easy_init();
	if (o->url == NULL || o->easy == NULL)
		return false;
	o->allow_private = ds->allow_private;
	o->headers = curl_slist_append(NULL, "Content-Type: application/json");
	o->headers = curl_slist_append(o->headers, "Expect:");
	snprintf(header, sizeof(header), "Idempotency-Key: %s", key);
	o->headers = curl_slist_append(o->headers, header);
	snprintf(header, sizeof(header), "X-Tripl-Attempt: %d", o->attempts);
	o->headers = curl_slist_append(o->headers, header);
	if (strcmp(type, "webhook") == 0 && secret_header && secret)
	{
		snprintf(header, sizeof(header), "%s: %s", secret_header, secret);
		o->headers = curl_slist_append(o->headers, header);
	}
	set_common_options(o, ds);
	curl_easy_setopt(o->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(o->easy, CURLOPT_POSTFIELDS, o->body);
	curl_easy_setopt(o->easy, CURLOPT_POSTFIELDSIZE, (long) strlen(o->body));
	curl_easy_setopt(o->easy, CURLOPT_HTTPHEADER, o->headers);
	curl_easy_setopt(o->easy, CURLOPT_USERAGENT, "tripl/0.1");
	curl_easy_setopt(o->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(o->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(o->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(o->easy, CURLOPT_HEADERDATA, o);
	return true;
}

/* Free curl's side of a request */
static void
free_request(Outgoing *o)
{
	if (o->easy)
		curl_easy_cleanup(o->easy);
	if (o->headers)
		curl_slist_free_all(o->headers);
	if (o->rcpt)
		curl_slist_free_all(o->rcpt);
	free(o->url);
	free(o->body);
	free(o->mail);
	free(o->tr_base);
	free(o->tr_create);
	free(o->tr_comment);
	free(o->tr_search);
	free(o->tr_test);
	free(o->tr_transition);
	free(o->tr_url);
	free(o->tr_body);
	free(o->tracker);
	o->tr_base = o->tr_create = o->tr_comment = o->tr_search = o->tr_test = o->tr_transition = NULL;
	o->tr_url = o->tr_body = NULL;
	o->tracker = NULL;
	o->easy = NULL;
	o->headers = o->rcpt = NULL;
	o->url = o->body = o->mail = NULL;
}

/* A request ended: what curl said; its handle's memory is given back now */
static void
request_finished(Outgoing *o)
{
	o->finished = true;
	o->done_at = GetCurrentTimestamp();
	curl_easy_cleanup(o->easy);
	o->easy = NULL;
}

/*
 * The time a request may still take: what is left of the pass's
 * tripl.delivery_timeout (every request of a pass ends within it, queueing
 * and a tracker's further requests included: the lease counts on it), in
 * ms; 0 if nothing is left
 */
static long
time_left_ms(TimestampTz deadline)
{
	TimestampTz now = GetCurrentTimestamp();

	return now >= deadline ? 0 : (long) Max((deadline - now) / 1000, 1);
}

/* Out of the pass's time before a request could start: it is retried */
static void
out_of_time(Outgoing *o)
{
	o->code = CURLE_OPERATION_TIMEDOUT;
	snprintf(o->errbuf, sizeof(o->errbuf), "tripl.delivery_timeout ran out before the request could be sent");
	request_finished(o);
}

/*
 * Send every request concurrently (at most ds->concurrency connections,
 * which the multi handle keeps open and reuses).  Only twice as many
 * requests as connections are handed to curl at a time, the next ones as
 * these end, and a request's handle is freed when it ends: a pass of
 * thousands does not hold thousands of transfer buffers, and curl's lists
 * stay short.
 */
static void
send_all(Outgoing *reqs, int n, const DeliverSettings *ds)
{
	CURLM	   *multi = curl_multi_init();
	int			running = 0;
	int			active = 0;
	int			next = 0;
	int			window = Max(ds->concurrency, 1) * 2;
	TimestampTz deadline = GetCurrentTimestamp() + (TimestampTz) ds->timeout_ms * 1000;

	if (multi == NULL)
		elog(ERROR, "could not create a curl multi handle");
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) Max(ds->concurrency, 1));
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) Max(ds->concurrency, 1));
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) Max(ds->concurrency, 1));
	for (;;)
	{
		CURLMsg    *msg;
		int			left;

		/* hand curl the next requests */
		while (active < window && next < n)
		{
			Outgoing   *o = &reqs[next++];
			long		ms;

			if (o->easy == NULL || o->invalid || o->tr_done)
				continue;
			ms = time_left_ms(deadline);
			if (ms == 0)
			{
				out_of_time(o);
				continue;
			}
			curl_easy_setopt(o->easy, CURLOPT_TIMEOUT_MS, ms);
			curl_multi_add_handle(multi, o->easy);
			active++;
		}
		if (active == 0)
			break;
		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			Outgoing   *o = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &o);
			o->code = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &o->status);
			curl_multi_remove_handle(multi, msg->easy_handle);
			/* a tracker delivery may need another request: search, then create or comment */
			if (o->tr_step != TRACKER_NONE && tracker_next(o))
			{
				long		ms = time_left_ms(deadline);

				if (ms > 0)
				{
					curl_easy_setopt(o->easy, CURLOPT_TIMEOUT_MS, ms);
					curl_multi_add_handle(multi, o->easy);
					continue;
				}
				out_of_time(o);
			}
			else
				request_finished(o);
			active--;
		}
		if (active > 0)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
		/* a stop request aborts the transfers through progress_cb */
		if (ProcDiePending || QueryCancelPending)
		{
			curl_multi_cleanup(multi);
			CHECK_FOR_INTERRUPTS();
			multi = NULL;
			break;
		}
	}
	if (multi)
		curl_multi_cleanup(multi);
}

/* Claim due deliveries in a committed transaction; returns how many */
static int
claim(const DeliverSettings *ds, Outgoing **out, MemoryContext cxt)
{
	Oid			types[3] = {TIMESTAMPTZOID, INT4OID, INTERVALOID};
	Datum		values[3];
	int			n = 0;
	bool		isnull;
	uint64		i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "tripl: claiming deliveries");
	values[0] = TimestampTzGetDatum(ds->now);
	values[1] = Int32GetDatum(ds->max_deliveries);
	values[2] = DirectFunctionCall3(interval_in, CStringGetDatum(psprintf("%d milliseconds", ds->lease_ms)),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	catalog_execute("WITH due AS ("
					"  SELECT d.id, t.issue_key, t.issue_id FROM tripl.deliveries d "
					"  JOIN tripl.destinations x ON x.id = d.destination_id AND x.enabled "
					/* the issue a tracker opened for the incident, if recorded */
					"  LEFT JOIN tripl.tickets t ON x.type IN ('jira', 'linear') AND t.destination_id = d.destination_id "
					"    AND t.ref = d.payload->>'ref' "
					"  WHERE ((d.status = 'pending' AND d.next_attempt_at <= $1) "
					"     OR (d.status = 'sending' AND d.lease_until < $1)) "
					/* a tracker's deliveries about one incident go in order */
					"    AND NOT (x.type IN ('jira', 'linear') AND EXISTS (SELECT 1 FROM tripl.deliveries e "
					"         WHERE e.destination_id = d.destination_id AND e.id < d.id "
					"         AND e.status IN ('pending', 'sending') AND e.payload ? 'ref' "
					"         AND e.payload->>'ref' = d.payload->>'ref')) "
					"  ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED) "
					"UPDATE tripl.deliveries d SET status = 'sending', attempts = d.attempts + 1, "
					"       lease_until = $1 + $3 "
					"FROM due, tripl.destinations dest "
					"LEFT JOIN tripl.destination_secrets s ON s.destination_id = dest.id "
					"WHERE d.id = due.id AND dest.id = d.destination_id "
					"RETURNING d.id, d.attempts, d.idempotency_key, "
					"  CASE WHEN dest.type = 'pagerduty' "
					"       THEN (d.payload || jsonb_build_object('routing_key', s.secret))::text "
					"       ELSE d.payload::text END, "
					"  dest.type, dest.url, dest.secret_header, s.secret, "
					"  dest.options->>'from', array_to_string(ARRAY(SELECT jsonb_array_elements_text("
					"    CASE WHEN jsonb_typeof(dest.options->'to') = 'array' THEN dest.options->'to' ELSE '[]' END)), ' '), "
					"  coalesce(dest.options->>'starttls', 'true'), d.payload->>'subject', d.payload->>'text', "
					"  d.payload->>'html', (extract(epoch FROM d.created_at) * 1000000)::int8, "
					"  dest.id, dest.options->>'project', dest.options->>'issue_type', "
					"  array_to_string(ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(dest.options->'labels') = 'array' "
					"    THEN dest.options->'labels' ELSE '[]' END)), ' '), coalesce(dest.options->>'api_version', '3'), "
					"  d.payload->>'action', d.payload->>'ref', "
					"  due.issue_key, due.issue_id, "
					"  dest.options->>'resolve_transition', dest.options->>'team_id', "
					"  array_to_string(ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(dest.options->'label_ids') = 'array' "
					"    THEN dest.options->'label_ids' ELSE '[]' END)), ' '), "
					"  d.attempts > 1 OR d.last_http_status IS NOT NULL OR d.last_error IS NOT NULL",
					3, types, values, NULL, false, 0);
	if (SPI_processed > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		*out = palloc0(sizeof(Outgoing) * SPI_processed);
		MemoryContextSwitchTo(old);
	}
	for (i = 0; i < SPI_processed; i++)
	{
		Outgoing   *o = &(*out)[i];
		MemoryContext old = MemoryContextSwitchTo(cxt);
		const char *secret = spi_text(i, 7);

		o->id = spi_int64(i, 0);
		o->attempts = (int) DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		o->secret = secret ? pstrdup(secret_to_redact(spi_text(i, 4), secret)) : NULL;
		o->keep_body = (secret == NULL);
		o->body = strdup(spi_text(i, 3));
		MemoryContextSwitchTo(old);
		if (o->body == NULL ||
			!(strcmp(spi_text(i, 4), "email") == 0 ?
			  prepare_mail(o, spi_text(i, 5), secret, spi_text(i, 8), spi_text(i, 9),
						   strcmp(spi_text(i, 10), "true") == 0 && strncmp(spi_text(i, 5), "smtp://", 7) == 0,
						   spi_text(i, 11), spi_text(i, 12), spi_text(i, 13), spi_text(i, 2),
						   spi_int64(i, 14), ds) :
			  prepare_request(o, spi_text(i, 4), spi_text(i, 5), spi_text(i, 6), secret,
							  spi_text(i, 2), ds)))
			snprintf(o->errbuf, sizeof(o->errbuf), "out of memory preparing the request");
		else if (strcmp(spi_text(i, 4), "jira") == 0)
		{
			o->tr_tried = strcmp(spi_text(i, 27), "t") == 0;
			o->dest_id = spi_int64(i, 15);
			prepare_jira(o, spi_text(i, 5), secret, spi_text(i, 16), spi_text(i, 17), spi_text(i, 18),
						 atoi(spi_text(i, 19)), spi_text(i, 20) ? spi_text(i, 20) : "test", spi_text(i, 21),
						 spi_text(i, 22), spi_text(i, 23), spi_text(i, 11), spi_text(i, 12), spi_text(i, 24),
						 spi_text(i, 2));
		}
		else if (strcmp(spi_text(i, 4), "linear") == 0)
		{
			o->tr_tried = strcmp(spi_text(i, 27), "t") == 0;
			o->dest_id = spi_int64(i, 15);
			prepare_linear(o, spi_text(i, 5), secret, spi_text(i, 25), spi_text(i, 26),
						   spi_text(i, 20) ? spi_text(i, 20) : "test", spi_text(i, 21), spi_text(i, 22),
						   spi_text(i, 23), spi_text(i, 11), spi_text(i, 12), spi_text(i, 2));
		}
		n++;
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	return n;
}

/* Record the results of a pass in a committed transaction */
static int
record(Outgoing *reqs, int n, const DeliverSettings *ds)
{
	int			sent = 0;
	int			i;
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *statuses = palloc(sizeof(Datum) * n);
	Datum	   *nexts = palloc(sizeof(Datum) * n);
	Datum	   *codes = palloc(sizeof(Datum) * n);
	bool	   *code_nulls = palloc(sizeof(bool) * n);
	Datum	   *errors = palloc(sizeof(Datum) * n);
	bool	   *error_nulls = palloc(sizeof(bool) * n);
	Datum	   *bodies = palloc(sizeof(Datum) * n);
	bool	   *body_nulls = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Datum	   *ats = palloc(sizeof(Datum) * n);
	Oid			types[7] = {INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, INT4ARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		values[7];
	TimestampTz recording = GetCurrentTimestamp();

	for (i = 0; i < n; i++)
	{
		Outgoing   *o = &reqs[i];
		DeliveryOutcome outcome;
		const char *status;
		char	   *error = NULL;
		int64		at = observed_us(ds, o->done_at ? o->done_at : recording);
		int64		next = at;

		if (o->refused)
		{
			outcome = DELIVERY_PERMANENT;
			error = psprintf("%s (tripl.allow_private_destinations is off)", o->refused_why);
		}
		else if (o->invalid)
		{
			outcome = DELIVERY_PERMANENT;
			error = pstrdup(o->errbuf);
		}
		else if (o->tr_done)
			outcome = DELIVERY_SENT;
		else if (o->tr_failed)
		{
			/* a GraphQL error: retried when rate-limited (or a 5xx), else final */
			outcome = o->tr_rate_limited ? DELIVERY_RETRY : DELIVERY_PERMANENT;
			error = psprintf("Linear answered HTTP %ld with an error: %s", o->status, o->tr_error);
		}
		else if (o->is_mail)
		{
			/* the SMTP server's last reply code is kept as the status */
			outcome = classify_smtp(o->status, o->finished && o->code == CURLE_OK);
			if (outcome != DELIVERY_SENT)
				error = o->errbuf[0] ? pstrdup(o->errbuf) :
					pstrdup(o->finished ? curl_easy_strerror(o->code) : "the transfer did not complete");
			if (outcome != DELIVERY_SENT && o->status > 0)
				error = psprintf("%s (SMTP reply %ld)", error, o->status);
		}
		else if (!o->finished || o->code != CURLE_OK)
		{
			outcome = DELIVERY_RETRY;
			error = o->errbuf[0] ? pstrdup(o->errbuf) :
				pstrdup(o->finished ? curl_easy_strerror(o->code) : "the request did not complete");
		}
		else
		{
			outcome = classify_http(o->status, false);
			if (outcome != DELIVERY_SENT)
				error = psprintf("HTTP status %ld", o->status);
			else if (o->tr_warning[0])
				error = pstrdup(o->tr_warning);
		}
		if (outcome == DELIVERY_RETRY && o->attempts >= ds->max_attempts)
		{
			outcome = DELIVERY_PERMANENT;
			error = psprintf("%s; gave up after %d attempts", error, o->attempts);
		}
		if (outcome == DELIVERY_SENT)
		{
			status = "sent";
			sent++;
		}
		else if (outcome == DELIVERY_RETRY)
		{
			int64		retry_after = o->retry_after[0] ? parse_retry_after(o->retry_after, at) : -1;

			/* the backoff counts from the failure, not from the start of the pass */
			status = "pending";
			next = at + delivery_backoff_us(o->attempts,
											(int64) ds->retry_base_ms * 1000,
											(int64) ds->retry_cap_ms * 1000,
											pg_prng_double(&pg_global_prng_state),
											retry_after);
		}
		else
			status = "dead";
		ids[i] = Int64GetDatum(o->id);
		statuses[i] = CStringGetTextDatum(status);
		nexts[i] = TimestampTzGetDatum(unix_to_ts(next));
		ats[i] = TimestampTzGetDatum(unix_to_ts(at));
		code_nulls[i] = !(o->finished && (o->code == CURLE_OK || (o->is_mail && o->status > 0)));
		codes[i] = Int32GetDatum((int32) o->status);

		/*
		 * Nothing stored may show the destination's secret, which other
		 * admins must not read: a curl error could name the URL (a Slack
		 * URL, a Telegram token), so errors lose every trace of it (see
		 * alert_redact_secret); a receiver may echo the secret in any
		 * encoding or cut, so the body of a destination with a secret is
		 * not kept at all.
		 */
		if (error && o->secret)
			error = alert_redact_secret(error, o->secret);
		error_nulls[i] = (error == NULL);
		errors[i] = error ? CStringGetTextDatum(printable(error, strlen(error))) : (Datum) 0;
		body_nulls[i] = (o->response_len == 0);
		if (body_nulls[i])
			bodies[i] = (Datum) 0;
		else if (!o->keep_body)
			bodies[i] = CStringGetTextDatum("response body not stored: destination has a secret");
		else
			bodies[i] = CStringGetTextDatum(printable(o->response, o->response_len));
	}

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "tripl: recording deliveries");
	/*
	 * the issues trackers opened (or that a retry found), in the same
	 * transaction; and the tickets whose resolution was posted
	 */
	{
		Datum	   *tdest = palloc(sizeof(Datum) * n);
		Datum	   *tref = palloc(sizeof(Datum) * n);
		Datum	   *tkey = palloc(sizeof(Datum) * n);
		Datum	   *tid = palloc(sizeof(Datum) * n);
		bool	   *tid_nulls = palloc(sizeof(bool) * n);
		Datum	   *tat = palloc(sizeof(Datum) * n);
		Datum	   *tres = palloc(sizeof(Datum) * n);
		bool	   *tres_nulls = palloc(sizeof(bool) * n);
		int			k = 0;

		for (i = 0; i < n; i++)
		{
			Outgoing   *o = &reqs[i];
			bool		resolved = o->tr_resolve && strcmp(TextDatumGetCString(statuses[i]), "sent") == 0;

			if (o->tr_step == TRACKER_NONE || o->tr_key[0] == '\0' || o->tr_ref[0] == '\0' ||
				(o->tr_recorded && !resolved))
				continue;
			tdest[k] = Int64GetDatum(o->dest_id);
			tref[k] = CStringGetTextDatum(o->tr_ref);
			tkey[k] = CStringGetTextDatum(o->tr_key);
			tid_nulls[k] = o->tr_id[0] == '\0';
			tid[k] = tid_nulls[k] ? (Datum) 0 : CStringGetTextDatum(o->tr_id);
			tat[k] = ats[i];
			tres_nulls[k] = !resolved;
			tres[k] = ats[i];
			k++;
		}
		if (k > 0)
		{
			Oid			ttypes[6] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID,
			TIMESTAMPTZARRAYOID};
			Datum		tvalues[6];
			int			tdims[1] = {k};

			tvalues[0] = PointerGetDatum(spi_int8_array(tdest, k));
			tvalues[1] = PointerGetDatum(construct_array(tref, k, TEXTOID, -1, false, TYPALIGN_INT));
			tvalues[2] = PointerGetDatum(construct_array(tkey, k, TEXTOID, -1, false, TYPALIGN_INT));
			tvalues[3] = PointerGetDatum(construct_md_array(tid, tid_nulls, 1, tdims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
			tvalues[4] = PointerGetDatum(construct_array(tat, k, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE));
			tvalues[5] = PointerGetDatum(construct_md_array(tres, tres_nulls, 1, tdims, lbs, TIMESTAMPTZOID, 8, true,
															TYPALIGN_DOUBLE));
			catalog_execute("INSERT INTO tripl.tickets (destination_id, ref, issue_key, issue_id, created_at, resolved_at) "
							"SELECT * FROM unnest($1, $2, $3, $4, $5, $6) "
							"ON CONFLICT (destination_id, ref) DO UPDATE "
							"SET resolved_at = coalesce(tickets.resolved_at, EXCLUDED.resolved_at)",
							6, ttypes, tvalues, NULL, false, 0);
		}
	}
	values[0] = PointerGetDatum(spi_int8_array(ids, n));
	values[1] = PointerGetDatum(construct_array(statuses, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(nexts, n, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_md_array(codes, code_nulls, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_md_array(errors, error_nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_md_array(bodies, body_nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(ats, n, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE));
	catalog_execute("UPDATE tripl.deliveries d SET status = u.st, next_attempt_at = u.nx, lease_until = NULL, "
					"last_http_status = u.code, last_error = u.err, last_response = u.body, "
					"sent_at = CASE WHEN u.st = 'sent' THEN u.at ELSE d.sent_at END "
					"FROM unnest($1, $2, $3, $4, $5, $6, $7) AS u(id, st, nx, code, err, body, at) "
					"WHERE d.id = u.id AND d.status = 'sending'",
					7, types, values, NULL, false, 0);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return sent;
}

/*
 * Where the last pass of this process spent its time (ms; cpu_ms < 0:
 * not measured), for the run log's details
 */
static double pass_cpu_ms = -1;
static double pass_phase_ms[3];		/* claim, send, record */

/* CPU time (user and system) this process has used, in ms */
static double
process_cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

/*
 * Write a pass's row to the run log, in a transaction of its own (a pass
 * commits its claims and results itself, whatever its caller does)
 */
void
deliver_log_pass(TimestampTz started, int claimed, int sent, const char *error)
{
	RunLogRow	r;
	StringInfoData d;

	/* everything is allocated in the transaction's memory */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	initStringInfo(&d);
	appendStringInfo(&d, "{\"claimed\": %d, \"sent\": %d, \"not_sent\": %d, \"duration_ms\": %.1f, ",
					 claimed, sent, claimed - sent, (GetCurrentTimestamp() - started) / 1000.0);
	/* the delivering process's CPU time and the phases' wall times */
	if (pass_cpu_ms >= 0 && error == NULL)
		appendStringInfo(&d, "\"cpu_ms\": %.1f, \"claim_ms\": %.1f, \"send_ms\": %.1f, \"record_ms\": %.1f, ",
						 pass_cpu_ms, pass_phase_ms[0], pass_phase_ms[1], pass_phase_ms[2]);
	pass_cpu_ms = -1;
	appendStringInfoString(&d, "\"error\": ");
	runlog_end_details(&d, error);
	memset(&r, 0, sizeof(r));
	r.kind = "deliver";
	r.started_at = started;
	r.deliveries = sent;
	r.error = error;
	r.details = d.data;
	runlog_write(&r);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
}

/*
 * One delivery pass (see the file comment).  Must run outside a
 * transaction, in a process that may start its own (a background worker).
 * Returns how many deliveries were sent (2xx).  The pass is logged in
 * tripl.runs if it claimed something, or always with log_always.
 */
static int
deliver_pass_with(const DeliverSettings *ds, int *claimed, bool log_always)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "tripl delivery pass",
											  ALLOCSET_DEFAULT_SIZES);
	TimestampTz started = GetCurrentTimestamp();
	Outgoing   *reqs = NULL;
	volatile int n;
	int			sent = 0;
	int			i;

	double		cpu_start = process_cpu_ms();
	TimestampTz t0;

	ensure_curl();
	n = claim(ds, &reqs, cxt);
	pass_phase_ms[0] = (GetCurrentTimestamp() - started) / 1000.0;
	pass_phase_ms[1] = pass_phase_ms[2] = 0;
	if (claimed)
		*claimed = n;
	if (n > 0)
	{
		PG_TRY();
		{
			/* between transactions the current context is TopMemoryContext */
			MemoryContext old = MemoryContextSwitchTo(cxt);

			t0 = GetCurrentTimestamp();
			send_all(reqs, n, ds);
			pass_phase_ms[1] = (GetCurrentTimestamp() - t0) / 1000.0;
			t0 = GetCurrentTimestamp();
			sent = record(reqs, n, ds);
			pass_phase_ms[2] = (GetCurrentTimestamp() - t0) / 1000.0;
			MemoryContextSwitchTo(old);
		}
		PG_CATCH();
		{
			for (i = 0; i < n; i++)
				free_request(&reqs[i]);
			PG_RE_THROW();
		}
		PG_END_TRY();
		for (i = 0; i < n; i++)
			free_request(&reqs[i]);
	}
	MemoryContextDelete(cxt);
	pass_cpu_ms = process_cpu_ms() - cpu_start;
	if (n > 0 || log_always)
		deliver_log_pass(started, n, sent, NULL);
	return sent;
}

/* One pass with this process's settings (the delivery worker's entry point) */
int
deliver_pass(int max_deliveries, int *claimed)
{
	DeliverSettings ds;

	StartTransactionCommand();
	settings_from_gucs(&ds, max_deliveries);
	CommitTransactionCommand();
	return deliver_pass_with(&ds, claimed, false);
}

/* Entry point of the short-lived worker tripl.deliver() starts */
void
tripl_deliver_worker_main(Datum arg)
{
	dsm_segment *seg;
	DeliverShared *shared;
	volatile TimestampTz started;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tripl delivery worker could not attach to its shared memory")));
	shared = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(shared->dboid, shared->roleoid, 0);
	pgstat_report_appname("tripl deliver");
	started = GetCurrentTimestamp();
	PG_TRY();
	{
		shared->sent = deliver_pass_with(&shared->settings, NULL, true);
		shared->done = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* the failed pass is logged too, then the worker fails with it */
		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		strlcpy(shared->error, edata->message, sizeof(shared->error));
		deliver_log_pass(started, 0, 0, edata->message);
		ReThrowError(edata);
	}
	PG_END_TRY();
	dsm_detach(seg);
	proc_exit(0);
}

/* Run one pass in a short-lived background worker and wait for it */
int
deliver_run_in_worker(int max_deliveries)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	dsm_segment *seg;
	DeliverShared *shared;
	int			sent;
	pid_t		pid;

	seg = dsm_create(sizeof(DeliverShared), 0);
	shared = dsm_segment_address(seg);
	memset(shared, 0, sizeof(DeliverShared));
	shared->dboid = MyDatabaseId;
	shared->roleoid = tripl_catalog_owner();
	settings_from_gucs(&shared->settings, max_deliveries);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "tripl");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "tripl_deliver_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "tripl deliver");
	snprintf(worker.bgw_type, BGW_MAXLEN, "tripl deliver");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a tripl delivery worker"),
				 errhint("Raise max_worker_processes; tripl.deliver() needs one free background worker slot.")));
	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status != BGWH_STARTED && status != BGWH_STOPPED)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("the tripl delivery worker did not start")));
	status = WaitForBackgroundWorkerShutdown(handle);
	if (status != BGWH_STOPPED || !shared->done)
	{
		char	   *msg = pstrdup(shared->error[0] ? shared->error : "see the server log");

		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("tripl delivery pass failed: %s", msg)));
	}
	sent = shared->sent;
	dsm_detach(seg);
	return sent;
}

/* SQL: tripl.deliver(max_deliveries) */
Datum
tripl_deliver(PG_FUNCTION_ARGS)
{
	int			max_deliveries = PG_ARGISNULL(0) ? 100 : PG_GETARG_INT32(0);

	if (max_deliveries < 1 || max_deliveries > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_deliveries must be between 1 and 10000")));
	(void) tripl_catalog_owner();
	PG_RETURN_INT32(deliver_run_in_worker(max_deliveries));
}

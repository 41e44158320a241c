/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Every tripl.* setting (GUC): its storage, its definition, and the one
 *	  clock.
 *
 *	  Everything that needs "now" calls tripl_now(), which honours the
 *	  superuser-only setting tripl.mock_now so tests can move time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "fmgr.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "tripl.h"

int			tripl_query_timeout_ms = 5 * 60 * 1000;
int			tripl_chunk_buckets = 5000;

int			tripl_engine = TRIPL_ENGINE_C;
char	   *tripl_timezone = NULL;
int			tripl_parallel_workers = 0;
int			tripl_engine_memory_limit_kb = -1;

static const struct config_enum_entry engine_options[] = {
	{"c", TRIPL_ENGINE_C, false},
	{"sql", TRIPL_ENGINE_SQL, false},
	{NULL, 0, false}
};

bool		tripl_allow_private_destinations = false;
int			tripl_delivery_max_attempts = 8;
int			tripl_delivery_connect_timeout_ms = 5000;
int			tripl_delivery_timeout_ms = 30000;
int			tripl_delivery_retry_base_ms = 30000;
int			tripl_delivery_retry_cap_ms = 3600000;
int			tripl_delivery_lease_ms = 120000;
int			tripl_delivery_concurrency = 32;
char	   *tripl_delivery_ca_file = NULL;
bool		tripl_scheduler_enabled = true;
int			tripl_tick_interval_ms = 60000;
char	   *tripl_databases = NULL;
int			tripl_run_retention_s = 7 * 24 * 3600;
int			tripl_run_error_retention_s = 30 * 24 * 3600;
int			tripl_delivery_retention_s = 7 * 24 * 3600;

static char *mock_now_string = NULL;
static bool mock_now_set = false;
static TimestampTz mock_now_value = 0;

/* Parse a timestamptz without raising errors (for the GUC check hook) */
static bool
parse_timestamptz_quietly(const char *str, TimestampTz *result)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	struct pg_tm tt;
	fsec_t		fsec;
	int			tz;

	if (strlen(str) >= MAXDATELEN)
		return false;
	if (ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype,
					  MAXDATEFIELDS, &nf) != 0)
		return false;
	if (DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0)
		return false;
	if (dtype != DTK_DATE)
		return false;
	return tm2timestamp(&tt, fsec, &tz, result) == 0;
}

/* Check hook for tripl.mock_now: empty, or a valid timestamptz */
static bool
check_mock_now(char **newval, void **extra, GucSource source)
{
	TimestampTz *parsed;
	TimestampTz t;

	if (*newval == NULL || (*newval)[0] == '\0')
	{
		*extra = NULL;
		return true;
	}
	if (!parse_timestamptz_quietly(*newval, &t))
	{
		GUC_check_errdetail("tripl.mock_now must be empty or a timestamp with time zone.");
		return false;
	}
	parsed = malloc(sizeof(TimestampTz));
	if (parsed == NULL)
		return false;
	*parsed = t;
	*extra = parsed;
	return true;
}

/* Assign hook for tripl.mock_now */
static void
assign_mock_now(const char *newval, void *extra)
{
	if (extra == NULL)
	{
		mock_now_set = false;
		mock_now_value = 0;
	}
	else
	{
		mock_now_set = true;
		mock_now_value = *(TimestampTz *) extra;
	}
}

/* tripl's notion of now */
TimestampTz
tripl_now(void)
{
	if (mock_now_set)
		return mock_now_value;
	return GetCurrentTransactionStartTimestamp();
}

/* Is tripl_now() the tripl.mock_now setting rather than the real clock? */
bool
tripl_now_is_mocked(void)
{
	return mock_now_set;
}

TRIPL_SQL_FUNCTION(tripl_now_sql);

/* SQL: tripl.now() */
Datum
tripl_now_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(tripl_now());
}

/* Define every setting (from _PG_init) and reserve the tripl. prefix */
void
guc_define(void)
{
	DefineCustomStringVariable("tripl.mock_now",
							   "Pretend the current time is this timestamp (tests only).",
							   "Empty means the real clock.  Every notion of now in tripl reads it.",
							   &mock_now_string,
							   "",
							   PGC_SUSET,
							   0,
							   check_mock_now, assign_mock_now, NULL);

	DefineCustomIntVariable("tripl.query_timeout",
							"Longest time one user query (fact table, metric) may run.",
							"Zero disables the limit.",
							&tripl_query_timeout_ms,
							5 * 60 * 1000, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.chunk_buckets",
							"Most buckets one collection query covers.",
							"Longer windows are split into chunks of whole buckets.",
							&tripl_chunk_buckets,
							5000, 1, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("tripl.engine",
							 "How collection aggregates: c (the C engine) or sql (plain SQL aggregates).",
							 "Both store the same values; sql is the reference path.",
							 &tripl_engine,
							 TRIPL_ENGINE_C,
							 engine_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("tripl.timezone",
							   "Time zone a new metric gets when create_metric is given none.",
							   "A zone name such as 'America/New_York' (doc/collection.md, \"Calendar time\").",
							   &tripl_timezone,
							   "UTC", PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.parallel_workers",
							"Parallel workers per collection query of the C engine.",
							"0 runs each query in the collecting process; more lets parallel query "
							"split a large scan (partial states are combined).",
							&tripl_parallel_workers,
							0, 0, 64,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.engine_memory_limit",
							"Most memory one C-engine collection query may use.",
							"-1: work_mem times hash_mem_multiplier, as PostgreSQL's hash aggregation.  "
							"A query that needs more is computed on the SQL path instead.",
							&tripl_engine_memory_limit_kb,
							-1, -1, MAX_KILOBYTES,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("tripl.allow_private_destinations",
							 "Allow alert deliveries to loopback, private and link-local addresses.",
							 "Off by default so that database users cannot reach internal services.",
							 &tripl_allow_private_destinations,
							 false, PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.delivery_max_attempts",
							"Attempts after which a failing delivery is marked dead.",
							NULL, &tripl_delivery_max_attempts,
							8, 1, 1000, PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.delivery_connect_timeout",
							"Longest time to establish an alert delivery's connection.",
							NULL, &tripl_delivery_connect_timeout_ms,
							5000, 1, 600000, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.delivery_timeout",
							"Longest time one alert delivery request may take in all.",
							NULL, &tripl_delivery_timeout_ms,
							30000, 1, 3600000, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.delivery_retry_base",
							"Wait before the first retry of a failed delivery; doubles per attempt.",
							NULL, &tripl_delivery_retry_base_ms,
							30000, 1, 86400000, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.delivery_retry_cap",
							"Longest wait between retries of a failed delivery.",
							NULL, &tripl_delivery_retry_cap_ms,
							3600000, 1, 86400000, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.delivery_lease",
							"How long a claimed delivery is reserved before another pass may take it over.",
							"The lease used is at least tripl.delivery_timeout + tripl.delivery_connect_timeout + 10s, "
							"so a delivery still being sent is never taken over.",
							&tripl_delivery_lease_ms,
							120000, 1000, 86400000, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.delivery_concurrency",
							"Most alert deliveries sent at once.",
							NULL, &tripl_delivery_concurrency,
							32, 1, 1000, PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("tripl.delivery_ca_file",
							   "File of CA certificates that HTTPS and SMTP (TLS) deliveries trust instead of the system's.",
							   "Empty: the system's certificate store.",
							   &tripl_delivery_ca_file,
							   "", PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("tripl.scheduler",
							 "Run tripl's background scheduler and delivery workers.",
							 "Off makes every tripl worker idle, without a restart.",
							 &tripl_scheduler_enabled,
							 true, PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.tick_interval",
							"How often the scheduler runs tripl.tick() in each database.",
							NULL, &tripl_tick_interval_ms,
							60000, 10, 86400000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomStringVariable("tripl.databases",
							   "Databases the scheduler may run in (empty: every database that has the extension).",
							   "A comma-separated list of database names.",
							   &tripl_databases,
							   "", PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.run_retention",
							"How long tripl.runs keeps rows of passes without errors.",
							NULL, &tripl_run_retention_s,
							7 * 24 * 3600, 60, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.run_error_retention",
							"How long tripl.runs keeps rows of passes that failed.",
							NULL, &tripl_run_error_retention_s,
							30 * 24 * 3600, 60, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("tripl.delivery_retention",
							"How long sent and dead deliveries are kept.",
							NULL, &tripl_delivery_retention_s,
							7 * 24 * 3600, 60, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	MarkGUCPrefixReserved("tripl");
}

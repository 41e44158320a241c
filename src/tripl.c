/*-------------------------------------------------------------------------
 *
 * tripl.c
 *	  Module entry point: settings (GUCs) and the one clock.
 *
 *	  Everything that needs "now" calls tripl_now(), which honours the
 *	  superuser-only setting tripl.mock_now so tests can move time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "tripl.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

int			tripl_query_timeout_ms = 5 * 60 * 1000;
int			tripl_chunk_buckets = 5000;

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

PG_FUNCTION_INFO_V1(tripl_now_sql);

/* SQL: tripl.now() */
Datum
tripl_now_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(tripl_now());
}

/* The role that owns the extension's tables (catalog writes run as it) */
Oid
tripl_catalog_owner(void)
{
	Oid			nsp = get_namespace_oid("tripl", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("metrics", nsp) : InvalidOid;
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"tripl\" is not installed in this database")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", rel);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Module load: define settings; workers are registered only when preloaded */
void
_PG_init(void)
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

	MarkGUCPrefixReserved("tripl");
}

/*-------------------------------------------------------------------------
 *
 * grid_pg.c
 *	  Calendar grids inside the server (doc/collection.md, "Calendar
 *	  time"): a metric's time zone is checked and named as PostgreSQL's
 *	  zone database knows it, and the pure grid (core/grid.c) gets the
 *	  zone's wall-clock conversions from PostgreSQL's own functions — the
 *	  ones date_trunc(unit, ts, zone) uses — once per bucket boundary.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "parser/scansup.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "grid_pg.h"
#include "tripl.h"

/*
 * The column of a metric's time zone in SQL over tripl.metrics m: m.timezone,
 * or 'UTC' while the catalog is still version 0.1's (before ALTER
 * EXTENSION tripl UPDATE).
 */
const char *
grid_pg_zone_column(void)
{
	Oid			nsp = get_namespace_oid("tripl", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("metrics", nsp) : InvalidOid;

	if (OidIsValid(rel) && get_attnum(rel, "timezone") != InvalidAttrNumber)
		return "m.timezone";
	return "'UTC'::text";
}

/* Is a stored zone name UTC (the fixed grids of 0.1)? */
bool
grid_pg_is_utc(const char *zone)
{
	return zone == NULL || pg_strcasecmp(zone, "UTC") == 0;
}

/*
 * Check a zone name and return its canonical spelling ('UTC' for UTC).
 * Abbreviations such as 'EST' or 'CET' are refused: date_trunc reads them
 * as fixed offsets, while their zone of the same name has daylight saving.
 */
char *
grid_pg_zone(const char *name, const char *what)
{
	pg_tz	   *tz;
	char	   *low;
	int			val;
	pg_tz	   *abbrev_tz;

	if (name == NULL || grid_pg_is_utc(name))
		return pstrdup("UTC");
	low = downcase_truncate_identifier(name, strlen(name), false);
	tz = strlen(name) < TZ_STRLEN_MAX ? pg_tzset(name) : NULL;
	if (tz == NULL || DecodeTimezoneAbbrev(0, low, &val, &abbrev_tz) != UNKNOWN_FIELD)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" is not a known time zone", what, name),
				 errhint("Use a zone name of the IANA database, such as 'America/New_York', 'Europe/Berlin' or 'UTC' "
						 "(SELECT name FROM pg_timezone_names lists them).")));
	return pstrdup(pg_get_timezone_name(tz));
}

/* The wall-clock time of an instant in a zone (as date_trunc reads it) */
static int64_t
pgzone_to_local(const void *arg, int64_t utc)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (timestamp2tm(unix_to_ts(utc), &tzoff, &tm, &fsec, NULL, (pg_tz *) arg) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return utc - (int64) tzoff * USECS_PER_SEC;
}

/* The instant of a wall-clock time in a zone (date_trunc's rule for gaps and folds) */
static int64_t
pgzone_to_utc(const void *arg, int64_t local)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (timestamp2tm(unix_to_ts(local), NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	tzoff = DetermineTimeZoneOffset(&tm, (pg_tz *) arg);
	return local + (int64) tzoff * USECS_PER_SEC;
}

/* A zone's wall-clock conversions (zeroed for UTC), for a canonical name */
void
grid_pg_zone_of(const char *zone, GridZone *z)
{
	memset(z, 0, sizeof(GridZone));
	if (grid_pg_is_utc(zone))
		return;
	z->arg = pg_tzset(zone);
	if (z->arg == NULL)
		elog(ERROR, "time zone \"%s\" not recognized", zone);
	z->to_local = pgzone_to_local;
	z->to_utc = pgzone_to_utc;
}

/* The abbreviation of a zone (a GridZone's arg) at an instant: "EST", "CEST" */
void
grid_pg_zone_abbrev(const void *arg, int64_t utc, char *buf, size_t len)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	const char *tzn = NULL;

	if (timestamp2tm(unix_to_ts(utc), &tzoff, &tm, &fsec, &tzn, (pg_tz *) arg) != 0 || tzn == NULL)
		snprintf(buf, len, "UTC%+d", -tzoff / 3600);
	else
		snprintf(buf, len, "%s", tzn);
}

/*
 * The grid of a bucket width in a zone (a canonical name from
 * grid_pg_zone).  Returns NULL, or the problem with the width.
 */
const char *
grid_pg_make(Grid *g, const Interval *bucket, const char *zone)
{
	bool		utc = grid_pg_is_utc(zone);
	const char *problem = grid_classify(bucket->month, bucket->day, bucket->time, utc, g);

	if (problem != NULL || utc || g->unit == GRID_FIXED)
		return problem;
	grid_pg_zone_of(zone, &g->zone);
	return NULL;
}

/* The zone of a grid as a name for SQL ('UTC' for fixed and UTC grids) */
const char *
grid_pg_zone_name(const Grid *g)
{
	if (g->zone.arg == NULL)
		return "UTC";
	return pg_get_timezone_name((pg_tz *) g->zone.arg);
}

/* A metric's grid from SQL arguments (bucket, zone), erroring on a bad one */
static void
sql_grid(FunctionCallInfo fcinfo, int arg, Grid *g)
{
	char	   *zone = grid_pg_zone(text_to_cstring(PG_GETARG_TEXT_PP(arg + 1)), "timezone");
	const char *problem = grid_pg_make(g, PG_GETARG_INTERVAL_P(arg), zone);

	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid bucket width: %s", problem)));
}

/* SQL: tripl._bucket_start(ts, bucket, timezone): the bucket of ts */
TRIPL_SQL_FUNCTION(tripl_bucket_start);
Datum
tripl_bucket_start(PG_FUNCTION_ARGS)
{
	Grid		g;
	TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);

	if (TIMESTAMP_NOT_FINITE(t))
		PG_RETURN_TIMESTAMPTZ(t);
	sql_grid(fcinfo, 1, &g);
	PG_RETURN_TIMESTAMPTZ(unix_to_ts(grid_start(&g, ts_to_unix(t))));
}

/* SQL: tripl._bucket_step(ts, bucket, timezone, k): k buckets after ts's bucket */
TRIPL_SQL_FUNCTION(tripl_bucket_step);
Datum
tripl_bucket_step(PG_FUNCTION_ARGS)
{
	Grid		g;
	TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);
	int32		k = PG_GETARG_INT32(3);

	if (TIMESTAMP_NOT_FINITE(t))
		PG_RETURN_TIMESTAMPTZ(t);
	if (k < -1000000 || k > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at most 1000000 buckets at a time")));
	sql_grid(fcinfo, 1, &g);
	PG_RETURN_TIMESTAMPTZ(unix_to_ts(grid_step(&g, grid_start(&g, ts_to_unix(t)), k)));
}

/*-------------------------------------------------------------------------
 *
 * monitor.c
 *	  Anomaly detection in the database: tripl.detect_series (the detector
 *	  on any series), tripl.detect (over stored values, persisting
 *	  tripl.anomalies) and tripl.set_monitoring (settings with per-metric
 *	  overrides).
 *
 *	  tripl.detect scores every monitored metric (active, anomaly_detection
 *	  on) whose values changed since its last detection: collection records
 *	  the earliest bucket it wrote in metric_state.changed_from.  Each run
 *	  re-scores the trailing 30 buckets, or from the earliest changed bucket
 *	  when a backfill reached further back, with history loaded as far back
 *	  as the baselines need (plus the 30 buckets on daily and 6-hour grids,
 *	  see history_buckets).  Persisting is idempotent: anomalies in the
 *	  evaluated range that the detector no longer reports are deleted
 *	  (except inside suppressed ranges, which belong to an outage reported
 *	  earlier), new ones are inserted, changed ones updated, unchanged ones
 *	  left alone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "core/detect_core.h"
#include "core/grid.h"
#include "defs.h"
#include "engine_pg.h"
#include "guc.h"
#include "monitor.h"
#include "privilege.h"
#include "runlog.h"
#include "spiutil.h"
#include "subxact.h"
#include "tripl.h"

TRIPL_SQL_FUNCTION(tripl_detect_series);

/* detect_series' memory bound: bytes a grid bucket costs the detector */
#define DETECT_BYTES_PER_BUCKET		320
#define DETECT_SERIES_MIN_LIMIT		((size_t) 64 * 1024 * 1024)
TRIPL_SQL_FUNCTION(tripl_detect);
TRIPL_SQL_FUNCTION(tripl_set_monitoring);

/* Buckets re-scored by every detection run */
#define TRAILING_BUCKETS 30

/*--------------------------------------------------------------------
 * Settings
 *--------------------------------------------------------------------
 */

/* Check one group of settings; what names where they came from */
static void
check_settings(const MonitorSettings *s, const char *what)
{
	const DetectSettings *d = &s->detect;

	if (!(d->sigma_threshold > 0 && d->sigma_threshold <= 100))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sigma_threshold must be greater than 0 and at most 100 (%s)", what)));
	if (!(d->min_expected_count >= 0 && d->min_expected_count <= 1e12))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_expected_count must be between 0 and 1e12 (%s)", what)));
	if (d->baseline_window_buckets < 2 || d->baseline_window_buckets > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("baseline_window_buckets must be between 2 and 10000 (%s)", what)));
	if (d->min_history_buckets < 1 || d->min_history_buckets > d->baseline_window_buckets)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_history_buckets must be between 1 and baseline_window_buckets (%d) (%s)",
						d->baseline_window_buckets, what)));
	if (d->settling_minutes < 0 || d->settling_minutes > 1440)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settling_minutes must be between 0 and 1440 (%s)", what)));
	if (s->recent_window_us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recent_signal_window must be positive (%s)", what)));
	if ((int64) d->settling_minutes * USECS_PER_MINUTE >= s->recent_window_us)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settling_minutes must be shorter than recent_signal_window (%s)", what)));
}

/* The columns every settings query returns, in this order */
#define SETTINGS_COLUMNS \
	"sigma_threshold, min_expected_count, baseline_window_buckets, min_history_buckets, " \
	"settling_minutes, (extract(epoch FROM recent_signal_window) * 1000000)::int8"

/* Read one settings row of the last catalog query */
static void
settings_from_row(int row, MonitorSettings *s)
{
	HeapTuple	tup = SPI_tuptable->vals[row];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;

	s->detect.sigma_threshold = DatumGetFloat8(SPI_getbinval(tup, desc, 1, &isnull));
	s->detect.min_expected_count = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
	s->detect.baseline_window_buckets = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	s->detect.min_history_buckets = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	s->detect.settling_minutes = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	s->recent_window_us = spi_int64(row, 5);
}

/* The settings in effect for a metric: defaults overlaid with its overrides */
void
monitor_settings(MetricDef *m, MonitorSettings *s)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(m->id)};

	catalog_execute("SELECT " SETTINGS_COLUMNS " FROM tripl.monitoring WHERE metric_id = $1",
					1, types, values, NULL, true, 0);
	if (SPI_processed != 1)
		elog(ERROR, "no monitoring settings for metric %s", m->name);
	settings_from_row(0, s);
}

/* SQL: tripl.set_monitoring(metric, sigma_threshold, ..., reset) */
Datum
tripl_set_monitoring(PG_FUNCTION_ARGS)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		reset = !PG_ARGISNULL(7) && PG_GETARG_BOOL(7);
	MetricDef  *m = NULL;
	MonitorSettings s;
	Oid			types[8] = {INT8OID, FLOAT8OID, FLOAT8OID, INT4OID, INT4OID, INT4OID, INTERVALOID, BOOLOID};
	Datum		values[8];
	char		nulls[9] = "        ";
	int			i;
	bool		any = false;

	for (i = 1; i <= 6; i++)
		any = any || !PG_ARGISNULL(i);
	if (reset && any)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reset cannot be combined with new values")));
	if (!reset && !any)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nothing to change"),
				 errhint("Pass at least one setting, or reset => true.")));

	SPI_connect();
	if (name != NULL)
	{
		m = defs_metric(name, false);
		if (!caller_may_manage(m->owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of metric \"%s\" to change its monitoring", name)));
	}
	else if (!caller_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers and members of tripl_admin may change the default monitoring settings")));

	if (m)
		values[0] = Int64GetDatum(m->id);
	else
		nulls[0] = 'n';
	for (i = 1; i <= 6; i++)
	{
		if (PG_ARGISNULL(i))
		{
			nulls[i] = 'n';
			values[i] = (Datum) 0;
		}
		else
			values[i] = PG_GETARG_DATUM(i);
	}

	if (reset && m)
		catalog_execute("DELETE FROM tripl.monitoring_settings WHERE metric_id = $1",
						1, types, values, nulls, false, 0);
	else if (reset)
		catalog_execute("DELETE FROM tripl.monitoring_settings WHERE metric_id IS NULL",
						0, NULL, NULL, NULL, false, 0);
	else if (m)
		catalog_execute("INSERT INTO tripl.monitoring_settings AS s (metric_id, sigma_threshold, "
						"min_expected_count, baseline_window_buckets, min_history_buckets, settling_minutes, "
						"recent_signal_window) VALUES ($1, $2, $3, $4, $5, $6, $7) "
						"ON CONFLICT (metric_id) DO UPDATE SET "
						"sigma_threshold = coalesce($2, s.sigma_threshold), "
						"min_expected_count = coalesce($3, s.min_expected_count), "
						"baseline_window_buckets = coalesce($4, s.baseline_window_buckets), "
						"min_history_buckets = coalesce($5, s.min_history_buckets), "
						"settling_minutes = coalesce($6, s.settling_minutes), "
						"recent_signal_window = coalesce($7, s.recent_signal_window)",
						7, types, values, nulls, false, 0);
	else
	{
		/* the defaults row is created on first change */
		catalog_execute("INSERT INTO tripl.monitoring_settings (metric_id) SELECT NULL "
						"WHERE NOT EXISTS (SELECT 1 FROM tripl.monitoring_settings WHERE metric_id IS NULL)",
						0, NULL, NULL, NULL, false, 0);
		catalog_execute("UPDATE tripl.monitoring_settings SET "
						"sigma_threshold = coalesce($2, sigma_threshold), "
						"min_expected_count = coalesce($3, min_expected_count), "
						"baseline_window_buckets = coalesce($4, baseline_window_buckets), "
						"min_history_buckets = coalesce($5, min_history_buckets), "
						"settling_minutes = coalesce($6, settling_minutes), "
						"recent_signal_window = coalesce($7, recent_signal_window) "
						"WHERE metric_id IS NULL",
						7, types, values, nulls, false, 0);
	}

	/* every combination now in effect must be valid */
	catalog_execute(m ?
					"SELECT " SETTINGS_COLUMNS ", metric FROM tripl.monitoring WHERE metric_id = $1" :
					"SELECT " SETTINGS_COLUMNS ", NULL FROM tripl.monitoring_defaults UNION ALL "
					"SELECT " SETTINGS_COLUMNS ", metric FROM tripl.monitoring",
					1, types, values, nulls, true, 0);
	{
		uint64		r;

		for (r = 0; r < SPI_processed; r++)
		{
			const char *who = spi_text(r, 6);

			settings_from_row(r, &s);
			check_settings(&s, who ? psprintf("metric \"%s\"", who) : "the defaults");
		}
	}

	/* the next detection re-scores what the change affects */
	if (m)
		catalog_execute("UPDATE tripl.metric_state s SET changed_from = coalesce(s.changed_from, s.watermark) "
						"WHERE s.metric_id = $1", 1, types, values, nulls, false, 0);
	else
		catalog_execute("UPDATE tripl.metric_state s SET changed_from = coalesce(s.changed_from, s.watermark)",
						0, NULL, NULL, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/*--------------------------------------------------------------------
 * tripl.detect_series
 *--------------------------------------------------------------------
 */

/* Parse detect_series' settings jsonb over the defaults */
static void
parse_settings_json(Jsonb *j, MonitorSettings *s)
{
	Oid			types[1] = {JSONBOID};
	Datum		values[1] = {JsonbPGetDatum(j)};
	uint64		i;
	bool		have_sigma = false,
				have_score = false;

	catalog_execute("SELECT jsonb_typeof($1)", 1, types, values, NULL, true, 0);
	if (strcmp(spi_text(0, 0), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settings must be a JSON object")));
	catalog_execute("SELECT key, jsonb_typeof(value), CASE WHEN jsonb_typeof(value) = 'number' "
					"THEN (value #>> '{}')::float8 END FROM jsonb_each($1) ORDER BY key",
					1, types, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		const char *key = spi_text(i, 0);
		bool		isnull;
		double		v;

		if (strcmp(spi_text(i, 1), "number") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("setting \"%s\" must be a number", key)));
		v = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		if (strcmp(key, "sigma_threshold") == 0)
		{
			if (have_score)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("sigma_threshold and score_threshold cannot both be given"),
						 errhint("score_threshold is sigma_threshold on the anomaly score's scale.")));
			have_sigma = true;
			s->detect.sigma_threshold = v;
		}
		else if (strcmp(key, "score_threshold") == 0)
		{
			if (have_sigma)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("sigma_threshold and score_threshold cannot both be given"),
						 errhint("score_threshold is sigma_threshold on the anomaly score's scale.")));
			if (!(v > 0.0 && v < 1.0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("score_threshold must be between 0 and 1 (exclusive)")));
			have_score = true;
			s->detect.sigma_threshold = detect_sigma_for_score(v);
		}
		else if (strcmp(key, "min_expected_count") == 0)
			s->detect.min_expected_count = v;
		else
		{
			int		   *target;

			if (strcmp(key, "baseline_window_buckets") == 0)
				target = &s->detect.baseline_window_buckets;
			else if (strcmp(key, "min_history_buckets") == 0)
				target = &s->detect.min_history_buckets;
			else if (strcmp(key, "settling_minutes") == 0)
				target = &s->detect.settling_minutes;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown setting \"%s\"", key),
						 errhint("The settings are sigma_threshold (or score_threshold), min_expected_count, baseline_window_buckets, min_history_buckets and settling_minutes.")));
			if (v != floor(v) || v < -1e9 || v > 1e9)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("setting \"%s\" must be a whole number", key)));
			*target = (int) v;
		}
	}
}

/* Pair of a bucket and its value, to sort input */
typedef struct SeriesPoint
{
	int64		bucket;
	double		value;
	int			input;			/* position in the input arrays */
} SeriesPoint;

/* Sort points by bucket */
static int
point_cmp(const void *a, const void *b)
{
	const SeriesPoint *x = a;
	const SeriesPoint *y = b;

	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	return 0;
}

/* SQL: tripl.detect_series(buckets, vals, bucket, count_shaped, settings) */
Datum
tripl_detect_series(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *barr;
	ArrayType  *varr;
	Interval   *width_iv;
	bool		count_shaped = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
	Datum	   *bd;
	bool	   *bn;
	Datum	   *vd;
	bool	   *vn;
	int			nb;
	int			nv;
	int64		width;
	const char *problem;
	MonitorSettings s;
	SeriesPoint *pts;
	int64	   *buckets;
	double	   *vals;
	DetectOutput out;
	char		errbuf[256];
	int			i;
	int			r;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("buckets, vals and bucket must not be NULL")));
	barr = PG_GETARG_ARRAYTYPE_P(0);
	varr = PG_GETARG_ARRAYTYPE_P(1);
	width_iv = PG_GETARG_INTERVAL_P(2);
	if (ARR_NDIM(barr) > 1 || ARR_NDIM(varr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("buckets and vals must be one-dimensional arrays")));
	problem = grid_width_problem(width_iv->month, width_iv->day, width_iv->time, &width);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid bucket width: %s", problem)));
	deconstruct_array(barr, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE, &bd, &bn, &nb);
	deconstruct_array(varr, FLOAT8OID, 8, true, TYPALIGN_DOUBLE, &vd, &vn, &nv);
	if (nb != nv)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("buckets and vals must have the same length"),
				 errdetail("buckets has %d elements, vals has %d.", nb, nv)));
	if (nb > DETECT_MAX_SERIES_POINTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a series can have at most %d points", DETECT_MAX_SERIES_POINTS)));

	InitMaterializedSRF(fcinfo, 0);
	detect_default_settings(&s.detect);
	s.recent_window_us = 24 * USECS_PER_HOUR;
	if (!PG_ARGISNULL(4))
	{
		SPI_connect();
		parse_settings_json(PG_GETARG_JSONB_P(4), &s);
		SPI_finish();
	}
	check_settings(&s, "settings");
	if (nb == 0)
		return (Datum) 0;

	pts = palloc_extended(sizeof(SeriesPoint) * nb, MCXT_ALLOC_HUGE);
	for (i = 0; i < nb; i++)
	{
		TimestampTz t;

		if (bn[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("buckets must not contain NULL")));
		t = DatumGetTimestampTz(bd[i]);
		if (TIMESTAMP_NOT_FINITE(t))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("buckets must be finite")));
		pts[i].bucket = ts_to_unix(t);
		if (!grid_aligned(pts[i].bucket, width))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bucket %s is not on the grid of the bucket width",
							timestamptz_to_str(t)),
					 errhint("Buckets start at date_bin(width, ts, '1970-01-01 00:00+00'), or Monday 1970-01-05 for whole weeks.")));
		pts[i].value = vn[i] ? NAN : DatumGetFloat8(vd[i]);
		pts[i].input = i;
	}
	qsort(pts, nb, sizeof(SeriesPoint), point_cmp);
	buckets = palloc_extended(sizeof(int64) * nb, MCXT_ALLOC_HUGE);
	vals = palloc_extended(sizeof(double) * nb, MCXT_ALLOC_HUGE);
	for (i = 0; i < nb; i++)
	{
		if (i > 0 && pts[i].bucket == pts[i - 1].bucket)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bucket %s appears more than once",
							timestamptz_to_str(unix_to_ts(pts[i].bucket)))));
		buckets[i] = pts[i].bucket;
		vals[i] = pts[i].value;
	}

	/*
	 * The detector works on the whole grid from the first bucket to the
	 * last: bound it by the same memory limit as the C engine (at least
	 * DETECT_SERIES_MIN_LIMIT), at DETECT_BYTES_PER_BUCKET a bucket.
	 */
	{
		int64		span = (buckets[nb - 1] - buckets[0]) / width + 1;
		size_t		limit = Max(engine_memory_limit_bytes(), DETECT_SERIES_MIN_LIMIT);
		int64		most = (int64) (limit / DETECT_BYTES_PER_BUCKET);

		if (span > most)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the series spans " INT64_FORMAT " buckets of its width, more than " INT64_FORMAT,
							span, most),
					 errdetail("The detector works on every bucket from the first to the last, about %d bytes each, within tripl.engine_memory_limit (at least %d MB).",
							   DETECT_BYTES_PER_BUCKET, (int) (DETECT_SERIES_MIN_LIMIT / (1024 * 1024))),
					 errhint("Pass a shorter time range or a wider bucket.")));
	}

	memset(&out, 0, sizeof(out));
	if (!detect_run(buckets, vals, nb, width, count_shaped, buckets[0], buckets[nb - 1] + width,
					&s.detect, &out, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", errbuf)));

	/* one row per input bucket, in bucket order */
	r = 0;
	for (i = 0; i < nb; i++)
	{
		Datum		o[9];
		bool		n[9] = {false, true, true, true, true, false, true, true, true};
		DetectRow  *row = NULL;

		while (r < out.n_rows && out.rows[r].bucket < pts[i].bucket)
			r++;
		if (r < out.n_rows && out.rows[r].bucket == pts[i].bucket)
			row = &out.rows[r];
		o[0] = TimestampTzGetDatum(unix_to_ts(pts[i].bucket));
		if (!isnan(pts[i].value))
		{
			o[1] = Float8GetDatum(pts[i].value);
			n[1] = false;
		}
		o[5] = BoolGetDatum(row && row->is_anomaly);
		if (row && !isnan(row->expected) && !row->silenced)
		{
			o[2] = Float8GetDatum(row->expected);
			n[2] = false;
			if (!isnan(row->effective_stddev))
			{
				o[3] = Float8GetDatum(row->effective_stddev);
				n[3] = false;
			}
			if (!isnan(row->z_score))
			{
				o[4] = Float8GetDatum(row->z_score);
				n[4] = false;
			}
			if (!isnan(row->score))
			{
				o[8] = Float8GetDatum(row->score);
				n[8] = false;
			}
		}
		if (row && row->kind != DETECTOR_NONE && detector_kind_name(row->kind))
		{
			o[6] = CStringGetTextDatum(detector_kind_name(row->kind));
			n[6] = false;
		}
		if (row && row->is_anomaly)
		{
			o[7] = CStringGetTextDatum(row->direction > 0 ? "spike" : "drop");
			n[7] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, o, n);
	}
	detect_output_free(&out);
	return (Datum) 0;
}

/*--------------------------------------------------------------------
 * tripl.detect
 *--------------------------------------------------------------------
 */

/*--------------------------------------------------------------------
 * Calendar grids (doc/detection.md, "Calendar time").  The detector sees
 * a regular grid; a calendar metric's buckets are handed to it at their
 * season times (core/grid.c, grid_season_time): a local day at its local
 * midnight, so the weekly season follows local weekdays on both sides of
 * a DST change; a sub-day bucket at local midnight plus its elapsed time
 * (a 23-hour day leaves a slot without a bucket, given as NaN so that it
 * is neither a value nor a zero; the 25th hour of a 25-hour day is not
 * judged); months, quarters and years at their number, on a grid whose
 * weekly period is the year (12, 4, 1 buckets): a yearly season once
 * there are three years, a rolling baseline before.  The verdicts are
 * mapped back to the real buckets.
 *--------------------------------------------------------------------
 */

/* The width of a grid's season times */
static int64
season_width(const Grid *g)
{
	int64		sw;

	(void) grid_season_time(g, grid_start(g, 0), &sw);
	return sw;
}

/*
 * Buckets of history to load before the evaluated range: what the
 * baselines need.  A detection pass (rescore) adds the trailing window
 * where that window spans a longest phase period or more (daily and 6-hour
 * grids): the oldest re-scored bucket then has as many phase partners as
 * the newest had.  Its verdict is the one that stays, and with three weeks
 * of history before it a daily bucket lost drops it had been flagged for
 * when it was new.
 */
static int64
history_buckets(const Grid *g, const DetectSettings *d, bool rescore)
{
	int			periods[DETECT_MAX_PHASE_PERIODS];
	int			np = detect_phase_periods(season_width(g), periods);
	int64		longest = np > 0 ? periods[0] : 0;
	int64		need = Max((int64) d->baseline_window_buckets, 3 * longest);

	if (rescore && longest > 0 && longest <= TRAILING_BUCKETS)
		need += TRAILING_BUCKETS;
	return need;
}

/* A season time and the real bucket it stands for */
typedef struct SeasonSlot
{
	int64		season;
	int64		bucket;
} SeasonSlot;

/* The real bucket at a season time (the first at or after it when none is) */
static int64
season_to_bucket(const SeasonSlot *slots, int n, int64 season, bool *exact, int64 end)
{
	int			lo = 0;
	int			hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (slots[mid].season < season)
			lo = mid + 1;
		else
			hi = mid;
	}
	*exact = lo < n && slots[lo].season == season;
	return lo < n ? slots[lo].bucket : end;
}

/*
 * Run the detector on a calendar grid's stored values (buckets[n], vals[n]
 * in [from, eval_end)), mapping to season times and back.
 */
static bool
detect_calendar(MetricDef *m, const int64 *buckets, const double *vals, int n, int64 eval_start,
				int64 eval_end, DetectSettings *settings, DetectOutput *out, char *errbuf, size_t errlen)
{
	int64		sw = season_width(&m->grid);
	SeasonSlot *slots;
	int64	   *sb;
	double	   *sv;
	int			nslots = 0;
	int			ns = 0;
	int			cap = 0;
	int64		b;
	int64		prev = PG_INT64_MIN;
	int64		s_start = PG_INT64_MAX;
	int64		s_end = PG_INT64_MIN;
	int			p = 0;
	int			i;
	int			k;
	bool		exact;
	bool		ok;

	for (b = buckets[0]; b < eval_end; b = grid_next(&m->grid, b))
		cap++;
	slots = palloc_extended(sizeof(SeasonSlot) * (cap + 1), MCXT_ALLOC_HUGE);
	for (b = buckets[0]; b < eval_end; b = grid_next(&m->grid, b))
	{
		int64		t = grid_season_time(&m->grid, b, &sw);

		if (t == PG_INT64_MIN || t <= prev)
			continue;			/* the 25th hour of a 25-hour day */
		slots[nslots].season = t;
		slots[nslots].bucket = b;
		nslots++;
		prev = t;
		if (b >= eval_start)
			s_start = Min(s_start, t);
		s_end = t + sw;
	}
	if (nslots == 0 || s_start == PG_INT64_MAX)
		return false;
	/* stored values at their season times, NaN in slots no bucket fills */
	sb = palloc_extended(sizeof(int64) * (n + (slots[nslots - 1].season - slots[0].season) / sw + 2),
						 MCXT_ALLOC_HUGE);
	sv = palloc_extended(sizeof(double) * (n + (slots[nslots - 1].season - slots[0].season) / sw + 2),
						 MCXT_ALLOC_HUGE);
	for (i = 0; i < nslots; i++)
	{
		if (i > 0)
			for (b = slots[i - 1].season + sw; b < slots[i].season; b += sw)
			{
				sb[ns] = b;
				sv[ns++] = NAN;
			}
		while (p < n && buckets[p] < slots[i].bucket)
			p++;
		if (p < n && buckets[p] == slots[i].bucket)
		{
			sb[ns] = slots[i].season;
			sv[ns++] = vals[p];
		}
	}
	ok = detect_run(sb, sv, ns, sw, defs_count_shaped(m), s_start, s_end,
					settings, out, errbuf, errlen);
	if (!ok)
		return false;
	/* back to the real buckets; rows of slots without a bucket go */
	for (i = 0, k = 0; i < out->n_rows; i++)
	{
		DetectRow	row = out->rows[i];

		row.bucket = season_to_bucket(slots, nslots, row.bucket, &exact, eval_end);
		if (exact)
			out->rows[k++] = row;
	}
	out->n_rows = k;
	for (i = 0; i < out->n_suppressed; i++)
	{
		out->suppressed[i].from = season_to_bucket(slots, nslots, out->suppressed[i].from, &exact, eval_end);
		out->suppressed[i].to = season_to_bucket(slots, nslots, out->suppressed[i].to, &exact, eval_end);
	}
	for (i = 0; i < out->n_incidents; i++)
	{
		DetectIncident *inc = &out->incidents[i];

		inc->first = season_to_bucket(slots, nslots, inc->first, &exact, eval_end);
		inc->last = season_to_bucket(slots, nslots, inc->last, &exact, eval_end);
		if (inc->ended_at != DETECT_OPEN)
			inc->ended_at = season_to_bucket(slots, nslots, inc->ended_at, &exact, eval_end);
	}
	out->emission_end = season_to_bucket(slots, nslots, out->emission_end, &exact, eval_end);
	return true;
}

/*
 * Load a metric's stored values in [from, to) and run the detector with
 * anomalies emitted in [eval_start, eval_end).  Returns false when there is
 * nothing to score.
 */
bool
monitor_run_detector(MetricDef *m, int64 from, int64 to, int64 eval_start, int64 eval_end,
					 MonitorSettings *settings, DetectOutput *out)
{
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	int64	   *buckets;
	double	   *vals;
	double	   *nums;			/* a ratio's operands (ratio noise model) */
	double	   *dens;
	bool		operands = false;
	int			n;
	int			i;
	char		errbuf[256];
	bool		ok;

	values[0] = Int64GetDatum(m->id);
	values[1] = TimestampTzGetDatum(unix_to_ts(from));
	values[2] = TimestampTzGetDatum(unix_to_ts(to));
	/* the operands' columns are 0.2's (missing until ALTER EXTENSION UPDATE) */
	if (catalog_has_column("metric_values", "numerator"))
		catalog_execute("SELECT bucket, value, numerator, denominator FROM tripl.metric_values "
						"WHERE metric_id = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket",
						3, types, values, NULL, true, 0);
	else
		catalog_execute("SELECT bucket, value, NULL::float8, NULL::float8 FROM tripl.metric_values "
						"WHERE metric_id = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket",
						3, types, values, NULL, true, 0);
	n = (int) SPI_processed;
	memset(out, 0, sizeof(DetectOutput));
	if (n == 0)
		return false;
	buckets = palloc_extended(sizeof(int64) * n, MCXT_ALLOC_HUGE);
	vals = palloc_extended(sizeof(double) * n, MCXT_ALLOC_HUGE);
	nums = palloc_extended(sizeof(double) * n, MCXT_ALLOC_HUGE);
	dens = palloc_extended(sizeof(double) * n, MCXT_ALLOC_HUGE);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d;

		buckets[i] = ts_to_unix(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		vals[i] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull);
		nums[i] = isnull ? NAN : DatumGetFloat8(d);
		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4, &isnull);
		dens[i] = isnull ? NAN : DatumGetFloat8(d);
		operands |= !isnull;
	}
	errbuf[0] = '\0';
	if (m->grid.unit == GRID_FIXED)
		ok = detect_run_operands(buckets, vals, operands ? nums : NULL, operands ? dens : NULL, n,
								 m->width_us, defs_count_shaped(m), eval_start, eval_end,
								 &settings->detect, out, errbuf, sizeof(errbuf));
	else
	{
		ok = detect_calendar(m, buckets, vals, n, eval_start, eval_end, &settings->detect, out,
							 errbuf, sizeof(errbuf));
		if (!ok && errbuf[0] == '\0')
			return false;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("detection of metric \"%s\" failed: %s", m->name, errbuf)));
	return true;
}

/* An array Datum of timestamptz from Unix microseconds */
static Datum
ts_array(int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = TimestampTzGetDatum(unix_to_ts(v[i]));
	return PointerGetDatum(construct_array(d, n, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE));
}

/* A one-dimensional array Datum of n 8-byte by-value elements, with NULLs */
static Datum
array8_with_nulls(Datum *d, bool *nulls, int n, Oid type)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, type, 8, true, TYPALIGN_DOUBLE));
}

/* An array Datum of float8 (NaN becomes NULL) */
static Datum
float_array(double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	bool	   *nulls = palloc(sizeof(bool) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		nulls[i] = isnan(v[i]);
		d[i] = Float8GetDatum(nulls[i] ? 0.0 : v[i]);
	}
	return array8_with_nulls(d, nulls, n, FLOAT8OID);
}

/* An array Datum of timestamptz from Unix microseconds, DETECT_OPEN as NULL */
static Datum
ts_array_open(int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	bool	   *nulls = palloc(sizeof(bool) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		nulls[i] = v[i] == DETECT_OPEN;
		d[i] = TimestampTzGetDatum(nulls[i] ? 0 : unix_to_ts(v[i]));
	}
	return array8_with_nulls(d, nulls, n, TIMESTAMPTZOID);
}

/*
 * Track the incidents an earlier pass reported (doc/detection.md,
 * "Incidents"): each carried incident's stored row — the newest anomaly
 * before eval_start in its direction, at or before its newest flag, whose
 * own newest flag (its bucket when untracked) is no older than the carried
 * chain's first flag — gets the incident's newest flagged bucket and end.
 * An UPDATE of the one row, never a new row; nothing when none matches.
 */
static void
persist_carried_incidents(MetricDef *m, DetectOutput *out, int64 eval_start)
{
	int			i;

	for (i = 0; i < out->n_incidents; i++)
	{
		DetectIncident *inc = &out->incidents[i];
		Oid			types[6] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID};
		Datum		values[6];
		char		nulls[7] = "      ";

		if (!inc->carried)
			continue;
		values[0] = Int64GetDatum(m->id);
		values[1] = TimestampTzGetDatum(unix_to_ts(Min(eval_start, inc->last + 1)));
		values[2] = CStringGetTextDatum(inc->direction > 0 ? "spike" : "drop");
		values[3] = TimestampTzGetDatum(unix_to_ts(inc->first));
		values[4] = TimestampTzGetDatum(unix_to_ts(inc->last));
		if (inc->ended_at == DETECT_OPEN)
		{
			nulls[5] = 'n';
			values[5] = (Datum) 0;
		}
		else
			values[5] = TimestampTzGetDatum(unix_to_ts(inc->ended_at));
		catalog_execute("UPDATE tripl.anomalies a SET last_bucket = $5, ended_at = $6 "
						"WHERE (a.metric_id, a.bucket) = (SELECT x.metric_id, x.bucket FROM tripl.anomalies x "
						"      WHERE x.metric_id = $1 AND x.bucket < $2 AND x.direction = $3 "
						"      AND coalesce(x.last_bucket, x.bucket) >= $4 ORDER BY x.bucket DESC LIMIT 1) "
						"AND (a.last_bucket, a.ended_at) IS DISTINCT FROM ($5, $6)",
						6, types, values, nulls, false, 0);
	}
}

/* Store the detector's verdicts for [eval_start, eval_end), idempotently */
static int
persist_anomalies(MetricDef *m, DetectOutput *out, int64 eval_start, int64 eval_end)
{
	int			n = 0;
	int			i;
	int64	   *b = palloc(sizeof(int64) * (out->n_rows + 1));
	double	   *actual = palloc(sizeof(double) * (out->n_rows + 1));
	double	   *expected = palloc(sizeof(double) * (out->n_rows + 1));
	double	   *stddev = palloc(sizeof(double) * (out->n_rows + 1));
	double	   *eff = palloc(sizeof(double) * (out->n_rows + 1));
	double	   *z = palloc(sizeof(double) * (out->n_rows + 1));
	double	   *score = palloc(sizeof(double) * (out->n_rows + 1));
	Datum	   *kind = palloc(sizeof(Datum) * (out->n_rows + 1));
	Datum	   *dir = palloc(sizeof(Datum) * (out->n_rows + 1));
	int64	   *last = palloc(sizeof(int64) * (out->n_rows + 1));
	int64	   *ended = palloc(sizeof(int64) * (out->n_rows + 1));
	int			inc = 0;
	int64	   *sfrom = palloc(sizeof(int64) * (out->n_suppressed + 1));
	int64	   *sto = palloc(sizeof(int64) * (out->n_suppressed + 1));
	Oid			types[13] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID,
		TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
	FLOAT8ARRAYOID, FLOAT8ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		values[13];

	for (i = 0; i < out->n_rows; i++)
	{
		DetectRow  *r = &out->rows[i];

		if (!r->is_anomaly || r->bucket < eval_start || r->bucket >= eval_end)
			continue;
		b[n] = r->bucket;
		actual[n] = r->actual;
		expected[n] = r->expected;
		stddev[n] = r->stddev;
		eff[n] = r->effective_stddev;
		z[n] = r->z_score;
		score[n] = r->score;
		kind[n] = CStringGetTextDatum(detector_kind_name(r->kind));
		dir[n] = CStringGetTextDatum(r->direction > 0 ? "spike" : "drop");
		/* its incident's extent (incidents ascend by first, as rows do) */
		while (inc < out->n_incidents &&
			   (out->incidents[inc].carried || out->incidents[inc].first < r->bucket))
			inc++;
		if (inc < out->n_incidents && out->incidents[inc].first == r->bucket)
		{
			last[n] = out->incidents[inc].last;
			ended[n] = out->incidents[inc].ended_at;
		}
		else
		{
			last[n] = r->bucket;
			ended[n] = DETECT_OPEN;
		}
		n++;
	}
	for (i = 0; i < out->n_suppressed; i++)
	{
		sfrom[i] = out->suppressed[i].from;
		sto[i] = out->suppressed[i].to;
	}
	values[0] = Int64GetDatum(m->id);
	values[1] = TimestampTzGetDatum(unix_to_ts(eval_start));
	values[2] = TimestampTzGetDatum(unix_to_ts(eval_end));
	values[3] = ts_array(b, n);
	values[4] = ts_array(sfrom, out->n_suppressed);
	values[5] = ts_array(sto, out->n_suppressed);
	catalog_execute("DELETE FROM tripl.anomalies a WHERE a.metric_id = $1 AND a.bucket >= $2 AND a.bucket < $3 "
					"AND a.bucket <> ALL ($4) "
					"AND NOT EXISTS (SELECT 1 FROM unnest($5, $6) AS r(f, t) WHERE a.bucket >= r.f AND a.bucket < r.t)",
					6, types, values, NULL, false, 0);
	if (n > 0)
	{
		types[1] = TIMESTAMPTZARRAYOID;
		types[2] = FLOAT8ARRAYOID;
		types[3] = FLOAT8ARRAYOID;
		types[4] = FLOAT8ARRAYOID;
		types[5] = FLOAT8ARRAYOID;
		types[6] = FLOAT8ARRAYOID;
		types[7] = TEXTARRAYOID;
		types[8] = TEXTARRAYOID;
		values[1] = ts_array(b, n);
		values[2] = float_array(actual, n);
		values[3] = float_array(expected, n);
		values[4] = float_array(stddev, n);
		values[5] = float_array(eff, n);
		values[6] = float_array(z, n);
		values[7] = PointerGetDatum(construct_array(kind, n, TEXTOID, -1, false, TYPALIGN_INT));
		values[8] = PointerGetDatum(construct_array(dir, n, TEXTOID, -1, false, TYPALIGN_INT));
		types[9] = TIMESTAMPTZARRAYOID;
		types[10] = TIMESTAMPTZARRAYOID;
		types[11] = FLOAT8ARRAYOID;
		values[9] = ts_array(last, n);
		values[10] = ts_array_open(ended, n);
		values[11] = float_array(score, n);
		catalog_execute("INSERT INTO tripl.anomalies AS a (metric_id, bucket, actual, expected, stddev, "
						"effective_stddev, z_score, detector, direction, last_bucket, ended_at, score) "
						"SELECT $1, u.b, u.a, u.e, u.s, u.f, u.z, u.k, u.d, u.l, u.x, u.c "
						"FROM unnest($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS u(b, a, e, s, f, z, k, d, l, x, c) "
						"ON CONFLICT (metric_id, bucket) DO UPDATE SET actual = EXCLUDED.actual, "
						"expected = EXCLUDED.expected, stddev = EXCLUDED.stddev, "
						"effective_stddev = EXCLUDED.effective_stddev, z_score = EXCLUDED.z_score, "
						"detector = EXCLUDED.detector, direction = EXCLUDED.direction, "
						"last_bucket = EXCLUDED.last_bucket, ended_at = EXCLUDED.ended_at, score = EXCLUDED.score "
						"WHERE (a.actual, a.expected, a.stddev, a.effective_stddev, a.z_score, a.detector, a.direction, "
						"a.last_bucket, a.ended_at, a.score) "
						"IS DISTINCT FROM (EXCLUDED.actual, EXCLUDED.expected, EXCLUDED.stddev, "
						"EXCLUDED.effective_stddev, EXCLUDED.z_score, EXCLUDED.detector, EXCLUDED.direction, "
						"EXCLUDED.last_bucket, EXCLUDED.ended_at, EXCLUDED.score)",
						12, types, values, NULL, false, 0);
	}
	persist_carried_incidents(m, out, eval_start);
	types[1] = TIMESTAMPTZOID;
	types[2] = TIMESTAMPTZOID;
	values[1] = TimestampTzGetDatum(unix_to_ts(eval_start));
	values[2] = TimestampTzGetDatum(unix_to_ts(eval_end));
	catalog_execute("SELECT count(*) FROM tripl.anomalies WHERE metric_id = $1 AND bucket >= $2 AND bucket < $3",
					3, types, values, NULL, true, 0);
	return (int) spi_int64(0, 0);
}

/* What one metric's detection needs and returns */
typedef struct DetectTask
{
	MetricDef  *m;
	TimestampTz now;
	DetectResult *r;
} DetectTask;

/* Detect one metric (runs in a subtransaction) */
static void
detect_one(void *arg)
{
	DetectTask *task = arg;
	MetricDef  *m = task->m;
	DetectResult *r = task->r;
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		values[2];
	MonitorSettings s;
	int64		watermark;
	int64		last_bucket;
	int64		changed_from;
	int64		eval_end;
	int64		eval_start;
	DetectOutput out;
	bool		isnull;

	/* serialise with collection of this metric */
	metric_state_lock(Int64GetDatum(m->id));

	types[0] = INT8OID;
	values[0] = Int64GetDatum(m->id);
	catalog_execute("SELECT s.watermark, s.changed_from, "
					"(SELECT max(bucket) FROM tripl.metric_values WHERE metric_id = $1) "
					"FROM tripl.metric_state s WHERE s.metric_id = $1",
					1, types, values, NULL, true, 0);
	if (SPI_processed != 1)
		elog(ERROR, "no state row for metric %s", m->name);
	{
		Datum		d;

		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		watermark = isnull ? PG_INT64_MIN : ts_to_unix(DatumGetTimestampTz(d));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		changed_from = isnull ? PG_INT64_MIN : ts_to_unix(DatumGetTimestampTz(d));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		last_bucket = isnull ? PG_INT64_MIN : ts_to_unix(DatumGetTimestampTz(d));
	}

	r->eval_from = r->eval_to = 0;
	if (last_bucket != PG_INT64_MIN)
	{
		eval_end = Max(grid_next(&m->grid, last_bucket),
					   watermark == PG_INT64_MIN ? PG_INT64_MIN : grid_up(&m->grid, watermark));
		eval_start = grid_step(&m->grid, eval_end, -TRAILING_BUCKETS);
		if (changed_from != PG_INT64_MIN)
			eval_start = Min(eval_start, grid_start(&m->grid, changed_from));
		monitor_settings(m, &s);
		if (monitor_run_detector(m, grid_step(&m->grid, eval_start, -history_buckets(&m->grid, &s.detect, true)),
								 eval_end, eval_start, eval_end, &s, &out))
		{
			r->anomalies = persist_anomalies(m, &out, eval_start, eval_end);
			detect_output_free(&out);
		}
		r->eval_from = eval_start;
		r->eval_to = eval_end;
	}

	/* clear changed_from unless a collection moved it meanwhile */
	{
		Oid			t3[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		Datum		v3[3];
		char		n3[4] = "   ";

		v3[0] = Int64GetDatum(m->id);
		v3[1] = TimestampTzGetDatum(task->now);
		if (changed_from == PG_INT64_MIN)
			n3[2] = 'n';
		else
			v3[2] = TimestampTzGetDatum(unix_to_ts(changed_from));
		catalog_execute("UPDATE tripl.metric_state SET last_detected_at = $2, "
						"changed_from = CASE WHEN changed_from IS NOT DISTINCT FROM $3 THEN NULL ELSE changed_from END "
						"WHERE metric_id = $1", 3, t3, v3, n3, false, 0);
	}
}

/* Subtransaction body: detect one metric */
static void
detect_one_body(void *arg)
{
	detect_one((DetectTask *) arg);
}

/* Detect one metric in a subtransaction; NULL on success, else the error message */
static char *
detect_in_subxact(DetectTask *task)
{
	ErrorData  *edata = subxact_run(detect_one_body, task);
	char	   *error;

	if (edata == NULL)
		return NULL;
	error = pstrdup(edata->message);
	FreeErrorData(edata);
	return error;
}

/* Monitored metrics whose values changed since their last detection */
List *
monitor_changed_metrics(void)
{
	List	   *all = defs_metrics("m.status = 'active' AND m.anomaly_detection AND EXISTS "
								   "(SELECT 1 FROM tripl.metric_state s WHERE s.metric_id = m.id "
								   "AND s.changed_from IS NOT NULL)", 0, NULL, NULL);
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, all)
	{
		MetricDef  *m = lfirst(lc);

		if (caller_may_manage(m->owner))
			result = lappend(result, m);
	}
	return result;
}

/* Detect the listed metrics, each in its own subtransaction */
List *
monitor_detect(List *metrics, TimestampTz now)
{
	List	   *results = NIL;
	ListCell   *lc;
	MemoryContext outer = CurrentMemoryContext;

	foreach(lc, metrics)
	{
		DetectTask	task;
		DetectResult *r = palloc0(sizeof(DetectResult));
		char	   *error;

		CHECK_FOR_INTERRUPTS();
		r->metric = lfirst(lc);
		task.m = r->metric;
		task.now = now;
		task.r = r;

		/*
		 * A nested SPI connection per metric: what its statements return
		 * and what the detector allocates is freed when it is done, so a
		 * pass over thousands of metrics runs in bounded memory.
		 */
		SPI_connect();
		error = detect_in_subxact(&task);
		if (error)
			r->error = MemoryContextStrdup(outer, error);
		SPI_finish();
		MemoryContextSwitchTo(outer);
		results = lappend(results, r);
	}
	return results;
}

/* SQL: tripl.detect(metric) */
Datum
tripl_detect(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz started = GetCurrentTimestamp();
	List	   *metrics;
	List	   *results;
	ListCell   *lc;
	RunLogRow	run;
	char	   *first_error = NULL;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	if (name)
	{
		MetricDef  *m = defs_metric(name, false);

		if (!caller_may_manage(m->owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of metric \"%s\" to detect it", name)));
		if (!m->anomaly_detection)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("anomaly detection is off for metric \"%s\"", name),
					 errhint("Turn it on with tripl.alter_metric('%s', anomaly_detection => true).", name)));
		metrics = list_make1(m);
	}
	else
		metrics = monitor_changed_metrics();
	results = monitor_detect(metrics, tripl_now());
	memset(&run, 0, sizeof(run));
	foreach(lc, results)
	{
		DetectResult *r = lfirst(lc);
		Datum		o[5];
		bool		n[5] = {false, false, false, false, true};

		if (r->error)
		{
			run.metrics_failed++;
			runlog_note_error(&first_error, r->metric->name, r->error);
		}
		else
		{
			run.metrics_detected++;
			run.anomalies += r->anomalies;
		}

		o[0] = CStringGetTextDatum(r->metric->name);
		if (r->eval_to > r->eval_from)
		{
			o[1] = TimestampTzGetDatum(unix_to_ts(r->eval_from));
			o[2] = TimestampTzGetDatum(unix_to_ts(r->eval_to));
		}
		else
			n[1] = n[2] = true;
		o[3] = Int32GetDatum(r->anomalies);
		if (r->error)
		{
			n[3] = true;
			o[4] = CStringGetTextDatum(r->error);
			n[4] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, o, n);
	}

	/* one row in the run log, committed or rolled back with this call */
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfo(&d, "{\"metrics\": %d, \"detected\": %d, \"failed\": %d, \"anomalies\": %d, "
						 "\"duration_ms\": %.1f, \"error\": ",
						 list_length(results), run.metrics_detected, run.metrics_failed, run.anomalies,
						 (GetCurrentTimestamp() - started) / 1000.0);
		runlog_end_details(&d, first_error);
		run.kind = "detect";
		run.started_at = started;
		run.error = first_error;
		run.details = d.data;
		runlog_write(&run);
	}
	SPI_finish();
	return (Datum) 0;
}

/* Buckets of history to load before a window so its band can be formed */
int64
series_history(MetricDef *m, MonitorSettings *s)
{
	return history_buckets(&m->grid, &s->detect, false);
}

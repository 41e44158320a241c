/*-------------------------------------------------------------------------
 *
 * forecast.c
 *	  Reading ahead and behind a bucket: tripl.forecast (the detector's
 *	  baseline of the buckets after the collected range, with its band) and
 *	  tripl.explain_anomaly (which breakdown values drove a bucket's
 *	  change).  doc/detection.md, "Forecasts" and "Explaining an anomaly".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/detect_core.h"
#include "core/grid.h"
#include "defs.h"
#include "monitor.h"
#include "privilege.h"
#include "spiutil.h"
#include "tripl.h"

TRIPL_SQL_FUNCTION(tripl_forecast);
TRIPL_SQL_FUNCTION(tripl_explain_anomaly);

/* Same-phase buckets before the explained one that form its expectation */
#define EXPLAIN_PARTNERS	3

/* SQL: tripl.forecast(metric, horizon) */
Datum
tripl_forecast(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	MetricDef  *m;
	MonitorSettings s;
	int			horizon;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		origin;
	DetectOutput loaded;
	DetectForecast fc;
	int64	   *buckets;
	double	   *vals;
	char		errbuf[256];
	bool		isnull;
	Datum		d;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	m = defs_metric(name, false);
	check_may_read(m->owner, m->name);
	monitor_settings(m, &s);
	if (PG_ARGISNULL(1))
		horizon = detect_forecast_default_horizon(m->width_us, &s.detect);
	else
	{
		horizon = PG_GETARG_INT32(1);
		if (horizon < 1 || horizon > DETECT_MAX_FORECAST)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("horizon must be between 1 and %d", DETECT_MAX_FORECAST)));
	}

	/* the forecast starts after the collected range: newest bucket or watermark */
	values[0] = Int64GetDatum(m->id);
	catalog_execute("SELECT (SELECT max(bucket) FROM tripl.metric_values WHERE metric_id = $1), "
					"(SELECT watermark FROM tripl.metric_state WHERE metric_id = $1)",
					1, types, values, NULL, true, 0);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
	{
		SPI_finish();
		return (Datum) 0;		/* nothing stored: nothing to forecast from */
	}
	origin = ts_to_unix(DatumGetTimestampTz(d)) + m->width_us;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (!isnull && grid_ceil(ts_to_unix(DatumGetTimestampTz(d)), m->width_us) > origin)
		origin = grid_ceil(ts_to_unix(DatumGetTimestampTz(d)), m->width_us);

	/* the history a detection pass loads, as the detector reads it */
	if (!monitor_run_detector(m, origin - series_history(m, &s) * m->width_us, origin,
							  origin, origin, &s, &loaded))
	{
		SPI_finish();
		return (Datum) 0;
	}
	/* the prepared series (a count series zero-filled up to origin) */
	buckets = palloc_extended(sizeof(int64) * (loaded.n_rows + 1), MCXT_ALLOC_HUGE);
	vals = palloc_extended(sizeof(double) * (loaded.n_rows + 1), MCXT_ALLOC_HUGE);
	for (i = 0; i < loaded.n_rows; i++)
	{
		buckets[i] = loaded.rows[i].bucket;
		vals[i] = loaded.rows[i].actual;
	}
	if (!detect_forecast(buckets, vals, loaded.n_rows, m->width_us, defs_count_shaped(m), horizon,
						 &s.detect, &fc, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("forecast of metric \"%s\" failed: %s", m->name, errbuf)));
	detect_output_free(&loaded);
	for (i = 0; i < fc.n_rows; i++)
	{
		Datum		out[4];
		bool		nulls[4] = {false, false, false, false};

		out[0] = TimestampTzGetDatum(unix_to_ts(fc.rows[i].bucket));
		out[1] = Float8GetDatum(fc.rows[i].expected);
		out[2] = Float8GetDatum(fc.rows[i].lower);
		out[3] = Float8GetDatum(fc.rows[i].upper);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}
	detect_forecast_free(&fc);
	SPI_finish();
	return (Datum) 0;
}

/* SQL: tripl.explain_anomaly(metric, bucket) */
Datum
tripl_explain_anomaly(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	MetricDef  *m;
	int64		bucket;
	int			periods[DETECT_MAX_PHASE_PERIODS];
	int64		step;
	Datum		partners[EXPLAIN_PARTNERS];
	Oid			types[4] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID, BOOLOID};
	Datum		values[4];
	uint64		r;
	int			k;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bucket must not be NULL")));
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	m = defs_metric(name, false);
	check_may_read(m->owner, m->name);
	if (TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(1)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket must be finite")));
	bucket = ts_to_unix(PG_GETARG_TIMESTAMPTZ(1));
	if (!grid_aligned(bucket, m->width_us))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket %s is not a bucket of metric \"%s\"",
						timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(1)), m->name),
				 errhint("Pass a bucket start, as tripl.anomalies stores it.")));

	/* the same bucket one, two and three longest periods earlier (else the buckets before) */
	step = detect_phase_periods(m->width_us, periods) > 0 ?
		(int64) periods[0] * m->width_us : m->width_us;
	for (k = 0; k < EXPLAIN_PARTNERS; k++)
		partners[k] = TimestampTzGetDatum(unix_to_ts(bucket - (int64) (k + 1) * step));

	values[0] = Int64GetDatum(m->id);
	values[1] = TimestampTzGetDatum(unix_to_ts(bucket));
	values[2] = PointerGetDatum(construct_array(partners, EXPLAIN_PARTNERS, TIMESTAMPTZOID, 8, true,
												TYPALIGN_DOUBLE));
	values[3] = BoolGetDatum(defs_count_shaped(m));
	catalog_execute("WITH keys AS ("
					"  SELECT DISTINCT breakdown_column, breakdown_value, is_other FROM tripl.metric_breakdowns "
					"  WHERE metric_id = $1 AND (bucket = $2 OR bucket = ANY ($3))), "
					"scored AS ("
					"  SELECT k.breakdown_column, k.breakdown_value, k.is_other, "
					"    coalesce((SELECT b.value FROM tripl.metric_breakdowns b WHERE b.metric_id = $1 "
					"      AND b.bucket = $2 AND b.breakdown_column = k.breakdown_column "
					"      AND b.breakdown_value IS NOT DISTINCT FROM k.breakdown_value AND b.is_other = k.is_other), "
					"      CASE WHEN $4 THEN 0 END) AS actual, "
					"    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM ("
					"      SELECT coalesce((SELECT b.value FROM tripl.metric_breakdowns b WHERE b.metric_id = $1 "
					"        AND b.bucket = p.bucket AND b.breakdown_column = k.breakdown_column "
					"        AND b.breakdown_value IS NOT DISTINCT FROM k.breakdown_value AND b.is_other = k.is_other), "
					"        CASE WHEN $4 THEN 0 END) AS v FROM unnest($3) AS p(bucket)) AS h) AS expected "
					"  FROM keys k) "
					"SELECT breakdown_column, CASE WHEN is_other THEN '(other)' ELSE breakdown_value END, "
					"  actual, expected, actual - expected AS delta, "
					"  (actual - expected) / nullif(sum(actual - expected) OVER (PARTITION BY breakdown_column), 0) "
					"FROM scored "
					"ORDER BY breakdown_column COLLATE \"C\", abs(actual - expected) DESC NULLS LAST, "
					"  breakdown_value COLLATE \"C\" NULLS LAST",
					4, types, values, NULL, true, 0);
	for (r = 0; r < SPI_processed; r++)
	{
		Datum		out[6];
		bool		nulls[6];
		int			c;

		for (c = 0; c < 6; c++)
			out[c] = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		out[0] = CStringGetTextDatum(spi_text(r, 0));
		if (!nulls[1])
			out[1] = CStringGetTextDatum(spi_text(r, 1));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

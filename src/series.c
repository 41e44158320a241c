/*-------------------------------------------------------------------------
 *
 * series.c
 *	  Reading stored values back: tripl.series and tripl.breakdown_series
 *	  return every bucket of a window, densified onto the metric's grid.
 *
 *	  Count-shaped metrics (counts, distinct counts, single event counts)
 *	  read 0 for a bucket without a row inside the collected range (from the
 *	  first stored bucket up to the watermark); fractional metrics read NULL
 *	  there.  Buckets outside the collected range read NULL for both.
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

#include "core/grid.h"
#include "defs.h"
#include "monitor.h"
#include "privilege.h"
#include "series.h"
#include "spiutil.h"
#include "tripl.h"

TRIPL_SQL_FUNCTION(tripl_series);
TRIPL_SQL_FUNCTION(tripl_breakdown_series);

/* Most buckets one series call may return */
#define MAX_SERIES_BUCKETS	1000000

/* Validate a window and lay the metric's grid over it */
void
series_grid(MetricDef *m, FunctionCallInfo fcinfo, int from_arg, SeriesGrid *g)
{
	TimestampTz from;
	TimestampTz to;
	int64		n;

	if (PG_ARGISNULL(from_arg) || PG_ARGISNULL(from_arg + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window_from and window_to must not be NULL")));
	from = PG_GETARG_TIMESTAMPTZ(from_arg);
	to = PG_GETARG_TIMESTAMPTZ(from_arg + 1);
	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_from and window_to must be finite")));
	if (from >= to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_from must be before window_to")));
	g->width = m->grid.width;
	g->start = grid_start(&m->grid, ts_to_unix(from));
	g->end = grid_up(&m->grid, ts_to_unix(to));
	g->bounds = NULL;
	n = grid_buckets(&m->grid, (GridWindow) {g->start, g->end}, MAX_SERIES_BUCKETS);
	if (n > MAX_SERIES_BUCKETS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the window spans " INT64_FORMAT " buckets; at most %d can be returned at once",
						n, MAX_SERIES_BUCKETS)));
	g->n = (int) n;
	if (m->grid.unit != GRID_FIXED)
	{
		int64_t    *bounds = grid_bounds(&m->grid, (GridWindow) {g->start, g->end}, &g->n);

		g->bounds = palloc(sizeof(int64) * (g->n + 1));
		memcpy(g->bounds, bounds, sizeof(int64) * (g->n + 1));
		core_free(bounds);
	}
	g->count_shaped = defs_count_shaped(m);

	/* the collected range: first stored bucket .. watermark */
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(m->id)};
		bool		isnull;
		Datum		d;

		catalog_execute("SELECT (SELECT min(bucket) FROM tripl.metric_values WHERE metric_id = $1), "
						"(SELECT watermark FROM tripl.metric_state WHERE metric_id = $1)",
						1, types, values, NULL, true, 0);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		g->filled_from = isnull ? PG_INT64_MAX : ts_to_unix(DatumGetTimestampTz(d));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		g->filled_to = isnull ? PG_INT64_MIN : ts_to_unix(DatumGetTimestampTz(d));
	}
}

/* Is a missing bucket read as 0 (true) or NULL (false)? */
bool
series_zero_filled(const SeriesGrid *g, int64 bucket)
{
	return g->count_shaped && bucket >= g->filled_from && bucket < g->filled_to;
}

/* A breakdown key seen in the window */
typedef struct BreakdownKey
{
	char	   *value;
	bool		is_other;
} BreakdownKey;

/* SQL: tripl.breakdown_series(metric, breakdown_column, window_from, window_to) */
Datum
tripl_breakdown_series(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *column = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	MetricDef  *m;
	SeriesGrid	g;
	Oid			types[4] = {INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	int			nrows;
	int			nkeys = 0;
	BreakdownKey *keys;
	int64	   *rb;
	int		   *rk;
	double	   *rv;
	int			i;
	int			k;
	int			r;

	if (column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("breakdown_column must not be NULL")));
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	m = defs_metric(name, false);
	check_may_read(m->owner, m->name);
	{
		ListCell   *lc;
		StringInfoData have;
		bool		found = false;

		initStringInfo(&have);
		foreach(lc, m->breakdowns)
		{
			if (strcmp((char *) lfirst(lc), column) == 0)
				found = true;
			appendStringInfo(&have, "%s%s", have.len ? ", " : "", (char *) lfirst(lc));
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("metric \"%s\" has no breakdown by \"%s\"", name, column),
					 have.len ? errhint("Its breakdowns are by: %s.", have.data) :
					 errhint("It has no breakdowns.")));
	}
	series_grid(m, fcinfo, 2, &g);

	values[0] = Int64GetDatum(m->id);
	values[1] = CStringGetTextDatum(column);
	values[2] = TimestampTzGetDatum(unix_to_ts(g.start));
	values[3] = TimestampTzGetDatum(unix_to_ts(g.end));
	catalog_execute("SELECT bucket, breakdown_value, is_other, value FROM tripl.metric_breakdowns "
					"WHERE metric_id = $1 AND breakdown_column = $2 AND bucket >= $3 AND bucket < $4 "
					"ORDER BY is_other, breakdown_value COLLATE \"C\" NULLS LAST, bucket",
					4, types, values, NULL, true, 0);
	nrows = (int) SPI_processed;
	keys = palloc(sizeof(BreakdownKey) * (nrows + 1));
	rb = palloc(sizeof(int64) * (nrows + 1));
	rk = palloc(sizeof(int) * (nrows + 1));
	rv = palloc(sizeof(double) * (nrows + 1));
	for (i = 0; i < nrows; i++)
	{
		bool		isnull;
		char	   *v = spi_isnull(i, 1) ? NULL : (char *) spi_text(i, 1);
		bool		other = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));

		if (nkeys == 0 || keys[nkeys - 1].is_other != other ||
			(keys[nkeys - 1].value == NULL) != (v == NULL) ||
			(v != NULL && strcmp(keys[nkeys - 1].value, v) != 0))
		{
			keys[nkeys].value = v;
			keys[nkeys].is_other = other;
			nkeys++;
		}
		rk[i] = nkeys - 1;
		rb[i] = ts_to_unix(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		rv[i] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4, &isnull));
	}

	/* every bucket for every value seen, rows sorted by key then bucket */
	r = 0;
	for (k = 0; k < nkeys; k++)
	{
		for (i = 0; i < g.n; i++)
		{
			int64		b = series_bucket(&g, i);
			Datum		out[4];
			bool		nulls[4] = {false, false, false, false};

			out[0] = TimestampTzGetDatum(unix_to_ts(b));
			if (keys[k].value)
				out[1] = CStringGetTextDatum(keys[k].value);
			else
				nulls[1] = true;
			out[2] = BoolGetDatum(keys[k].is_other);
			if (r < nrows && rk[r] == k && rb[r] == b)
				out[3] = Float8GetDatum(rv[r++]);
			else if (series_zero_filled(&g, b))
				out[3] = Float8GetDatum(0.0);
			else
				nulls[3] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
		}
	}
	SPI_finish();
	return (Datum) 0;
}

/* Start of the i-th bucket of a series grid */
int64
series_bucket(const SeriesGrid *g, int i)
{
	return g->bounds ? g->bounds[i] : g->start + (int64) i * g->width;
}

/* Index of a bucket start of a series grid */
int
series_index(const SeriesGrid *g, int64 bucket)
{
	int			lo = 0;
	int			hi;

	if (g->bounds == NULL)
		return (int) ((bucket - g->start) / g->width);
	hi = g->n - 1;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo + 1) / 2;

		if (g->bounds[mid] <= bucket)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* SQL: tripl.series(metric, window_from, window_to) */
Datum
tripl_series(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	MetricDef  *m;
	SeriesGrid	g;
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	double	   *value;
	double	   *expected;
	double	   *eff;
	double	   *z;
	int		   *dir;			/* 0 none, +1 spike, -1 drop */
	double		sigma = 0;
	uint64		r;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	m = defs_metric(name, false);
	check_may_read(m->owner, m->name);
	series_grid(m, fcinfo, 1, &g);
	value = palloc(sizeof(double) * g.n);
	expected = palloc(sizeof(double) * g.n);
	eff = palloc(sizeof(double) * g.n);
	z = palloc(sizeof(double) * g.n);
	dir = palloc0(sizeof(int) * g.n);
	for (i = 0; i < g.n; i++)
	{
		int64		b = series_bucket(&g, i);

		value[i] = series_zero_filled(&g, b) ? 0.0 : NAN;
		expected[i] = eff[i] = z[i] = NAN;
	}

	values[0] = Int64GetDatum(m->id);
	values[1] = TimestampTzGetDatum(unix_to_ts(g.start));
	values[2] = TimestampTzGetDatum(unix_to_ts(g.end));
	catalog_execute("SELECT bucket, value FROM tripl.metric_values "
					"WHERE metric_id = $1 AND bucket >= $2 AND bucket < $3",
					3, types, values, NULL, true, 0);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		b = ts_to_unix(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull)));

		value[series_index(&g, b)] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
	}

	if (m->anomaly_detection && g.filled_to != PG_INT64_MIN)
	{
		MonitorSettings s;
		DetectOutput out;
		int64		eval_end = Min(g.end, g.filled_to);

		monitor_settings(m, &s);
		sigma = s.detect.sigma_threshold;
		/* the expected band: the detector over the window, with its history */
		if (eval_end > g.start &&
			monitor_run_detector(m, grid_step(&m->grid, g.start, -series_history(m, &s)), eval_end,
								 g.start, eval_end, &s, &out))
		{
			int			k;

			for (k = 0; k < out.n_rows; k++)
			{
				DetectRow  *row = &out.rows[k];

				if (row->bucket < g.start || row->bucket >= g.end || row->silenced ||
					isnan(row->expected))
					continue;
				i = series_index(&g, row->bucket);
				expected[i] = row->expected;
				eff[i] = row->effective_stddev;
				z[i] = row->z_score;
			}
			detect_output_free(&out);
		}
		/* the verdicts: what detection stored */
		catalog_execute("SELECT bucket, expected, effective_stddev, z_score, direction FROM tripl.anomalies "
						"WHERE metric_id = $1 AND bucket >= $2 AND bucket < $3",
						3, types, values, NULL, true, 0);
		for (r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			int64		b = ts_to_unix(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull)));
			Datum		d;

			i = series_index(&g, b);
			d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
			expected[i] = isnull ? NAN : DatumGetFloat8(d);
			d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &isnull);
			eff[i] = isnull ? NAN : DatumGetFloat8(d);
			d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 4, &isnull);
			z[i] = isnull ? NAN : DatumGetFloat8(d);
			dir[i] = strcmp(spi_text(r, 4), "spike") == 0 ? 1 : -1;
		}
	}

	for (i = 0; i < g.n; i++)
	{
		Datum		out[8];
		bool		nulls[8] = {false, true, true, true, true, false, true, true};

		out[0] = TimestampTzGetDatum(unix_to_ts(series_bucket(&g, i)));
		if (!isnan(value[i]))
		{
			out[1] = Float8GetDatum(value[i]);
			nulls[1] = false;
		}
		if (!isnan(expected[i]))
		{
			out[2] = Float8GetDatum(expected[i]);
			nulls[2] = false;
			if (!isnan(eff[i]))
			{
				out[3] = Float8GetDatum(expected[i] - sigma * eff[i]);
				out[4] = Float8GetDatum(expected[i] + sigma * eff[i]);
				nulls[3] = nulls[4] = false;
			}
		}
		out[5] = BoolGetDatum(dir[i] != 0);
		if (!isnan(z[i]))
		{
			out[6] = Float8GetDatum(z[i]);
			nulls[6] = false;
		}
		if (dir[i] != 0)
		{
			out[7] = CStringGetTextDatum(dir[i] > 0 ? "spike" : "drop");
			nulls[7] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/*-------------------------------------------------------------------------
 *
 * plot_pg.c
 *	  tripl.plot: a metric's series over a window drawn as one SVG.
 *
 *	  The series is read by calling tripl.series through SPI, as the
 *	  caller, so the picture shows exactly what tripl.series returns and
 *	  every error (unknown metric, NULL arguments, bad windows) is the one
 *	  tripl.series gives.  When the window reaches the end of the collected
 *	  range, tripl.forecast's next buckets (a quarter of the window's, at
 *	  least one, at most PLOT_FORECAST_MAX) are drawn as a tail after it;
 *	  a forecast that fails draws none.  The unit comes from tripl.metrics.  Drawing is
 *	  the pure core in plot.c; its output is plain ASCII, valid in any
 *	  server encoding.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/plot.h"
#include "grid_pg.h"
#include "spiutil.h"
#include "subxact.h"
#include "tripl.h"

/* Most buckets of a forecast tail */
#define PLOT_FORECAST_MAX	1000

/* The forecast tail of a plot, read by read_forecast */
typedef struct ForecastTail
{
	Datum		metric;			/* text */
	int			horizon;
	int64		window_to;
	int			n;
	int64_t    *bucket;
	double	   *expected;
	double	   *lower;
	double	   *upper;
} ForecastTail;

TRIPL_SQL_FUNCTION(tripl_plot);

/* A float8 result cell, NaN for NULL (0-based column) */
static double
spi_float8_or_nan(uint64 row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull);

	return isnull ? NAN : DatumGetFloat8(d);
}

/* Text in the server encoding as UTF-8 (what the plot core expects) */
static const char *
to_utf8(const char *s)
{
	if (s == NULL)
		return NULL;
	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/*
 * Run tripl.series($1, $2, $3).  Its errors are rethrown without SPI's
 * "SQL statement" context line, so they read exactly as tripl.series's own.
 */
static void
read_series(MemoryContext outer, Oid *types, Datum *values, const char *nulls)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		if (SPI_execute_with_args("SELECT bucket, value, expected, lower_bound, upper_bound, "
								  "is_anomaly, direction FROM tripl.series($1, $2, $3)",
								  3, types, values, nulls, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "tripl.series failed");
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(outer);
		edata = CopyErrorData();
		FlushErrorState();
		edata->context = NULL;
		ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/*
 * Subtransaction body: tripl.forecast(metric, horizon) as the caller, kept
 * when its first bucket is not after the window's end (the window reaches
 * the end of the collected range)
 */
static void
read_forecast(void *arg)
{
	ForecastTail *t = arg;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	uint64		r;

	values[0] = t->metric;
	values[1] = Int32GetDatum(t->horizon);
	if (SPI_execute_with_args("SELECT bucket, expected, lower_bound, upper_bound FROM tripl.forecast($1, $2)",
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "tripl.forecast failed");
	t->n = 0;
	if (SPI_processed == 0)
		return;
	t->bucket = palloc(sizeof(int64_t) * SPI_processed);
	t->expected = palloc(sizeof(double) * SPI_processed);
	t->lower = palloc(sizeof(double) * SPI_processed);
	t->upper = palloc(sizeof(double) * SPI_processed);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		t->bucket[r] = ts_to_unix(DatumGetTimestampTz(d));
		t->expected[r] = spi_float8_or_nan(r, 1);
		t->lower[r] = spi_float8_or_nan(r, 2);
		t->upper[r] = spi_float8_or_nan(r, 3);
	}
	if (t->bucket[0] <= t->window_to)
		t->n = (int) SPI_processed;
}

/* SQL: tripl.plot(metric, window_from, window_to) */
Datum
tripl_plot(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext spi_cxt;
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3];
	PlotInput	in;
	int64_t    *bucket;
	double	   *value;
	double	   *expected;
	double	   *lower;
	double	   *upper;
	bool	   *is_anomaly;
	int		   *direction;
	char	   *name;
	char	   *unit = NULL;
	char	   *zone = NULL;
	char	   *svg;
	text	   *result;
	uint64		n;
	uint64		r;
	int			i;

	for (i = 0; i < 3; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}

	SPI_connect();
	read_series(outer, types, values, nulls);
	n = SPI_processed;

	bucket = palloc(sizeof(int64_t) * (n + 1));
	value = palloc(sizeof(double) * (n + 1));
	expected = palloc(sizeof(double) * (n + 1));
	lower = palloc(sizeof(double) * (n + 1));
	upper = palloc(sizeof(double) * (n + 1));
	is_anomaly = palloc0(sizeof(bool) * (n + 1));
	direction = palloc0(sizeof(int) * (n + 1));
	for (r = 0; r < n; r++)
	{
		bool		isnull;
		Datum		d;

		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
		bucket[r] = ts_to_unix(DatumGetTimestampTz(d));
		value[r] = spi_float8_or_nan(r, 1);
		expected[r] = spi_float8_or_nan(r, 2);
		lower[r] = spi_float8_or_nan(r, 3);
		upper[r] = spi_float8_or_nan(r, 4);
		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 6, &isnull);
		is_anomaly[r] = !isnull && DatumGetBool(d);
		if (!spi_isnull((int) r, 6))
		{
			const char *dir = spi_text((int) r, 6);

			if (strcmp(dir, "spike") == 0 || strcmp(dir, "up") == 0)
				direction[r] = PLOT_DIRECTION_UP;
			else if (strcmp(dir, "drop") == 0 || strcmp(dir, "down") == 0)
				direction[r] = PLOT_DIRECTION_DOWN;
		}
	}

	/* tripl.series succeeded: the metric exists and no argument is NULL */
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	{
		Oid			utypes[1] = {TEXTOID};
		Datum		uvalues[1] = {CStringGetTextDatum(name)};

		catalog_execute(psprintf("SELECT unit, %s FROM tripl.metrics m WHERE name = $1", grid_pg_zone_column()),
						1, utypes, uvalues, NULL, true, 1);
		if (SPI_processed == 1 && !spi_isnull(0, 0))
			unit = (char *) spi_text(0, 0);
		if (SPI_processed == 1)
			zone = (char *) spi_text(0, 1);
	}

	memset(&in, 0, sizeof(in));
	in.n = (int) n;
	in.bucket = bucket;
	in.value = value;
	in.expected = expected;
	in.lower = lower;
	in.upper = upper;
	in.is_anomaly = is_anomaly;
	in.direction = direction;
	in.title = to_utf8(name);
	in.unit = to_utf8(unit);
	in.window_from = ts_to_unix(PG_GETARG_TIMESTAMPTZ(1));
	in.window_to = ts_to_unix(PG_GETARG_TIMESTAMPTZ(2));
	grid_pg_zone_of(zone, &in.zone);
	in.zone_abbrev = grid_pg_zone_abbrev;

	/* the forecast tail after the collected range */
	{
		ForecastTail tail;
		ErrorData  *edata;

		memset(&tail, 0, sizeof(tail));
		tail.metric = CStringGetTextDatum(name);
		tail.horizon = (int) Min(Max(n / 4, 1), PLOT_FORECAST_MAX);
		tail.window_to = in.window_to;
		edata = subxact_run(read_forecast, &tail);
		if (edata != NULL)
			FreeErrorData(edata);
		else if (tail.n > 0 && n > 0)
		{
			in.n_forecast = tail.n;
			in.forecast_bucket = tail.bucket;
			in.forecast_expected = tail.expected;
			in.forecast_lower = tail.lower;
			in.forecast_upper = tail.upper;
		}
	}
	svg = plot_svg(&in);

	spi_cxt = MemoryContextSwitchTo(outer);
	result = cstring_to_text(svg);
	MemoryContextSwitchTo(spi_cxt);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/*-------------------------------------------------------------------------
 *
 * collect_due.c
 *	  Which metrics are due for collection, and over which window: from
 *	  each metric's state alone (its last bucket, watermark and backoff),
 *	  most overdue first, loading the definitions of due metrics only.
 *	  Also the window tripl.collect() forces when asked for none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "collect_due.h"
#include "core/compose.h"
#include "core/grid.h"
#include "defs.h"
#include "grid_pg.h"
#include "privilege.h"
#include "spiutil.h"
#include "tripl.h"

/* A "running" marker older than this is treated as a dead run */
#define RUNNING_TIMEOUT_USECS	(INT64CONST(75) * USECS_PER_MINUTE)

/* Most overdue first; ties by name so the order is stable */
static int
due_cmp(const ListCell *a, const ListCell *b)
{
	DueItem    *x = lfirst(a);
	DueItem    *y = lfirst(b);

	if (x->overdue != y->overdue)
		return x->overdue > y->overdue ? -1 : 1;
	return strcmp(x->m->name, y->m->name);
}

/* A timestamptz result cell as Unix microseconds, or PG_INT64_MIN for NULL */
static int64
spi_unix(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull);

	return isnull ? PG_INT64_MIN : ts_to_unix(DatumGetTimestampTz(d));
}

/*
 * The resume window of a metric (doc/collection.md, "Collection windows"): to = floor(now);
 * progress = max(last stored bucket + width, watermark); from = min(progress,
 * to) - 2 widths, or to - 30 widths on the first run.
 */
static GridWindow
resume_window(const Grid *g, int64 now, int64 last_bucket, int64 watermark, int64 *progress)
{
	GridWindow	w;
	int64		p = PG_INT64_MIN;

	w.to = grid_start(g, now);
	if (last_bucket != PG_INT64_MIN)
		p = grid_next(g, last_bucket);
	if (watermark != PG_INT64_MIN && watermark > p)
		p = grid_start(g, watermark);
	*progress = p;
	if (p == PG_INT64_MIN)
		w.from = grid_step(g, w.to, -30);
	else
		w.from = grid_step(g, Min(p, w.to), -2);
	return w;
}

/* The grid of a row's bucket (column col) and time zone (col + 1) */
static void
spi_grid(int row, int col, Grid *g)
{
	bool		isnull;
	Interval   *iv = DatumGetIntervalP(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull));
	const char *problem = grid_pg_make(g, iv, spi_text(row, col + 1));

	if (problem)
		elog(ERROR, "a metric has a bad bucket: %s", problem);
}

/*
 * The due metrics: active, not running (unless the marker is stale, or
 * ignore_running: the caller holds the tick lock and set those markers
 * itself), not backing off after an error, progress behind floor(now).
 * Returns DueItem pointers, most overdue first.  A limit of 0 means none.
 */
List *
collect_due_metrics(TimestampTz now_ts, int limit, bool ignore_running)
{
	List	   *metrics;
	List	   *due = NIL;
	ListCell   *lc;
	int64		now = ts_to_unix(now_ts);
	uint64		i;
	int			nstate;
	int			ndue = 0;
	int			ncand = 0;
	GridWindow *windows;
	int64	   *overdue;
	Datum	   *ids;
	Grid	   *grids;
	int64	   *watermarks;

	/*
	 * Which metrics are due is decided from their state alone, and only
	 * those are then loaded in full.  A watermark at or past floor(now)
	 * means up to date whatever the last stored bucket, so the last bucket
	 * is looked up only for the rest: an idle tick costs one light query.
	 */
	catalog_execute(psprintf("SELECT m.id, s.watermark, s.last_status, s.last_started_at, s.last_failed_at, "
							 "m.bucket, %s, m.owner::oid::int8 "
							 "FROM tripl.metrics m JOIN tripl.metric_state s ON s.metric_id = m.id "
							 "WHERE m.status = 'active' ORDER BY m.id", grid_pg_zone_column()),
					0, NULL, NULL, NULL, true, 0);
	nstate = (int) SPI_processed;
	windows = palloc(sizeof(GridWindow) * (nstate + 1));
	overdue = palloc(sizeof(int64) * (nstate + 1));
	ids = palloc(sizeof(Datum) * (nstate + 1));
	grids = palloc(sizeof(Grid) * (nstate + 1));
	watermarks = palloc(sizeof(int64) * (nstate + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		const char *st = spi_text(i, 2);
		int			status = st == NULL ? 0 : (strcmp(st, "running") == 0 ? 1 : (strcmp(st, "error") == 0 ? 2 : 0));
		int64		started = spi_unix(i, 3);
		int64		failed = spi_unix(i, 4);
		int64		watermark = spi_unix(i, 1);
		int64		progress;
		Grid		g;

		if (!caller_may_manage((Oid) spi_int64(i, 7)))
			continue;
		if (!ignore_running && status == 1 && started != PG_INT64_MIN && now - started < RUNNING_TIMEOUT_USECS)
			continue;			/* another run is collecting it */
		spi_grid(i, 5, &g);
		if (status == 2 && failed != PG_INT64_MIN && now - failed < g.width)
			continue;			/* back off one bucket after an error */
		(void) resume_window(&g, now, PG_INT64_MIN, watermark, &progress);
		if (progress != PG_INT64_MIN && progress >= grid_start(&g, now))
			continue;			/* up to date by its watermark */
		ids[ncand] = Int64GetDatum(spi_int64(i, 0));
		grids[ncand] = g;
		watermarks[ncand] = watermark;
		ncand++;
	}
	if (ncand == 0)
		return NIL;

	/* the candidates' last stored buckets decide */
	{
		Oid			types[1] = {INT8ARRAYOID};
		Datum		vals[1];

		vals[0] = PointerGetDatum(spi_int8_array(ids, ncand));
		catalog_execute("SELECT c.id, (SELECT max(v.bucket) FROM tripl.metric_values v WHERE v.metric_id = c.id) "
						"FROM unnest($1::int8[]) AS c(id) ORDER BY c.id",
						1, types, vals, NULL, true, 0);
	}
	for (i = 0; i < SPI_processed; i++)
	{
		int64		progress;
		GridWindow	w;

		/* candidates are in id order, as the rows */
		w = resume_window(&grids[i], now, spi_unix(i, 1), watermarks[i], &progress);
		if (progress != PG_INT64_MIN && progress >= w.to)
			continue;			/* up to date */
		windows[ndue] = w;
		overdue[ndue] = progress == PG_INT64_MIN ? PG_INT64_MAX : w.to - progress;
		ids[ndue] = ids[i];
		ndue++;
	}
	if (ndue == 0)
		return NIL;

	/* the due metrics in full, in id order as the ids above */
	{
		Oid			types[1] = {INT8ARRAYOID};
		Datum		vals[1];

		vals[0] = PointerGetDatum(spi_int8_array(ids, ndue));
		metrics = defs_metrics("m.id = ANY($1)", 1, types, vals);
	}
	i = 0;
	foreach(lc, metrics)
	{
		MetricDef  *m = lfirst(lc);
		DueItem    *d;

		while (i < (uint64) ndue && DatumGetInt64(ids[i]) < m->id)
			i++;
		if (i >= (uint64) ndue || DatumGetInt64(ids[i]) != m->id)
			continue;			/* dropped since */
		d = palloc0(sizeof(DueItem));
		d->m = m;
		d->win = windows[i];
		d->overdue = overdue[i];
		due = lappend(due, d);
	}
	list_sort(due, due_cmp);
	if (limit > 0 && list_length(due) > limit)
		due = list_truncate(due, limit);
	return due;
}

/* The window of a forced collection of one metric (collect('m')) */
GridWindow
collect_forced_window(MetricDef *m, int64 now)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(m->id)};
	int64		progress;

	catalog_execute("SELECT (SELECT max(bucket) FROM tripl.metric_values WHERE metric_id = $1), "
					"(SELECT watermark FROM tripl.metric_state WHERE metric_id = $1)",
					1, types, values, NULL, true, 0);
	return resume_window(&m->grid, now, spi_unix(0, 0), spi_unix(0, 1), &progress);
}

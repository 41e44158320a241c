/*-------------------------------------------------------------------------
 *
 * collect.c
 *	  Collection (see collect.h).
 *
 *	  Metrics to collect are grouped by (owner, bucket width).  Within a
 *	  group every source — a fact table, an event source, or a sql metric's
 *	  own query — gets one "slot": the de-duplicated operands of every metric
 *	  that reads it, computed by one generated SELECT per chunk of whole
 *	  buckets.  Each metric then composes its value from its operands (a
 *	  ratio may take them from two slots), clips it to its own window, and
 *	  writes it: delete the window, insert the values, in a subtransaction
 *	  of its own so that one metric's failure never stops the others.  When
 *	  a shared query fails, each metric on it is retried alone, which finds
 *	  the culprit and lets the others through — except after a time limit:
 *	  a source that timed out fails its metrics without a retry each.
 *
 *	  A metric reads only sources of its own owner (see defs_check_source_owner),
 *	  so each statement holds SQL of one role and runs as that role,
 *	  read-only, with tripl.query_timeout; writes run as the extension owner.  A lock on the metric's state row makes
 *	  concurrent collections of one metric take turns.
 *
 *	  Slots and running their statements are collect_slot.c's; which
 *	  metrics are due, and over which window, collect_due.c's.  Derived
 *	  metrics read no source: they are computed last, from their inputs'
 *	  stored values (collect_derived.c).
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

#include "aggsql.h"
#include "collect.h"
#include "collect_derived.h"
#include "collect_due.h"
#include "collect_slot.h"
#include "core/compose.h"
#include "core/grid.h"
#include "defs.h"
#include "distsrc.h"
#include "guc.h"
#include "privilege.h"
#include "runlog.h"
#include "spiutil.h"
#include "subxact.h"
#include "tripl.h"
#include "userquery.h"

TRIPL_SQL_FUNCTION(tripl_collect);
TRIPL_SQL_FUNCTION(tripl_explain_metric);

/* Most buckets one explicit window may span */
#define MAX_WINDOW_BUCKETS	INT64CONST(10000000)

/*--------------------------------------------------------------------
 * Operands and slots
 *--------------------------------------------------------------------
 */

/*
 * Find or create the slot for a source within a group.  Rolling operands
 * (window > 1 buckets) read the source in a slot of their own per window,
 * whose scan starts window - 1 buckets earlier: per-bucket metrics on the
 * source do not read those buckets.
 */
static SourceSlot *
group_slot(CollectGroup *g, char kind, int64 id, int window)
{
	ListCell   *lc;
	SourceSlot *slot;

	if (window <= 1)
		window = 0;
	/* a sql metric's query is its own: no other metric shares its slot */
	if (kind != 's')
	{
		foreach(lc, g->slots)
		{
			slot = lfirst(lc);
			if (slot->kind == kind && slot->id == id && slot->window == window)
				return slot;
		}
	}
	slot = palloc0(sizeof(SourceSlot));
	slot->kind = kind;
	slot->id = id;
	slot->window = window;
	slot->role = g->owner;
	g->slots = lappend(g->slots, slot);
	return slot;
}

/* An operand of a fact metric, with its combined filter */
static AggOperand *
fact_operand(FactTableDef *ft, OperandDef *od)
{
	AggOperand *op = palloc0(sizeof(AggOperand));

	op->agg = od->agg;
	op->column = od->measure_column ? od->measure_column : od->distinct_column;
	op->filter = defs_operand_filter(ft, od);
	op->percentile = od->percentile;
	return op;
}

/* The filter selecting one event of an event source */
static char *
event_filter(EventSourceDef *es, const char *event)
{
	return psprintf("(_src.%s)::text = %s", quote_identifier(es->event_column),
					quote_literal_cstr(event));
}

/* Set a fact table slot's source from its definition */
static void
slot_set_fact_table(SourceSlot *slot, FactTableDef *ft)
{
	slot->src.query = ft->query;
	slot->src.ts_column = ft->ts_column;
	slot->src.ts_type = ft->ts_type;
	slot->search_path = ft->search_path;
}

/*
 * Attach a metric's operands to the group's slots (loading the source
 * definitions), setting task->slot/col.  Errors (a source that no longer
 * fits) surface as an ereport the caller catches.
 */
static void
task_bind_operands(CollectGroup *g, MetricTask *t)
{
	MetricDef  *m = t->m;

	if (strcmp(m->kind, "fact") == 0)
	{
		OperandDef *ods[2];
		int			k;

		t->ratio = (m->numerator != NULL);
		ods[0] = t->ratio ? m->numerator : m->value;
		ods[1] = m->denominator;
		t->nops = t->ratio ? 2 : 1;
		for (k = 0; k < t->nops; k++)
		{
			SourceSlot *slot = group_slot(g, 'f', ods[k]->fact_table_id, m->window_buckets);
			FactTableDef *ft;

			/* each source's definition is read once per pass */
			if (slot->def == NULL)
				slot->def = defs_fact_table(NULL, ods[k]->fact_table_id, false);
			ft = slot->def;
			defs_check_source_owner(m->owner, ft->owner, "fact table", ft->name);

			if (slot->src.query == NULL)
			{
				slot_set_fact_table(slot, ft);
				slot->columns = ft->columns;
			}
			t->slot[k] = slot;
			t->col[k] = collect_slot_operand(slot, fact_operand(ft, ods[k]));
		}
	}
	else if (strcmp(m->kind, "event_composition") == 0)
	{
		SourceSlot *slot = group_slot(g, 'e', m->event_source_id, 0);
		EventSourceDef *es;
		AggOperand *num = palloc0(sizeof(AggOperand));

		if (slot->def == NULL)
			slot->def = defs_event_source(NULL, m->event_source_id, false);
		es = slot->def;
		defs_check_source_owner(m->owner, es->owner, "event source", es->name);

		if (slot->src.query == NULL)
		{
			slot->src.query = es->query;
			slot->src.ts_column = es->ts_column;
			slot->src.ts_type = es->ts_type;
			slot->search_path = es->search_path;
			slot->columns = es->columns;
		}
		num->agg = AGG_COUNT;
		num->filter = event_filter(es, m->numerator_event);
		t->slot[0] = slot;
		t->col[0] = collect_slot_operand(slot, num);
		t->nops = 1;
		t->ratio = false;
		if (strcmp(m->composition, "single") != 0)
		{
			AggOperand *den = palloc0(sizeof(AggOperand));

			if (strcmp(m->composition, "ratio") == 0)
			{
				den->agg = AGG_COUNT;
				den->filter = event_filter(es, m->denominator_event);
			}
			else
			{
				if (es->user_column == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("event source \"%s\" has no user column", es->name)));
				den->agg = AGG_DISTINCT_USERS;
				den->column = es->user_column;
			}
			t->slot[1] = slot;
			t->col[1] = collect_slot_operand(slot, den);
			t->nops = 2;
			t->ratio = true;
		}
	}
	else
	{
		SourceSlot *slot = group_slot(g, 's', m->id, 0);
		AggOperand *op = palloc0(sizeof(AggOperand));

		slot->src.query = m->query;
		slot->src.ts_column = m->time_column;
		slot->src.ts_type = m->time_type;
		slot->value_column = m->value_column;
		slot->search_path = m->search_path;
		op->agg = AGG_SUM;
		op->column = m->value_column;
		t->slot[0] = slot;
		t->col[0] = collect_slot_operand(slot, op);
		t->nops = 1;
		t->ratio = false;
	}
}

/*--------------------------------------------------------------------
 * Writing values
 *--------------------------------------------------------------------
 */

/*
 * Replace a metric's values in [from, to) with the given ones; nums and dens
 * (both or neither) are a ratio's operands, stored with its values
 */
static void
write_values(int64 metric_id, GridWindow clip, int64 *buckets, double *vals,
			 double *nums, double *dens, int n)
{
	Oid			types[5] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', 'n', 'n'};
	Datum	   *bd;
	Datum	   *vd;
	int			i;

	values[0] = Int64GetDatum(metric_id);
	values[1] = TimestampTzGetDatum(unix_to_ts(clip.from));
	values[2] = TimestampTzGetDatum(unix_to_ts(clip.to));
	catalog_execute("DELETE FROM tripl.metric_values WHERE metric_id = $1 AND bucket >= $2 AND bucket < $3",
					3, types, values, NULL, false, 0);
	if (n == 0)
		return;
	bd = palloc(sizeof(Datum) * n);
	vd = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		bd[i] = TimestampTzGetDatum(unix_to_ts(buckets[i]));
		vd[i] = Float8GetDatum(vals[i]);
	}
	types[1] = TIMESTAMPTZARRAYOID;
	types[2] = FLOAT8ARRAYOID;
	values[1] = PointerGetDatum(construct_array(bd, n, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(vd, n, FLOAT8OID, 8, true, TYPALIGN_DOUBLE));
	/* the operands' columns are 0.2's (missing until ALTER EXTENSION UPDATE) */
	if (!catalog_has_column("metric_values", "numerator"))
	{
		catalog_execute("INSERT INTO tripl.metric_values (metric_id, bucket, value) "
						"SELECT $1, u.b, u.v FROM unnest($2, $3) AS u(b, v) "
						"ON CONFLICT (metric_id, bucket) DO UPDATE SET value = EXCLUDED.value",
						3, types, values, NULL, false, 0);
		return;
	}
	if (nums != NULL && dens != NULL)
	{
		Datum	   *nd = palloc(sizeof(Datum) * n);
		Datum	   *dd = palloc(sizeof(Datum) * n);

		for (i = 0; i < n; i++)
		{
			nd[i] = Float8GetDatum(nums[i]);
			dd[i] = Float8GetDatum(dens[i]);
		}
		values[3] = PointerGetDatum(construct_array(nd, n, FLOAT8OID, 8, true, TYPALIGN_DOUBLE));
		values[4] = PointerGetDatum(construct_array(dd, n, FLOAT8OID, 8, true, TYPALIGN_DOUBLE));
		nulls[3] = ' ';
		nulls[4] = ' ';
	}
	catalog_execute("INSERT INTO tripl.metric_values (metric_id, bucket, value, numerator, denominator) "
					"SELECT $1, u.b, u.v, $4[u.k], $5[u.k] FROM unnest($2, $3) WITH ORDINALITY AS u(b, v, k) "
					"ON CONFLICT (metric_id, bucket) DO UPDATE SET value = EXCLUDED.value, "
					"numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator",
					5, types, values, nulls, false, 0);
}

/* One breakdown row, composed */
typedef struct BreakdownRow
{
	int64		bucket;
	char	   *value;			/* NULL for SQL NULL */
	bool		is_other;
	double		v;
} BreakdownRow;

/* Replace a metric's breakdown rows for one column in [from, to) */
static void
write_breakdowns(int64 metric_id, const char *column, GridWindow clip, BreakdownRow *rows, int n)
{
	Oid			types[7] = {INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[8] = "       ";
	Datum	   *bd;
	Datum	   *gd;
	bool	   *gnull;
	Datum	   *od;
	Datum	   *vd;
	int			dims[1];
	int			lbs[1] = {1};
	int			i;

	values[0] = Int64GetDatum(metric_id);
	values[1] = CStringGetTextDatum(column);
	values[2] = TimestampTzGetDatum(unix_to_ts(clip.from));
	values[3] = TimestampTzGetDatum(unix_to_ts(clip.to));
	catalog_execute("DELETE FROM tripl.metric_breakdowns WHERE metric_id = $1 AND breakdown_column = $2 "
					"AND bucket >= $3 AND bucket < $4", 4, types, values, NULL, false, 0);
	if (n == 0)
		return;
	bd = palloc(sizeof(Datum) * n);
	gd = palloc(sizeof(Datum) * n);
	gnull = palloc(sizeof(bool) * n);
	od = palloc(sizeof(Datum) * n);
	vd = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		bd[i] = TimestampTzGetDatum(unix_to_ts(rows[i].bucket));
		gnull[i] = (rows[i].value == NULL);
		gd[i] = gnull[i] ? (Datum) 0 : CStringGetTextDatum(rows[i].value);
		od[i] = BoolGetDatum(rows[i].is_other);
		vd[i] = Float8GetDatum(rows[i].v);
	}
	dims[0] = n;
	types[2] = TIMESTAMPTZARRAYOID;
	types[3] = TEXTARRAYOID;
	types[4] = BOOLARRAYOID;
	types[5] = FLOAT8ARRAYOID;
	values[2] = PointerGetDatum(construct_array(bd, n, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_md_array(gd, gnull, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(od, n, BOOLOID, 1, true, TYPALIGN_CHAR));
	values[5] = PointerGetDatum(construct_array(vd, n, FLOAT8OID, 8, true, TYPALIGN_DOUBLE));
	catalog_execute("INSERT INTO tripl.metric_breakdowns "
					"(metric_id, breakdown_column, bucket, breakdown_value, is_other, value) "
					"SELECT $1, $2, u.b, u.g, u.o, u.v FROM unnest($3, $4, $5, $6) AS u(b, g, o, v)",
					6, types, values, nulls, false, 0);
}

/*--------------------------------------------------------------------
 * Breakdowns
 *--------------------------------------------------------------------
 */

/*
 * Rank each breakdown column's values over the metric's whole window:
 * keep the top N-1 by row count (ties by value in byte order).  A rolling
 * metric ranks over the rows its buckets aggregate, from window - 1
 * buckets before its first.
 */
static void
task_rank_breakdowns(MetricTask *t)
{
	ListCell   *lc;
	MetricDef  *m = t->m;
	SourceSlot *slot = t->slot[0];
	char	   *filter = collect_task_rank_filter(t);

	/* the ranks serve every chunk: they live as long as the task */
	MemoryContext task_cxt = GetMemoryChunkContext(t);

	foreach(lc, m->breakdowns)
	{
		List	   *kept = NIL;
		bool		null_kept = false;

		if (m->values_limit > 0)
		{
			char	   *sql = aggsql_breakdown_rank_query(&slot->src, lfirst(lc), filter, m->values_limit - 1);
			Oid			types[2];
			Datum		values[2];
			uint64		i;

			collect_window_params(collect_rolling_scan(t->win, &m->grid, slot->window), types, values);
			(void) userquery_execute(sql, slot->role, slot->search_path, 2, types, values, NULL, 0);
			for (i = 0; i < SPI_processed; i++)
			{
				if (spi_isnull(i, 0))
					null_kept = true;
				else
				{
					MemoryContext old = MemoryContextSwitchTo(task_cxt);

					kept = lappend(kept, pstrdup(spi_text(i, 0)));
					MemoryContextSwitchTo(old);
				}
			}
		}
		{
			MemoryContext old = MemoryContextSwitchTo(task_cxt);

			t->rank_values = lappend(t->rank_values, kept);
			t->rank_nulls = lappend(t->rank_nulls, makeInteger(null_kept ? 1 : 0));
			t->rank_limited = lappend(t->rank_limited, makeInteger(m->values_limit > 0 ? 1 : 0));
			MemoryContextSwitchTo(old);
		}
	}
	t->ranked = true;
}

/*
 * Compute and write one breakdown column of a task for a clipped window
 * (a rolling metric: the rolling statement over the clip's scan, its grid
 * as $3, per breakdown value)
 */
static int
task_write_breakdown(MetricTask *t, int idx, GridWindow clip, const Grid *grid)
{
	MetricDef  *m = t->m;
	SourceSlot *slot = t->slot[0];
	char	   *column = list_nth(m->breakdowns, idx);
	bool		limited = intVal(list_nth(t->rank_limited, idx)) != 0;
	AggOperand *ops = collect_task_operands(t);
	bool		rolling = slot->window > 1;
	int			kp = rolling ? 3 : 2;	/* the kept values' parameter index */
	char	   *sql = rolling ?
		aggsql_rolling_query(&slot->src, grid, ops, t->nops, slot->window, column, limited) :
		aggsql_operands_query(&slot->src, grid, ops, t->nops, column, limited);
	Oid			types[5];
	Datum		values[5];
	BreakdownRow *rows;
	int			n = 0;
	uint64		i;

	if (rolling)
	{
		GridWindow	scan = collect_rolling_scan(clip, grid, slot->window);

		collect_window_params(scan, types, values);
		types[2] = TIMESTAMPTZARRAYOID;
		values[2] = collect_rolling_grid_param(scan, grid);
	}
	else
		collect_window_params(clip, types, values);
	if (limited)
	{
		List	   *kept = list_nth(t->rank_values, idx);
		Datum	   *kd = palloc(sizeof(Datum) * (list_length(kept) + 1));
		ListCell   *lc;
		int			nk = 0;

		foreach(lc, kept)
			kd[nk++] = CStringGetTextDatum((char *) lfirst(lc));
		types[kp] = TEXTARRAYOID;
		types[kp + 1] = BOOLOID;
		values[kp] = PointerGetDatum(construct_array(kd, nk, TEXTOID, -1, false, TYPALIGN_INT));
		values[kp + 1] = BoolGetDatum(intVal(list_nth(t->rank_nulls, idx)) != 0);
	}
	(void) userquery_execute(sql, slot->role, slot->search_path, limited ? kp + 2 : kp,
							 types, values, NULL, 0);
	collect_check_row_cap(psprintf("the breakdown by \"%s\"", column));

	rows = palloc(sizeof(BreakdownRow) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		double		kv[2];
		double		v;
		int			k;
		Datum		d;

		for (k = 0; k < t->nops; k++)
		{
			d = SPI_getbinval(tup, desc, 4 + k, &isnull);
			kv[k] = isnull ? NAN : DatumGetFloat8(d);
		}
		if (t->ratio)
		{
			if (!compose_ratio_value(kv[0], kv[1], &v))
				continue;
		}
		else
		{
			if (!isfinite(kv[0]))
				continue;
			v = kv[0];
		}
		d = SPI_getbinval(tup, desc, 1, &isnull);
		rows[n].bucket = ts_to_unix(DatumGetTimestampTz(d));
		rows[n].value = spi_isnull(i, 1) ? NULL : (char *) spi_text(i, 1);
		rows[n].is_other = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		rows[n].v = v;
		n++;
	}
	write_breakdowns(m->id, column, clip, rows, n);
	return n;
}

/*--------------------------------------------------------------------
 * Per-metric work for one chunk
 *--------------------------------------------------------------------
 */

/* Arguments of writing one task's chunk */
typedef struct TaskChunk
{
	MetricTask *t;
	GridWindow	clip;
	const Grid *grid;
	SlotResult *res[2];
	int			col[2];
	SourceSlot *bslot;			/* the engine slot holding the breakdowns, or
								 * NULL: breakdowns take the SQL path */
	int			written;
} TaskChunk;

/* Write one breakdown column of a task from its engine slot's result */
static void
engine_write_breakdown(TaskChunk *tc, int idx)
{
	MetricTask *t = tc->t;
	SourceSlot *slot = tc->bslot;
	int			e = t->bd_base + idx;
	EngineBreakdownRow *src = slot->eres.rows[e];
	int			n = slot->eres.nrows[e];
	BreakdownRow *rows = palloc(sizeof(BreakdownRow) * (n + 1));
	int			k = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		int64		b = collect_slot_bucket(slot, tc->grid, src[i].bucket);

		/* as the SQL path: inside the clip, finite values only */
		if (b < tc->clip.from || b >= tc->clip.to || !isfinite(src[i].v))
			continue;
		rows[k].bucket = b;
		rows[k].value = src[i].value_null ? NULL : (char *) src[i].value;
		rows[k].is_other = src[i].is_other;
		rows[k].v = src[i].v;
		k++;
	}
	write_breakdowns(t->m->id, list_nth(t->m->breakdowns, idx), tc->clip, rows, k);
}

/* Compose and write one task's values and breakdowns for a chunk (subxact body) */
static void
task_chunk_body(void *arg)
{
	TaskChunk  *tc = arg;
	MetricTask *t = tc->t;
	SlotResult *a = tc->res[0];
	int64	   *ob;
	double	   *ov;
	double	   *on = NULL;		/* a ratio's operands */
	double	   *od = NULL;
	int			n;
	int			i;
	int			idx;

	/* take turns with concurrent collections of this metric */
	metric_state_lock(Int64GetDatum(t->m->id));
	/* the metric must still exist (its value tables have no foreign key) */
	{
		Oid			idtype[1] = {INT8OID};
		Datum		id[1] = {Int64GetDatum(t->m->id)};

		(void) catalog_execute("SELECT 1 FROM tripl.metrics WHERE id = $1 FOR KEY SHARE",
							   1, idtype, id, NULL, false, 0);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("metric \"%s\" was dropped during collection", t->m->name)));
	}

	if (collect_derived_is(t->m))
		n = collect_derived_values(t, tc->clip, tc->grid, &ob, &ov);
	else if (!t->ratio)
	{
		double	   *v = palloc(sizeof(double) * (a->nrows + 1));

		for (i = 0; i < a->nrows; i++)
			v[i] = a->vals[i * a->nops + tc->col[0]];
		ob = palloc(sizeof(int64) * (a->nrows + 1));
		ov = palloc(sizeof(double) * (a->nrows + 1));
		n = compose_single(a->buckets, v, a->nrows, tc->clip.from, tc->clip.to, ob, ov);
	}
	else
	{
		SlotResult *b = tc->res[1];
		double	   *nv = palloc(sizeof(double) * (a->nrows + 1));
		double	   *dv = palloc(sizeof(double) * (b->nrows + 1));

		for (i = 0; i < a->nrows; i++)
			nv[i] = a->vals[i * a->nops + tc->col[0]];
		for (i = 0; i < b->nrows; i++)
			dv[i] = b->vals[i * b->nops + tc->col[1]];
		ob = palloc(sizeof(int64) * (a->nrows + b->nrows + 1));
		ov = palloc(sizeof(double) * (a->nrows + b->nrows + 1));
		on = palloc(sizeof(double) * (a->nrows + b->nrows + 1));
		od = palloc(sizeof(double) * (a->nrows + b->nrows + 1));
		n = compose_ratio_operands(a->buckets, nv, a->nrows, b->buckets, dv, b->nrows,
								   tc->clip.from, tc->clip.to, ob, ov, on, od);
	}
	write_values(t->m->id, tc->clip, ob, ov, on, od, n);
	tc->written = n;

	if (t->m->breakdowns != NIL && tc->bslot != NULL)
	{
		for (idx = 0; idx < list_length(t->m->breakdowns); idx++)
			engine_write_breakdown(tc, idx);
	}
	else if (t->m->breakdowns != NIL)
	{
		if (!t->ranked)
			task_rank_breakdowns(t);
		for (idx = 0; idx < list_length(t->m->breakdowns); idx++)
			(void) task_write_breakdown(t, idx, tc->clip, tc->grid);
	}
}

/*--------------------------------------------------------------------
 * Running a group
 *--------------------------------------------------------------------
 */

/* Arguments of binding a task's operands */
typedef struct BindArg
{
	CollectGroup *g;
	MetricTask *t;
} BindArg;

/* Subxact body: bind operands */
static void
bind_body(void *arg)
{
	BindArg    *b = arg;

	task_bind_operands(b->g, b->t);
}

/* Subxact body: rank a task's breakdown values over its whole window */
static void
rank_body(void *arg)
{
	task_rank_breakdowns((MetricTask *) arg);
}

/* Collect every task of a group, chunk by chunk */
static void
run_group(CollectGroup *g, MemoryContext group_cxt)
{
	GridWindow	cover = {PG_INT64_MAX, PG_INT64_MIN};
	GridWindow *chunks;
	int			nchunks;
	int			c;
	ListCell   *lc;
	MemoryContext chunk_cxt;

	foreach(lc, g->tasks)
	{
		MetricTask *t = lfirst(lc);
		BindArg		b = {g, t};

		t->error = subxact_run_message(bind_body, &b, NULL, &t->node_failure);
		t->failed = (t->error != NULL);
		if (t->failed)
			continue;
		cover.from = Min(cover.from, t->win.from);
		cover.to = Max(cover.to, t->win.to);
	}
	if (cover.from >= cover.to)
		return;
	foreach(lc, g->slots)
	{
		SourceSlot *slot = lfirst(lc);

		slot->engine = collect_slot_engine_ok(slot);
		if (!slot->engine)
			slot->sql = collect_slot_sql(slot, &g->grid);
	}

	chunk_cxt = AllocSetContextCreate(group_cxt, "tripl collect chunk", ALLOCSET_DEFAULT_SIZES);
	nchunks = grid_split(&g->grid, cover, tripl_chunk_buckets, &chunks);

	/*
	 * The engine ranks breakdown values within one chunk; a window spanning
	 * several is ranked once, in SQL, before the first.
	 */
	foreach(lc, g->tasks)
	{
		MetricTask *t = lfirst(lc);
		int			meets = 0;

		t->bd_base = -1;
		for (c = 0; c < nchunks; c++)
			meets += (t->win.from < chunks[c].to && t->win.to > chunks[c].from);
		t->multi_chunk = meets > 1;
		if (!t->failed && t->multi_chunk && t->slot[0]->engine &&
			t->m->breakdowns != NIL && t->m->values_limit > 0)
		{
			t->error = subxact_run_message(rank_body, t, NULL, &t->node_failure);
			t->failed = (t->error != NULL);
		}
	}
	for (c = 0; c < nchunks; c++)
	{
		GridWindow	chunk = chunks[c];
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(chunk_cxt);
		old = MemoryContextSwitchTo(chunk_cxt);

		foreach(lc, g->slots)
		{
			SourceSlot *slot = lfirst(lc);

			/* a source whose every metric failed (a time limit) is not read again */
			if (!collect_slot_in_use(g, slot, chunk))
			{
				slot->failed = true;
				slot->timed_out = true;
				slot->error = "not read: every metric on it failed";
				continue;
			}
			if (slot->engine)
				collect_slot_engine_prepare(slot, g, chunk);
			collect_slot_run(slot, chunk, &g->grid, chunk_cxt);
			collect_slot_keep_states(slot, g, chunk);
		}

		foreach(lc, g->tasks)
		{
			MetricTask *t = lfirst(lc);
			TaskChunk	tc;
			char	   *err;
			int			k;

			if (t->failed || t->win.to <= chunk.from || t->win.from >= chunk.to)
				continue;
			memset(&tc, 0, sizeof(tc));
			tc.t = t;
			tc.grid = &g->grid;
			tc.clip.from = Max(chunk.from, t->win.from);
			tc.clip.to = Min(chunk.to, t->win.to);
			for (k = 0; k < t->nops && !t->failed; k++)
			{
				SourceSlot *slot = t->slot[k];

				tc.res[k] = &slot->res;
				tc.col[k] = t->col[k];
				if (slot->failed)
				{
					int			cols[2] = {0, 0};
					SourceSlot *own;

					/*
					 * Alone, does this metric still fail?  Not after a time
					 * limit: a source that timed out (shared, or on one
					 * retry) fails every metric reading it, so one slow
					 * source costs at most about two time limits.  Nor
					 * after a node failure: the node is not there for one
					 * metric either.
					 */
					own = (!slot->timed_out && !slot->node_failure &&
						   (list_length(slot->ops) > 1 || slot->engine)) ?
						collect_slot_private(slot, t, &g->grid, chunk, chunk_cxt, cols) : slot;
					if (own != slot && (own->timed_out || own->node_failure))
					{
						slot->timed_out = own->timed_out;
						slot->node_failure = own->node_failure;
						slot->error = own->error;	/* both in chunk_cxt */
					}
					if (own->failed)
					{
						MemoryContextSwitchTo(group_cxt);
						t->failed = true;
						t->node_failure = own->node_failure;
						t->error = pstrdup(own->error);
						MemoryContextSwitchTo(chunk_cxt);
					}
					else
					{
						tc.res[k] = &own->res;
						tc.col[k] = cols[k];
						/* a ratio reading one source twice uses the same private slot */
						if (k == 0 && t->nops == 2 && t->slot[1] == slot)
						{
							tc.res[1] = &own->res;
							tc.col[1] = cols[1];
							k++;
						}
					}
				}
			}
			if (t->failed)
				continue;
			if (t->slot[0]->engine && !t->slot[0]->failed && t->bd_base >= 0)
				tc.bslot = t->slot[0];

			/*
			 * A nested SPI connection per task and chunk: the results of
			 * its statements are freed when it is done, not kept until the
			 * whole pass ends (thousands of metrics in one tick).
			 */
			SPI_connect();
			err = subxact_run_message(task_chunk_body, &tc, NULL, &t->node_failure);
			if (err)
			{
				MemoryContextSwitchTo(group_cxt);
				t->failed = true;
				t->error = pstrdup(err);
			}
			SPI_finish();
			MemoryContextSwitchTo(chunk_cxt);
			if (err)
				continue;
			t->rows_written += tc.written;
			if (t->changed_from == PG_INT64_MIN || tc.clip.from < t->changed_from)
				t->changed_from = tc.clip.from;
		}
		MemoryContextSwitchTo(old);
	}
	MemoryContextDelete(chunk_cxt);
}

/*
 * Compute and write the derived tasks of a pass, in order (after their
 * inputs), chunk by chunk, each in a subtransaction of its own.
 */
static void
run_derived(List *ordered, MemoryContext group_cxt)
{
	MemoryContext chunk_cxt = AllocSetContextCreate(group_cxt, "tripl derived chunk", ALLOCSET_DEFAULT_SIZES);
	ListCell   *lc;

	foreach(lc, ordered)
	{
		MetricTask *t = lfirst(lc);
		GridWindow *chunks;
		int			nchunks;
		int			c;

		collect_derived_check_inputs(t);
		if (!t->failed && t->win.from >= t->win.to)
		{
			t->failed = true;
			t->error = pstrdup("no window to compute: its inputs were not collected");
		}
		if (t->failed)
			continue;
		nchunks = grid_split(&t->m->grid, t->win, tripl_chunk_buckets, &chunks);
		for (c = 0; c < nchunks && !t->failed; c++)
		{
			TaskChunk	tc;
			char	   *err;
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			MemoryContextReset(chunk_cxt);
			old = MemoryContextSwitchTo(chunk_cxt);
			memset(&tc, 0, sizeof(tc));
			tc.t = t;
			tc.grid = &t->m->grid;
			tc.clip = chunks[c];
			SPI_connect();
			err = subxact_run_message(task_chunk_body, &tc, NULL, NULL);
			SPI_finish();
			MemoryContextSwitchTo(old);
			if (err)
			{
				t->failed = true;
				t->error = pstrdup(err);
				continue;
			}
			t->rows_written += tc.written;
			if (t->changed_from == PG_INT64_MIN || tc.clip.from < t->changed_from)
				t->changed_from = tc.clip.from;
		}
	}
	MemoryContextDelete(chunk_cxt);
}

/* Record a task's outcome in tripl.metric_state */
static void
record_state(MetricTask *t, TimestampTz now)
{
	Oid			types[5] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	char		nulls[6] = "     ";

	values[0] = Int64GetDatum(t->m->id);
	values[1] = TimestampTzGetDatum(now);
	if (t->failed)
	{
		/*
		 * A node failure (a Citus node down or not started yet) is retried
		 * at the next tick: no failure time, no one-bucket backoff
		 */
		values[2] = CStringGetTextDatum(t->error);
		if (t->node_failure)
			nulls[1] = 'n';
		catalog_execute("UPDATE tripl.metric_state SET last_status = 'error', last_error = $3, "
						"last_failed_at = $2 WHERE metric_id = $1",
						3, types, values, nulls, false, 0);
	}
	else
	{
		int64		floor_now = grid_start(&t->m->grid, ts_to_unix(now));

		nulls[2] = 'n';
		values[2] = (Datum) 0;
		values[3] = TimestampTzGetDatum(unix_to_ts(Min(t->win.to, floor_now)));
		if (t->changed_from != PG_INT64_MIN)
			values[4] = TimestampTzGetDatum(unix_to_ts(t->changed_from));
		else
			nulls[4] = 'n';
		catalog_execute("UPDATE tripl.metric_state SET last_status = 'success', last_error = NULL, "
						"last_collected_at = $2, "
						"watermark = CASE WHEN watermark IS NULL OR watermark < $4 THEN $4 ELSE watermark END, "
						"changed_from = CASE WHEN $5 IS NULL THEN changed_from "
						"                    WHEN changed_from IS NULL OR changed_from > $5 THEN $5 "
						"                    ELSE changed_from END "
						"WHERE metric_id = $1",
						5, types, values, nulls, false, 0);
	}
}

/*
 * Collect metrics over their windows (parallel lists of MetricDef * and
 * GridWindow *).  Returns a List of CollectResult *, in input order.
 * replay: the windows are explicit (rolling metrics rescan their whole
 * windows instead of using stored bucket states).  The caller is connected
 * to SPI.
 */
List *
collect_run(List *metrics, List *windows, TimestampTz now, bool replay)
{
	MemoryContext group_cxt = CurrentMemoryContext;
	List	   *groups = NIL;
	List	   *tasks = NIL;
	List	   *results = NIL;
	List	   *derived = NIL;
	ListCell   *lm;
	ListCell   *lw;

	forboth(lm, metrics, lw, windows)
	{
		MetricDef  *m = lfirst(lm);
		MetricTask *t = palloc0(sizeof(MetricTask));
		CollectGroup *g = NULL;
		ListCell   *lg;

		t->m = m;
		t->win = *(GridWindow *) lfirst(lw);
		t->replay = replay;
		t->changed_from = PG_INT64_MIN;
		tasks = lappend(tasks, t);
		if (collect_derived_is(m))
		{
			derived = lappend(derived, t);	/* computed last, after its inputs */
			continue;
		}
		foreach(lg, groups)
		{
			CollectGroup *cg = lfirst(lg);

			if (cg->owner == m->owner && grid_same(&cg->grid, &m->grid))
				g = cg;
		}
		if (g == NULL)
		{
			g = palloc0(sizeof(CollectGroup));
			g->owner = m->owner;
			g->grid = m->grid;
			groups = lappend(groups, g);
		}
		g->tasks = lappend(g->tasks, t);
	}

	foreach(lm, groups)
	{
		CollectGroup *g = lfirst(lm);
		ListCell   *lt;
		bool		owner_ok = true;

		foreach(lt, g->tasks)
		{
			MetricTask *t = lfirst(lt);

			if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(g->owner)))
			{
				t->failed = true;
				t->error = psprintf("the role that owns metric \"%s\" no longer exists", t->m->name);
				owner_ok = false;
			}
		}
		if (owner_ok)
			run_group(g, group_cxt);
	}
	run_derived(collect_derived_plan(&tasks, derived), group_cxt);

	foreach(lm, tasks)
	{
		MetricTask *t = lfirst(lm);
		CollectResult *r = palloc0(sizeof(CollectResult));

		record_state(t, now);
		r->metric = t->m;
		r->window = t->win;
		r->rows_written = t->rows_written;
		r->ok = !t->failed;
		r->error = t->error;
		results = lappend(results, r);
	}
	return results;
}

/*--------------------------------------------------------------------
 * Explaining a metric
 *--------------------------------------------------------------------
 */

/* The columns a slot's operands count distinct values of (char *) */
static List *
slot_distinct_columns(SourceSlot *slot)
{
	List	   *cols = NIL;
	ListCell   *lc;

	foreach(lc, slot->ops)
	{
		AggOperand *op = lfirst(lc);

		if (op->agg == AGG_COUNT_DISTINCT || op->agg == AGG_DISTINCT_USERS)
			cols = list_append_unique_ptr(cols, op->column);
	}
	return cols;
}

/*
 * The statements collection runs for one metric collected alone (one per
 * source: a ratio over two fact tables has two), with a header saying what
 * the placeholders are and how to EXPLAIN them.
 */
char *
collect_metric_sql(MetricDef *m)
{
	CollectGroup g;
	MetricTask	t;
	StringInfoData buf;
	GridWindow	chunk;
	int			k;

	if (collect_derived_is(m))
		return collect_derived_explain(m);
	memset(&g, 0, sizeof(g));
	memset(&t, 0, sizeof(t));
	g.owner = m->owner;
	g.grid = m->grid;
	t.m = m;
	/* a window inside one chunk: the common case of a due collection */
	chunk.from = grid_start(&m->grid, 0);
	chunk.to = grid_next(&m->grid, chunk.from);
	t.win = chunk;
	t.bd_base = -1;
	task_bind_operands(&g, &t);
	g.tasks = list_make1(&t);
	initStringInfo(&buf);
	for (k = 0; k < t.nops; k++)
	{
		SourceSlot *slot = t.slot[k];
		bool		engine;

		if (k > 0 && t.slot[k] == t.slot[0])
			break;
		engine = collect_slot_engine_ok(slot);
		if (k > 0)
			appendStringInfoString(&buf, ";\n\n");
		appendStringInfo(&buf, "-- tripl: collection of metric %s", m->name);
		if (t.nops == 2 && t.slot[1] != t.slot[0])
			appendStringInfo(&buf, " (%s)", k == 0 ? "numerator" : "denominator");
		appendStringInfo(&buf, ", %s path\n", engine ? "C engine" : "SQL");
		if (slot->kind != 's')
		{
			DistSource	ds;

			if (distsrc_inspect(slot->src.query, slot->role, slot->search_path, &ds))
				appendStringInfoString(&buf, distsrc_plan_shape(&ds, engine, slot_distinct_columns(slot)));
		}
		if (slot->window > 1)
		{
			bool		bd = m->breakdowns != NIL;

			appendStringInfo(&buf, "-- rolling over %d buckets: the value at bucket b combines buckets b-%d .. b%s "
							 "$1 is the window's start less %d buckets\n",
							 slot->window, slot->window - 1, bd ? ", per breakdown value too;" : ";",
							 slot->window - 1);
			if (bd && m->values_limit > 0)
				appendStringInfoString(&buf, "-- (breakdown_values_limit ranks values over the window: "
									   "every pass reads from there)\n");
			else
				appendStringInfo(&buf, "-- (C engine: a due pass whose earlier buckets' states%s are stored in "
								 "tripl.rolling_states reads from the window's start)\n",
								 bd ? ", breakdown cells included," : "");
		}
		appendStringInfoString(&buf, "-- $1, $2: the window [from, to) as timestamptz");
		if (engine)
		{
			appendStringInfoString(&buf, "; $3: the engine's configuration (bytea)\n"
								   "-- EXPLAIN it with: PREPARE q(timestamptz, timestamptz, bytea) AS <this statement>;\n"
								   "--                  EXPLAIN EXECUTE q('2026-01-01', '2026-01-02', NULL);\n");
			collect_slot_engine_prepare(slot, &g, chunk);
			appendStringInfoString(&buf, slot->sql);
		}
		else
		{
			if (slot->window > 1)
				appendStringInfoString(&buf, "; $3: the bucket starts of [$1, $2) (timestamptz[])\n"
									   "-- EXPLAIN it with: PREPARE q(timestamptz, timestamptz, timestamptz[]) AS <this statement>;\n"
									   "--                  EXPLAIN EXECUTE q('2026-01-01', '2026-01-02', NULL);\n");
			else
				appendStringInfoString(&buf, "\n-- EXPLAIN it with: PREPARE q(timestamptz, timestamptz) AS <this statement>;\n"
									   "--                  EXPLAIN EXECUTE q('2026-01-01', '2026-01-02');\n");
			if (m->breakdowns != NIL)
				appendStringInfoString(&buf, "-- (its breakdowns are computed by one more query per column)\n");
			appendStringInfoString(&buf, collect_slot_sql(slot, &m->grid));
		}
	}
	return buf.data;
}

/* SQL: tripl.explain_metric(name) */
Datum
tripl_explain_metric(PG_FUNCTION_ARGS)
{
	char	   *name;
	MetricDef  *m;
	char	   *sql;
	text	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metric must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SPI_connect();
	m = defs_metric(name, false);
	sql = collect_metric_sql(m);
	result = (text *) SPI_palloc(VARHDRSZ + strlen(sql));	/* survives SPI_finish */
	SET_VARSIZE(result, VARHDRSZ + strlen(sql));
	memcpy(VARDATA(result), sql, strlen(sql));
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/*--------------------------------------------------------------------
 * SQL: tripl.collect(metric, window_from, window_to)
 *--------------------------------------------------------------------
 */
Datum
tripl_collect(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		has_from = !PG_ARGISNULL(1);
	bool		has_to = !PG_ARGISNULL(2);
	TimestampTz now = tripl_now();
	TimestampTz started = GetCurrentTimestamp();
	List	   *metrics = NIL;
	List	   *windows = NIL;
	List	   *results;
	ListCell   *lc;
	GridWindow	explicit_window = {0, 0};
	RunLogRow	run;
	int64		rows_written = 0;
	char	   *first_error = NULL;

	if (has_from != has_to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_from and window_to must be given together")));
	if (has_from)
	{
		TimestampTz f = PG_GETARG_TIMESTAMPTZ(1);
		TimestampTz t = PG_GETARG_TIMESTAMPTZ(2);

		if (TIMESTAMP_NOT_FINITE(f) || TIMESTAMP_NOT_FINITE(t))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window_from and window_to must be finite")));
		if (f >= t)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window_from must be before window_to")));
		explicit_window.from = ts_to_unix(f);
		explicit_window.to = ts_to_unix(t);
	}
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	if (name != NULL)
	{
		MetricDef  *m = defs_metric(name, false);
		GridWindow *w = palloc(sizeof(GridWindow));

		if (!caller_may_manage(m->owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of metric \"%s\" to collect it", name)));
		*w = has_from ? grid_cover(&m->grid, explicit_window) : collect_forced_window(m, ts_to_unix(now));
		metrics = lappend(metrics, m);
		windows = lappend(windows, w);
	}
	else if (has_from)
	{
		metrics = defs_metrics("m.status = 'active'", 0, NULL, NULL);
		foreach(lc, metrics)
		{
			MetricDef  *m = lfirst(lc);
			GridWindow *w = palloc(sizeof(GridWindow));

			if (!caller_may_manage(m->owner))
			{
				metrics = foreach_delete_current(metrics, lc);
				continue;
			}
			*w = grid_cover(&m->grid, explicit_window);
			windows = lappend(windows, w);
		}
	}
	else
	{
		foreach(lc, collect_due_metrics(now, 0, false))
		{
			DueItem    *d = lfirst(lc);
			GridWindow *w = palloc(sizeof(GridWindow));

			*w = d->win;
			metrics = lappend(metrics, d->m);
			windows = lappend(windows, w);
		}
	}
	foreach(lc, windows)
	{
		GridWindow *w = lfirst(lc);
		MetricDef  *m = list_nth(metrics, foreach_current_index(lc));

		if (grid_buckets(&m->grid, *w, MAX_WINDOW_BUCKETS) > MAX_WINDOW_BUCKETS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the window spans more than " INT64_FORMAT " buckets of metric \"%s\"",
							MAX_WINDOW_BUCKETS, m->name)));
	}

	results = collect_run(metrics, windows, now, has_from);
	memset(&run, 0, sizeof(run));
	foreach(lc, results)
	{
		CollectResult *r = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		if (r->ok)
			run.metrics_collected++;
		else
		{
			run.metrics_failed++;
			runlog_note_error(&first_error, r->metric->name, r->error);
		}
		rows_written += r->rows_written;

		values[0] = CStringGetTextDatum(r->metric->name);
		values[1] = TimestampTzGetDatum(unix_to_ts(r->window.from));
		values[2] = TimestampTzGetDatum(unix_to_ts(r->window.to));
		values[3] = Int32GetDatum(r->rows_written);
		values[4] = CStringGetTextDatum(r->ok ? "success" : "error");
		if (r->error)
			values[5] = CStringGetTextDatum(r->error);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	/* one row in the run log, committed or rolled back with this call */
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfo(&d, "{\"metrics\": %d, \"collected\": %d, \"failed\": %d, "
						 "\"rows_written\": " INT64_FORMAT ", \"duration_ms\": %.1f, \"error\": ",
						 list_length(results), run.metrics_collected, run.metrics_failed, rows_written,
						 (GetCurrentTimestamp() - started) / 1000.0);
		runlog_end_details(&d, first_error);
		run.kind = "collect";
		run.started_at = started;
		run.error = first_error;
		run.details = d.data;
		runlog_write(&run);
	}
	SPI_finish();
	return (Datum) 0;
}

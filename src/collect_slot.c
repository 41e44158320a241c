/*-------------------------------------------------------------------------
 *
 * collect_slot.c
 *	  Source slots of a collection (see collect.c): the de-duplicated
 *	  operands read from one source, the statement computing them for a
 *	  chunk of buckets — generated SQL aggregates, or the C engine's
 *	  aggregate (tripl.engine = c) with its configuration — and running it
 *	  as the source's owner, read-only, with tripl.query_timeout.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "commands/extension.h"
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
#include "collect_slot.h"
#include "core/compose.h"
#include "core/grid.h"
#include "defs.h"
#include "distsrc.h"
#include "engine_pg.h"
#include "guc.h"
#include "subxact.h"
#include "tripl.h"
#include "spiutil.h"
#include "userquery.h"

/* Add an operand to a slot unless an equal one is there; return its column */
int
collect_slot_operand(SourceSlot *slot, AggOperand *op)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, slot->ops)
	{
		if (agg_operand_equal(lfirst(lc), op))
			return i;
		i++;
	}
	slot->ops = lappend(slot->ops, op);
	return i;
}

/* The generated SELECT of a slot */
char *
collect_slot_sql(SourceSlot *slot, const Grid *grid)
{
	AggOperand *ops;
	ListCell   *lc;
	int			n = 0;

	if (slot->kind == 's')
		return aggsql_sql_metric_query(&slot->src, grid, slot->value_column);
	ops = palloc(sizeof(AggOperand) * list_length(slot->ops));
	foreach(lc, slot->ops)
		ops[n++] = *(AggOperand *) lfirst(lc);
	if (slot->window > 1)
		return aggsql_rolling_query(&slot->src, grid, ops, n, slot->window, NULL, false);
	return aggsql_operands_query(&slot->src, grid, ops, n, NULL, false);
}

/* The operands of a task, for a per-metric breakdown query */
AggOperand *
collect_task_operands(MetricTask *t)
{
	AggOperand *ops = palloc(sizeof(AggOperand) * 2);
	int			k;

	for (k = 0; k < t->nops; k++)
		ops[k] = *(AggOperand *) list_nth(t->slot[k]->ops, t->col[k]);
	return ops;
}

/* Rows matching any operand: the filter ranking breakdown values */
char *
collect_task_rank_filter(MetricTask *t)
{
	AggOperand *ops = collect_task_operands(t);

	if (t->nops == 1)
		return ops[0].filter;
	if (ops[0].filter == NULL || ops[1].filter == NULL)
		return NULL;
	return psprintf("(%s) OR (%s)", ops[0].filter, ops[1].filter);
}

/*--------------------------------------------------------------------
 * The C engine (tripl.engine = c)
 *--------------------------------------------------------------------
 */

/* The declared type of a source column, or NULL when unknown */
static const char *
slot_column_type(SourceSlot *slot, const char *column)
{
	ListCell   *lc;

	foreach(lc, slot->columns)
	{
		ColumnInfo *c = lfirst(lc);

		if (strcmp(c->name, column) == 0)
			return c->native_type;
	}
	return NULL;
}

/*
 * Does this database have Citus?  Then engine statements take the
 * aggregate's distributable form (tripl._engine_agg_rows), which Citus
 * pushes down to the shards; a local source pays a little for the ROW.
 */
static bool
slot_engine_rows(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

/* May the engine compute this slot?  Distinct keys need exact types. */
bool
collect_slot_engine_ok(SourceSlot *slot)
{
	ListCell   *lc;

	if (tripl_engine != TRIPL_ENGINE_C)
		return false;
	foreach(lc, slot->ops)
	{
		AggOperand *op = lfirst(lc);

		if (agg_counts_distinct(op->agg))
		{
			const char *type = slot_column_type(slot, op->column);

			if (type == NULL || !engine_key_type_supported(type))
				return false;
		}
	}
	return true;
}

/* The index of a string in a list, appending it when absent */
static int
list_index_add(List **list, char *s)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, *list)
	{
		if (strcmp(lfirst(lc), s) == 0)
			return i;
		i++;
	}
	*list = lappend(*list, s);
	return i;
}

static EngineAgg
engine_agg_of(AggKind kind)
{
	switch (kind)
	{
		case AGG_COUNT:
			return ENGINE_COUNT;
		case AGG_SUM:
			return ENGINE_SUM;
		case AGG_AVG:
			return ENGINE_AVG;
		case AGG_MIN:
			return ENGINE_MIN;
		case AGG_MAX:
			return ENGINE_MAX;
		case AGG_PERCENTILE:
			return ENGINE_PERCENTILE;
		case AGG_APPROX_PERCENTILE:
			return ENGINE_APPROX_PERCENTILE;
		case AGG_APPROX_COUNT_DISTINCT:
			return ENGINE_APPROX_DISTINCT;
		case AGG_COUNT_DISTINCT:
		case AGG_DISTINCT_USERS:
			break;
	}
	return ENGINE_COUNT_DISTINCT;
}

/*
 * One engine breakdown per breakdown column of a task: its values ranked
 * over the task's window (within this chunk: by the engine, with the rank
 * filter limited to the window; across chunks: the list ranked once in
 * SQL, as a preset).  A rolling metric ranks over the rows its buckets
 * aggregate: from window - 1 buckets before its first.
 */
static void
engine_task_breakdowns(SourceSlot *slot, MetricTask *t, GridWindow chunk, const Grid *grid,
					   List **filters, List **groups, List **bds)
{
	MetricDef  *m = t->m;
	ListCell   *lc;
	int			idx = 0;
	GridWindow	rank_win = collect_rolling_scan(t->win, grid, slot->window);
	GridWindow	rank_chunk = collect_rolling_scan(chunk, grid, slot->window);

	t->bd_base = list_length(*bds);
	foreach(lc, m->breakdowns)
	{
		EngineBreakdown *d = palloc0(sizeof(EngineBreakdown));
		int			k;

		d->group = list_index_add(groups, lfirst(lc));
		d->nops = t->nops;
		for (k = 0; k < t->nops; k++)
			d->ops[k] = t->col[k];
		if (m->values_limit > 0 && !t->multi_chunk)
		{
			char	   *rank = collect_task_rank_filter(t);

			d->keep = m->values_limit - 1;
			if (rank_win.from > rank_chunk.from || rank_win.to < rank_chunk.to)
			{
				char	   *range = aggsql_time_range(&slot->src, rank_win.from, rank_win.to);

				d->nrank = 1;
				d->rank_filters[0] = list_index_add(filters,
													rank ? psprintf("%s AND (%s)", range, rank) : range);
			}
			else if (rank)
			{
				d->nrank = 1;
				d->rank_filters[0] = list_index_add(filters, rank);
			}
		}
		else if (m->values_limit > 0)
		{
			List	   *kept = list_nth(t->rank_values, idx);
			const char **preset = palloc0(sizeof(char *) * (list_length(kept) + 1));
			uint32_t   *lens = palloc0(sizeof(uint32_t) * (list_length(kept) + 1));
			ListCell   *lk;
			int			n = 0;

			foreach(lk, kept)
			{
				preset[n] = lfirst(lk);
				lens[n] = strlen(preset[n]);
				n++;
			}
			d->use_preset = true;
			d->npreset = n;
			d->preset = preset;
			d->preset_len = lens;
			d->preset_null = intVal(list_nth(t->rank_nulls, idx)) != 0;
		}
		*bds = lappend(*bds, d);
		idx++;
	}
}

/* Mark the slot's distinct counts over its distribution column (in a subxact) */
static void
slot_disjoint_body(void *arg)
{
	SourceSlot *slot = arg;
	DistSource	ds;
	ListCell   *lc;
	int			i = 0;

	if (!distsrc_inspect(slot->src.query, slot->role, slot->search_path, &ds))
		return;
	foreach(lc, slot->ops)
	{
		AggOperand *op = lfirst(lc);

		slot->disjoint[i++] = engine_agg_of(op->agg) == ENGINE_COUNT_DISTINCT &&
			distsrc_is_dist_column(&ds, op->column);
	}
}

/*
 * Per operand of a slot: is it an exact distinct count over the
 * distribution column of the Citus table the source reads?  Then each
 * shard holds its own values, and its partial state ships counts instead
 * of sets (EngineOperand.disjoint).  Inspected once per slot; a source
 * that cannot be inspected ships sets.
 */
static const bool *
slot_disjoint(SourceSlot *slot)
{
	ListCell   *lc;
	bool		any = false;

	if (slot->disjoint != NULL)
		return slot->disjoint;
	slot->disjoint = MemoryContextAllocZero(GetMemoryChunkContext(slot),
											sizeof(bool) * (list_length(slot->ops) + 1));
	foreach(lc, slot->ops)
		any = any || engine_agg_of(((AggOperand *) lfirst(lc))->agg) == ENGINE_COUNT_DISTINCT;
	if (any && slot_engine_rows() && subxact_run_message(slot_disjoint_body, slot, NULL, NULL) != NULL)
		memset(slot->disjoint, 0, sizeof(bool) * list_length(slot->ops));
	return slot->disjoint;
}

/*--------------------------------------------------------------------
 * Rolling states kept between passes (tripl.rolling_states)
 *
 * A rolling slot on the C engine stores, per metric operand, the engine's
 * state of each of the last window + 1 buckets it computed (the exact set
 * of distinct keys, the sums, the sketch...).  A due pass whose window's
 * earlier window - 1 buckets are all stored scans only its own buckets
 * and merges the stored states in before the window is combined; an
 * explicit window (a replay) or a missing state rescans.  Rows rescanned
 * replace their buckets' states.  A metric with breakdowns also keeps,
 * per breakdown column, each bucket's cells (per value); one folding
 * values into 'Other' keeps none, and a slot read by it rescans.
 *--------------------------------------------------------------------
 */

/* Rolling statements prepared by this backend (their preload tokens) */
static uint64 rolling_statements = 0;

/* Does a task read this slot in this chunk? */
static bool
slot_task_in_chunk(MetricTask *t, SourceSlot *slot, GridWindow chunk)
{
	return t->win.to > chunk.from && t->win.from < chunk.to &&
		(t->slot[0] == slot || (t->nops == 2 && t->slot[1] == slot));
}

/*
 * What a stored state of a slot operand depends on: the source (query,
 * time column, search_path, owner), the grid and window, the operand and
 * its column's type.  A state stored under another fingerprint is never
 * used.
 */
static int64
rolling_fingerprint(SourceSlot *slot, int op, MetricTask *t, const Grid *grid)
{
	AggOperand *o = list_nth(slot->ops, op);
	const char *type = o->column ? slot_column_type(slot, o->column) : NULL;
	StringInfoData b;
	int64		fp;

	initStringInfo(&b);
	appendStringInfo(&b, "%s\x1f%s\x1f%s\x1f%s\x1f%u\x1f%d\x1f%d\x1f" INT64_FORMAT "\x1f%s\x1f%d\x1f%s\x1f%s\x1f%.17g\x1f%s",
					 slot->src.query, slot->src.ts_column, slot->src.ts_type,
					 slot->search_path ? slot->search_path : "", slot->role, slot->window,
					 (int) grid->unit, (int64) grid->width, t->m->timezone ? t->m->timezone : "",
					 (int) o->agg, o->column ? o->column : "", o->filter ? o->filter : "",
					 o->percentile, type ? type : "");
	fp = (int64) hash_bytes_extended((const unsigned char *) b.data, b.len, 0);
	pfree(b.data);
	return fp;
}

/*
 * What a stored breakdown state of a task depends on: its operands'
 * fingerprints, the breakdown column and its type
 */
static int64
rolling_breakdown_fingerprint(SourceSlot *slot, MetricTask *t, int idx, const Grid *grid)
{
	const char *column = list_nth(t->m->breakdowns, idx);
	const char *type = slot_column_type(slot, column);
	StringInfoData b;
	int64		fp;
	int			k;

	initStringInfo(&b);
	for (k = 0; k < t->nops; k++)
		appendStringInfo(&b, INT64_FORMAT "\x1f", rolling_fingerprint(slot, t->col[k], t, grid));
	appendStringInfo(&b, "breakdown\x1f%s\x1f%s", column, type ? type : "");
	fp = (int64) hash_bytes_extended((const unsigned char *) b.data, b.len, 0);
	pfree(b.data);
	return fp;
}

/*
 * Does a task keep the per-bucket cells of its breakdowns?  A rolling one
 * computed by this slot's engine, without 'Other' (folding ranks values
 * over the whole window, which stored cells cannot redo).
 */
static bool
rolling_task_keeps_breakdowns(SourceSlot *slot, MetricTask *t)
{
	return t->m->breakdowns != NIL && t->m->values_limit == 0 && t->slot[0] == slot &&
		t->bd_base >= 0;
}

/* Read a stored state's rows of [from, to) into the preload arrays */
static bool
rolling_read_states(SourceSlot *slot, const Grid *grid, int64 metric_id, int code, int64 fp,
					int64 from, int64 to, int need, int engine_op,
					int *pops, int *pbuckets, bytea **images, int *npre)
{
	Oid			types[5] = {INT8OID, INT2OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	uint64		r;

	values[0] = Int64GetDatum(metric_id);
	values[1] = Int16GetDatum(code);
	values[2] = Int64GetDatum(fp);
	values[3] = TimestampTzGetDatum(unix_to_ts(from));
	values[4] = TimestampTzGetDatum(unix_to_ts(to));
	catalog_execute("SELECT bucket, state FROM tripl.rolling_states "
					"WHERE metric_id = $1 AND operand = $2 AND fingerprint = $3 "
					"AND bucket >= $4 AND bucket < $5 ORDER BY bucket",
					5, types, values, NULL, true, 0);
	if (SPI_processed != (uint64) need)
		return false;
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		if (isnull || ts_to_unix(DatumGetTimestampTz(d)) != collect_slot_bucket(slot, grid, (int) r))
			return false;
		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
		pops[*npre] = engine_op;
		pbuckets[*npre] = (int) r;
		images[(*npre)++] = DatumGetByteaPCopy(d);
	}
	return true;
}

/*
 * May this chunk of a rolling engine slot read only its own buckets?  Then
 * every operand's stored states of the window - 1 buckets before the chunk
 * are appended to the configuration (bucket indexes 0 .. window - 2 of the
 * chunk's grid), and the stored cells of the breakdowns of the tasks
 * reading it.  Always: the result carries the states of the scanned
 * buckets among the last window + 1, to store.
 */
static void
rolling_prepare(SourceSlot *slot, CollectGroup *g, GridWindow chunk, int nbuckets)
{
	int			nops = list_length(slot->ops);
	int			need = slot->window - 1;
	int			nstates = nops;
	MetricTask **rep = palloc0(sizeof(MetricTask *) * (nops + 1));
	int		   *repk = palloc0(sizeof(int) * (nops + 1));
	int		   *pops;
	int		   *pbuckets;
	bytea	  **images;
	int			npre = 0;
	bool		ok = true;
	int64		from = collect_slot_bucket(slot, &g->grid, 0);
	ListCell   *lc;
	int			i;

	slot->roll_incremental = false;
	foreach(lc, g->tasks)
	{
		MetricTask *t = lfirst(lc);
		int			k;

		if (t->failed || !slot_task_in_chunk(t, slot, chunk))
			continue;
		if (t->replay)
			ok = false;
		if (t->m->breakdowns != NIL)
		{
			/* folding into 'Other' ranks over the window's rows */
			if (!rolling_task_keeps_breakdowns(slot, t))
				ok = false;
			nstates += list_length(t->m->breakdowns);
		}
		for (k = 0; k < t->nops; k++)
			if (t->slot[k] == slot && rep[t->col[k]] == NULL)
			{
				rep[t->col[k]] = t;
				repk[t->col[k]] = k;
			}
	}
	pops = palloc0(sizeof(int) * ((size_t) nstates * need + 1));
	pbuckets = palloc0(sizeof(int) * ((size_t) nstates * need + 1));
	images = palloc0(sizeof(bytea *) * ((size_t) nstates * need + 1));
	for (i = 0; ok && i < nops; i++)
	{
		if (rep[i] == NULL)
			ok = false;
		else
			ok = rolling_read_states(slot, &g->grid, rep[i]->m->id, repk[i],
									 rolling_fingerprint(slot, i, rep[i], &g->grid),
									 from, chunk.from, need, i, pops, pbuckets, images, &npre);
	}
	/* the breakdowns' cells: stored as operand 2 + the column's index */
	foreach(lc, g->tasks)
	{
		MetricTask *t = lfirst(lc);
		int			idx;

		if (!ok)
			break;
		if (t->failed || !slot_task_in_chunk(t, slot, chunk) || t->m->breakdowns == NIL)
			continue;
		for (idx = 0; ok && idx < list_length(t->m->breakdowns); idx++)
			ok = rolling_read_states(slot, &g->grid, t->m->id, 2 + idx,
									 rolling_breakdown_fingerprint(slot, t, idx, &g->grid),
									 from, chunk.from, need, -1 - (t->bd_base + idx),
									 pops, pbuckets, images, &npre);
	}
	if (!ok)
		npre = 0;
	slot->roll_incremental = ok;
	slot->roll_npre = npre;
	slot->roll_ops = pops;
	slot->roll_buckets = pbuckets;
	slot->roll_images = images;
	slot->roll_token = (int64) (++rolling_statements) ^ ((int64) MyProcPid << 40);
	elog(DEBUG1, "tripl: rolling slot over %d buckets: %s", slot->window,
		 ok ? "stored states of the earlier buckets, scanning the chunk only" : "scanning the whole window");
	slot->config = engine_config_rolling(slot->config, slot->roll_token, npre,
										 Max(ok ? need : 0, nbuckets - (slot->window + 1)));
}

/*
 * After a rolling slot ran for a chunk: store the states its result
 * carries under each metric operand reading it (and the cells of each
 * breakdown, as operand 2 + its index), drop the other stored states of
 * the buckets it scanned (a rescanned bucket never keeps an older state),
 * and keep the newest window + 1 per operand.  A slot on the SQL path only
 * drops; one that failed after reading stored states drops them all (the
 * next pass rescans); a breakdown folding into 'Other' keeps none.
 */
typedef struct KeepArg
{
	SourceSlot *slot;
	MetricTask *t;
	int			code;			/* the stored operand: 0, 1, 2 + breakdown */
	int			image_op;		/* the engine's: operand, or -1 - breakdown */
	int64		fingerprint;
	bool		keep;			/* store the new states (else drop them all) */
	GridWindow	scan;
	const Grid *grid;
	bool		drop_all;
} KeepArg;

/* Subxact body of collect_slot_keep_states for one stored operand */
static void
keep_states_body(void *arg)
{
	KeepArg    *a = arg;
	SourceSlot *slot = a->slot;
	Oid			types[5] = {INT8OID, INT2OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	int			i;

	values[0] = Int64GetDatum(a->t->m->id);
	values[1] = Int16GetDatum(a->code);
	values[2] = Int64GetDatum(a->fingerprint);
	values[3] = TimestampTzGetDatum(unix_to_ts(a->scan.from));
	values[4] = TimestampTzGetDatum(unix_to_ts(a->scan.to));
	if (a->drop_all || !a->keep)
	{
		catalog_execute("DELETE FROM tripl.rolling_states WHERE metric_id = $1 AND operand = $2",
						2, types, values, NULL, false, 0);
		return;
	}
	catalog_execute("DELETE FROM tripl.rolling_states WHERE metric_id = $1 AND operand = $2 "
					"AND (fingerprint <> $3 OR (bucket >= $4 AND bucket < $5))",
					5, types, values, NULL, false, 0);
	if (!slot->engine || slot->failed)
		return;
	for (i = 0; i < slot->eres.nimages; i++)
	{
		Oid			itypes[5] = {INT8OID, INT2OID, INT8OID, TIMESTAMPTZOID, BYTEAOID};
		Datum		ivalues[5];

		if (slot->eres.image_op[i] != a->image_op)
			continue;
		ivalues[0] = values[0];
		ivalues[1] = values[1];
		ivalues[2] = values[2];
		ivalues[3] = TimestampTzGetDatum(unix_to_ts(collect_slot_bucket(slot, a->grid,
																		slot->eres.image_bucket[i])));
		ivalues[4] = PointerGetDatum(slot->eres.images[i]);
		catalog_execute("INSERT INTO tripl.rolling_states (metric_id, operand, fingerprint, bucket, state) "
						"VALUES ($1, $2, $3, $4, $5) ON CONFLICT (metric_id, operand, bucket) "
						"DO UPDATE SET fingerprint = EXCLUDED.fingerprint, state = EXCLUDED.state",
						5, itypes, ivalues, NULL, false, 0);
	}
	values[2] = Int64GetDatum(slot->window);
	catalog_execute("DELETE FROM tripl.rolling_states WHERE metric_id = $1 AND operand = $2 "
					"AND bucket < (SELECT s.bucket FROM tripl.rolling_states s "
					"WHERE s.metric_id = $1 AND s.operand = $2 ORDER BY s.bucket DESC OFFSET $3 LIMIT 1)",
					3, types, values, NULL, false, 0);
}

/* Run keep_states_body in a subtransaction; on failure drop the operand's states */
static void
keep_states_run(KeepArg *a)
{
	char	   *err = subxact_run_message(keep_states_body, a, NULL, NULL);

	if (err != NULL)
	{
		ereport(LOG,
				(errmsg("could not keep the bucket states of metric \"%s\": %s", a->t->m->name, err),
				 errdetail("Its next pass rescans its whole window.")));
		/* nothing stored may outlive a failed update: rescan next time */
		a->drop_all = true;
		(void) subxact_run_message(keep_states_body, a, NULL, NULL);
	}
}

void
collect_slot_keep_states(SourceSlot *slot, CollectGroup *g, GridWindow chunk)
{
	ListCell   *lc;
	bool		incremental = slot->engine && slot->roll_incremental;
	GridWindow	scan = incremental ? chunk : collect_rolling_scan(chunk, &g->grid, slot->window);

	if (slot->window <= 1)
		return;
	foreach(lc, g->tasks)
	{
		MetricTask *t = lfirst(lc);
		KeepArg		a;
		int			k;

		if (t->nops < 1 || !slot_task_in_chunk(t, slot, chunk))
			continue;
		a.slot = slot;
		a.t = t;
		a.scan = scan;
		a.grid = &g->grid;
		a.drop_all = slot->failed && incremental;
		for (k = 0; k < t->nops; k++)
		{
			if (t->slot[k] != slot)
				continue;
			a.code = k;
			a.image_op = t->col[k];
			a.fingerprint = rolling_fingerprint(slot, t->col[k], t, &g->grid);
			a.keep = true;
			keep_states_run(&a);
		}
		if (t->m->breakdowns != NIL && t->slot[0] == slot)
		{
			bool		keep = rolling_task_keeps_breakdowns(slot, t) || !slot->engine;
			int			idx;

			for (idx = 0; idx < list_length(t->m->breakdowns); idx++)
			{
				a.code = 2 + idx;
				a.image_op = -1 - (t->bd_base + idx);
				a.fingerprint = rolling_breakdown_fingerprint(slot, t, idx, &g->grid);
				a.keep = keep;
				keep_states_run(&a);
			}
		}
	}
}

/*
 * A slot's engine statement and this chunk's configuration: every operand
 * of the slot, and the breakdowns of the tasks reading it that meet the
 * chunk.
 */
void
collect_slot_engine_prepare(SourceSlot *slot, CollectGroup *g, GridWindow chunk)
{
	List	   *filters = NIL;
	List	   *measures = NIL;
	List	   *keys = NIL;
	List	   *groups = NIL;
	List	   *bds = NIL;
	bool	   *native;
	bool	   *raw;
	EngineSpec	spec;
	EngineOperand *eops;
	EngineBreakdown *ebds;
	EngineFilterArg *fargs;
	List	   *generic = NIL;
	bool		filter_array;
	const bool *disjoint = slot_disjoint(slot);
	GridWindow	grid_chunk;
	ListCell   *lc;
	int			i = 0;

	memset(&spec, 0, sizeof(spec));
	eops = palloc0(sizeof(EngineOperand) * (list_length(slot->ops) + 1));
	foreach(lc, slot->ops)
	{
		AggOperand *op = lfirst(lc);
		EngineOperand *e = &eops[i++];

		e->agg = engine_agg_of(op->agg);
		e->filter = op->filter ? list_index_add(&filters, op->filter) : -1;
		e->measure = -1;
		e->key = -1;
		e->percentile = op->percentile;
		e->window = slot->window;
		/* a rolling window unites sets across buckets: counts cannot do that */
		e->disjoint = disjoint[i - 1] && slot->window <= 1;
		if (agg_counts_distinct(op->agg))
			e->key = list_index_add(&keys, op->column);
		else if (op->agg != AGG_COUNT)
			e->measure = list_index_add(&measures, op->column);
	}
	foreach(lc, g->tasks)
	{
		MetricTask *t = lfirst(lc);

		t->bd_base = (t->slot[0] == slot) ? -1 : t->bd_base;
		if (t->failed || t->slot[0] != slot || t->m->breakdowns == NIL ||
			t->win.to <= chunk.from || t->win.from >= chunk.to)
			continue;
		engine_task_breakdowns(slot, t, chunk, &g->grid, &filters, &groups, &bds);
	}

	/*
	 * Filters comparing a numeric or integer column with a constant are
	 * decided by the engine from the column's value (one search among the
	 * sorted constants per row, however many such filters); the others
	 * are evaluated by the statement, once each, as boolean arguments, or
	 * as one bool[] when they would exceed the 100 arguments of a call.
	 */
	fargs = palloc0(sizeof(EngineFilterArg) * (list_length(filters) + 1));
	i = 0;
	foreach(lc, filters)
	{
		EngineFilterArg *f = &fargs[i++];
		char	   *column;
		char	   *constant;
		EngineThresholdOp op;
		const char *type;

		if (engine_threshold_filter(lfirst(lc), &column, &op, &constant) &&
			(type = slot_column_type(slot, column)) != NULL &&
			(strcmp(type, "numeric") == 0 || strcmp(type, "smallint") == 0 ||
			 strcmp(type, "integer") == 0 || strcmp(type, "bigint") == 0))
		{
			f->threshold = true;
			f->measure = list_index_add(&measures, column);
			f->op = op;
			f->constant = constant;
		}
		else
			generic = lappend(generic, lfirst(lc));
	}
	filter_array = 3 + list_length(generic) + list_length(measures) + list_length(keys) +
		list_length(groups) > ENGINE_MAX_ARGS;

	native = palloc0(sizeof(bool) * (list_length(measures) + 1));
	i = 0;
	foreach(lc, measures)
	{
		const char *type = slot_column_type(slot, lfirst(lc));

		native[i++] = type != NULL && engine_measure_native(type);
	}
	raw = palloc0(sizeof(bool) * (list_length(groups) + 1));
	i = 0;
	foreach(lc, groups)
	{
		const char *type = slot_column_type(slot, lfirst(lc));

		raw[i++] = type != NULL && (strcmp(type, "text") == 0 || strcmp(type, "character varying") == 0);
	}
	ebds = palloc0(sizeof(EngineBreakdown) * (list_length(bds) + 1));
	i = 0;
	foreach(lc, bds)
		ebds[i++] = *(EngineBreakdown *) lfirst(lc);

	/* a rolling slot's grid starts window - 1 buckets before the chunk */
	grid_chunk = collect_rolling_scan(chunk, &g->grid, slot->window);
	spec.start = grid_chunk.from;
	spec.width = g->grid.width;
	slot->chunk_bounds = NULL;
	if (g->grid.unit == GRID_FIXED)
		spec.nbuckets = (int) ((grid_chunk.to - grid_chunk.from) / g->grid.width);
	else
	{
		/* calendar grids: the chunk's boundaries, computed once (core/grid.c) */
		int64_t    *bounds = grid_bounds(&g->grid, grid_chunk, &spec.nbuckets);

		slot->chunk_bounds = palloc(sizeof(int64) * (spec.nbuckets + 1));
		memcpy(slot->chunk_bounds, bounds, sizeof(int64) * (spec.nbuckets + 1));
		core_free(bounds);
		spec.bounds = slot->chunk_bounds;
	}
	spec.nfilters = list_length(filters);
	spec.nmeasures = list_length(measures);
	spec.nkeys = list_length(keys);
	spec.ngroups = list_length(groups);
	spec.nops = list_length(slot->ops);
	spec.ops = eops;
	spec.nbreakdowns = list_length(bds);
	spec.breakdowns = ebds;
	spec.max_rows = TRIPL_MAX_CHUNK_ROWS;
	slot->config = engine_config(&spec, fargs, filter_array);
	slot->chunk_from = grid_chunk.from;
	slot->chunk_nbuckets = spec.nbuckets;
	slot->nbreakdowns = spec.nbreakdowns;
	slot->sql = aggsql_engine_query(&slot->src, generic, filter_array, measures, native, keys, groups, raw,
								   slot_engine_rows());
	slot->roll_incremental = false;
	if (slot->window > 1)
		rolling_prepare(slot, g, chunk, spec.nbuckets);
}

/* Read an engine result into the slot (in the chunk's context) */
static void
engine_slot_result(SourceSlot *slot, bytea *raw, const Grid *grid)
{
	EngineResult *r = &slot->eres;
	int			nops = list_length(slot->ops);
	int			nbuckets = slot->chunk_nbuckets;
	int			b;
	int			k;
	int			n = 0;

	engine_result_decode(raw, nops, nbuckets, slot->nbreakdowns, r);
	slot->res.nops = nops;
	slot->res.buckets = palloc(sizeof(int64) * (nbuckets + 1));
	slot->res.vals = palloc(sizeof(double) * ((size_t) nbuckets * nops + 1));
	for (b = 0; b < nbuckets; b++)
	{
		bool		any = false;

		for (k = 0; k < nops; k++)
			any |= !isnan(r->values[(size_t) k * nbuckets + b]);
		if (!any)
			continue;
		slot->res.buckets[n] = collect_slot_bucket(slot, grid, b);
		for (k = 0; k < nops; k++)
			slot->res.vals[(size_t) n * nops + k] = r->values[(size_t) k * nbuckets + b];
		n++;
	}
	slot->res.nrows = n;
}

/* The start of bucket b of the slot's chunk */
int64
collect_slot_bucket(const SourceSlot *slot, const Grid *grid, int b)
{
	if (slot->chunk_bounds != NULL)
		return slot->chunk_bounds[b];
	return slot->chunk_from + (int64) b * grid->width;
}

/* Arguments of a slot query run */
typedef struct SlotRun
{
	SourceSlot *slot;
	GridWindow	window;
	SlotResult *out;
	MemoryContext cxt;
	const Grid *grid;
} SlotRun;

/* Window parameters $1, $2 as timestamptz */
void
collect_window_params(GridWindow w, Oid *types, Datum *values)
{
	types[0] = TIMESTAMPTZOID;
	types[1] = TIMESTAMPTZOID;
	values[0] = TimestampTzGetDatum(unix_to_ts(w.from));
	values[1] = TimestampTzGetDatum(unix_to_ts(w.to));
}

/*
 * The rows a rolling slot reads for a chunk: window - 1 buckets before it,
 * so that the chunk's first bucket has its whole window (per-bucket slots:
 * the chunk).  On a calendar grid this is the one place that steps back
 * by buckets instead of a fixed width.
 */
GridWindow
collect_rolling_scan(GridWindow chunk, const Grid *grid, int window)
{
	GridWindow	scan = chunk;

	if (window > 1)
		scan.from = grid_step(grid, chunk.from, -(int64) (window - 1));
	return scan;
}

/* The bucket starts of a window, as a timestamptz[] Datum (rolling SQL's $3) */
Datum
collect_rolling_grid_param(GridWindow scan, const Grid *grid)
{
	int			n;
	int64_t    *bounds = grid_bounds(grid, scan, &n);
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = TimestampTzGetDatum(unix_to_ts(bounds[i]));
	core_free(bounds);
	return PointerGetDatum(construct_array(d, n, TIMESTAMPTZOID, sizeof(TimestampTz),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Fail a query that returned more rows than one chunk may hold */
void
collect_check_row_cap(const char *what)
{
	if (SPI_processed > TRIPL_MAX_CHUNK_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s returned more than %d rows for one chunk", what, TRIPL_MAX_CHUNK_ROWS),
				 errhint("Nothing of this chunk was written.  Lower tripl.chunk_buckets or set breakdown_values_limit.")));
}

/* Run a slot's query for one window, copying the results out (subxact body) */
static void
slot_run_body(void *arg)
{
	SlotRun    *run = arg;
	SourceSlot *slot = run->slot;
	Oid			types[3];
	Datum		values[3];
	MemoryContext old;
	int			nops = list_length(slot->ops);
	uint64		i;
	int			k;

	if (slot->engine)
	{
		Oid			etypes[3];
		Datum		evalues[3];
		bool		isnull;
		Datum		d;
		bytea	   *raw = NULL;

		collect_window_params(run->window, etypes, evalues);
		etypes[2] = BYTEAOID;
		evalues[2] = PointerGetDatum(slot->config);
		(void) userquery_execute_parallel(slot->sql, slot->role, slot->search_path,
										  tripl_parallel_workers, 3, etypes, evalues, NULL, 0);
		if (SPI_processed != 1)
			elog(ERROR, "tripl engine: expected one result row, got " UINT64_FORMAT, SPI_processed);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		old = MemoryContextSwitchTo(run->cxt);
		if (!isnull)
			raw = DatumGetByteaPCopy(d);
		else if (slot->window > 1)
			raw = engine_config_result(slot->config);	/* stored states, no new rows */
		engine_slot_result(slot, raw, run->grid);
		MemoryContextSwitchTo(old);
		return;
	}
	collect_window_params(run->window, types, values);
	if (slot->window > 1)
	{
		types[2] = TIMESTAMPTZARRAYOID;
		values[2] = collect_rolling_grid_param(run->window, run->grid);
	}
	(void) userquery_execute(slot->sql, slot->role, slot->search_path, slot->window > 1 ? 3 : 2,
							 types, values, NULL, 0);
	collect_check_row_cap("the collection query");

	old = MemoryContextSwitchTo(run->cxt);
	run->out->nrows = (int) SPI_processed;
	run->out->nops = nops;
	run->out->buckets = palloc(sizeof(int64) * (SPI_processed + 1));
	run->out->vals = palloc(sizeof(double) * (SPI_processed * nops + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, 1, &isnull);

		run->out->buckets[i] = isnull ? PG_INT64_MIN : ts_to_unix(DatumGetTimestampTz(d));
		for (k = 0; k < nops; k++)
		{
			d = SPI_getbinval(tup, desc, k + 2, &isnull);
			run->out->vals[i * nops + k] = isnull ? NAN : DatumGetFloat8(d);
		}
	}
	MemoryContextSwitchTo(old);
}

/* Run a slot's query for a chunk; on failure remember the error */
void
collect_slot_run(SourceSlot *slot, GridWindow chunk, const Grid *grid, MemoryContext cxt)
{
	SlotRun		run;
	int			errcode = 0;

	memset(&slot->res, 0, sizeof(SlotResult));
	memset(&slot->eres, 0, sizeof(EngineResult));
	run.slot = slot;
	run.window = (slot->engine && slot->roll_incremental) ? chunk :
		collect_rolling_scan(chunk, grid, slot->window);
	run.out = &slot->res;
	run.cxt = cxt;
	run.grid = grid;
	if (slot->engine && slot->window > 1)
		engine_set_preload(slot->roll_token, slot->roll_npre, slot->roll_ops, slot->roll_buckets,
						   slot->roll_images);
	slot->error = subxact_run_message(slot_run_body, &run, &errcode, &slot->node_failure);
	engine_set_preload(0, 0, NULL, NULL, NULL);
	slot->failed = (slot->error != NULL);
	slot->timed_out = slot->failed && userquery_is_time_limit(errcode, slot->error);

	/*
	 * Past the engine's memory limit, the slot is computed on the SQL path
	 * (whose aggregates spill to disk) from now on.
	 */
	if (slot->failed && slot->engine && errcode == ENGINE_MEMORY_ERRCODE)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(slot));

		ereport(LOG,
				(errmsg("%s", slot->error),
				 errdetail("Computing this source on the SQL path.")));
		slot->engine = false;
		slot->sql = collect_slot_sql(slot, grid);
		MemoryContextSwitchTo(old);
		collect_slot_run(slot, chunk, grid, cxt);
	}
}

/* Does a task that has not failed still read this slot in the chunk? */
bool
collect_slot_in_use(CollectGroup *g, SourceSlot *slot, GridWindow chunk)
{
	ListCell   *lc;

	foreach(lc, g->tasks)
	{
		MetricTask *t = lfirst(lc);

		if (!t->failed && t->win.to > chunk.from && t->win.from < chunk.to &&
			(t->slot[0] == slot || (t->nops == 2 && t->slot[1] == slot)))
			return true;
	}
	return false;
}

/*
 * When a shared slot failed, run the task's own operands on that source
 * alone, so one bad metric cannot fail its neighbours.  The retry takes the
 * SQL path: an engine failure reports as the reference path would.
 */
SourceSlot *
collect_slot_private(SourceSlot *shared, MetricTask *t, const Grid *grid, GridWindow chunk,
			 MemoryContext cxt, int *cols)
{
	SourceSlot *slot = palloc0(sizeof(SourceSlot));
	int			k;

	*slot = *shared;
	slot->ops = NIL;
	slot->engine = false;
	for (k = 0; k < t->nops; k++)
	{
		if (t->slot[k] == shared)
			cols[k] = collect_slot_operand(slot, list_nth(shared->ops, t->col[k]));
	}
	slot->sql = collect_slot_sql(slot, grid);
	collect_slot_run(slot, chunk, grid, cxt);
	return slot;
}

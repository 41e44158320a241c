/*-------------------------------------------------------------------------
 *
 * collect_slot.h
 *	  What a collection works on — groups, metric tasks, source slots — and
 *	  running a slot's statement for a chunk (collect_slot.c).  Internal to
 *	  collection (collect.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_COLLECT_SLOT_H
#define TRIPL_COLLECT_SLOT_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "aggsql.h"
#include "core/grid.h"
#include "defs.h"
#include "engine_pg.h"

/* Per-bucket results of one slot query for one chunk */
typedef struct SlotResult
{
	int			nrows;
	int			nops;
	int64	   *buckets;		/* Unix-epoch microseconds */
	double	   *vals;			/* nrows * nops; NaN for SQL NULL */
} SlotResult;

/* One source read by a group, with the operands computed over it */
typedef struct SourceSlot
{
	char		kind;			/* 'f' fact table, 'e' event source, 's' sql metric */
	int64		id;
	int			window;			/* rolling operands: their window in buckets
								 * (every operand of the slot); 0: per bucket */
	void	   *def;			/* its FactTableDef or EventSourceDef, loaded once */
	AggSource	src;
	char	   *value_column;	/* sql metrics */
	const char *search_path;
	Oid			role;
	List	   *ops;			/* AggOperand * */
	char	   *sql;
	SlotResult	res;
	bool		failed;
	bool		timed_out;		/* failed on its time limit: not retried */
	bool		node_failure;	/* failed to reach a node: not retried alone */
	char	   *error;
	/* the C engine (tripl.engine = c) */
	List	   *columns;		/* ColumnInfo * of the source, when known */
	bool		engine;			/* computed by tripl._engine_agg */
	bytea	   *config;			/* this chunk's engine configuration */
	bool	   *disjoint;		/* per operand: a count_distinct of the Citus
								 * distribution column (distsrc.c), or NULL:
								 * not inspected yet */
	int64		chunk_from;		/* this chunk's first bucket */
	int64	   *chunk_bounds;	/* calendar grids: the chunk's bucket starts */
	int			chunk_nbuckets;
	int			nbreakdowns;	/* engine breakdowns in this chunk */
	EngineResult eres;			/* this chunk's engine result */
	/* rolling slots on the C engine: per-bucket states kept between passes */
	bool		roll_incremental;	/* this chunk reads only its own buckets;
									 * the window's earlier ones are stored */
	int64		roll_token;		/* this chunk's statement (engine_set_preload) */
	int			roll_npre;		/* stored states merged in: operand, bucket
								 * index, engine_bucket_image's bytes */
	int		   *roll_ops;
	int		   *roll_buckets;
	bytea	  **roll_images;
} SourceSlot;

/* One metric being collected */
typedef struct MetricTask
{
	MetricDef  *m;
	GridWindow	win;
	int			nops;			/* 1 (single) or 2 (ratio) */
	SourceSlot *slot[2];
	int			col[2];
	bool		ratio;
	bool		failed;
	bool		node_failure;	/* failed to reach a node: retried next tick */
	char	   *error;
	int			rows_written;
	int64		changed_from;
	bool		ranked;			/* breakdown ranks computed */
	List	   *rank_values;	/* per breakdown: List of kept values (char *) */
	List	   *rank_nulls;		/* per breakdown: intVal 1 when NULL is kept */
	List	   *rank_limited;	/* per breakdown: intVal 1 when values are folded */
	int			bd_base;		/* engine breakdown index of the first breakdown in
								 * this chunk, or -1 */
	bool		multi_chunk;	/* the window spans more than one chunk */
	bool		replay;			/* an explicit window: rolling metrics rescan
								 * every bucket of their windows */
	List	   *input_tasks;	/* derived: the tasks of its inputs in this pass */
	int			depth;			/* derived: 1 + the deepest derived input's */
	char	   *read_error;		/* derived: inputs its owner may no longer read */
} MetricTask;

/* Metrics sharing an owner and a bucket grid */
typedef struct CollectGroup
{
	Oid			owner;
	Grid		grid;
	List	   *tasks;
	List	   *slots;
} CollectGroup;

extern int	collect_slot_operand(SourceSlot *slot, AggOperand *op);
extern char *collect_slot_sql(SourceSlot *slot, const Grid *grid);
extern AggOperand *collect_task_operands(MetricTask *t);
extern char *collect_task_rank_filter(MetricTask *t);
extern void collect_check_row_cap(const char *what);
extern void collect_slot_engine_prepare(SourceSlot *slot, CollectGroup *g, GridWindow chunk);
extern SourceSlot *collect_slot_private(SourceSlot *shared, MetricTask *t, const Grid *grid, GridWindow chunk, MemoryContext cxt, int *cols);
extern bool collect_slot_engine_ok(SourceSlot *slot);
extern bool collect_slot_in_use(CollectGroup *g, SourceSlot *slot, GridWindow chunk);
extern void collect_slot_run(SourceSlot *slot, GridWindow chunk, const Grid *grid, MemoryContext cxt);
extern int64 collect_slot_bucket(const SourceSlot *slot, const Grid *grid, int b);
extern void collect_window_params(GridWindow w, Oid *types, Datum *values);
extern void collect_slot_keep_states(SourceSlot *slot, CollectGroup *g, GridWindow chunk);
extern GridWindow collect_rolling_scan(GridWindow chunk, const Grid *grid, int window);
extern Datum collect_rolling_grid_param(GridWindow scan, const Grid *grid);

#endif							/* TRIPL_COLLECT_SLOT_H */

/*-------------------------------------------------------------------------
 *
 * engine.h
 *	  The aggregation engine (pure C): one pass over a source's rows
 *	  computes several operands (count, sum, avg, min, max, count_distinct,
 *	  percentile, approx_percentile, approx_distinct, each optionally
 *	  filtered) per time bucket, and per (group value,
 *	  bucket) for breakdowns, with optional "top N-1 values plus 'Other'"
 *	  folding.  The time dimension is a dense array index: no hashing.
 *
 *	  The result contract matches PostgreSQL's SQL (see engine.c for the
 *	  details): a cell with no matching row is a gap (NaN), never a 0;
 *	  count_distinct is exact; min/max follow float8's ordering, where NaN
 *	  is greater than every other value; percentile equals
 *	  percentile_cont(p) WITHIN GROUP (ORDER BY measure) (NaN sorting last);
 *	  approx_percentile is within 1 % of it (relative), approx_distinct is
 *	  exact up to 1024 values and has a 0.81 % standard error beyond.
 *
 *	  Memory comes from core_alloc()/core_free() only.  No mutable globals:
 *	  states are independent.  Errors are reported through (errbuf, errlen)
 *	  as lower-case messages without a trailing period.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ENGINE_H
#define TRIPL_ENGINE_H

#include "core.h"

/* Upper limits on a spec's sizes (larger specs are rejected) */
#define ENGINE_MAX_OPERANDS		4096
#define ENGINE_MAX_BREAKDOWNS	4096
#define ENGINE_MAX_COLUMNS		65536	/* filters, measures, keys, groups */
#define ENGINE_MAX_WINDOW		100000	/* buckets of a rolling window */

typedef enum EngineAgg
{
	ENGINE_COUNT,
	ENGINE_SUM,
	ENGINE_AVG,
	ENGINE_MIN,
	ENGINE_MAX,
	ENGINE_COUNT_DISTINCT,
	ENGINE_PERCENTILE,			/* exact percentile_cont(percentile) */
	ENGINE_APPROX_PERCENTILE,	/* DDSketch (ddsketch.h), relative error 1 % */
	ENGINE_APPROX_DISTINCT		/* HyperLogLog (hll.h) */
} EngineAgg;

typedef struct EngineOperand
{
	EngineAgg	agg;
	int			filter;			/* index into row->filters, or -1: every row */
	int			measure;		/* index into row->measures (sum/avg/min/max),
								 * else -1 (ignored) */
	int			key;			/* index into row->keys (count_distinct,
								 * approx_distinct), else -1 (ignored) */
	double		percentile;		/* in (0, 1): percentile, approx_percentile;
								 * else ignored */
	int			window;			/* rolling: the value at bucket b combines
								 * buckets b-window+1 .. b (engine_values);
								 * 0 or 1: per bucket */
	bool		disjoint;		/* count_distinct: the states merged into one
								 * another hold disjoint sets of keys (each
								 * holds its own values of a Citus
								 * distribution column), so engine_ship()
								 * ships counts, not sets; else ignored */
} EngineOperand;

/*
 * A value: by-value (an exact int64) or bytes; NULL allowed.  As a group
 * value, a by-value int64 stands for its decimal text (what ::text gives).
 * As a count_distinct key, by-value keys and byte keys never equal each
 * other (a column has one type).
 */
typedef struct EngineValue
{
	bool		isnull;
	bool		byval;			/* true: ival is the value; false: data/len are
								 * the bytes */
	int64_t		ival;
	const char *data;
	uint32_t	len;
} EngineValue;

/*
 * One breakdown output: a column's values, with one (single) or two (ratio)
 * operands.  Values are folded into 'Other' when keep > 0 or use_preset.
 */
typedef struct EngineBreakdown
{
	int			group;			/* index into row->groups */
	int			nops;			/* 1 or 2 */
	int			ops[2];			/* operand indexes; with 2: ops[0] / ops[1] */
	int			keep;			/* 0: keep every value; else keep this many
								 * values and fold the rest into 'Other' */

	/*
	 * Ranking when keep > 0 and no preset: the rows counted for a value are
	 * those where any of rank_filters[] holds (nrank == 0: every row).  Only
	 * values with at least one counted row can be kept (as with the SQL
	 * "WHERE filter ... GROUP BY ... ORDER BY count DESC, v COLLATE "C"
	 * NULLS LAST LIMIT keep").
	 */
	int			nrank;			/* 0, 1 or 2 */
	int			rank_filters[2];
	/* or a preset kept list (copied at engine_create) */
	bool		use_preset;
	int			npreset;
	const char *const *preset;	/* values (bytes) */
	const uint32_t *preset_len;
	bool		preset_null;	/* NULL is kept */
} EngineBreakdown;

typedef struct EngineSpec
{
	int64_t		start;			/* bucket i covers [start + i*width, start +
								 * (i+1)*width) */
	int64_t		width;
	int			nbuckets;
	const int64_t *bounds;		/* NULL, or calendar grids: nbuckets + 1
								 * ascending starts (bounds[0] = start);
								 * bucket i covers [bounds[i], bounds[i+1]) */
	int			nfilters,
				nmeasures,
				nkeys,
				ngroups;
	int			nops;
	const EngineOperand *ops;
	int			nbreakdowns;
	const EngineBreakdown *breakdowns;
	int64_t		max_rows;		/* cap on result rows per result set; 0: no
								 * cap */
	bool		skip_main;		/* true: only breakdowns are computed
								 * (engine_values gives gaps) */
} EngineSpec;

typedef struct EngineRow
{
	int64_t		ts;				/* rows outside the grid are ignored */
	const bool *filters;		/* nfilters (a NULL filter result is false) */
	const double *measures;		/* nmeasures */
	const bool *measure_null;	/* nmeasures, or NULL: no NULL measure */
	const EngineValue *keys;	/* nkeys */
	const EngineValue *groups;	/* ngroups */
} EngineRow;

typedef struct EngineState EngineState;

/* One breakdown result row (see engine_breakdown_rows) */
typedef struct EngineBreakdownRow
{
	int			bucket;
	bool		value_null;
	const char *value;			/* into the state (valid until engine_free),
								 * or the literal "Other"; NULL when
								 * value_null */
	uint32_t	value_len;
	bool		is_other;
	double		v;				/* composed value */
} EngineBreakdownRow;

/*
 * engine_create: NULL (with a message) on a bad spec.  The spec is copied
 * (presets included): it need not outlive the state.
 *
 * engine_add: false when a cap was exceeded or the row is malformed; the
 * state may then hold part of the row and should only be freed.
 *
 * engine_merge: into += from (same spec, checked by a fingerprint); the
 * same results as if every row had been added to into.  from is unchanged.
 *
 * engine_serialize: the whole state as a core_alloc'ed image (native byte
 * order).  engine_ship: the same for a partial state that is only merged
 * with states of disjoint keys (another shard's): the sets of disjoint
 * count_distinct operands are replaced by their sizes (main values, and
 * breakdowns without folding into 'Other', whose folding unites the sets
 * of several values); merging adds those counts; and the image is in a
 * compact encoding (see engine_image.c).  engine_deserialize: the state
 * back from either image, given the same spec; NULL
 * with a message on a foreign, truncated or corrupt image.
 */
extern EngineState *engine_create(const EngineSpec *spec, char *errbuf, size_t errlen);
extern bool engine_add(EngineState *st, const EngineRow *row, char *errbuf, size_t errlen);
extern bool engine_merge(EngineState *into, const EngineState *from,
						 char *errbuf, size_t errlen);
extern void engine_serialize(const EngineState *st, char **buf, size_t *len);
extern void engine_ship(const EngineState *st, char **buf, size_t *len);
extern EngineState *engine_deserialize(const EngineSpec *spec, const char *buf, size_t len,
									   char *errbuf, size_t errlen);

/*
 * Rolling metrics keep per-bucket states between passes: the state of
 * operand op at bucket b (its accumulator: counts, sums, the exact set of
 * distinct keys, a sketch, a percentile buffer) as a core_alloc'ed image
 * (engine_bucket_image, native byte order, tagged with the engine's format
 * and the aggregation), and merged back into bucket b of a state with an
 * operand of the same aggregation (engine_bucket_load: false with a message
 * on a foreign, truncated or corrupt image, or another aggregation's).
 */
extern void engine_bucket_image(const EngineState *st, int op, int b, char **buf, size_t *len);
extern bool engine_bucket_load(EngineState *st, int op, int b, const char *buf, size_t len,
							   char *errbuf, size_t errlen);

/*
 * The same for a rolling metric's breakdown: the cells of breakdown bd at
 * bucket b (per value: its bytes, or NULL, and its operands' accumulators)
 * as an image, and merged back into bucket b of a state whose breakdown bd
 * has operands of the same aggregations (values are matched by their
 * bytes).  Loading fills only accumulators that are still empty: a
 * bucket's stored cells replace nothing and are not added to rows of the
 * same bucket, and an operand two breakdowns of one column share is loaded
 * once.  Only breakdowns without folding into 'Other' are kept this way
 * (folding ranks values over the whole window).
 */
extern void engine_bucket_breakdown_image(const EngineState *st, int bd, int b, char **buf, size_t *len);
extern bool engine_bucket_breakdown_load(EngineState *st, int bd, int b, const char *buf, size_t len,
										 char *errbuf, size_t errlen);
/*
 * Per operand, per bucket: out[nbuckets] gets the values, NaN for a gap;
 * an operand with a window gets its rolling values (engine_window_values)
 */
extern void engine_values(const EngineState *st, int op, double *out);

/*
 * Rolling values: out[b] combines the per-bucket states of buckets
 * max(0, b-window+1) .. b (sums and counts add, min/max, avg = sum/count,
 * sets unite, sketches and percentile buffers merge); NaN when none of
 * them has a matching row.  window <= 1: the per-bucket values.
 */
extern void engine_window_values(const EngineState *st, int op, int window, double *out);

/*
 * The rows of one breakdown output, in *rows (core_alloc'ed, to be freed
 * by the caller), sorted by bucket, then value (byte order, NULL after
 * the non-NULL values), 'Other' last.  Returns the number of rows, or -1
 * with a message when the folded cells outnumber max_rows.  A breakdown
 * of rolling operands (window > 1) is rolling too: the row of value v at
 * bucket b combines v's per-bucket states of buckets b-window+1 .. b
 * ('Other': the per-bucket folds of the values not kept), a gap when none
 * has a matching row; its rows start at bucket window-1, the first whose
 * whole window is in the grid, and max_rows bounds those rows.
 */
extern int	engine_breakdown_rows(const EngineState *st, int breakdown,
								  EngineBreakdownRow **rows, char *errbuf, size_t errlen);

/* Bytes allocated by the state (requested sizes, allocator overhead aside) */
extern size_t engine_memory(const EngineState *st);
extern void engine_free(EngineState *st);

/* Number of buckets that received at least one row (main values) */
extern int64_t engine_nonempty_buckets(const EngineState *st);

/*
 * Threshold filters.  Many filters on one source often differ only by a
 * constant on one column ("amount > 10", "amount > 20", ...).  Instead of
 * evaluating each per row, a row's value is located once among the sorted
 * distinct constants (a binary search); every such filter is then one
 * integer comparison (engine_threshold_holds).
 *
 * engine_threshold_rank: sorted[] holds the constants as doubles, ascending
 * in their exact order (the doubles of distinct exact constants may be
 * equal: a correctly rounded conversion is monotonic, not injective).
 * Returns lo, the number of constants below x, and *eq: x equals constant
 * lo.  Where x's double equals a constant's, the exact order decides:
 * cmp(arg, j) < 0, 0, > 0 as x is below, equal to, above constant j.  A NaN
 * x is above every constant (PostgreSQL's order).
 */
typedef enum EngineThresholdOp
{
	ENGINE_LT,					/* x < c */
	ENGINE_LE,					/* x <= c */
	ENGINE_GT,					/* x > c */
	ENGINE_GE,					/* x >= c */
	ENGINE_EQ,					/* x = c */
	ENGINE_NE					/* x <> c */
} EngineThresholdOp;

typedef int (*EngineExactCmp) (void *arg, int j);

extern int	engine_threshold_rank(const double *sorted, int n, double x,
								  EngineExactCmp cmp, void *arg, bool *eq);

/* Does "x op constant j" hold, given x's rank (lo, eq)? */
static inline bool
engine_threshold_holds(EngineThresholdOp op, int j, int lo, bool eq)
{
	bool		at = eq && j == lo;

	switch (op)
	{
		case ENGINE_LT:
			return j >= lo && !at;
		case ENGINE_LE:
			return j >= lo;
		case ENGINE_GT:
			return j < lo;
		case ENGINE_GE:
			return j < lo || at;
		case ENGINE_EQ:
			return at;
		case ENGINE_NE:
			return !at;
	}
	return false;
}

/* The 32-bit hash the engine's byte dictionaries use (exposed for tests) */
extern uint32_t engine_hash_bytes(const char *data, uint32_t len);

#endif							/* TRIPL_ENGINE_H */

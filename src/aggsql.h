/*-------------------------------------------------------------------------
 *
 * aggsql.h
 *	  Building the one multi-aggregate SELECT that computes, per bucket,
 *	  every operand of every metric on a source (fact table or event
 *	  source), plus the sql-metric and breakdown variants.
 *
 *	  Generated statements take the window as parameters: $1 = window start
 *	  and $2 = window end (timestamptz, half-open).  Breakdowns with a value
 *	  limit add $3 (text[] of kept values) and $4 (bool: NULL is kept);
 *	  rolling statements take the grid as $3, and those kept values as $4
 *	  and $5.
 *	  Every identifier is quoted with quote_identifier, every literal with
 *	  quote_literal_cstr; user fragments were checked by sqlguard.c and are
 *	  parenthesised on lines of their own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_AGGSQL_H
#define TRIPL_AGGSQL_H

#include "postgres.h"

#include "core/grid.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

typedef enum AggKind
{
	AGG_COUNT,
	AGG_SUM,
	AGG_AVG,
	AGG_MIN,
	AGG_MAX,
	AGG_COUNT_DISTINCT,
	AGG_DISTINCT_USERS,			/* count(DISTINCT user) over every row of an event source */
	AGG_PERCENTILE,				/* percentile_cont(percentile) */
	AGG_APPROX_PERCENTILE,		/* the C engine: a quantile sketch; SQL: exact */
	AGG_APPROX_COUNT_DISTINCT	/* the C engine: HyperLogLog; SQL: exact */
} AggKind;

/* One aggregate over a source: agg(column) FILTER (WHERE filter) */
typedef struct AggOperand
{
	AggKind		agg;
	char	   *column;			/* measure / distinct column; NULL for count */
	char	   *filter;			/* combined boolean SQL, or NULL for all rows */
	double		percentile;		/* percentile kinds: in (0, 1); else 0 */
} AggOperand;

/* What rows an aggregate query reads */
typedef struct AggSource
{
	const char *query;			/* the checked user SELECT */
	const char *ts_column;
	const char *ts_type;		/* timestamptz | timestamp | date */
} AggSource;

extern bool agg_kind_from_name(const char *name, AggKind *kind);
extern const char *agg_kind_name(AggKind kind);
extern bool agg_needs_measure(AggKind kind);
extern bool agg_needs_percentile(AggKind kind);
extern bool agg_counts_distinct(AggKind kind);
extern bool agg_operand_equal(const AggOperand *a, const AggOperand *b);

extern char *aggsql_bucket_expr(const AggSource *src, const Grid *g);
extern char *aggsql_window_clause(const AggSource *src);
extern void aggsql_append_aggregate(StringInfo buf, const AggOperand *op);
extern char *aggsql_operands_query(const AggSource *src, const Grid *g,
								   const AggOperand *ops, int nops,
								   const char *group_column, bool limited);
extern char *aggsql_rolling_query(const AggSource *src, const Grid *g, const AggOperand *ops,
								  int nops, int window, const char *group_column, bool limited);
extern char *aggsql_breakdown_rank_query(const AggSource *src, const char *group_column,
										 const char *filter, int keep);
extern char *aggsql_sql_metric_query(const AggSource *src, const Grid *g,
									 const char *value_column);
extern char *aggsql_engine_query(const AggSource *src, List *filters, bool filter_array, List *measures,
								 const bool *measure_native, List *keys, List *groups,
								 const bool *group_raw, bool rows);
extern char *aggsql_time_range(const AggSource *src, int64 from, int64 to);
extern void aggsql_append_filters(StringInfo buf, List *fragments);

/* Wrap a user query as a sub-query in generated SQL */
extern void aggsql_append_user_query(StringInfo buf, const char *query);

#endif							/* TRIPL_AGGSQL_H */

/*-------------------------------------------------------------------------
 *
 * defs.h
 *	  Reading definitions (fact tables, event sources, metrics) from the
 *	  catalog tables (defs.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DEFS_H
#define TRIPL_DEFS_H

#include "postgres.h"

#include "aggsql.h"
#include "core/grid.h"

/* An output column of a user query, as stored in the catalog */
typedef struct ColumnInfo
{
	char	   *name;
	char	   *type_class;		/* number | string | bool | timestamp */
	char	   *native_type;	/* format_type output */
} ColumnInfo;

typedef struct FactTableDef
{
	int64		id;
	char	   *name;
	char	   *query;
	char	   *ts_column;
	char	   *ts_type;
	List	   *identifiers;	/* char * */
	List	   *columns;		/* ColumnInfo * */
	List	   *filter_names;	/* char *, parallel to filter_sqls */
	List	   *filter_sqls;
	Oid			owner;
	char	   *search_path;
} FactTableDef;

typedef struct EventSourceDef
{
	int64		id;
	char	   *name;
	char	   *query;
	char	   *ts_column;
	char	   *ts_type;
	char	   *event_column;
	char	   *user_column;	/* NULL when none */
	List	   *columns;
	Oid			owner;
	char	   *search_path;
} EventSourceDef;

typedef struct OperandDef
{
	char	   *role;			/* value | numerator | denominator */
	int64		fact_table_id;
	AggKind		agg;
	char	   *measure_column;
	char	   *distinct_column;
	List	   *row_filters;	/* names */
	char	   *filter_sql;
	double		percentile;		/* percentile kinds: in (0, 1); else 0 */
} OperandDef;

typedef struct MetricDef
{
	int64		id;
	char	   *name;
	char	   *kind;			/* fact | sql | event_composition | derived */
	char	   *status;
	int64		width_us;		/* fixed grids: the width; calendar: nominal */
	char	   *timezone;		/* canonical zone name, 'UTC' */
	Grid		grid;			/* the bucket grid (doc/collection.md,
								 * "Calendar time") */
	char	   *composition;	/* single | ratio | per_distinct_user; NULL for sql */
	OperandDef *value;			/* fact single */
	OperandDef *numerator;		/* fact ratio */
	OperandDef *denominator;
	char	   *query;			/* sql */
	char	   *time_column;
	char	   *value_column;
	char	   *time_type;		/* timestamptz | timestamp | date */
	int64		event_source_id;	/* event_composition */
	char	   *numerator_event;
	char	   *denominator_event;
	char	   *expression;		/* derived */
	int			ninputs;		/* derived: its input metrics, by name */
	int64	   *input_ids;
	char	  **input_names;
	List	   *breakdowns;		/* char * */
	int			values_limit;	/* 0 = no limit */
	bool		anomaly_detection;
	char	   *unit;
	Oid			owner;
	char	   *search_path;
	int			window_buckets; /* rolling fact metrics: the window in buckets;
								 * 0: per bucket */
} MetricDef;

extern FactTableDef *defs_fact_table(const char *name, int64 id, bool missing_ok);
extern EventSourceDef *defs_event_source(const char *name, int64 id, bool missing_ok);
extern bool select_definition(const char *kind, const char *table, const char *columns,
							  const char *name, int64 id, bool missing_ok);
extern MetricDef *defs_metric(const char *name, bool missing_ok);
extern List *defs_metrics(const char *where, int nargs, Oid *argtypes, Datum *values);

extern ColumnInfo *defs_find_column(List *columns, const char *name, const char *role,
									const char *where);
extern char *defs_fact_filter_sql(const char *name, FactTableDef *ft);
extern char *defs_operand_filter(FactTableDef *ft, OperandDef *op);
extern void defs_check_source_owner(Oid metric_owner, Oid source_owner, const char *kind,
									const char *name);
extern bool defs_count_shaped(const MetricDef *m);

#endif							/* TRIPL_DEFS_H */

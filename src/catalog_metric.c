/*-------------------------------------------------------------------------
 *
 * catalog_metric.c
 *	  The metric definition functions: create/alter/drop metrics of the
 *	  four kinds (fact: operands over a fact table; sql: a query of its
 *	  own; event_composition: events of an event source; derived: an
 *	  expression over other metrics, core/derived.c).  As catalog.c,
 *	  every function validates fully (defcheck.c) before writing anything.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "aggsql.h"
#include "core/derived.h"
#include "core/grid.h"
#include "defcheck.h"
#include "defs.h"
#include "fnargs.h"
#include "grid_pg.h"
#include "guc.h"
#include "privilege.h"
#include "spiutil.h"
#include "sqlguard.h"
#include "tripl.h"
#include "userquery.h"

TRIPL_SQL_FUNCTION(tripl_create_metric);
TRIPL_SQL_FUNCTION(tripl_alter_metric);
TRIPL_SQL_FUNCTION(tripl_drop_metric);

/*--------------------------------------------------------------------
 * Metrics
 *--------------------------------------------------------------------
 */

/* The arguments describing one fact operand */
typedef struct OperandArgs
{
	char	   *fact_table;
	char	   *aggregation;
	char	   *measure_column;
	char	   *distinct_column;
	List	   *row_filters;
	char	   *filter_sql;
	bool		percentile_given;
	double		percentile;
} OperandArgs;

/* The aggregations, for hints */
#define AGGREGATIONS_HINT "Use count, sum, avg, min, max, count_distinct, percentile, approx_percentile or approx_count_distinct."

/* Parse a ratio operand given as jsonb */
static void
parse_operand_json(Jsonb *j, const char *role, OperandArgs *out)
{
	Oid			types[1] = {JSONBOID};
	Datum		vals[1] = {JsonbPGetDatum(j)};
	uint64		i;
	uint64		n;
	List	   *keys = NIL;
	List	   *texts = NIL;
	List	   *kinds = NIL;
	ListCell   *lk;
	ListCell   *lt;
	ListCell   *lj;

	memset(out, 0, sizeof(OperandArgs));
	catalog_execute("SELECT jsonb_typeof($1)", 1, types, vals, NULL, true, 0);
	if (strcmp(spi_text(0, 0), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", role),
				 errhint("For example: '{\"fact_table\": \"orders\", \"aggregation\": \"sum\", \"measure_column\": \"amount\"}'.")));
	catalog_execute("SELECT key, value #>> '{}', jsonb_typeof(value) FROM jsonb_each($1) ORDER BY key",
					1, types, vals, NULL, true, 0);
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		keys = lappend(keys, (char *) spi_text(i, 0));
		texts = lappend(texts, (char *) spi_text(i, 1));
		kinds = lappend(kinds, (char *) spi_text(i, 2));
	}
	forthree(lk, keys, lt, texts, lj, kinds)
	{
		char	   *key = lfirst(lk);
		char	   *text = lfirst(lt);
		char	   *kind = lfirst(lj);

		if (strcmp(kind, "null") == 0)
			continue;
		if (strcmp(key, "row_filters") == 0)
		{
			Datum		v2[1];
			uint64		k;

			if (strcmp(kind, "array") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s.row_filters must be an array of row filter names", role)));
			v2[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
			catalog_execute("SELECT e #>> '{}', jsonb_typeof(e) FROM jsonb_array_elements($1) e",
							1, types, v2, NULL, true, 0);
			for (k = 0; k < SPI_processed; k++)
			{
				char	   *fname = (char *) spi_text(k, 0);

				if (strcmp(spi_text(k, 1), "string") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("%s.row_filters must contain only strings", role)));
				if (!list_has_string(out->row_filters, fname))
					out->row_filters = lappend(out->row_filters, fname);
			}
			continue;
		}
		if (strcmp(key, "percentile") == 0)
		{
			if (strcmp(kind, "number") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s.percentile must be a number", role)));
			out->percentile_given = true;
			out->percentile = DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(text)));
			continue;
		}
		if (strcmp(kind, "string") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s.%s must be a string", role, key)));
		if (strcmp(key, "fact_table") == 0)
			out->fact_table = text;
		else if (strcmp(key, "aggregation") == 0)
			out->aggregation = text;
		else if (strcmp(key, "measure_column") == 0)
			out->measure_column = text;
		else if (strcmp(key, "distinct_column") == 0)
			out->distinct_column = text;
		else if (strcmp(key, "filter_sql") == 0)
			out->filter_sql = text;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in %s", key, role),
					 errhint("An operand has fact_table, aggregation, measure_column, distinct_column, percentile, row_filters and filter_sql.")));
	}
}

/*
 * Validate one fact operand: fact table, aggregation rules, columns and
 * filters, then plan its aggregate as the caller.
 */
static OperandDef *
check_operand(OperandArgs *a, const char *role, const char *label, const Grid *grid,
			  FactTableDef **ft_out)
{
	OperandDef *op = palloc0(sizeof(OperandDef));
	FactTableDef *ft;
	char	   *where;
	ListCell   *lc;
	AggOperand agg;
	AggSource	src;
	ErrorContextCallback ecb;

	op->role = (char *) role;
	if (a->fact_table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%sfact_table is required for a fact metric", label)));
	ft = defs_fact_table(a->fact_table, 0, false);
	defs_check_source_owner(GetUserId(), ft->owner, "fact table", ft->name);
	op->fact_table_id = ft->id;
	where = psprintf("fact table \"%s\"", ft->name);

	if (a->aggregation == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%saggregation is required for a fact metric", label),
				 errhint(AGGREGATIONS_HINT)));
	if (!agg_kind_from_name(a->aggregation, &op->agg))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %saggregation \"%s\"", label, a->aggregation),
				 errhint(AGGREGATIONS_HINT)));
	if (agg_needs_percentile(op->agg))
	{
		if (!a->percentile_given)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%spercentile is required for aggregation %s", label, a->aggregation),
					 errhint("Give the fraction, for example percentile => 0.95 for the 95th percentile.")));
		if (!(a->percentile > 0.0 && a->percentile < 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%spercentile must be between 0 and 1 (exclusive), not %g", label, a->percentile)));
		op->percentile = a->percentile;
	}
	else
		defcheck_forbid(a->percentile_given, psprintf("%spercentile", label),
						psprintf("with aggregation %s", a->aggregation));
	if (agg_needs_measure(op->agg))
	{
		ColumnInfo *c;

		if (a->measure_column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%smeasure_column is required for aggregation %s", label, a->aggregation)));
		c = defs_find_column(ft->columns, a->measure_column, "measure column", where);
		if (strcmp(c->type_class, "number") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%smeasure column \"%s\" has type %s", label, c->name, c->native_type),
					 errhint("%s needs a numeric column.", a->aggregation)));
		op->measure_column = a->measure_column;
	}
	else
		defcheck_forbid(a->measure_column != NULL, psprintf("%smeasure_column", label),
			   psprintf("with aggregation %s", a->aggregation));
	if (agg_counts_distinct(op->agg))
	{
		if (a->distinct_column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%sdistinct_column is required for aggregation %s", label, a->aggregation)));
		(void) defs_find_column(ft->columns, a->distinct_column, "distinct column", where);
		op->distinct_column = a->distinct_column;
	}
	else
		defcheck_forbid(a->distinct_column != NULL, psprintf("%sdistinct_column", label),
			   psprintf("with aggregation %s", a->aggregation));
	foreach(lc, a->row_filters)
	{
		if (defs_fact_filter_sql(lfirst(lc), ft) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("row filter \"%s\" does not exist on fact table \"%s\"",
							(char *) lfirst(lc), ft->name),
					 ft->filter_names ? errhint("Its row filters are: %s.", join_names(ft->filter_names)) :
					 errhint("It has no row filters.")));
	}
	op->row_filters = a->row_filters;
	if (a->filter_sql)
		op->filter_sql = sqlguard_fragment(a->filter_sql, psprintf("%sfilter_sql", label));

	/* plan the aggregate collection will run, with the caller's rights */
	agg.agg = op->agg;
	agg.column = op->measure_column ? op->measure_column : op->distinct_column;
	agg.filter = defs_operand_filter(ft, op);
	agg.percentile = op->percentile;
	src.query = ft->query;
	src.ts_column = ft->ts_column;
	src.ts_type = ft->ts_type;
	ecb.callback = defcheck_context_callback;
	ecb.arg = psprintf("while checking the %saggregate over fact table \"%s\"", label, ft->name);
	ecb.previous = error_context_stack;
	error_context_stack = &ecb;
	defcheck_plan_as_caller(aggsql_operands_query(&src, grid, &agg, 1, NULL, false), ft->search_path, 2);
	error_context_stack = ecb.previous;

	*ft_out = ft;
	return op;
}

/* Insert an operand row */
static void
insert_operand(int64 metric_id, OperandDef *op)
{
	Oid			types[9] = {INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID,
	FLOAT8OID};
	Datum		vals[9];
	char		nulls[10] = "         ";

	vals[0] = Int64GetDatum(metric_id);
	vals[1] = CStringGetTextDatum(op->role);
	vals[2] = Int64GetDatum(op->fact_table_id);
	vals[3] = CStringGetTextDatum(agg_kind_name(op->agg));
	spi_param_text(vals, nulls, 4, op->measure_column);
	spi_param_text(vals, nulls, 5, op->distinct_column);
	vals[6] = defcheck_name_list_datum(op->row_filters);
	spi_param_text(vals, nulls, 7, op->filter_sql);
	vals[8] = Float8GetDatum(op->percentile);
	/* the percentile column only when used: a 0.1 catalog has none */
	if (agg_needs_percentile(op->agg))
		catalog_execute("INSERT INTO tripl.metric_operands (metric_id, role, fact_table_id, aggregation, "
						"measure_column, distinct_column, row_filters, filter_sql, percentile) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
						9, types, vals, nulls, false, 0);
	else
		catalog_execute("INSERT INTO tripl.metric_operands (metric_id, role, fact_table_id, aggregation, "
						"measure_column, distinct_column, row_filters, filter_sql) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
						8, types, vals, nulls, false, 0);
}

/* Check a metric status value */
static void
check_status(const char *status)
{
	if (strcmp(status, "draft") != 0 && strcmp(status, "active") != 0 &&
		strcmp(status, "archived") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid status \"%s\"", status),
				 errhint("Use draft, active or archived.")));
}

/*
 * Positions of tripl.create_metric's arguments (0-based) past unit: the
 * calendar change's time zone, then this file's percentile, window and
 * expression
 */
#define ARG_TIMEZONE	24		/* calendar time: added by the calendar change */
#define ARG_PERCENTILE	25
#define ARG_WINDOW		26
#define ARG_EXPRESSION	27

/* Every argument of tripl.create_metric, and what validation derives */
typedef struct MetricArgs
{
	/* the arguments */
	char	   *name;
	char	   *kind;
	Interval   *bucket;
	char	   *status;
	OperandArgs single;			/* the operand of a single fact metric */
	bool		single_given;	/* any of its arguments given */
	Jsonb	   *numerator;
	Jsonb	   *denominator;
	char	   *query;
	char	   *time_column;
	char	   *value_column;
	char	   *event_source;
	char	   *numerator_event;
	char	   *denominator_event;
	char	   *composition;
	List	   *breakdowns;
	bool		limit_given;
	int			values_limit;
	bool		anomaly_detection;
	bool		anomaly_detection_null;
	char	   *description;
	char	   *unit;
	Interval   *window;			/* rolling window, or NULL */
	int			window_buckets; /* derived: the window in buckets */
	char	   *expression;		/* derived metrics */
	char	   *timezone;		/* NULL: tripl.timezone */
	char	   *search_path;

	/* derived by validation */
	Grid		grid;
	OperandDef *ops[2];
	int			nops;
	List	   *breakdown_columns;	/* the columns breakdowns may use */
	char	   *breakdown_where;	/* where those come from, for errors */
	char	   *time_type;		/* sql metrics */
	int64		es_id;			/* event_composition metrics */
	int64	   *input_ids;		/* derived metrics: the metrics named */
	int			ninputs;
} MetricArgs;

/*
 * Check a bucket width in a time zone (*zone NULL: tripl.timezone) and
 * build its grid; *zone becomes the zone's canonical name.
 */
static void
check_grid(Interval *bucket, char **zone, Grid *grid)
{
	const char *problem;

	*zone = grid_pg_zone(*zone ? *zone : tripl_timezone, *zone ? "timezone" : "tripl.timezone");
	problem = grid_pg_make(grid, bucket, *zone);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid bucket width: %s", problem),
				 errdetail("The bucket given was %s in time zone %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(bucket))), *zone),
				 errhint("Use a width such as '15 minutes', '1 hour', '1 day', '1 week', '1 month', '3 months' or '1 year' "
						 "(doc/collection.md, \"Calendar time\").")));
}

/* Read create_metric's arguments */
static void
metric_args_read(FunctionCallInfo fcinfo, MetricArgs *m)
{
	OperandArgs *s = &m->single;

	memset(m, 0, sizeof(*m));
	m->name = fn_arg_text(fcinfo, 0);
	m->kind = fn_arg_text(fcinfo, 1);
	m->bucket = PG_ARGISNULL(2) ? NULL : PG_GETARG_INTERVAL_P(2);
	m->status = fn_arg_text(fcinfo, 3);
	s->fact_table = fn_arg_text(fcinfo, 4);
	s->aggregation = fn_arg_text(fcinfo, 5);
	s->measure_column = fn_arg_text(fcinfo, 6);
	s->distinct_column = fn_arg_text(fcinfo, 7);
	s->row_filters = fn_arg_name_list(fcinfo, 8, "row_filters");
	s->filter_sql = fn_arg_text(fcinfo, 9);
	m->single_given = s->fact_table || s->aggregation || s->measure_column ||
		s->distinct_column || s->row_filters || s->filter_sql;
	m->numerator = PG_ARGISNULL(10) ? NULL : PG_GETARG_JSONB_P(10);
	m->denominator = PG_ARGISNULL(11) ? NULL : PG_GETARG_JSONB_P(11);
	m->query = fn_arg_text(fcinfo, 12);
	m->time_column = fn_arg_text(fcinfo, 13);
	m->value_column = fn_arg_text(fcinfo, 14);
	m->event_source = fn_arg_text(fcinfo, 15);
	m->numerator_event = fn_arg_text(fcinfo, 16);
	m->denominator_event = fn_arg_text(fcinfo, 17);
	m->composition = fn_arg_text(fcinfo, 18);
	m->breakdowns = fn_arg_name_list(fcinfo, 19, "breakdowns");
	m->limit_given = !PG_ARGISNULL(20);
	m->values_limit = m->limit_given ? PG_GETARG_INT32(20) : 0;
	m->anomaly_detection_null = PG_ARGISNULL(21);
	m->anomaly_detection = m->anomaly_detection_null ? false : PG_GETARG_BOOL(21);
	m->description = fn_arg_text(fcinfo, 22);
	m->unit = fn_arg_text(fcinfo, 23);
	m->timezone = PG_NARGS() > ARG_TIMEZONE ? fn_arg_text(fcinfo, ARG_TIMEZONE) : NULL;
	/*
	 * The newer arguments exist only once the update script ran (a 0.1
	 * catalog calls this library with 24 arguments).
	 */
	if (PG_NARGS() > ARG_EXPRESSION)
	{
		s->percentile_given = !PG_ARGISNULL(ARG_PERCENTILE);
		s->percentile = s->percentile_given ? PG_GETARG_FLOAT8(ARG_PERCENTILE) : 0.0;
		m->single_given |= s->percentile_given;
		m->window = PG_ARGISNULL(ARG_WINDOW) ? NULL : PG_GETARG_INTERVAL_P(ARG_WINDOW);
		m->expression = fn_arg_text(fcinfo, ARG_EXPRESSION);
	}
	m->search_path = current_search_path();
}

/*
 * A rolling window: a fact metric's, a positive whole multiple of the
 * bucket of at most TRIPL_MAX_WINDOW_BUCKETS buckets (breakdowns roll over
 * it too).  Sets window_buckets.
 */
static void
metric_check_window(MetricArgs *m)
{
	const char *given = DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(m->window)));
	const char *problem;
	int64		k;

	if (strcmp(m->kind, "fact") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window is not allowed for %s metrics", m->kind),
				 errhint("Rolling windows apply to fact metrics.")));
	problem = grid_window_buckets(&m->grid, m->window->month, m->window->day, m->window->time, &k);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid window %s: %s", given, problem),
				 errdetail("The bucket is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(m->bucket)))),
				 errhint("A rolling window is a whole positive number of buckets.")));
	if (k > TRIPL_MAX_WINDOW_BUCKETS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("window %s spans " INT64_FORMAT " buckets, more than %d", given,
						k, TRIPL_MAX_WINDOW_BUCKETS),
				 errhint("Use a wider bucket.")));
	m->window_buckets = (int) k;
}

/* Validate the arguments every kind shares (no catalog access) */
static void
metric_check_common(MetricArgs *m)
{
	check_definition_name(m->name, "metric");
	if (m->kind == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kind must not be NULL"),
				 errhint("Use fact, sql, event_composition or derived.")));
	if (strcmp(m->kind, "fact") != 0 && strcmp(m->kind, "sql") != 0 &&
		strcmp(m->kind, "event_composition") != 0 && strcmp(m->kind, "derived") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid metric kind \"%s\"", m->kind),
				 errhint("Use fact, sql, event_composition or derived.")));
	if (m->bucket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bucket must not be NULL")));
	check_grid(m->bucket, &m->timezone, &m->grid);
	if (m->status == NULL)
		m->status = "active";
	check_status(m->status);
	if (m->limit_given && m->values_limit < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("breakdown_values_limit must be at least 2"),
				 errdetail("With a limit of N, the N-1 most frequent values are kept and the rest are folded into 'Other'.")));
	if (m->limit_given && m->breakdowns == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("breakdown_values_limit needs breakdowns")));
	if (m->anomaly_detection_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("anomaly_detection must not be NULL")));
	check_text_length(m->description, TRIPL_MAX_TEXT_LENGTH, "description");
	check_text_length(m->unit, 50, "unit");
	if (m->window != NULL)
		metric_check_window(m);
	if (strcmp(m->kind, "derived") != 0)
		defcheck_forbid(m->expression != NULL, "expression",
						psprintf("for a %s metric (it belongs to derived metrics)", m->kind));
	if (m->composition && strcmp(m->composition, "single") != 0 &&
		strcmp(m->composition, "ratio") != 0 &&
		strcmp(m->composition, "per_distinct_user") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid composition \"%s\"", m->composition),
				 errhint("Use single, ratio or per_distinct_user.")));
}

/* A fact metric: its operands over fact tables, planned as the caller */
static void
metric_check_fact(MetricArgs *m)
{
	FactTableDef *ft1 = NULL;
	FactTableDef *ft2 = NULL;

	defcheck_forbid(m->query != NULL, "query", "for a fact metric (it belongs to sql metrics)");
	defcheck_forbid(m->time_column != NULL, "time_column", "for a fact metric");
	defcheck_forbid(m->value_column != NULL && strcmp(m->value_column, "value") != 0, "value_column", "for a fact metric");
	defcheck_forbid(m->event_source != NULL, "event_source", "for a fact metric");
	defcheck_forbid(m->numerator_event != NULL, "numerator_event", "for a fact metric");
	defcheck_forbid(m->denominator_event != NULL, "denominator_event", "for a fact metric");
	if (m->numerator || m->denominator)
	{
		OperandArgs na;
		OperandArgs da;

		if (m->composition && strcmp(m->composition, "ratio") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a fact metric with numerator and denominator is a ratio, not %s", m->composition)));
		if (!m->numerator || !m->denominator)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a ratio fact metric needs both numerator and denominator")));
		defcheck_forbid_single_fact_args(m->single_given, "for a ratio metric; give them inside numerator and denominator");
		m->composition = "ratio";
		parse_operand_json(m->numerator, "numerator", &na);
		parse_operand_json(m->denominator, "denominator", &da);
		m->ops[0] = check_operand(&na, "numerator", "numerator ", &m->grid, &ft1);
		m->ops[1] = check_operand(&da, "denominator", "denominator ", &m->grid, &ft2);
		m->nops = 2;
		if (m->breakdowns != NIL && ft1->id != ft2->id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("breakdowns of a ratio need numerator and denominator on one fact table"),
					 errdetail("The numerator uses \"%s\", the denominator \"%s\".", ft1->name, ft2->name)));
	}
	else
	{
		if (m->composition && strcmp(m->composition, "single") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a fact metric without numerator and denominator is single, not %s", m->composition)));
		m->composition = "single";
		m->ops[0] = check_operand(&m->single, "value", "", &m->grid, &ft1);
		m->nops = 1;
	}
	m->breakdown_columns = ft1->columns;
	m->breakdown_where = psprintf("fact table \"%s\"", ft1->name);
}

/* A sql metric: its query, time and value columns, planned as the caller */
static void
metric_check_sql(MetricArgs *m)
{
	CheckedQuery *cq;
	AggSource	src;
	char	   *where;
	ColumnInfo *vc;

	defcheck_forbid_single_fact_args(m->single_given, "for a sql metric");
	defcheck_forbid(m->numerator != NULL || m->denominator != NULL, "numerator or denominator", "for a sql metric");
	defcheck_forbid(m->event_source != NULL, "event_source", "for a sql metric");
	defcheck_forbid(m->numerator_event != NULL || m->denominator_event != NULL,
					"numerator_event or denominator_event", "for a sql metric");
	defcheck_forbid(m->composition != NULL, "composition", "for a sql metric");
	defcheck_forbid(m->breakdowns != NIL, "breakdowns", "for a sql metric");
	if (m->time_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("time_column is required for a sql metric")));
	if (m->value_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("value_column must not be NULL")));
	where = psprintf("the query of metric \"%s\"", m->name);
	cq = defcheck_query(m->query, "metric query", m->search_path);
	m->time_type = (char *) defcheck_time_column(cq, m->time_column, "time column", where);
	vc = defs_find_column(cq->columns, m->value_column, "value column", where);
	if (strcmp(vc->type_class, "number") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("value column \"%s\" has type %s", m->value_column, vc->native_type),
				 errhint("A sql metric's value column must be numeric.")));
	m->query = cq->query;
	src.query = m->query;
	src.ts_column = m->time_column;
	src.ts_type = m->time_type;
	defcheck_plan_as_caller(aggsql_sql_metric_query(&src, &m->grid, m->value_column), m->search_path, 2);
}

/* An event_composition metric: its event source and events, planned as the caller */
static void
metric_check_events(MetricArgs *m)
{
	EventSourceDef *es;
	AggSource	src;
	AggOperand	aops[2];
	int			naops = 1;

	defcheck_forbid_single_fact_args(m->single_given, "for an event_composition metric");
	defcheck_forbid(m->numerator != NULL || m->denominator != NULL, "numerator or denominator (jsonb)",
					"for an event_composition metric; use numerator_event and denominator_event");
	defcheck_forbid(m->query != NULL, "query", "for an event_composition metric");
	defcheck_forbid(m->time_column != NULL, "time_column", "for an event_composition metric");
	defcheck_forbid(m->value_column != NULL && strcmp(m->value_column, "value") != 0, "value_column",
					"for an event_composition metric");
	if (m->event_source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event_source is required for an event_composition metric")));
	if (m->numerator_event == NULL || m->numerator_event[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("numerator_event is required for an event_composition metric")));
	check_text_length(m->numerator_event, 500, "numerator_event");
	check_text_length(m->denominator_event, 500, "denominator_event");
	if (m->composition == NULL)
		m->composition = m->denominator_event ? "ratio" : "single";
	if (strcmp(m->composition, "ratio") == 0)
	{
		if (m->denominator_event == NULL || m->denominator_event[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("denominator_event is required for a ratio")));
	}
	else
		defcheck_forbid(m->denominator_event != NULL, "denominator_event",
						psprintf("with composition %s", m->composition));
	es = defs_event_source(m->event_source, 0, false);
	defs_check_source_owner(GetUserId(), es->owner, "event source", es->name);
	m->es_id = es->id;
	if (strcmp(m->composition, "per_distinct_user") == 0 && es->user_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per_distinct_user needs an event source with a user column"),
				 errdetail("Event source \"%s\" has none.", es->name)));
	m->breakdown_columns = es->columns;
	m->breakdown_where = psprintf("event source \"%s\"", es->name);

	/* plan the counts collection will run, with the caller's rights */
	src.query = es->query;
	src.ts_column = es->ts_column;
	src.ts_type = es->ts_type;
	aops[0].agg = AGG_COUNT;
	aops[0].column = NULL;
	aops[0].filter = psprintf("(_src.%s)::text = %s", quote_identifier(es->event_column),
							  quote_literal_cstr(m->numerator_event));
	if (strcmp(m->composition, "per_distinct_user") == 0)
	{
		aops[1].agg = AGG_DISTINCT_USERS;
		aops[1].column = es->user_column;
		aops[1].filter = NULL;
		naops = 2;
	}
	defcheck_plan_as_caller(aggsql_operands_query(&src, &m->grid, aops, naops, NULL, false),
							es->search_path, 2);
}

/* The bucket of a metric as text, for messages */
static char *
metric_bucket_text(int64 id)
{
	Oid			types[1] = {INT8OID};
	Datum		vals[1] = {Int64GetDatum(id)};

	catalog_execute("SELECT bucket::text FROM tripl.metrics WHERE id = $1", 1, types, vals, NULL, true, 0);
	return pstrdup(spi_text(0, 0));
}

/*
 * A derived metric: its expression parses (core/derived.c), and every
 * metric it names exists, is readable by the caller, has the same buckets
 * and is not archived.  A cycle would need an input that uses the new
 * metric: expressions never change and inputs cannot be dropped while
 * used, so the only possible one is a metric naming itself.
 */
static void
metric_check_derived(MetricArgs *m)
{
	DerivedExpr *e;
	DerivedError kind;
	char		errbuf[512];
	int			k;
	const char *why = "for a derived metric";

	defcheck_forbid_single_fact_args(m->single_given, why);
	defcheck_forbid(m->numerator != NULL || m->denominator != NULL, "numerator or denominator", why);
	defcheck_forbid(m->query != NULL, "query", why);
	defcheck_forbid(m->time_column != NULL, "time_column", why);
	defcheck_forbid(m->value_column != NULL && strcmp(m->value_column, "value") != 0, "value_column", why);
	defcheck_forbid(m->event_source != NULL, "event_source", why);
	defcheck_forbid(m->numerator_event != NULL || m->denominator_event != NULL,
					"numerator_event or denominator_event", why);
	defcheck_forbid(m->composition != NULL, "composition", why);
	defcheck_forbid(m->breakdowns != NIL, "breakdowns", why);
	defcheck_forbid(m->window != NULL, "window", "for a derived metric (give its inputs the window)");
	if (m->expression == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("expression is required for a derived metric"),
				 errhint("For example: expression => 'revenue / nullif(active_users, 0)'.")));
	if (!derived_parse(m->expression, &e, &kind, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(kind == DERIVED_ERR_LIMIT ? ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_SYNTAX_ERROR),
				 errmsg("invalid expression: %s", errbuf),
				 errhint("An expression has numbers, metric names, + - * /, parentheses and the functions abs, coalesce, nullif, greatest, least and round.")));
	m->input_ids = palloc(sizeof(int64) * (e->ninputs + 1));
	for (k = 0; k < e->ninputs; k++)
	{
		const char *name = e->inputs[k];
		MetricDef  *in;

		if (strcmp(name, m->name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("derived metric \"%s\" cannot use itself", m->name),
					 errdetail("The inputs of a derived metric cannot form a cycle.")));
		in = defs_metric(name, true);
		if (in == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("metric \"%s\" named in the expression does not exist", name),
					 errhint("Name other metrics by their exact names; quote a name that has \"-\" in it (\"checkout-rate\").")));
		if (!caller_may_read(in->owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to read the values of metric \"%s\"", name),
					 errdetail("A derived metric is computed from the values of the metrics it names."),
					 errhint("Values are readable by the metric's owner and by members of tripl_reader or tripl_admin.")));
		if (strcmp(in->timezone, m->timezone) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metric \"%s\" has buckets in time zone %s, not %s", name, in->timezone, m->timezone),
					 errdetail("A derived metric combines metrics of the same buckets, in the same time zone."),
					 errhint("Give the derived metric timezone => '%s', or define the input in %s.", in->timezone, m->timezone)));
		if (in->grid.unit != m->grid.unit || in->grid.width != m->grid.width)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metric \"%s\" has buckets of %s, not %s", name, metric_bucket_text(in->id),
							DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(m->bucket)))),
					 errdetail("A derived metric combines metrics of the same buckets.")));
		if (strcmp(in->status, "archived") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metric \"%s\" is archived", name),
					 errhint("An archived metric is no longer collected; activate it first with tripl.alter_metric.")));
		m->input_ids[m->ninputs++] = in->id;
	}
	if (e->ninputs == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the expression of a derived metric must name at least one metric")));
	derived_free(e);
}

/* Insert the validated metric with its operands and state row; returns its id */
static int64
metric_insert(MetricArgs *m)
{
	Oid			types[21] = {TEXTOID, TEXTOID, TEXTOID, INTERVALOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID, BOOLOID, TEXTOID, TEXTOID,
	OIDOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		vals[21];
	char		nulls[22] = "                     ";
	bool		derived = strcmp(m->kind, "derived") == 0;
	bool		zones = strcmp(grid_pg_zone_column(), "m.timezone") == 0;
	StringInfoData cols;
	StringInfoData params;
	int			nparams = 19;
	int64		id;
	int			k;

	vals[0] = CStringGetTextDatum(m->name);
	vals[1] = CStringGetTextDatum(m->kind);
	vals[2] = CStringGetTextDatum(m->status);
	vals[3] = IntervalPGetDatum(m->bucket);
	for (k = 4; k <= 11; k++)
		nulls[k] = 'n';
	if (m->composition)
	{
		vals[4] = CStringGetTextDatum(m->composition);
		nulls[4] = ' ';
	}
	if (strcmp(m->kind, "sql") == 0)
	{
		vals[5] = CStringGetTextDatum(m->query);
		vals[6] = CStringGetTextDatum(m->time_column);
		vals[7] = CStringGetTextDatum(m->value_column);
		vals[8] = CStringGetTextDatum(m->time_type);
		nulls[5] = nulls[6] = nulls[7] = nulls[8] = ' ';
	}
	if (strcmp(m->kind, "event_composition") == 0)
	{
		vals[9] = Int64GetDatum(m->es_id);
		vals[10] = CStringGetTextDatum(m->numerator_event);
		nulls[9] = nulls[10] = ' ';
		if (m->denominator_event)
		{
			vals[11] = CStringGetTextDatum(m->denominator_event);
			nulls[11] = ' ';
		}
	}
	vals[12] = defcheck_name_list_datum(m->breakdowns);
	if (m->limit_given)
		vals[13] = Int32GetDatum(m->values_limit);
	else
		nulls[13] = 'n';
	vals[14] = BoolGetDatum(m->anomaly_detection);
	spi_param_text(vals, nulls, 15, m->description);
	spi_param_text(vals, nulls, 16, m->unit);
	vals[17] = ObjectIdGetDatum(GetUserId());
	vals[18] = CStringGetTextDatum(m->search_path);
	/*
	 * timezone and expression only where they exist and are used: a catalog
	 * of version 0.1 (not updated yet) has neither column
	 */
	initStringInfo(&cols);
	initStringInfo(&params);
	if (zones)
	{
		vals[nparams] = CStringGetTextDatum(m->timezone);
		appendStringInfoString(&cols, ", timezone");
		appendStringInfo(&params, ", $%d", ++nparams);
	}
	if (derived)
	{
		vals[nparams] = CStringGetTextDatum(m->expression);
		appendStringInfoString(&cols, ", expression");
		appendStringInfo(&params, ", $%d", ++nparams);
	}
	catalog_execute(psprintf("INSERT INTO tripl.metrics (name, kind, status, bucket, composition, query, "
							 "time_column, value_column, time_type, event_source_id, numerator_event, "
							 "denominator_event, breakdowns, breakdown_values_limit, anomaly_detection, "
							 "description, unit, owner, search_path%s) "
							 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
							 "$18::regrole, $19%s) RETURNING id", cols.data, params.data),
					nparams, types, vals, nulls, false, 0);
	id = spi_int64(0, 0);
	types[0] = INT8OID;
	vals[0] = Int64GetDatum(id);
	for (k = 0; k < m->nops; k++)
		insert_operand(id, m->ops[k]);
	/* written only when used: a 0.1 catalog (not updated yet) has no such column */
	if (m->window != NULL)
	{
		types[1] = INTERVALOID;
		vals[1] = IntervalPGetDatum(m->window);
		catalog_execute("UPDATE tripl.metrics SET \"window\" = $2 WHERE id = $1",
						2, types, vals, NULL, false, 0);
	}
	if (derived)
	{
		Datum	   *ids = palloc(sizeof(Datum) * (m->ninputs + 1));

		for (k = 0; k < m->ninputs; k++)
			ids[k] = Int64GetDatum(m->input_ids[k]);
		types[1] = INT8ARRAYOID;
		vals[1] = PointerGetDatum(spi_int8_array(ids, m->ninputs));
		catalog_execute("INSERT INTO tripl.metric_inputs (metric_id, input_metric_id) "
						"SELECT $1, unnest($2::int8[])", 2, types, vals, NULL, false, 0);
	}
	catalog_execute("INSERT INTO tripl.metric_state (metric_id) VALUES ($1)",
					1, types, vals, NULL, false, 0);
	return id;
}

/*
 * SQL: tripl.create_metric(...) — see the install script for the argument
 * list.  Validates everything (common arguments, then the kind's own, then
 * breakdown columns against the source) before inserting anything.
 */
Datum
tripl_create_metric(PG_FUNCTION_ARGS)
{
	MetricArgs	m;
	ListCell   *lc;
	int64		id;

	metric_args_read(fcinfo, &m);
	metric_check_common(&m);

	SPI_connect();
	if (defs_metric(m.name, true) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("metric \"%s\" already exists", m.name)));
	if (strcmp(m.kind, "fact") == 0)
		metric_check_fact(&m);
	else if (strcmp(m.kind, "sql") == 0)
		metric_check_sql(&m);
	else if (strcmp(m.kind, "derived") == 0)
		metric_check_derived(&m);
	else
		metric_check_events(&m);

	/* breakdown columns must be columns of the source */
	foreach(lc, m.breakdowns)
		(void) defs_find_column(m.breakdown_columns, lfirst(lc), "breakdown column", m.breakdown_where);

	id = metric_insert(&m);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/*
 * A new bucket or time zone for a metric: the values, breakdowns,
 * anomalies and collection and alert state of the old grid go; the next
 * collection starts over (doc/definitions.md, "Changing a metric").
 */
static void
alter_grid(MetricDef *m, Interval *bucket, char *zone)
{
	Oid			types[3] = {INT8OID, INTERVALOID, TEXTOID};
	Datum		vals[3];
	Grid		grid;
	char	   *from = NULL;
	bool		isnull;

	if (zone == NULL)
		zone = m->timezone;
	vals[0] = Int64GetDatum(m->id);
	if (bucket == NULL)
	{
		catalog_execute("SELECT bucket FROM tripl.metrics WHERE id = $1", 1, types, vals, NULL, true, 0);
		bucket = DatumGetIntervalP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	{
		Interval   *copy = palloc(sizeof(Interval));

		*copy = *bucket;
		bucket = copy;
	}
	check_grid(bucket, &zone, &grid);
	catalog_execute("SELECT min(bucket)::text FROM tripl.metric_values WHERE metric_id = $1",
					1, types, vals, NULL, true, 0);
	from = (char *) spi_text(0, 0);
	vals[1] = IntervalPGetDatum(bucket);
	vals[2] = CStringGetTextDatum(zone);
	catalog_execute("UPDATE tripl.metrics SET bucket = $2, timezone = $3, updated_at = now() "
					"WHERE id = $1 AND (bucket IS DISTINCT FROM $2 OR timezone IS DISTINCT FROM $3)",
					3, types, vals, NULL, false, 0);
	if (SPI_processed == 0)
		return;
	catalog_execute("DELETE FROM tripl.metric_values WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.metric_breakdowns WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.rolling_states WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.anomalies WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.alert_state WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.digest_items WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	catalog_execute("UPDATE tripl.metric_state SET last_collected_at = NULL, watermark = NULL, "
					"last_status = NULL, last_error = NULL, last_started_at = NULL, last_failed_at = NULL, "
					"changed_from = NULL, last_detected_at = NULL WHERE metric_id = $1",
					1, types, vals, NULL, false, 0);
	ereport(NOTICE,
			(errmsg("metric \"%s\" now has buckets of %s in time zone %s; its values, breakdowns, anomalies and state were cleared",
					m->name, DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(bucket))), zone),
			 from ? errhint("The next collection re-collects its latest buckets; to re-collect everything it had, run "
							"SELECT * FROM tripl.collect(%s, %s, tripl.now()).",
							quote_literal_cstr(m->name), quote_literal_cstr(from)) :
			 errhint("The next collection re-collects its latest buckets.")));
}

/* SQL: tripl.alter_metric(name, status, anomaly_detection, description, unit, bucket, timezone) */
Datum
tripl_alter_metric(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	char	   *status = fn_arg_text(fcinfo, 1);
	char	   *description = fn_arg_text(fcinfo, 3);
	char	   *unit = fn_arg_text(fcinfo, 4);
	Interval   *bucket = PG_NARGS() <= 5 || PG_ARGISNULL(5) ? NULL : PG_GETARG_INTERVAL_P(5);
	char	   *zone = PG_NARGS() > 6 ? fn_arg_text(fcinfo, 6) : NULL;
	MetricDef  *m;
	Oid			types[5] = {INT8OID, TEXTOID, BOOLOID, TEXTOID, TEXTOID};
	Datum		vals[5];
	char		nulls[6] = "     ";

	check_definition_name(name, "metric");
	if (status)
		check_status(status);
	check_text_length(description, TRIPL_MAX_TEXT_LENGTH, "description");
	check_text_length(unit, 50, "unit");

	SPI_connect();
	m = defs_metric(name, false);
	defcheck_owner(m->owner, "metric", name);
	if (bucket != NULL || zone != NULL)
		alter_grid(m, bucket, zone);
	vals[0] = Int64GetDatum(m->id);
	spi_param_text(vals, nulls, 1, status);
	if (!PG_ARGISNULL(2))
		vals[2] = BoolGetDatum(PG_GETARG_BOOL(2));
	else
		nulls[2] = 'n';
	spi_param_text(vals, nulls, 3, description);
	spi_param_text(vals, nulls, 4, unit);
	catalog_execute("UPDATE tripl.metrics SET status = coalesce($2, status), "
					"anomaly_detection = coalesce($3, anomaly_detection), "
					"description = CASE WHEN $4 = '' THEN NULL ELSE coalesce($4, description) END, "
					"unit = CASE WHEN $5 = '' THEN NULL ELSE coalesce($5, unit) END, "
					"updated_at = now() WHERE id = $1",
					5, types, vals, nulls, false, 0);
	if (!PG_ARGISNULL(2) && PG_GETARG_BOOL(2) != m->anomaly_detection)
	{
		/* off: its anomalies go; on again: the next detection scores everything */
		if (!PG_GETARG_BOOL(2))
			catalog_execute("DELETE FROM tripl.anomalies WHERE metric_id = $1",
							1, types, vals, NULL, false, 0);
		else
			catalog_execute("UPDATE tripl.metric_state SET changed_from = "
							"(SELECT min(bucket) FROM tripl.metric_values WHERE metric_id = $1) "
							"WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/* SQL: tripl.drop_metric(name) */
Datum
tripl_drop_metric(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	MetricDef  *m;
	Oid			types[1] = {INT8OID};
	Datum		vals[1];

	check_definition_name(name, "metric");
	SPI_connect();
	m = defs_metric(name, false);
	defcheck_owner(m->owner, "metric", name);
	vals[0] = Int64GetDatum(m->id);
	/*
	 * Not while a derived metric uses it (the foreign key is the backstop).
	 * A 0.1 catalog, not updated yet, has no derived metrics.
	 */
	catalog_execute("SELECT pg_catalog.to_regclass('tripl.metric_inputs') IS NOT NULL",
					0, NULL, NULL, NULL, true, 0);
	if (strcmp(spi_text(0, 0), "t") == 0)
		catalog_execute("SELECT string_agg(format('%I', d.name), ', ' ORDER BY d.name), count(*) "
						"FROM tripl.metric_inputs i JOIN tripl.metrics d ON d.id = i.metric_id "
						"WHERE i.input_metric_id = $1",
						1, types, vals, NULL, true, 0);
	if (SPI_processed == 1 && SPI_tuptable->tupdesc->natts == 2 && spi_int64(0, 1) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop metric \"%s\" because derived metrics use it", name),
				 errdetail("Used by: %s.", spi_text(0, 0)),
				 errhint("Drop those derived metrics first.")));
	/* first the metric row: waits for a collection writing its values */
	catalog_execute("DELETE FROM tripl.metrics WHERE id = $1", 1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.metric_values WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.metric_breakdowns WHERE metric_id = $1", 1, types, vals, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 *
 * aggsql.c
 *	  Generating the collection SQL (see aggsql.h for the contract).
 *
 *	  The result contract of every aggregate: a bucket with no matching row
 *	  yields NULL (a gap, never stored), a bucket with matching rows yields
 *	  a value even when that value is 0.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "aggsql.h"
#include "grid_pg.h"
#include "tripl.h"

static const char *const agg_names[] = {
	"count", "sum", "avg", "min", "max", "count_distinct", "distinct_users",
	"percentile", "approx_percentile", "approx_count_distinct"
};

/* Parse an aggregation name as users write it (distinct_users is internal) */
bool
agg_kind_from_name(const char *name, AggKind *kind)
{
	int			i;

	for (i = 0; i < (int) lengthof(agg_names); i++)
	{
		if (i != AGG_DISTINCT_USERS && strcmp(name, agg_names[i]) == 0)
		{
			*kind = (AggKind) i;
			return true;
		}
	}
	return false;
}

/* The user-facing name of an aggregation */
const char *
agg_kind_name(AggKind kind)
{
	return agg_names[kind];
}

/* sum/avg/min/max and the percentiles aggregate a measure column */
bool
agg_needs_measure(AggKind kind)
{
	return kind == AGG_SUM || kind == AGG_AVG || kind == AGG_MIN || kind == AGG_MAX ||
		kind == AGG_PERCENTILE || kind == AGG_APPROX_PERCENTILE;
}

/* percentile and approx_percentile take a fraction */
bool
agg_needs_percentile(AggKind kind)
{
	return kind == AGG_PERCENTILE || kind == AGG_APPROX_PERCENTILE;
}

/* Aggregations counting the distinct values of a column */
bool
agg_counts_distinct(AggKind kind)
{
	return kind == AGG_COUNT_DISTINCT || kind == AGG_DISTINCT_USERS ||
		kind == AGG_APPROX_COUNT_DISTINCT;
}

/* Two operands compute the same thing (used to de-duplicate) */
bool
agg_operand_equal(const AggOperand *a, const AggOperand *b)
{
	if (a->agg != b->agg)
		return false;
	if ((a->column == NULL) != (b->column == NULL))
		return false;
	if (a->column && strcmp(a->column, b->column) != 0)
		return false;
	if ((a->filter == NULL) != (b->filter == NULL))
		return false;
	if (a->filter && strcmp(a->filter, b->filter) != 0)
		return false;
	return a->percentile == b->percentile;
}

/* Append "(\n<user query>\n) AS _src": newlines end any trailing comment */
void
aggsql_append_user_query(StringInfo buf, const char *query)
{
	appendStringInfoString(buf, "(\n");
	appendStringInfoString(buf, query);
	appendStringInfoString(buf, "\n) AS _src");
}

/* Append _src."column" */
static void
append_column(StringInfo buf, const char *column)
{
	appendStringInfo(buf, "_src.%s", quote_identifier(column));
}

/* AND together checked boolean fragments, each in its own parentheses */
void
aggsql_append_filters(StringInfo buf, List *fragments)
{
	ListCell   *lc;
	bool		first = true;

	foreach(lc, fragments)
	{
		if (!first)
			appendStringInfoString(buf, " AND ");
		appendStringInfo(buf, "(\n%s\n)", (char *) lfirst(lc));
		first = false;
	}
}

/* The grid origin literal for a width, in the source column's type */
static const char *
origin_literal(const AggSource *src, int64 width_us)
{
	bool		weeks = (width_us % (INT64CONST(7) * USECS_PER_DAY)) == 0;

	if (strcmp(src->ts_type, "timestamptz") == 0)
		return weeks ? "'1970-01-05 00:00:00+00'::timestamptz" : "'1970-01-01 00:00:00+00'::timestamptz";
	return weeks ? "'1970-01-05 00:00:00'::timestamp" : "'1970-01-01 00:00:00'::timestamp";
}

/*
 * The bucket (as timestamptz) of a source row.  Fixed grids: date_bin from
 * the epoch (Monday for weeks); calendar units: date_trunc(unit, ts, zone);
 * sub-day widths in a zone: date_bin from the local midnight (see
 * doc/collection.md, "Calendar time").  Naive times and dates are UTC.
 */
char *
aggsql_bucket_expr(const AggSource *src, const Grid *g)
{
	StringInfoData buf;
	char	   *col = psprintf("_src.%s", quote_identifier(src->ts_column));
	int64		width_us = g->width;
	static const char *const units[] = {NULL, NULL, "day", "week", "month", "quarter", "year"};

	initStringInfo(&buf);
	if (g->unit != GRID_FIXED)
	{
		char	   *ts = strcmp(src->ts_type, "timestamptz") == 0 ? col :
			psprintf("(%s::timestamp AT TIME ZONE 'UTC')", col);
		const char *zone = quote_literal_cstr(grid_pg_zone_name(g));

		if (g->unit == GRID_LOCAL)
			appendStringInfo(&buf, "pg_catalog.date_bin('" INT64_FORMAT " seconds'::interval, %s, "
							 "pg_catalog.date_trunc('day', %s, %s))",
							 width_us / USECS_PER_SEC, ts, ts, zone);
		else
			appendStringInfo(&buf, "pg_catalog.date_trunc('%s', %s, %s)", units[g->unit], ts, zone);
		return buf.data;
	}
	if (strcmp(src->ts_type, "timestamptz") == 0)
		appendStringInfo(&buf, "pg_catalog.date_bin('" INT64_FORMAT " seconds'::interval, %s, %s)",
						 width_us / USECS_PER_SEC, col, origin_literal(src, width_us));
	else
		appendStringInfo(&buf, "(pg_catalog.date_bin('" INT64_FORMAT " seconds'::interval, %s%s, %s) AT TIME ZONE 'UTC')",
						 width_us / USECS_PER_SEC, col,
						 strcmp(src->ts_type, "date") == 0 ? "::timestamp" : "",
						 origin_literal(src, width_us));
	return buf.data;
}

/* The half-open window on the source's timestamp column, as $1 and $2 */
char *
aggsql_window_clause(const AggSource *src)
{
	const char *col = quote_identifier(src->ts_column);

	if (strcmp(src->ts_type, "timestamptz") == 0)
		return psprintf("_src.%s >= $1 AND _src.%s < $2", col, col);
	/* naive timestamps and dates are UTC */
	return psprintf("_src.%s >= ($1 AT TIME ZONE 'UTC') AND _src.%s < ($2 AT TIME ZONE 'UTC')",
					col, col);
}

/* The shortest decimal text that reads back as x */
static char *
float8_text(double x)
{
	int			prec;

	for (prec = 15; prec < 17; prec++)
	{
		char	   *t = psprintf("%.*g", prec, x);

		if (strtod(t, NULL) == x)
			return t;
	}
	return psprintf("%.17g", x);
}

/* Append one conditional aggregate honouring the gap contract, as float8 */
void
aggsql_append_aggregate(StringInfo buf, const AggOperand *op)
{
	const char *filter = op->filter;

	switch (op->agg)
	{
		case AGG_COUNT:
			if (filter)
				appendStringInfo(buf, "NULLIF(count(*) FILTER (WHERE %s), 0)::float8", filter);
			else
				appendStringInfoString(buf, "count(*)::float8");
			break;
		case AGG_SUM:
		case AGG_AVG:
		case AGG_MIN:
		case AGG_MAX:
			appendStringInfo(buf, "(%s(", agg_names[op->agg]);
			append_column(buf, op->column);
			appendStringInfoChar(buf, ')');
			if (filter)
				appendStringInfo(buf, " FILTER (WHERE %s)", filter);
			appendStringInfoString(buf, ")::float8");
			break;
		case AGG_PERCENTILE:
		case AGG_APPROX_PERCENTILE:

			/*
			 * percentile_cont over the measure as float8 (what the engine
			 * reads); approx_percentile is computed exactly here, which
			 * meets its error bound
			 */
			appendStringInfo(buf, "(pg_catalog.percentile_cont(%s::float8) WITHIN GROUP (ORDER BY (",
							 float8_text(op->percentile));
			append_column(buf, op->column);
			appendStringInfoString(buf, ")::float8)");
			if (filter)
				appendStringInfo(buf, " FILTER (WHERE %s)", filter);
			appendStringInfoString(buf, ")::float8");
			break;
		case AGG_COUNT_DISTINCT:
		case AGG_DISTINCT_USERS:
		case AGG_APPROX_COUNT_DISTINCT:
			/* approx_count_distinct is exact here, within its error bound */
			if (filter)
			{
				appendStringInfo(buf, "(CASE WHEN count(*) FILTER (WHERE %s) = 0 THEN NULL ELSE count(DISTINCT ", filter);
				append_column(buf, op->column);
				appendStringInfo(buf, ") FILTER (WHERE %s) END)::float8", filter);
			}
			else
			{
				appendStringInfoString(buf, "count(DISTINCT ");
				append_column(buf, op->column);
				appendStringInfoString(buf, ")::float8");
			}
			break;
	}
}

/* The breakdown value of a row: the column as text, at most 500 characters */
static char *
group_value_expr(const char *group_column)
{
	return psprintf("pg_catalog.left(_src.%s::text, %d)", quote_identifier(group_column),
					TRIPL_BREAKDOWN_CHARS);
}

/*
 * Append ",\n grp, is_other" for a breakdown column: with limited, values
 * outside $<kept> (and NULL unless $<kept + 1>) fold into 'Other'
 */
static void
append_group_columns(StringInfo buf, const char *group_column, bool limited, int kept_param)
{
	char	   *v = group_value_expr(group_column);

	if (limited)
	{
		char	   *kept = psprintf("(COALESCE(%s = ANY($%d), false) OR (%s IS NULL AND $%d))",
									v, kept_param, v, kept_param + 1);

		appendStringInfo(buf, ",\n       CASE WHEN %s THEN %s ELSE 'Other' END AS grp", kept, v);
		appendStringInfo(buf, ",\n       NOT %s AS is_other", kept);
	}
	else
	{
		appendStringInfo(buf, ",\n       %s AS grp", v);
		appendStringInfoString(buf, ",\n       false AS is_other");
	}
}

/*
 * SELECT bucket[, grp, is_other], k0 .. kn for a set of operands over one
 * source.  With group_column, rows are grouped by that column's value; with
 * limited, values outside $3 (and NULL unless $4) fold into 'Other'.
 */
char *
aggsql_operands_query(const AggSource *src, const Grid *g,
					  const AggOperand *ops, int nops,
					  const char *group_column, bool limited)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s AS bucket", aggsql_bucket_expr(src, g));
	if (group_column)
		append_group_columns(&buf, group_column, limited, 3);
	for (i = 0; i < nops; i++)
	{
		appendStringInfoString(&buf, ",\n       ");
		aggsql_append_aggregate(&buf, &ops[i]);
		appendStringInfo(&buf, " AS k%d", i);
	}
	appendStringInfoString(&buf, "\nFROM ");
	aggsql_append_user_query(&buf, src->query);
	appendStringInfo(&buf, "\nWHERE %s", aggsql_window_clause(src));
	if (group_column)
		appendStringInfoString(&buf, "\nGROUP BY 1, 2, 3\nORDER BY 1, 2, 3");
	else
		appendStringInfoString(&buf, "\nGROUP BY 1\nORDER BY 1");
	appendStringInfo(&buf, "\nLIMIT %d", TRIPL_MAX_CHUNK_ROWS + 1);
	return buf.data;
}

/*
 * Rolling operands (SQL path): SELECT bucket[, grp, is_other], k0 .. kn
 * where the value at bucket b aggregates the rows of buckets
 * b-window+1 .. b (with group_column: per breakdown value, grouped as
 * aggsql_operands_query does, its kept values in $4 and $5).  $3 is the grid
 * of [$1, $2) as bucket starts (timestamptz[]): a row is placed on it by
 * its bucket, and joined to the window-many output buckets whose index is
 * its own or up to window-1 more — bucket indexes, never a fixed width, so
 * that a calendar grid only changes $3 and the bucket expression.  Output
 * buckets are those with a whole window: index >= window (1-based).  Each
 * row is aggregated window times (exact for every aggregate, distinct
 * counts included): this is the reference path, not the fast one.
 */
char *
aggsql_rolling_query(const AggSource *src, const Grid *g, const AggOperand *ops, int nops,
					 int window, const char *group_column, bool limited)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT _tripl_out._tripl_ob AS bucket");
	if (group_column)
		append_group_columns(&buf, group_column, limited, 4);
	for (i = 0; i < nops; i++)
	{
		appendStringInfoString(&buf, ",\n       ");
		aggsql_append_aggregate(&buf, &ops[i]);
		appendStringInfo(&buf, " AS k%d", i);
	}
	appendStringInfo(&buf, "\nFROM (SELECT _src.*, %s AS _tripl_bucket\n      FROM ",
					 aggsql_bucket_expr(src, g));
	aggsql_append_user_query(&buf, src->query);
	appendStringInfo(&buf, "\n      WHERE %s) AS _src", aggsql_window_clause(src));
	appendStringInfoString(&buf,
						   "\nJOIN pg_catalog.unnest($3::timestamptz[]) WITH ORDINALITY AS _tripl_row(_tripl_rb, _tripl_ri)"
						   "\n  ON _tripl_row._tripl_rb = _src._tripl_bucket"
						   "\nJOIN pg_catalog.unnest($3::timestamptz[]) WITH ORDINALITY AS _tripl_out(_tripl_ob, _tripl_oi)");
	appendStringInfo(&buf, "\n  ON _tripl_out._tripl_oi >= _tripl_row._tripl_ri AND _tripl_out._tripl_oi < _tripl_row._tripl_ri + %d"
					 " AND _tripl_out._tripl_oi >= %d", window, window);
	if (group_column)
		appendStringInfoString(&buf, "\nGROUP BY 1, 2, 3\nORDER BY 1, 2, 3");
	else
		appendStringInfoString(&buf, "\nGROUP BY 1\nORDER BY 1");
	appendStringInfo(&buf, "\nLIMIT %d", TRIPL_MAX_CHUNK_ROWS + 1);
	return buf.data;
}

/*
 * The C engine's statement: one tripl._engine_agg call over the window,
 * its configuration as $3.  Arguments: the time column, the filters (or
 * one ARRAY[...] of them, with filter_array), the measures (cast to float8 unless measure_native[i]), the distinct keys,
 * then the breakdown values (text columns as they are, when group_raw[i]:
 * the engine keeps their first characters itself).  With rows, the
 * distributable form instead: tripl._engine_agg_rows($3, ROW(columns...)).
 */
char *
aggsql_engine_query(const AggSource *src, List *filters, bool filter_array, List *measures,
					const bool *measure_native, List *keys, List *groups,
					const bool *group_raw, bool rows)
{
	StringInfoData buf;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&buf);
	/* the distributable form takes the columns as one ROW(...) */
	appendStringInfo(&buf, rows ? "SELECT tripl._engine_agg_rows($3, ROW(_src.%s" : "SELECT tripl._engine_agg($3, _src.%s",
					 quote_identifier(src->ts_column));
	/* filters are parenthesised fragments ending in a newline and ")" */
	if (filter_array && filters != NIL)
	{
		appendStringInfoString(&buf, ",\n       ARRAY[");
		foreach(lc, filters)
			appendStringInfo(&buf, "%s\n       (%s)", lc == list_head(filters) ? "" : ",",
							 (char *) lfirst(lc));
		appendStringInfoString(&buf, "]::pg_catalog.bool[]");
	}
	else
	{
		foreach(lc, filters)
			appendStringInfo(&buf, ",\n       (%s)", (char *) lfirst(lc));
	}
	foreach(lc, measures)
	{
		appendStringInfoString(&buf, ",\n       ");
		if (measure_native[i++])
			append_column(&buf, lfirst(lc));
		else
		{
			appendStringInfoChar(&buf, '(');
			append_column(&buf, lfirst(lc));
			appendStringInfoString(&buf, ")::float8");
		}
	}
	foreach(lc, keys)
	{
		appendStringInfoString(&buf, ",\n       ");
		append_column(&buf, lfirst(lc));
	}
	i = 0;
	foreach(lc, groups)
	{
		appendStringInfoString(&buf, ",\n       ");
		if (group_raw[i++])
			append_column(&buf, lfirst(lc));
		else
			appendStringInfoString(&buf, group_value_expr(lfirst(lc)));
	}
	appendStringInfoString(&buf, rows ? "))\nFROM " : ")\nFROM ");
	aggsql_append_user_query(&buf, src->query);
	appendStringInfo(&buf, "\nWHERE %s", aggsql_window_clause(src));
	return buf.data;
}

/*
 * A condition on the source's time column: [from, to), as constants
 * (grid instants are whole seconds; the immutable to_timestamp is folded
 * by the planner).
 */
char *
aggsql_time_range(const AggSource *src, int64 from, int64 to)
{
	const char *col = quote_identifier(src->ts_column);
	const char *bounds[2];
	int64		t[2] = {from, to};
	int			i;

	for (i = 0; i < 2; i++)
	{
		char	   *lit;

		Assert(t[i] % USECS_PER_SEC == 0);	/* widths are whole seconds */
		lit = psprintf("pg_catalog.to_timestamp(" INT64_FORMAT ")", t[i] / USECS_PER_SEC);
		bounds[i] = strcmp(src->ts_type, "timestamptz") == 0 ? lit :
			psprintf("(%s AT TIME ZONE 'UTC')", lit);
	}
	return psprintf("_src.%s >= %s AND _src.%s < %s", col, bounds[0], col, bounds[1]);
}

/*
 * The top `keep` values of a breakdown column by row count over the window
 * (rows matching filter), ties broken by value in byte order.
 */
char *
aggsql_breakdown_rank_query(const AggSource *src, const char *group_column,
							const char *filter, int keep)
{
	StringInfoData buf;
	char	   *v = group_value_expr(group_column);

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s AS v, count(*) AS n\nFROM ", v);
	aggsql_append_user_query(&buf, src->query);
	appendStringInfo(&buf, "\nWHERE %s", aggsql_window_clause(src));
	if (filter)
		appendStringInfo(&buf, " AND (%s)", filter);
	appendStringInfo(&buf, "\nGROUP BY 1\nORDER BY 2 DESC, %s COLLATE \"C\" NULLS LAST\nLIMIT %d", v, keep);
	return buf.data;
}

/*
 * A sql metric: the user's (time, value) rows floored onto the grid and
 * summed per bucket; rows outside the window are filtered around the query.
 */
char *
aggsql_sql_metric_query(const AggSource *src, const Grid *g, const char *value_column)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s AS bucket,\n       sum(_src.%s)::float8 AS k0\nFROM ",
					 aggsql_bucket_expr(src, g), quote_identifier(value_column));
	aggsql_append_user_query(&buf, src->query);
	appendStringInfo(&buf, "\nWHERE %s\nGROUP BY 1\nORDER BY 1\nLIMIT %d",
					 aggsql_window_clause(src), TRIPL_MAX_CHUNK_ROWS + 1);
	return buf.data;
}

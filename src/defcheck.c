/*-------------------------------------------------------------------------
 *
 * defcheck.c
 *	  Checking what a definition function is given (catalog.c,
 *	  catalog_metric.c): a user query passes the SQL guard (sqlguard.c) and
 *	  is planned as the calling role (userquery.c), so nobody defines
 *	  anything over data they cannot read; its output columns are then
 *	  what column arguments are checked against.  Also row filters,
 *	  identifiers, and arguments a metric kind forbids.
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
#include "core/grid.h"
#include "defcheck.h"
#include "defs.h"
#include "fnargs.h"
#include "spiutil.h"
#include "sqlguard.h"
#include "tripl.h"
#include "userquery.h"


/*--------------------------------------------------------------------
 * Small helpers
 *--------------------------------------------------------------------
 */

/* Error context: say which part of a definition an error comes from */
void
defcheck_context_callback(void *arg)
{
	errcontext("%s", (const char *) arg);
}

/* Refuse unless the current role has the privileges of owner */
void
defcheck_owner(Oid owner, const char *what, const char *name)
{
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of %s \"%s\"", what, name),
				 errdetail("It is owned by role %s.", GetUserNameFromId(owner, true) ?
						   quote_identifier(GetUserNameFromId(owner, true)) : "(dropped)")));
}

/* Refuse an argument that does not belong to this kind of metric */
void
defcheck_forbid(bool given, const char *arg, const char *why)
{
	if (given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not allowed %s", arg, why)));
}

/* Refuse the single-operand fact arguments where they do not belong */
void
defcheck_forbid_single_fact_args(bool given, const char *why)
{
	if (given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fact_table, aggregation, measure_column, distinct_column, percentile, row_filters and filter_sql are not allowed %s", why)));
}

/* A List of names as a text[] Datum */
Datum
defcheck_name_list_datum(List *names)
{
	Datum	   *elems;
	ListCell   *lc;
	int			n = 0;

	elems = palloc(sizeof(Datum) * (list_length(names) + 1));
	foreach(lc, names)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Run a generated query with LIMIT 0 as the caller, to plan and check it */
void
defcheck_plan_as_caller(const char *sql, const char *search_path, int nparams)
{
	StringInfoData buf;
	Oid			types[4] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTARRAYOID, BOOLOID};
	Datum		vals[4] = {0, 0, 0, 0};
	char		nulls[5] = "nnnn";

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT * FROM (\n%s\n) AS _check LIMIT 0", sql);
	nulls[nparams] = '\0';
	(void) userquery_execute(buf.data, GetUserId(), search_path,
							 nparams, types, vals, nulls, 0);
}

/*--------------------------------------------------------------------
 * Queries and columns
 *--------------------------------------------------------------------
 */

/* Guard a query and learn its output columns, as the caller */
CheckedQuery *
defcheck_query(const char *query, const char *what, const char *search_path)
{
	CheckedQuery *cq = palloc0(sizeof(CheckedQuery));
	List	   *cols;
	ListCell   *lc;

	cq->query = sqlguard_select(query, what);
	cols = userquery_columns(cq->query, GetUserId(), search_path);
	if (cols == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s returns no columns", what)));
	foreach(lc, cols)
	{
		UserColumn *uc = lfirst(lc);
		ColumnInfo *c = palloc0(sizeof(ColumnInfo));

		c->name = uc->name;
		c->type_class = (char *) type_class_of(uc->typid);
		c->native_type = format_type_be(uc->typid);
		cq->columns = lappend(cq->columns, c);
		cq->ts_types = lappend(cq->ts_types, (void *) timestamp_type_of(uc->typid));
	}
	return cq;
}

/* The time type of a checked column, or an error naming the column */
const char *
defcheck_time_column(CheckedQuery *cq, const char *column, const char *role, const char *where)
{
	ColumnInfo *c = defs_find_column(cq->columns, column, role, where);
	const char *ts_type = NULL;
	ListCell   *lc;
	ListCell   *lt;

	forboth(lc, cq->columns, lt, cq->ts_types)
	{
		if (lfirst(lc) == c)
			ts_type = lfirst(lt);
	}

	if (ts_type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\" has type %s", role, column, c->native_type),
				 errhint("Use a column of type timestamp with time zone, timestamp or date.")));
	return ts_type;
}

/* The columns as the jsonb text stored in the catalog */
char *
defcheck_columns_json(List *columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, columns)
	{
		ColumnInfo *c = lfirst(lc);

		if (buf.len > 1)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"name\": ");
		escape_json(&buf, c->name);
		appendStringInfoString(&buf, ", \"type_class\": ");
		escape_json(&buf, c->type_class);
		appendStringInfoString(&buf, ", \"native_type\": ");
		escape_json(&buf, c->native_type);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * Validate a fact table's named row filters: a JSON object of
 * name -> boolean SQL condition, each planned against the query.
 */
CheckedFilters *
defcheck_row_filters(Jsonb *filters, CheckedQuery *cq, const char *ft_name, const char *search_path)
{
	CheckedFilters *cf = palloc0(sizeof(CheckedFilters));
	Oid			types[1] = {JSONBOID};
	Datum		vals[1];
	uint64		i;
	uint64		n;
	List	   *names = NIL;
	List	   *sqls = NIL;
	List	   *kinds = NIL;
	ListCell   *ln;
	ListCell   *ls;
	ListCell   *lk;

	if (filters == NULL)
		return cf;
	vals[0] = JsonbPGetDatum(filters);
	catalog_execute("SELECT jsonb_typeof($1)", 1, types, vals, NULL, true, 0);
	if (strcmp(spi_text(0, 0), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("row_filters must be a JSON object of filter name to SQL condition"),
				 errhint("For example: '{\"completed\": \"status = ''completed''\"}'.")));
	catalog_execute("SELECT key, value #>> '{}', jsonb_typeof(value) FROM jsonb_each($1) ORDER BY key",
					1, types, vals, NULL, true, 0);
	n = SPI_processed;
	if (n > TRIPL_MAX_ROW_FILTERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a fact table can have at most %d row filters", TRIPL_MAX_ROW_FILTERS)));
	for (i = 0; i < n; i++)
	{
		names = lappend(names, (char *) spi_text(i, 0));
		sqls = lappend(sqls, (char *) spi_text(i, 1));
		kinds = lappend(kinds, (char *) spi_text(i, 2));
	}
	forthree(ln, names, ls, sqls, lk, kinds)
	{
		char	   *name = lfirst(ln);
		char	   *what = psprintf("row filter \"%s\"", name);
		ErrorContextCallback ecb;
		StringInfoData sql;

		check_definition_name(name, "row filter");
		if (strcmp((char *) lfirst(lk), "string") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be a string holding an SQL condition", what)));
		(void) sqlguard_fragment(lfirst(ls), what);

		ecb.callback = defcheck_context_callback;
		ecb.arg = psprintf("while checking %s of fact table \"%s\"", what, ft_name);
		ecb.previous = error_context_stack;
		error_context_stack = &ecb;
		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT 1 FROM ");
		aggsql_append_user_query(&sql, cq->query);
		appendStringInfo(&sql, "\nWHERE (\n%s\n)", (char *) lfirst(ls));
		defcheck_plan_as_caller(sql.data, search_path, 0);
		error_context_stack = ecb.previous;
	}
	cf->names = names;
	cf->sqls = sqls;
	return cf;
}

/* Identifier columns must be output columns of the query */
void
defcheck_identifiers(List *identifiers, CheckedQuery *cq, const char *where)
{
	ListCell   *lc;

	foreach(lc, identifiers)
		(void) defs_find_column(cq->columns, lfirst(lc), "identifier column", where);
}

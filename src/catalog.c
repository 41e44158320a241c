/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The source definition functions: create/alter/drop fact tables and
 *	  event sources, and preview_fact_table.  Metrics are
 *	  catalog_metric.c's; the checks both use are defcheck.c's.
 *
 *	  Every function validates fully before writing anything: names,
 *	  per-kind required and forbidden arguments, user SQL (sqlguard.c),
 *	  and column references, which are checked against the query's real
 *	  output by planning it as the calling role (userquery.c).  The caller
 *	  therefore cannot define anything over data it cannot read.  Catalog
 *	  rows are then written as the extension owner (catalog_execute), and
 *	  remember the caller as their owner.
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
#include "tripl.h"
#include "userquery.h"

TRIPL_SQL_FUNCTION(tripl_create_fact_table);
TRIPL_SQL_FUNCTION(tripl_alter_fact_table);
TRIPL_SQL_FUNCTION(tripl_drop_fact_table);
TRIPL_SQL_FUNCTION(tripl_preview_fact_table);
TRIPL_SQL_FUNCTION(tripl_create_event_source);
TRIPL_SQL_FUNCTION(tripl_drop_event_source);

/*--------------------------------------------------------------------
 * Fact tables
 *--------------------------------------------------------------------
 */

/* SQL: tripl.create_fact_table(...) */
Datum
tripl_create_fact_table(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	char	   *query = fn_arg_text(fcinfo, 1);
	char	   *ts_column;
	List	   *identifiers;
	Jsonb	   *filters = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	char	   *description = fn_arg_text(fcinfo, 5);
	char	   *search_path = current_search_path();
	char	   *where;
	CheckedQuery *cq;
	const char *ts_type;
	int64		id;
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, JSONBOID, TEXTOID, TEXTOID, OIDOID, TEXTOID};
	Datum		vals[10];
	char		nulls[11] = "          ";

	check_definition_name(name, "fact table");
	ts_column = fn_required_text(fcinfo, 2, "timestamp_column");
	identifiers = fn_arg_name_list(fcinfo, 3, "identifier_columns");
	check_text_length(description, TRIPL_MAX_TEXT_LENGTH, "description");
	where = psprintf("the query of fact table \"%s\"", name);

	SPI_connect();
	if (defs_fact_table(name, 0, true) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("fact table \"%s\" already exists", name)));

	cq = defcheck_query(query, "fact table query", search_path);
	ts_type = defcheck_time_column(cq, ts_column, "timestamp column", where);
	defcheck_identifiers(identifiers, cq, where);
	(void) defcheck_row_filters(filters, cq, name, search_path);

	vals[0] = CStringGetTextDatum(name);
	vals[1] = CStringGetTextDatum(cq->query);
	vals[2] = CStringGetTextDatum(ts_column);
	vals[3] = CStringGetTextDatum(ts_type);
	vals[4] = defcheck_name_list_datum(identifiers);
	if (filters)
		vals[5] = JsonbPGetDatum(filters);
	else
	{
		vals[5] = (Datum) 0;
		nulls[5] = 'n';
	}
	vals[6] = CStringGetTextDatum(defcheck_columns_json(cq->columns));
	spi_param_text(vals, nulls, 7, description);
	vals[8] = ObjectIdGetDatum(GetUserId());
	vals[9] = CStringGetTextDatum(search_path);
	catalog_execute("INSERT INTO tripl.fact_tables (name, query, timestamp_column, timestamp_type, "
					"identifier_columns, row_filters, columns, description, owner, search_path) "
					"VALUES ($1, $2, $3, $4, $5, coalesce($6, '{}'), $7::jsonb, $8, $9::regrole, $10) "
					"RETURNING id",
					10, types, vals, nulls, false, 0);
	id = spi_int64(0, 0);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* Clear the stored values and collection state of the listed metrics */
static void
clear_metric_values(List *metric_ids)
{
	Datum	   *ids;
	ListCell   *lc;
	int			n = 0;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		vals[1];

	if (metric_ids == NIL)
		return;
	ids = palloc(sizeof(Datum) * list_length(metric_ids));
	foreach(lc, metric_ids)
		ids[n++] = Int64GetDatum(*(int64 *) lfirst(lc));
	vals[0] = PointerGetDatum(spi_int8_array(ids, n));
	catalog_execute("DELETE FROM tripl.metric_values WHERE metric_id = ANY($1)",
					1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.metric_breakdowns WHERE metric_id = ANY($1)",
					1, types, vals, NULL, false, 0);
	catalog_execute("DELETE FROM tripl.anomalies WHERE metric_id = ANY($1)",
					1, types, vals, NULL, false, 0);
	catalog_execute("UPDATE tripl.metric_state SET watermark = NULL, last_collected_at = NULL, "
					"last_status = NULL, last_error = NULL, changed_from = NULL WHERE metric_id = ANY($1)",
					1, types, vals, NULL, false, 0);
}

/*
 * Check that the metrics on a fact table still fit a changed definition;
 * return the ids of those whose values the change invalidates.
 */
static List *
recheck_fact_dependents(FactTableDef *old, CheckedQuery *cq, CheckedFilters *cf,
						const char *new_ts_column, bool query_changed)
{
	Oid			types[1] = {INT8OID};
	Datum		vals[1] = {Int64GetDatum(old->id)};
	List	   *metrics;
	List	   *invalidated = NIL;
	ListCell   *lc;
	char	   *where = psprintf("the new query of fact table \"%s\"", old->name);

	metrics = defs_metrics("m.id IN (SELECT metric_id FROM tripl.metric_operands WHERE fact_table_id = $1)",
						   1, types, vals);
	foreach(lc, metrics)
	{
		MetricDef  *m = lfirst(lc);
		OperandDef *ops[3] = {m->value, m->numerator, m->denominator};
		bool		material = query_changed || strcmp(new_ts_column, old->ts_column) != 0;
		ErrorContextCallback ecb;
		ListCell   *lb;
		int			k;

		ecb.callback = defcheck_context_callback;
		ecb.arg = psprintf("metric \"%s\" uses fact table \"%s\"", m->name, old->name);
		ecb.previous = error_context_stack;
		error_context_stack = &ecb;
		for (k = 0; k < 3; k++)
		{
			OperandDef *op = ops[k];
			ListCell   *lf;

			if (op == NULL || op->fact_table_id != old->id)
				continue;
			if (op->measure_column)
			{
				ColumnInfo *c = defs_find_column(cq->columns, op->measure_column, "measure column", where);

				if (strcmp(c->type_class, "number") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
							 errmsg("measure column \"%s\" of metric \"%s\" would have type %s",
									op->measure_column, m->name, c->native_type)));
			}
			if (op->distinct_column)
				(void) defs_find_column(cq->columns, op->distinct_column, "distinct column", where);
			foreach(lf, op->row_filters)
			{
				char	   *fname = lfirst(lf);
				char	   *old_sql = defs_fact_filter_sql(fname, old);
				ListCell   *n2;
				ListCell   *s2;
				char	   *new_sql = NULL;

				forboth(n2, cf->names, s2, cf->sqls)
				{
					if (strcmp((char *) lfirst(n2), fname) == 0)
						new_sql = lfirst(s2);
				}
				if (new_sql == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
							 errmsg("cannot remove row filter \"%s\" of fact table \"%s\" because metric \"%s\" uses it",
									fname, old->name, m->name)));
				if (old_sql == NULL || strcmp(old_sql, new_sql) != 0)
					material = true;
			}
		}
		foreach(lb, m->breakdowns)
			(void) defs_find_column(cq->columns, lfirst(lb), "breakdown column", where);
		error_context_stack = ecb.previous;
		if (material)
		{
			int64	   *idp = palloc(sizeof(int64));

			*idp = m->id;
			invalidated = lappend(invalidated, idp);
		}
	}
	return invalidated;
}

/* SQL: tripl.alter_fact_table(name, query, timestamp_column, identifier_columns, row_filters, description) */
Datum
tripl_alter_fact_table(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	char	   *query = fn_arg_text(fcinfo, 1);
	char	   *ts_column = fn_arg_text(fcinfo, 2);
	bool		identifiers_given = !PG_ARGISNULL(3);
	List	   *identifiers;
	Jsonb	   *filters = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	char	   *description = fn_arg_text(fcinfo, 5);
	FactTableDef *old;
	CheckedQuery *cq;
	CheckedFilters *cf;
	const char *ts_type;
	char	   *where;
	char	   *new_query;
	List	   *invalidated;
	bool		query_changed;
	Oid			types[8] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, JSONBOID, TEXTOID, TEXTOID};
	Datum		vals[8];
	char		nulls[9] = "        ";

	check_definition_name(name, "fact table");
	identifiers = fn_arg_name_list(fcinfo, 3, "identifier_columns");
	if (ts_column != NULL && ts_column[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timestamp_column must not be empty")));
	check_text_length(description, TRIPL_MAX_TEXT_LENGTH, "description");

	SPI_connect();
	old = defs_fact_table(name, 0, false);
	defcheck_owner(old->owner, "fact table", name);
	if (ts_column == NULL)
		ts_column = old->ts_column;
	if (!identifiers_given)
		identifiers = old->identifiers;
	where = psprintf("the query of fact table \"%s\"", name);

	cq = defcheck_query(query ? query : old->query, "fact table query",
					 query ? current_search_path() : old->search_path);
	new_query = cq->query;
	query_changed = strcmp(new_query, old->query) != 0;
	ts_type = defcheck_time_column(cq, ts_column, "timestamp column", where);
	defcheck_identifiers(identifiers, cq, where);
	if (filters)
		cf = defcheck_row_filters(filters, cq, name, query ? current_search_path() : old->search_path);
	else
	{
		/* the old filters must still plan against a new query */
		cf = palloc0(sizeof(CheckedFilters));
		cf->names = old->filter_names;
		cf->sqls = old->filter_sqls;
		if (query_changed)
		{
			ListCell   *ln;
			ListCell   *ls;

			forboth(ln, cf->names, ls, cf->sqls)
			{
				StringInfoData sql;
				ErrorContextCallback ecb;

				ecb.callback = defcheck_context_callback;
				ecb.arg = psprintf("while checking row filter \"%s\" of fact table \"%s\"",
								   (char *) lfirst(ln), name);
				ecb.previous = error_context_stack;
				error_context_stack = &ecb;
				initStringInfo(&sql);
				appendStringInfoString(&sql, "SELECT 1 FROM ");
				aggsql_append_user_query(&sql, new_query);
				appendStringInfo(&sql, "\nWHERE (\n%s\n)", (char *) lfirst(ls));
				defcheck_plan_as_caller(sql.data, current_search_path(), 0);
				error_context_stack = ecb.previous;
			}
		}
	}

	invalidated = recheck_fact_dependents(old, cq, cf, ts_column, query_changed);

	vals[0] = Int64GetDatum(old->id);
	vals[1] = CStringGetTextDatum(new_query);
	vals[2] = CStringGetTextDatum(ts_column);
	vals[3] = CStringGetTextDatum(ts_type);
	vals[4] = defcheck_name_list_datum(identifiers);
	if (filters)
		vals[5] = JsonbPGetDatum(filters);
	else
	{
		vals[5] = (Datum) 0;
		nulls[5] = 'n';
	}
	vals[6] = CStringGetTextDatum(defcheck_columns_json(cq->columns));
	spi_param_text(vals, nulls, 7, description);
	catalog_execute("UPDATE tripl.fact_tables SET query = $2, timestamp_column = $3, timestamp_type = $4, "
					"identifier_columns = $5, row_filters = coalesce($6, row_filters), columns = $7::jsonb, "
					"description = CASE WHEN $8 = '' THEN NULL ELSE coalesce($8, description) END, "
					"updated_at = now() WHERE id = $1",
					8, types, vals, nulls, false, 0);
	if (query != NULL)
	{
		types[1] = TEXTOID;
		vals[1] = CStringGetTextDatum(current_search_path());
		catalog_execute("UPDATE tripl.fact_tables SET search_path = $2 WHERE id = $1",
						2, types, vals, NULL, false, 0);
	}
	clear_metric_values(invalidated);
	SPI_finish();
	PG_RETURN_VOID();
}

/* SQL: tripl.drop_fact_table(name) */
Datum
tripl_drop_fact_table(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	FactTableDef *ft;
	Oid			types[1] = {INT8OID};
	Datum		vals[1];

	check_definition_name(name, "fact table");
	SPI_connect();
	ft = defs_fact_table(name, 0, false);
	defcheck_owner(ft->owner, "fact table", name);
	refuse_drop_if_used("SELECT DISTINCT m.name FROM tripl.metrics m "
						"JOIN tripl.metric_operands o ON o.metric_id = m.id "
						"WHERE o.fact_table_id = $1 ORDER BY 1",
						ft->id, "fact table", name, "metrics",
						"Drop those metrics first with tripl.drop_metric().");
	vals[0] = Int64GetDatum(ft->id);
	catalog_execute("DELETE FROM tripl.fact_tables WHERE id = $1", 1, types, vals, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/* SQL: tripl.preview_fact_table(query, sample_rows) */
Datum
tripl_preview_fact_table(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *query = fn_arg_text(fcinfo, 0);
	int			sample_rows = PG_ARGISNULL(1) ? 5 : PG_GETARG_INT32(1);
	char	   *search_path = current_search_path();
	CheckedQuery *cq;
	StringInfoData sql;
	ListCell   *lc;
	int			i;
	int			ncols;

	if (sample_rows < 0 || sample_rows > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample_rows must be between 0 and 1000")));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	cq = defcheck_query(query, "query", search_path);
	ncols = list_length(cq->columns);

	/* every column's sample as a jsonb array, by position */
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (i = 0; i < ncols; i++)
		appendStringInfo(&sql, "%scoalesce(jsonb_agg(to_jsonb(s.c%d)), '[]')", i ? ", " : "", i);
	appendStringInfoString(&sql, " FROM (SELECT * FROM ");
	aggsql_append_user_query(&sql, cq->query);
	appendStringInfo(&sql, " LIMIT %d) AS s(", sample_rows);
	for (i = 0; i < ncols; i++)
		appendStringInfo(&sql, "%sc%d", i ? ", " : "", i);
	appendStringInfoChar(&sql, ')');
	(void) userquery_execute(sql.data, GetUserId(), search_path, 0, NULL, NULL, NULL, 0);

	i = 0;
	foreach(lc, cq->columns)
	{
		ColumnInfo *c = lfirst(lc);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(c->name);
		values[1] = CStringGetTextDatum(c->type_class);
		values[2] = CStringGetTextDatum(c->native_type);
		values[3] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &nulls[3]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		i++;
	}
	SPI_finish();
	return (Datum) 0;
}

/*--------------------------------------------------------------------
 * Event sources
 *--------------------------------------------------------------------
 */

/* SQL: tripl.create_event_source(name, query, timestamp_column, event_column, user_column, description) */
Datum
tripl_create_event_source(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	char	   *query = fn_arg_text(fcinfo, 1);
	char	   *ts_column;
	char	   *event_column;
	char	   *user_column = fn_arg_text(fcinfo, 4);
	char	   *description = fn_arg_text(fcinfo, 5);
	char	   *search_path = current_search_path();
	char	   *where;
	CheckedQuery *cq;
	const char *ts_type;
	int64		id;
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, TEXTOID};
	Datum		vals[10];
	char		nulls[11] = "          ";

	check_definition_name(name, "event source");
	ts_column = fn_required_text(fcinfo, 2, "timestamp_column");
	event_column = fn_required_text(fcinfo, 3, "event_column");
	if (user_column != NULL && user_column[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("user_column must not be empty"),
				 errhint("Pass NULL when the source has no user column.")));
	check_text_length(description, TRIPL_MAX_TEXT_LENGTH, "description");
	where = psprintf("the query of event source \"%s\"", name);

	SPI_connect();
	if (defs_event_source(name, 0, true) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("event source \"%s\" already exists", name)));
	cq = defcheck_query(query, "event source query", search_path);
	ts_type = defcheck_time_column(cq, ts_column, "timestamp column", where);
	(void) defs_find_column(cq->columns, event_column, "event column", where);
	if (user_column)
		(void) defs_find_column(cq->columns, user_column, "user column", where);

	vals[0] = CStringGetTextDatum(name);
	vals[1] = CStringGetTextDatum(cq->query);
	vals[2] = CStringGetTextDatum(ts_column);
	vals[3] = CStringGetTextDatum(ts_type);
	vals[4] = CStringGetTextDatum(event_column);
	spi_param_text(vals, nulls, 5, user_column);
	vals[6] = CStringGetTextDatum(defcheck_columns_json(cq->columns));
	spi_param_text(vals, nulls, 7, description);
	vals[8] = ObjectIdGetDatum(GetUserId());
	vals[9] = CStringGetTextDatum(search_path);
	catalog_execute("INSERT INTO tripl.event_sources (name, query, timestamp_column, timestamp_type, "
					"event_column, user_column, columns, description, owner, search_path) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::regrole, $10) RETURNING id",
					10, types, vals, nulls, false, 0);
	id = spi_int64(0, 0);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* SQL: tripl.drop_event_source(name) */
Datum
tripl_drop_event_source(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	EventSourceDef *es;
	Oid			types[1] = {INT8OID};
	Datum		vals[1];

	check_definition_name(name, "event source");
	SPI_connect();
	es = defs_event_source(name, 0, false);
	defcheck_owner(es->owner, "event source", name);
	refuse_drop_if_used("SELECT name FROM tripl.metrics WHERE event_source_id = $1 ORDER BY name",
						es->id, "event source", name, "metrics",
						"Drop those metrics first with tripl.drop_metric().");
	vals[0] = Int64GetDatum(es->id);
	catalog_execute("DELETE FROM tripl.event_sources WHERE id = $1", 1, types, vals, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

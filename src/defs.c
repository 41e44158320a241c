/*-------------------------------------------------------------------------
 *
 * defs.c
 *	  Reading definitions (fact tables, event sources, metrics) from the
 *	  catalog tables, through catalog_execute() (spiutil.c).
 *
 *	  The caller must be connected to SPI.  Results are allocated in the
 *	  current memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "aggsql.h"
#include "defs.h"
#include "grid_pg.h"
#include "spiutil.h"
#include "tripl.h"

/* Parse the stored columns jsonb into ColumnInfo structs */
static List *
load_columns(const char *table, int64 id)
{
	char	   *sql = psprintf("SELECT c->>'name', c->>'type_class', c->>'native_type' "
							   "FROM tripl.%s t, jsonb_array_elements(t.columns) WITH ORDINALITY AS e(c, n) "
							   "WHERE t.id = $1 ORDER BY n", table);
	Oid			types[1] = {INT8OID};
	Datum		vals[1] = {Int64GetDatum(id)};
	List	   *result = NIL;
	uint64		i;

	catalog_execute(sql, 1, types, vals, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		ColumnInfo *c = palloc0(sizeof(ColumnInfo));

		c->name = (char *) spi_text(i, 0);
		c->type_class = (char *) spi_text(i, 1);
		c->native_type = (char *) spi_text(i, 2);
		result = lappend(result, c);
	}
	return result;
}

/*
 * Read one definition row: SELECT columns FROM tripl.<table> by name, or by
 * id when name is NULL (table and columns are constants of the caller).
 * Returns false when it does not exist and missing_ok, else raises.
 */
bool
select_definition(const char *kind, const char *table, const char *columns,
				  const char *name, int64 id, bool missing_ok)
{
	Oid			types[1];
	Datum		vals[1];

	types[0] = name ? TEXTOID : INT8OID;
	vals[0] = name ? CStringGetTextDatum(name) : Int64GetDatum(id);
	catalog_execute(psprintf("SELECT %s FROM tripl.%s WHERE %s = $1", columns, table, name ? "name" : "id"),
					1, types, vals, NULL, true, 0);
	if (SPI_processed > 0)
		return true;
	if (missing_ok)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("%s \"%s\" does not exist", kind, name ? name : psprintf(INT64_FORMAT, id))));
	return false;				/* not reached */
}

/* Load a fact table by name (or by id when name is NULL) */
FactTableDef *
defs_fact_table(const char *name, int64 id, bool missing_ok)
{
	Oid			types[1];
	Datum		vals[1];
	FactTableDef *ft;
	uint64		i;

	if (!select_definition("fact table", "fact_tables",
						   "id, name, query, timestamp_column, timestamp_type, identifier_columns, "
						   "owner::oid::int8, search_path", name, id, missing_ok))
		return NULL;
	ft = palloc0(sizeof(FactTableDef));
	ft->id = spi_int64(0, 0);
	ft->name = (char *) spi_text(0, 1);
	ft->query = (char *) spi_text(0, 2);
	ft->ts_column = (char *) spi_text(0, 3);
	ft->ts_type = (char *) spi_text(0, 4);
	ft->identifiers = spi_text_array(0, 5);
	ft->owner = (Oid) spi_int64(0, 6);
	ft->search_path = (char *) spi_text(0, 7);

	types[0] = INT8OID;
	vals[0] = Int64GetDatum(ft->id);
	catalog_execute("SELECT f.key, f.value FROM tripl.fact_tables t, jsonb_each_text(t.row_filters) f "
					"WHERE t.id = $1 ORDER BY f.key", 1, types, vals, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		ft->filter_names = lappend(ft->filter_names, (char *) spi_text(i, 0));
		ft->filter_sqls = lappend(ft->filter_sqls, (char *) spi_text(i, 1));
	}
	ft->columns = load_columns("fact_tables", ft->id);
	return ft;
}

/* Load an event source by name (or by id when name is NULL) */
EventSourceDef *
defs_event_source(const char *name, int64 id, bool missing_ok)
{
	EventSourceDef *es;

	if (!select_definition("event source", "event_sources",
						   "id, name, query, timestamp_column, timestamp_type, event_column, user_column, "
						   "owner::oid::int8, search_path", name, id, missing_ok))
		return NULL;
	es = palloc0(sizeof(EventSourceDef));
	es->id = spi_int64(0, 0);
	es->name = (char *) spi_text(0, 1);
	es->query = (char *) spi_text(0, 2);
	es->ts_column = (char *) spi_text(0, 3);
	es->ts_type = (char *) spi_text(0, 4);
	es->event_column = (char *) spi_text(0, 5);
	es->user_column = (char *) spi_text(0, 6);
	es->owner = (Oid) spi_int64(0, 7);
	es->search_path = (char *) spi_text(0, 8);
	es->columns = load_columns("event_sources", es->id);
	return es;
}

/* Attach the operands of the listed metrics (in id order, as defs_metrics loads them) */
static void
load_operands(List *metrics)
{
	ListCell   *lc;
	Datum	   *ids;
	ArrayType  *arr;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		vals[1];
	int			n = 0;
	int			next = 0;
	uint64		i;

	if (metrics == NIL)
		return;
	ids = palloc(sizeof(Datum) * list_length(metrics));
	foreach(lc, metrics)
		ids[n++] = Int64GetDatum(((MetricDef *) lfirst(lc))->id);
	arr = spi_int8_array(ids, n);
	vals[0] = PointerGetDatum(arr);
	/* percentile through to_jsonb: a 0.1 catalog (not updated yet) has no such column */
	catalog_execute("SELECT metric_id, role, fact_table_id, aggregation, measure_column, "
					"distinct_column, row_filters, filter_sql, pg_catalog.to_jsonb(o) ->> 'percentile' "
					"FROM tripl.metric_operands o "
					"WHERE metric_id = ANY($1) ORDER BY metric_id, role",
					1, types, vals, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		int64		mid = spi_int64(i, 0);
		OperandDef *op = palloc0(sizeof(OperandDef));

		op->role = (char *) spi_text(i, 1);
		op->fact_table_id = spi_int64(i, 2);
		if (!agg_kind_from_name(spi_text(i, 3), &op->agg))
			elog(ERROR, "unknown aggregation in tripl.metric_operands");
		op->measure_column = (char *) spi_text(i, 4);
		op->distinct_column = (char *) spi_text(i, 5);
		op->row_filters = spi_text_array(i, 6);
		op->filter_sql = (char *) spi_text(i, 7);
		op->percentile = spi_isnull(i, 8) ? 0.0 :
			DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(spi_text(i, 8))));

		/* both are in id order: walk the metrics along with the operands */
		while (next < n && ((MetricDef *) list_nth(metrics, next))->id < mid)
			next++;
		if (next < n && ((MetricDef *) list_nth(metrics, next))->id == mid)
		{
			MetricDef  *m = list_nth(metrics, next);

			if (strcmp(op->role, "value") == 0)
				m->value = op;
			else if (strcmp(op->role, "numerator") == 0)
				m->numerator = op;
			else
				m->denominator = op;
		}
	}
}

/* Attach the expressions and inputs of the derived ones among metrics (in id order) */
static void
load_derived(List *metrics)
{
	ListCell   *lc;
	Datum	   *ids;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		vals[1];
	int			n = 0;
	int			next = 0;
	uint64		i;

	ids = palloc(sizeof(Datum) * (list_length(metrics) + 1));
	foreach(lc, metrics)
	{
		MetricDef  *m = lfirst(lc);

		if (strcmp(m->kind, "derived") == 0)
			ids[n++] = Int64GetDatum(m->id);
	}
	if (n == 0)
		return;					/* also: a 0.1 catalog has no such column */
	vals[0] = PointerGetDatum(spi_int8_array(ids, n));
	catalog_execute("SELECT m.id, m.expression, "
					"(SELECT count(*) FROM tripl.metric_inputs i WHERE i.metric_id = m.id), "
					"i.input_metric_id, im.name "
					"FROM tripl.metrics m "
					"LEFT JOIN tripl.metric_inputs i ON i.metric_id = m.id "
					"LEFT JOIN tripl.metrics im ON im.id = i.input_metric_id "
					"WHERE m.id = ANY($1) ORDER BY m.id, im.name",
					1, types, vals, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		int64		mid = spi_int64(i, 0);
		MetricDef  *m = NULL;

		/* both are in id order */
		while (next < list_length(metrics) && ((MetricDef *) list_nth(metrics, next))->id < mid)
			next++;
		if (next >= list_length(metrics) || ((MetricDef *) list_nth(metrics, next))->id != mid)
			continue;
		m = list_nth(metrics, next);
		if (m->expression == NULL)
		{
			int64		count = spi_int64(i, 2);

			m->expression = (char *) spi_text(i, 1);
			m->input_ids = palloc0(sizeof(int64) * (count + 1));
			m->input_names = palloc0(sizeof(char *) * (count + 1));
		}
		if (!spi_isnull(i, 3))
		{
			m->input_ids[m->ninputs] = spi_int64(i, 3);
			m->input_names[m->ninputs] = (char *) spi_text(i, 4);
			m->ninputs++;
		}
	}
}

/* Load the metrics matching a WHERE condition on tripl.metrics m, by id */
List *
defs_metrics(const char *where, int nargs, Oid *argtypes, Datum *values)
{
	StringInfoData sql;
	List	   *result = NIL;
	uint64		i;

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT m.id, m.name, m.kind, m.status, "
					 "(extract(epoch FROM m.bucket) * 1000000)::int8, m.composition, "
					 "m.query, m.time_column, m.value_column, m.event_source_id, "
					 "m.numerator_event, m.denominator_event, m.breakdowns, "
					 "coalesce(m.breakdown_values_limit, 0)::int8, m.anomaly_detection::int::int8, "
					 "m.unit, m.owner::oid::int8, m.search_path, m.time_type, %s, "
	/* the window through to_jsonb: a 0.1 catalog (not updated yet) has no such column */
					 "(pg_catalog.to_jsonb(m) ->> 'window')::interval, m.bucket "
					 "FROM tripl.metrics m WHERE %s ORDER BY m.id", grid_pg_zone_column(), where);
	catalog_execute(sql.data, nargs, argtypes, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		MetricDef  *m = palloc0(sizeof(MetricDef));

		m->id = spi_int64(i, 0);
		m->name = (char *) spi_text(i, 1);
		m->kind = (char *) spi_text(i, 2);
		m->status = (char *) spi_text(i, 3);
		m->width_us = spi_int64(i, 4);
		m->composition = (char *) spi_text(i, 5);
		m->query = (char *) spi_text(i, 6);
		m->time_column = (char *) spi_text(i, 7);
		m->value_column = (char *) spi_text(i, 8);
		m->event_source_id = spi_int64(i, 9);
		m->numerator_event = (char *) spi_text(i, 10);
		m->denominator_event = (char *) spi_text(i, 11);
		m->breakdowns = spi_text_array(i, 12);
		m->values_limit = (int) spi_int64(i, 13);
		m->anomaly_detection = spi_int64(i, 14) != 0;
		m->unit = (char *) spi_text(i, 15);
		m->owner = (Oid) spi_int64(i, 16);
		m->search_path = (char *) spi_text(i, 17);
		m->time_type = (char *) spi_text(i, 18);
		m->timezone = (char *) spi_text(i, 19);
		{
			bool		isnull;
			/* SPI_getbinval counts columns from 1: the bucket is column 21 from 0 */
			Interval   *iv = DatumGetIntervalP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 22, &isnull));
			const char *problem = grid_pg_make(&m->grid, iv, m->timezone);

			if (problem)
				elog(ERROR, "metric \"%s\" has a bad bucket: %s", m->name, problem);
			m->width_us = m->grid.width;
		}
		if (!spi_isnull(i, 20))
		{
			bool		isnull;
			Interval   *w = DatumGetIntervalP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 21, &isnull));
			int64		k;

			if (grid_window_buckets(&m->grid, w->month, w->day, w->time, &k) == NULL)
				m->window_buckets = (int) k;
		}
		result = lappend(result, m);
	}
	load_operands(result);
	load_derived(result);
	return result;
}

/* Load one metric by name */
MetricDef *
defs_metric(const char *name, bool missing_ok)
{
	Oid			types[1] = {TEXTOID};
	Datum		vals[1];
	List	   *l;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metric name must not be NULL")));
	vals[0] = CStringGetTextDatum(name);
	l = defs_metrics("m.name = $1", 1, types, vals);
	if (l == NIL)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("metric \"%s\" does not exist", name)));
	}
	return linitial(l);
}

/* Find a column by exact name; role and where make the error message */
ColumnInfo *
defs_find_column(List *columns, const char *name, const char *role, const char *where)
{
	ListCell   *lc;
	ColumnInfo *found = NULL;
	int			matches = 0;
	StringInfoData names;

	foreach(lc, columns)
	{
		ColumnInfo *c = lfirst(lc);

		if (strcmp(c->name, name) == 0)
		{
			found = c;
			matches++;
		}
	}
	if (matches == 1)
		return found;
	if (matches > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_COLUMN),
				 errmsg("%s \"%s\" appears more than once in the output of %s", role, name, where),
				 errhint("Give the columns distinct names with AS in the query.")));

	initStringInfo(&names);
	foreach(lc, columns)
	{
		if (names.len > 0)
			appendStringInfoString(&names, ", ");
		if (names.len > 400)
		{
			appendStringInfoString(&names, "...");
			break;
		}
		appendStringInfoString(&names, quote_identifier(((ColumnInfo *) lfirst(lc))->name));
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("%s \"%s\" is not a column of %s", role, name, where),
			 errhint("The columns are: %s.", names.data)));
	return NULL;				/* keep compiler quiet */
}

/* The SQL of a named row filter of a fact table, NULL if there is none */
char *
defs_fact_filter_sql(const char *name, FactTableDef *ft)
{
	ListCell   *n;
	ListCell   *s;

	forboth(n, ft->filter_names, s, ft->filter_sqls)
	{
		if (strcmp((char *) lfirst(n), name) == 0)
			return (char *) lfirst(s);
	}
	return NULL;
}

/* A role's name for messages ("(dropped)" when it no longer exists) */
static const char *
role_name_or_dropped(Oid role)
{
	const char *name = GetUserNameFromId(role, true);

	return name ? quote_identifier(name) : "(dropped)";
}

/*
 * A metric reads only fact tables and event sources of its own owner:
 * every statement collection runs then holds SQL written by one role and
 * runs as that role.  A superuser-owned metric is no exception.
 */
void
defs_check_source_owner(Oid metric_owner, Oid source_owner, const char *kind,
						const char *name)
{
	if (metric_owner == source_owner)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s \"%s\" is owned by role %s, not by the metric's owner %s",
					kind, name, role_name_or_dropped(source_owner),
					role_name_or_dropped(metric_owner)),
			 errdetail("A metric reads only fact tables and event sources of its own owner, so that every query runs as the role that wrote it."),
			 errhint("Define the metric as role %s (SET ROLE %s), or share sources through a group role that owns both.",
					 role_name_or_dropped(source_owner), role_name_or_dropped(source_owner))));
}

/*
 * The combined filter of an operand: its named row filters (in order) and
 * its filter_sql, each parenthesised, ANDed.  NULL when there is none.
 */
char *
defs_operand_filter(FactTableDef *ft, OperandDef *op)
{
	List	   *fragments = NIL;
	ListCell   *lc;
	StringInfoData buf;

	foreach(lc, op->row_filters)
	{
		char	   *sql = defs_fact_filter_sql((char *) lfirst(lc), ft);

		if (sql == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("row filter \"%s\" does not exist on fact table \"%s\"",
							(char *) lfirst(lc), ft->name)));
		fragments = lappend(fragments, sql);
	}
	if (op->filter_sql)
		fragments = lappend(fragments, op->filter_sql);
	if (fragments == NIL)
		return NULL;
	initStringInfo(&buf);
	aggsql_append_filters(&buf, fragments);
	return buf.data;
}

/* Count-shaped metrics are zero-filled and gated by min_expected_count */
bool
defs_count_shaped(const MetricDef *m)
{
	if (strcmp(m->kind, "fact") == 0 && m->value != NULL)
		return m->value->agg == AGG_COUNT || m->value->agg == AGG_COUNT_DISTINCT ||
			m->value->agg == AGG_APPROX_COUNT_DISTINCT;
	if (strcmp(m->kind, "event_composition") == 0)
		return strcmp(m->composition, "single") == 0;
	return false;
}

/*-------------------------------------------------------------------------
 *
 * defio.c
 *	  Definitions as code: the table-driven description of every kind of
 *	  definition (doc/definitions.md, "Definitions as code").  Export,
 *	  validation, planning and applying (tripl.export_definitions and
 *	  tripl.apply_definitions, PL/pgSQL in sql/tripl.sql) read nothing about
 *	  an object type or a field but these two tables, so a new argument of a
 *	  create_ function is ONE line in def_fields below (and the JSON Schema
 *	  doc/definitions.schema.json, which a test checks against the table).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/array.h"
#include "catalog/pg_type.h"

#include "core/derived.h"
#include "tripl.h"

TRIPL_SQL_FUNCTION(tripl_definition_types);
TRIPL_SQL_FUNCTION(tripl_definition_fields);
TRIPL_SQL_FUNCTION(tripl_derived_inputs);

/*
 * An object type: its section of the document, the order it is applied in
 * (drops in reverse), where its rows are and which of them the caller
 * manages, its create_/alter_/drop_ functions, and what it depends on.
 *
 * from_sql names the catalog row "o"; scope_sql says which rows the caller
 * manages (the C functions check the same: defcheck_owner,
 * alert_require_destination_owner).  depends_sql is an expression over a
 * document object $1 (jsonb) giving a jsonb array of [object_type, name]
 * pairs it needs first.
 */
typedef struct DefType
{
	const char *type;
	const char *section;
	int			rank;
	const char *table;
	const char *from_sql;
	const char *scope_sql;
	const char *create_fn;
	const char *alter_fn;
	const char *drop_fn;
	const char *depends_sql;
	bool		admin;			/* only tripl_admin has such objects */
} DefType;

#define OWNED "pg_catalog.pg_has_role(o.owner::oid, 'USAGE')"
#define ADMIN_OWNED "pg_catalog.pg_has_role('tripl_admin', 'USAGE') AND " OWNED

static const DefType def_types[] = {
	{"fact_table", "fact_tables", 1, "tripl.fact_tables", "tripl.fact_tables o", OWNED,
		"create_fact_table", "alter_fact_table", "drop_fact_table", "'[]'::jsonb", false},
	{"event_source", "event_sources", 2, "tripl.event_sources", "tripl.event_sources o", OWNED,
		"create_event_source", NULL, "drop_event_source", "'[]'::jsonb", false},

	/*
	 * Inputs before the metrics that use them: a derived metric depends on
	 * the metrics its expression names (tripl._derived_inputs); metrics are
	 * ordered by it.
	 */
	{"metric", "metrics", 3, "tripl.metrics",
		"tripl.metrics o"
		" LEFT JOIN tripl.metric_operands v ON v.metric_id = o.id AND v.role = 'value'"
		" LEFT JOIN tripl.fact_tables vf ON vf.id = v.fact_table_id"
		" LEFT JOIN tripl.event_sources es ON es.id = o.event_source_id"
		" LEFT JOIN tripl.monitoring_settings ms ON ms.metric_id = o.id",
		OWNED, "create_metric", "alter_metric", "drop_metric",
		"(SELECT coalesce(pg_catalog.jsonb_agg(x), '[]') FROM ("
		" SELECT pg_catalog.jsonb_build_array('fact_table', t) AS x"
		" FROM pg_catalog.unnest(ARRAY[$1->>'fact_table', $1->'numerator'->>'fact_table',"
		" $1->'denominator'->>'fact_table']) t WHERE t IS NOT NULL"
		" UNION ALL SELECT pg_catalog.jsonb_build_array('event_source', $1->>'event_source')"
		" WHERE $1->>'event_source' IS NOT NULL"
		" UNION ALL SELECT pg_catalog.jsonb_build_array('metric', i)"
		" FROM pg_catalog.unnest(tripl._derived_inputs($1->>'expression')) i) s)", false},
	{"destination", "destinations", 4, "tripl.destinations",
		"tripl.destinations o LEFT JOIN tripl.destination_secrets s ON s.destination_id = o.id",
		ADMIN_OWNED, "create_destination", "alter_destination", "drop_destination", "'[]'::jsonb", true},
	{"alert_rule", "alert_rules", 5, "tripl.alert_rules",
		"tripl.alert_rules o JOIN tripl.destinations d ON d.id = o.destination_id",
		ADMIN_OWNED, "create_alert_rule", "alter_alert_rule", "drop_alert_rule",
		"(SELECT pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_array('destination', $1->>'destination'))"
		" || coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array('metric', m))"
		" FROM pg_catalog.jsonb_array_elements_text(CASE WHEN pg_catalog.jsonb_typeof($1->'metrics') = 'array'"
		" THEN $1->'metrics' END) m), '[]'))", true},
};

/*
 * A field of an object type (or of a nested object: "operand" is a ratio's
 * numerator or denominator, "monitoring" a metric's detection settings and
 * the document's default settings).
 *
 * json_type: string | number | integer | boolean | object | string_array |
 *   secret (a string, or the placeholder {"secret_of": name} export writes).
 * sql_type: the type of the create_/alter_ argument of the same name.
 * dflt: the value when the field is absent or null (JSON); NULL: required.
 *   Export leaves out fields at their default.
 * change: what changing it means (doc/definitions.md, "Definitions as
 *   code"): "alter" keeps the values, "replace" clears them and they are
 *   collected afresh.
 * alter_arg: the argument of the type's alter_ function that changes it in
 *   place (NULL: it cannot be, the object is dropped and created again);
 *   clear_arg the arguments that reset it to its default in place.
 * always: pass alter_arg on every in-place change (alter_fact_table takes
 *   the search_path of the call only with a query).
 * canon: how two values compare beyond their SQL type: "query" (a trailing
 *   ';' does not count), "name_set" (order and duplicates do not count),
 *   "composition" (only a composition that cannot be inferred counts),
 *   "object:<type>" (a nested object of that type's fields), "search_path"
 *   (not an argument: the search_path the create_/alter_ call runs under).
 * read_sql: the stored value as jsonb over the row "o" of the type's
 *   from_sql; secret_sql the stored secret (only its owner reads it).
 */
typedef struct DefField
{
	const char *type;
	const char *field;
	const char *json_type;
	const char *sql_type;
	const char *dflt;
	const char *change;
	const char *alter_arg;
	const char *clear_arg;
	bool		always;
	const char *canon;
	const char *read_sql;
	const char *secret_sql;
} DefField;

#define T "pg_catalog.text"
#define TA "pg_catalog.text[]"
#define J "pg_catalog.jsonb"
#define IV "pg_catalog.interval"
#define F8 "pg_catalog.float8"
#define I4 "pg_catalog.int4"
#define B "pg_catalog.bool"
#define TZ "pg_catalog.timestamptz"
#define SP "\"\\\"$user\\\", public\""	/* the JSON string "\"$user\", public" */
#define OPERAND(role) \
	"(SELECT pg_catalog.jsonb_build_object('fact_table', f.name, 'aggregation', x.aggregation," \
	" 'measure_column', x.measure_column, 'distinct_column', x.distinct_column, 'row_filters', x.row_filters," \
	" 'filter_sql', x.filter_sql, 'percentile', x.percentile) FROM tripl.metric_operands x JOIN tripl.fact_tables f ON f.id = x.fact_table_id" \
	" WHERE x.metric_id = o.id AND x.role = '" role "')"

static const DefField def_fields[] = {
	/* type, field, json_type, sql_type, default, change, alter_arg, clear_arg, always, canon, read_sql, secret_sql */
	{"fact_table", "query", "string", T, NULL, "replace", "query", NULL, true, "query", "to_jsonb(o.query)", NULL},
	{"fact_table", "timestamp_column", "string", T, NULL, "replace", "timestamp_column", NULL, false, NULL, "to_jsonb(o.timestamp_column)", NULL},
	{"fact_table", "identifier_columns", "string_array", TA, "[]", "alter", "identifier_columns", NULL, false, NULL, "to_jsonb(o.identifier_columns)", NULL},
	{"fact_table", "row_filters", "object", J, "{}", "replace", "row_filters", NULL, false, NULL, "o.row_filters", NULL},
	{"fact_table", "description", "string", T, "null", "alter", "description", "description => ''", false, NULL, "to_jsonb(o.description)", NULL},
	{"fact_table", "search_path", "string", T, SP, "replace", "query", NULL, false, "search_path", "to_jsonb(o.search_path)", NULL},

	{"event_source", "query", "string", T, NULL, "replace", NULL, NULL, false, "query", "to_jsonb(o.query)", NULL},
	{"event_source", "timestamp_column", "string", T, NULL, "replace", NULL, NULL, false, NULL, "to_jsonb(o.timestamp_column)", NULL},
	{"event_source", "event_column", "string", T, NULL, "replace", NULL, NULL, false, NULL, "to_jsonb(o.event_column)", NULL},
	{"event_source", "user_column", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(o.user_column)", NULL},
	{"event_source", "description", "string", T, "null", "alter", NULL, NULL, false, NULL, "to_jsonb(o.description)", NULL},
	{"event_source", "search_path", "string", T, SP, "replace", NULL, NULL, false, "search_path", "to_jsonb(o.search_path)", NULL},

	{"metric", "window", "string", IV, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(o.\"window\")", NULL},
	{"metric", "expression", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(o.expression)", NULL},
	{"metric", "kind", "string", T, NULL, "replace", NULL, NULL, false, NULL, "to_jsonb(o.kind)", NULL},
	{"metric", "bucket", "string", IV, "\"1 hour\"", "replace", "bucket", NULL, false, NULL, "to_jsonb(o.bucket)", NULL},
	{"metric", "timezone", "string", T, "\"UTC\"", "replace", "timezone", NULL, false, NULL, "to_jsonb(o.timezone)", NULL},
	{"metric", "status", "string", T, "\"active\"", "alter", "status", NULL, false, NULL, "to_jsonb(o.status)", NULL},
	{"metric", "fact_table", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(vf.name)", NULL},
	{"metric", "aggregation", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(v.aggregation)", NULL},
	{"metric", "measure_column", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(v.measure_column)", NULL},
	{"metric", "distinct_column", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(v.distinct_column)", NULL},
	{"metric", "row_filters", "string_array", TA, "[]", "replace", NULL, NULL, false, NULL, "to_jsonb(coalesce(v.row_filters, '{}'))", NULL},
	{"metric", "filter_sql", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(v.filter_sql)", NULL},
	{"metric", "percentile", "number", F8, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(v.percentile)", NULL},
	{"metric", "numerator", "object", J, "null", "replace", NULL, NULL, false, "object:operand", OPERAND("numerator"), NULL},
	{"metric", "denominator", "object", J, "null", "replace", NULL, NULL, false, "object:operand", OPERAND("denominator"), NULL},
	{"metric", "query", "string", T, "null", "replace", NULL, NULL, false, "query", "to_jsonb(o.query)", NULL},
	{"metric", "time_column", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(o.time_column)", NULL},
	{"metric", "value_column", "string", T, "\"value\"", "replace", NULL, NULL, false, NULL, "to_jsonb(coalesce(o.value_column, 'value'))", NULL},
	{"metric", "event_source", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(es.name)", NULL},
	{"metric", "numerator_event", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(o.numerator_event)", NULL},
	{"metric", "denominator_event", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(o.denominator_event)", NULL},
	{"metric", "composition", "string", T, "null", "replace", NULL, NULL, false, "composition", "to_jsonb(o.composition)", NULL},
	{"metric", "breakdowns", "string_array", TA, "[]", "replace", NULL, NULL, false, NULL, "to_jsonb(o.breakdowns)", NULL},
	{"metric", "breakdown_values_limit", "integer", I4, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(o.breakdown_values_limit)", NULL},
	{"metric", "anomaly_detection", "boolean", B, "true", "alter", "anomaly_detection", NULL, false, NULL, "to_jsonb(o.anomaly_detection)", NULL},
	{"metric", "description", "string", T, "null", "alter", "description", "description => ''", false, NULL, "to_jsonb(o.description)", NULL},
	{"metric", "unit", "string", T, "null", "alter", "unit", "unit => ''", false, NULL, "to_jsonb(o.unit)", NULL},
	{"metric", "search_path", "string", T, SP, "replace", NULL, NULL, false, "search_path", "to_jsonb(o.search_path)", NULL},
	{"metric", "monitoring", "object", J, "null", "alter", "monitoring", NULL, false, "object:monitoring", "to_jsonb(ms) - 'metric_id'", NULL},

	/* a ratio's numerator and denominator (tripl.create_metric's jsonb operands) */
	{"operand", "fact_table", "string", T, NULL, "replace", NULL, NULL, false, NULL, NULL, NULL},
	{"operand", "aggregation", "string", T, NULL, "replace", NULL, NULL, false, NULL, NULL, NULL},
	{"operand", "measure_column", "string", T, "null", "replace", NULL, NULL, false, NULL, NULL, NULL},
	{"operand", "distinct_column", "string", T, "null", "replace", NULL, NULL, false, NULL, NULL, NULL},
	{"operand", "row_filters", "string_array", TA, "[]", "replace", NULL, NULL, false, NULL, NULL, NULL},
	{"operand", "filter_sql", "string", T, "null", "replace", NULL, NULL, false, NULL, NULL, NULL},
	{"operand", "percentile", "number", F8, "null", "replace", NULL, NULL, false, NULL, NULL, NULL},

	/* detection settings (tripl.set_monitoring's arguments) */
	{"monitoring", "sigma_threshold", "number", F8, "null", "alter", "sigma_threshold", NULL, false, NULL, NULL, NULL},
	{"monitoring", "min_expected_count", "number", F8, "null", "alter", "min_expected_count", NULL, false, NULL, NULL, NULL},
	{"monitoring", "baseline_window_buckets", "integer", I4, "null", "alter", "baseline_window_buckets", NULL, false, NULL, NULL, NULL},
	{"monitoring", "min_history_buckets", "integer", I4, "null", "alter", "min_history_buckets", NULL, false, NULL, NULL, NULL},
	{"monitoring", "settling_minutes", "integer", I4, "null", "alter", "settling_minutes", NULL, false, NULL, NULL, NULL},
	{"monitoring", "recent_signal_window", "string", IV, "null", "alter", "recent_signal_window", NULL, false, NULL, NULL, NULL},

	/* destinations: a type's settings are its options (email, teams, jira) */
	{"destination", "type", "string", T, NULL, "replace", NULL, NULL, false, NULL, "to_jsonb(o.type)", NULL},
	{"destination", "url", "secret", T, "null", "alter", "url", NULL, false, NULL,
		"CASE WHEN o.type = 'slack' THEN pg_catalog.jsonb_build_object('secret_of', o.name) ELSE to_jsonb(o.url) END",
	"CASE WHEN o.type = 'slack' THEN s.secret END"},
	{"destination", "secret", "secret", T, "null", "alter", "secret", NULL, false, NULL,
		"CASE WHEN s.secret IS NOT NULL AND o.type <> 'slack' THEN pg_catalog.jsonb_build_object('secret_of', o.name) END",
	"CASE WHEN o.type <> 'slack' THEN s.secret END"},
	{"destination", "secret_header", "string", T, "null", "alter", "secret_header", NULL, false, NULL, "to_jsonb(o.secret_header)", NULL},
	{"destination", "chat_id", "string", T, "null", "replace", NULL, NULL, false, NULL, "to_jsonb(o.chat_id)", NULL},
	{"destination", "schedule", "string", T, "null", "alter", "schedule", "schedule => ''", false, NULL, "to_jsonb(o.schedule)", NULL},
	{"destination", "enabled", "boolean", B, "true", "alter", "enabled", NULL, false, NULL, "to_jsonb(o.enabled)", NULL},
	{"destination", "options", "object", J, "{}", "alter", "options", NULL, false, NULL, "o.options", NULL},

	/* alert rules */
	{"alert_rule", "destination", "string", T, NULL, "replace", NULL, NULL, false, NULL, "to_jsonb(d.name)", NULL},
	{"alert_rule", "metrics", "string_array", TA, "null", "replace", NULL, NULL, false, "name_set",
		"CASE WHEN NOT o.all_metrics THEN coalesce((SELECT pg_catalog.jsonb_agg(m.name ORDER BY m.name COLLATE \"C\")"
		" FROM tripl.alert_rule_metrics rm JOIN tripl.metrics m ON m.id = rm.metric_id WHERE rm.rule_id = o.id), '[]') END",
	NULL},
	{"alert_rule", "notify_on_spike", "boolean", B, "true", "replace", NULL, NULL, false, NULL, "to_jsonb(o.notify_on_spike)", NULL},
	{"alert_rule", "notify_on_drop", "boolean", B, "true", "replace", NULL, NULL, false, NULL, "to_jsonb(o.notify_on_drop)", NULL},
	{"alert_rule", "min_percent_delta", "number", F8, "30", "replace", NULL, NULL, false, NULL, "to_jsonb(o.min_percent_delta)", NULL},
	{"alert_rule", "min_absolute_delta", "number", F8, "0", "replace", NULL, NULL, false, NULL, "to_jsonb(o.min_absolute_delta)", NULL},
	{"alert_rule", "min_expected", "number", F8, "0", "replace", NULL, NULL, false, NULL, "to_jsonb(o.min_expected)", NULL},
	{"alert_rule", "cooldown", "string", IV, "\"1 day\"", "replace", NULL, NULL, false, NULL, "to_jsonb(o.cooldown)", NULL},
	{"alert_rule", "message_template", "string", T, "null", "alter", "message_template", NULL, false, NULL, "to_jsonb(o.message_template)", NULL},
	{"alert_rule", "muted_until", "string", TZ, "null", "alter", "muted_until", "unmute => true", false, NULL, "to_jsonb(o.muted_until)", NULL},
	{"alert_rule", "enabled", "boolean", B, "true", "alter", "enabled", NULL, false, NULL, "to_jsonb(o.enabled)", NULL},
	{"alert_rule", "notify_on_resolve", "boolean", B, "true", "alter", "notify_on_resolve", NULL, false, NULL, "to_jsonb(o.notify_on_resolve)", NULL},
};

/* A text datum, or NULL */
static void
put_text(Datum *values, bool *nulls, int i, const char *s)
{
	nulls[i] = (s == NULL);
	values[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* SQL: tripl._definition_types() -- the object types, in the order they are applied */
Datum
tripl_definition_types(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			k;

	InitMaterializedSRF(fcinfo, 0);
	for (k = 0; k < (int) lengthof(def_types); k++)
	{
		const DefType *t = &def_types[k];
		Datum		values[11];
		bool		nulls[11];

		put_text(values, nulls, 0, t->type);
		put_text(values, nulls, 1, t->section);
		values[2] = Int32GetDatum(t->rank);
		nulls[2] = false;
		put_text(values, nulls, 3, t->table);
		put_text(values, nulls, 4, t->from_sql);
		put_text(values, nulls, 5, t->scope_sql);
		put_text(values, nulls, 6, t->create_fn);
		put_text(values, nulls, 7, t->alter_fn);
		put_text(values, nulls, 8, t->drop_fn);
		put_text(values, nulls, 9, t->depends_sql);
		values[10] = BoolGetDatum(t->admin);
		nulls[10] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* SQL: tripl._definition_fields() -- every field of every object type */
Datum
tripl_definition_fields(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			k;

	InitMaterializedSRF(fcinfo, 0);
	for (k = 0; k < (int) lengthof(def_fields); k++)
	{
		const DefField *f = &def_fields[k];
		Datum		values[13];
		bool		nulls[13];

		put_text(values, nulls, 0, f->type);
		put_text(values, nulls, 1, f->field);
		values[2] = Int32GetDatum(k + 1);
		nulls[2] = false;
		put_text(values, nulls, 3, f->json_type);
		put_text(values, nulls, 4, f->sql_type);
		nulls[5] = (f->dflt == NULL);
		values[5] = f->dflt ? DirectFunctionCall1(jsonb_in, CStringGetDatum(f->dflt)) : (Datum) 0;
		put_text(values, nulls, 6, f->change);
		put_text(values, nulls, 7, f->alter_arg);
		put_text(values, nulls, 8, f->clear_arg);
		values[9] = BoolGetDatum(f->always);
		nulls[9] = false;
		put_text(values, nulls, 10, f->canon);
		put_text(values, nulls, 11, f->read_sql);
		put_text(values, nulls, 12, f->secret_sql);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * SQL: tripl._derived_inputs(expression) -- the metrics a derived metric's
 * expression names, in order of first use (NULL or an expression that does
 * not parse: none; create_metric reports the error).  Orders a document's
 * metrics: inputs before the derived metrics that use them.
 */
Datum
tripl_derived_inputs(PG_FUNCTION_ARGS)
{
	DerivedExpr *e;
	DerivedError kind;
	char		errbuf[256];
	Datum	   *names;
	int			k;
	ArrayType  *result;

	if (PG_ARGISNULL(0) ||
		!derived_parse(text_to_cstring(PG_GETARG_TEXT_PP(0)), &e, &kind, errbuf, sizeof(errbuf)))
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	names = palloc(sizeof(Datum) * (e->ninputs + 1));
	for (k = 0; k < e->ninputs; k++)
		names[k] = CStringGetTextDatum(e->inputs[k]);
	result = construct_array(names, e->ninputs, TEXTOID, -1, false, TYPALIGN_INT);
	derived_free(e);
	PG_RETURN_ARRAYTYPE_P(result);
}

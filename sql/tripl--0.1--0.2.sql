-- tripl 0.1 -> 0.2: the security model (see doc/security.md, "Security model").
--
-- * SQL and PL/pgSQL functions run with a fixed search_path.
-- * Values, breakdowns and anomalies are private until granted: readable by
--   the metric's owner, tripl_admin and members of the new role
--   tripl_reader.  Collection state (with its error texts) is readable by
--   the owner and tripl_admin; the run log by tripl_admin only.
-- * The C engine's aggregate in a form Citus distributes
--   (tripl._engine_agg_rows with the state type tripl.engine_state).

\echo Use "ALTER EXTENSION tripl UPDATE TO '0.2'" to load this file. \quit

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tripl_reader') THEN
        CREATE ROLE tripl_reader NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('tripl_admin', 'tripl_reader', 'MEMBER') THEN
        GRANT tripl_reader TO tripl_admin;
    END IF;
END
$$;

ALTER FUNCTION tripl.sparkline(float8[]) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION tripl.schedule_with_pg_cron(text, text) SET search_path = pg_catalog, pg_temp;

ALTER TABLE tripl.metric_values ENABLE ROW LEVEL SECURITY;
CREATE POLICY metric_values_readers ON tripl.metric_values FOR SELECT
    USING (pg_catalog.pg_has_role('tripl_reader', 'USAGE')
           OR metric_id IN (SELECT m.id FROM tripl.metrics m WHERE pg_catalog.pg_has_role(m.owner::oid, 'USAGE')));
ALTER TABLE tripl.metric_breakdowns ENABLE ROW LEVEL SECURITY;
CREATE POLICY metric_breakdowns_readers ON tripl.metric_breakdowns FOR SELECT
    USING (pg_catalog.pg_has_role('tripl_reader', 'USAGE')
           OR metric_id IN (SELECT m.id FROM tripl.metrics m WHERE pg_catalog.pg_has_role(m.owner::oid, 'USAGE')));
ALTER TABLE tripl.anomalies ENABLE ROW LEVEL SECURITY;
CREATE POLICY anomalies_readers ON tripl.anomalies FOR SELECT
    USING (pg_catalog.pg_has_role('tripl_reader', 'USAGE')
           OR metric_id IN (SELECT m.id FROM tripl.metrics m WHERE pg_catalog.pg_has_role(m.owner::oid, 'USAGE')));
ALTER TABLE tripl.metric_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY metric_state_owners ON tripl.metric_state FOR SELECT
    USING (pg_catalog.pg_has_role('tripl_admin', 'USAGE')
           OR metric_id IN (SELECT m.id FROM tripl.metrics m WHERE pg_catalog.pg_has_role(m.owner::oid, 'USAGE')));

REVOKE SELECT ON tripl.runs FROM PUBLIC;
GRANT SELECT ON tripl.runs TO tripl_admin;
GRANT USAGE ON SCHEMA tripl TO tripl_reader;


-- Dead deliveries can be revived by their destination's owner
CREATE FUNCTION tripl.retry_deliveries(destination text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tripl_retry_deliveries' LANGUAGE C;
COMMENT ON FUNCTION tripl.retry_deliveries(text) IS
    'Dead deliveries of the destination (NULL: of every destination the caller owns) become pending again; returns how many';
REVOKE ALL ON FUNCTION tripl.retry_deliveries(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tripl.retry_deliveries(text) TO tripl_admin;

-- The same engine in a form Citus distributes (a real state type with a
-- text form, the columns as one ROW(...)): collection uses it when the
-- database has Citus, so that each shard computes a partial state and the
-- coordinator only merges states.  Internal, like tripl._engine_agg.
CREATE TYPE tripl.engine_state;
CREATE FUNCTION tripl._engine_state_in(cstring) RETURNS tripl.engine_state
    AS 'MODULE_PATHNAME', 'tripl_engine_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tripl._engine_state_out(tripl.engine_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'tripl_engine_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE tripl.engine_state (
    INPUT = tripl._engine_state_in,
    OUTPUT = tripl._engine_state_out,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended);
COMMENT ON TYPE tripl.engine_state IS
    'Internal: a partial state of the C aggregation engine (text form: base64 of its serialised image)';
CREATE FUNCTION tripl._engine_rows_trans(tripl.engine_state, bytea, record) RETURNS tripl.engine_state
    AS 'MODULE_PATHNAME', 'tripl_engine_rows_trans' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION tripl._engine_rows_combine(tripl.engine_state, tripl.engine_state) RETURNS tripl.engine_state
    AS 'MODULE_PATHNAME', 'tripl_engine_rows_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION tripl._engine_rows_final(tripl.engine_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'tripl_engine_rows_final' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE tripl._engine_agg_rows(bytea, record) (
    SFUNC = tripl._engine_rows_trans,
    STYPE = tripl.engine_state,
    FINALFUNC = tripl._engine_rows_final,
    COMBINEFUNC = tripl._engine_rows_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tripl._engine_agg_rows(bytea, record) IS
    'Internal: the C aggregation engine in its distributable form (Citus)';

--------------------------------------------------------------------------
-- Calendar time (doc/collection.md, "Calendar time"): a time zone per
-- metric, calendar buckets ('1 month', '3 months', '1 year' and, in a zone,
-- local days and weeks).  Existing metrics get 'UTC': their grids are
-- unchanged.
--------------------------------------------------------------------------

ALTER TABLE tripl.metrics ADD COLUMN timezone text NOT NULL DEFAULT 'UTC';
ALTER TABLE tripl.metrics DROP CONSTRAINT metrics_bucket_width;
ALTER TABLE tripl.metrics ADD CONSTRAINT metrics_bucket_width
        CHECK (bucket >= interval '1 minute'
               AND ((date_part('year', bucket) = 0 AND date_part('month', bucket) = 0)
                    OR bucket IN (interval '1 month', interval '3 months', interval '1 year')));

--------------------------------------------------------------------------
-- More aggregations: percentile, approx_percentile, approx_count_distinct
--------------------------------------------------------------------------

-- percentile, approx_percentile and approx_count_distinct operands
ALTER TABLE tripl.metric_operands ADD COLUMN percentile float8;
ALTER TABLE tripl.metric_operands
    DROP CONSTRAINT metric_operands_aggregation,
    DROP CONSTRAINT metric_operands_measure,
    DROP CONSTRAINT metric_operands_distinct;
ALTER TABLE tripl.metric_operands
    ADD CONSTRAINT metric_operands_aggregation
        CHECK (aggregation IN ('count', 'sum', 'avg', 'min', 'max', 'count_distinct',
                               'percentile', 'approx_percentile', 'approx_count_distinct')),
    ADD CONSTRAINT metric_operands_measure
        CHECK ((aggregation IN ('sum', 'avg', 'min', 'max', 'percentile', 'approx_percentile'))
               = (measure_column IS NOT NULL)),
    ADD CONSTRAINT metric_operands_distinct
        CHECK ((aggregation IN ('count_distinct', 'approx_count_distinct')) = (distinct_column IS NOT NULL)),
    ADD CONSTRAINT metric_operands_percentile
        CHECK ((aggregation IN ('percentile', 'approx_percentile')) = (percentile IS NOT NULL)
               AND (percentile IS NULL OR (percentile > 0 AND percentile < 1)));

-- create_metric gains timezone, percentile, "window" and expression
DROP FUNCTION tripl.create_metric(text, text, interval, text, text, text, text, text, text[], text,
    jsonb, jsonb, text, text, text, text, text, text, text, text[], int, boolean, text, text);
CREATE FUNCTION tripl.create_metric(
    name text,
    kind text,
    bucket interval DEFAULT '1 hour',
    status text DEFAULT 'active',
    fact_table text DEFAULT NULL,
    aggregation text DEFAULT NULL,
    measure_column text DEFAULT NULL,
    distinct_column text DEFAULT NULL,
    row_filters text[] DEFAULT '{}',
    filter_sql text DEFAULT NULL,
    numerator jsonb DEFAULT NULL,
    denominator jsonb DEFAULT NULL,
    query text DEFAULT NULL,
    time_column text DEFAULT NULL,
    value_column text DEFAULT 'value',
    event_source text DEFAULT NULL,
    numerator_event text DEFAULT NULL,
    denominator_event text DEFAULT NULL,
    composition text DEFAULT NULL,
    breakdowns text[] DEFAULT '{}',
    breakdown_values_limit int DEFAULT NULL,
    anomaly_detection boolean DEFAULT true,
    description text DEFAULT NULL,
    unit text DEFAULT NULL,
    timezone text DEFAULT NULL,
    percentile float8 DEFAULT NULL,
    "window" interval DEFAULT NULL,
    expression text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tripl_create_metric' LANGUAGE C;

--------------------------------------------------------------------------
-- Rolling windows: a fact metric's "window" (doc/definitions.md, "Rolling
-- windows"); tripl.catalog shows it
--------------------------------------------------------------------------

ALTER TABLE tripl.metrics ADD COLUMN "window" interval;
ALTER TABLE tripl.metrics ADD CONSTRAINT metrics_window
    CHECK ("window" IS NULL OR (kind = 'fact' AND "window" > interval '0'));

--------------------------------------------------------------------------
-- Calendar time: alter_metric changes bucket and timezone; the grid
-- functions and the views that step on it
--------------------------------------------------------------------------

DROP FUNCTION tripl.alter_metric(text, text, boolean, text, text);
CREATE FUNCTION tripl.alter_metric(
    name text,
    status text DEFAULT NULL,
    anomaly_detection boolean DEFAULT NULL,
    description text DEFAULT NULL,
    unit text DEFAULT NULL,
    bucket interval DEFAULT NULL,
    timezone text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'tripl_alter_metric' LANGUAGE C;

-- The bucket grid of a width in a time zone (doc/collection.md, "Calendar
-- time"): the bucket containing ts, and the bucket k buckets after it
CREATE FUNCTION tripl._bucket_start(ts timestamptz, bucket interval, timezone text) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'tripl_bucket_start' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tripl._bucket_step(ts timestamptz, bucket interval, timezone text, k int) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'tripl_bucket_step' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Views run with their owner's rights: they filter rows themselves.  Each
-- view below is its final 0.2 form (tripl.signals and tripl.status further
-- down, after the objects they read).
CREATE OR REPLACE VIEW tripl.catalog AS
SELECT m.name,
       m.kind,
       m.status,
       m.bucket,
       lv.bucket AS latest_bucket,
       lv.value AS latest_value,
       sg.state AS signal,
       CASE WHEN lv.bucket IS NOT NULL THEN (
           SELECT tripl.sparkline(array_agg(s.value ORDER BY s.bucket))
           FROM tripl.series(m.name, tripl._bucket_step(lv.bucket, m.bucket, m.timezone, -23), lv.bucket + interval '1 microsecond') s)
       END AS sparkline,
       m.unit,
       st.last_collected_at,
       st.last_status,
       CASE WHEN pg_catalog.pg_has_role('tripl_admin', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE')
            THEN st.last_error END AS last_error,
       m.timezone,
       m."window"
FROM tripl.metrics m
LEFT JOIN tripl.metric_state st ON st.metric_id = m.id
LEFT JOIN LATERAL (
    SELECT v.bucket, v.value FROM tripl.metric_values v
    WHERE v.metric_id = m.id ORDER BY v.bucket DESC LIMIT 1) lv ON true
LEFT JOIN tripl.signals sg ON sg.metric = m.name
WHERE pg_catalog.pg_has_role('tripl_reader', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE');

--------------------------------------------------------------------------
-- 0.2: Definitions as code (doc/definitions.md, "Definitions as code"):
-- tripl.export_definitions() and tripl.apply_definitions().  Everything
-- about object types and their fields comes from two tables in C
-- (src/defio.c); the functions below are generic.  Applying calls the
-- create_/alter_/drop_ functions, so every check they make (privileges,
-- validation, user SQL planned as its author) applies.
--------------------------------------------------------------------------

CREATE FUNCTION tripl._definition_types()
    RETURNS TABLE (object_type text, section text, rank int, table_name text, from_sql text,
                   scope_sql text, create_fn text, alter_fn text, drop_fn text, depends_sql text,
                   admin boolean)
    AS 'MODULE_PATHNAME', 'tripl_definition_types' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION tripl._definition_types() IS
    'Internal: the object types of a definitions document, in the order they are applied';

CREATE FUNCTION tripl._definition_fields()
    RETURNS TABLE (object_type text, field text, "position" int, json_type text, sql_type text,
                   default_value jsonb, change text, alter_arg text, clear_arg text, always boolean,
                   canon text, read_sql text, secret_sql text)
    AS 'MODULE_PATHNAME', 'tripl_definition_fields' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The metrics a derived metric's expression names (definitions as code
-- orders inputs before the metrics that use them)
CREATE FUNCTION tripl._derived_inputs(expression text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'tripl_derived_inputs' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION tripl._definition_fields() IS
    'Internal: every field of every object type of a definitions document (src/defio.c)';

-- One value in the form two values compare in (its SQL type's output)
CREATE FUNCTION tripl._definition_value(json_type text, sql_type text, canon text, v jsonb)
    RETURNS jsonb LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF v IS NULL OR v = 'null'::jsonb THEN
        RETURN 'null'::jsonb;
    ELSIF canon = 'query' THEN
        RETURN to_jsonb(rtrim(rtrim(v #>> '{}', E' \t\r\n;'), E' \t\r\n'));
    ELSIF canon = 'name_set' THEN
        RETURN (SELECT coalesce(jsonb_agg(x ORDER BY x COLLATE "C"), '[]')
                FROM (SELECT DISTINCT jsonb_array_elements_text(v) AS x) s);
    ELSIF canon = 'composition' THEN
        RETURN CASE WHEN v #>> '{}' = 'per_distinct_user' THEN v ELSE 'null'::jsonb END;
    ELSIF canon LIKE 'object:%' THEN
        RETURN coalesce(nullif(tripl._definition_canonical(substr(canon, 8), v), '{}'), 'null'::jsonb);
    ELSIF json_type = 'secret' THEN
        RETURN v;
    ELSIF sql_type = 'pg_catalog.interval' THEN
        RETURN to_jsonb((v #>> '{}')::interval);
    ELSIF sql_type = 'pg_catalog.timestamptz' THEN
        RETURN to_jsonb((v #>> '{}')::timestamptz);
    ELSIF sql_type = 'pg_catalog.float8' THEN
        RETURN to_jsonb((v #>> '{}')::float8);
    ELSIF sql_type = 'pg_catalog.int4' THEN
        RETURN to_jsonb((v #>> '{}')::numeric::int4);
    END IF;
    RETURN v;
END
$fn$;

-- An object in the form export writes and apply compares: its name, then
-- every field whose value is not its default
CREATE FUNCTION tripl._definition_canonical(object_type text, obj jsonb)
    RETURNS jsonb LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    f record;
    v jsonb;
    result jsonb := '{}';
BEGIN
    IF obj IS NULL OR jsonb_typeof(obj) <> 'object' THEN
        RETURN NULL;
    END IF;
    IF obj ? 'name' THEN
        result := jsonb_build_object('name', obj -> 'name');
    END IF;
    FOR f IN SELECT * FROM tripl._definition_fields() x WHERE x.object_type = $1 ORDER BY x.position LOOP
        v := tripl._definition_value(f.json_type, f.sql_type, f.canon,
                                     coalesce(nullif(obj -> f.field, 'null'::jsonb), f.default_value));
        IF v <> 'null'::jsonb
           AND v IS DISTINCT FROM tripl._definition_value(f.json_type, f.sql_type, f.canon, f.default_value) THEN
            result := result || jsonb_build_object(f.field, v);
        END IF;
    END LOOP;
    RETURN result;
END
$fn$;

-- The stored objects of one type that the caller manages: name,
-- every field as stored, and the stored secrets (for comparison only)
CREATE FUNCTION tripl._definition_stored(object_type text)
    RETURNS TABLE (name text, raw jsonb, secrets jsonb) LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    t record;
    raw_sql text;
    secret_sql text;
BEGIN
    SELECT * INTO t FROM tripl._definition_types() x WHERE x.object_type = $1;
    IF t.admin AND NOT pg_has_role('tripl_admin', 'USAGE') THEN
        RETURN;
    END IF;
    -- jsonb_build_object takes at most 50 pairs: chunks of 40
    SELECT string_agg(chunk, ' || ') INTO raw_sql
    FROM (SELECT format('jsonb_build_object(%s)', string_agg(format('%L, %s', f.field, f.read_sql), ', ' ORDER BY f.position)) AS chunk
          FROM (SELECT x.*, (row_number() OVER (ORDER BY x.position) - 1) / 40 AS grp
                FROM tripl._definition_fields() x WHERE x.object_type = $1 AND x.read_sql IS NOT NULL) f
          GROUP BY f.grp) c;
    SELECT coalesce(format('jsonb_build_object(%s)', string_agg(format('%L, %s', f.field, f.secret_sql), ', ')), '''{}''::jsonb')
    INTO secret_sql
    FROM tripl._definition_fields() f WHERE f.object_type = $1 AND f.secret_sql IS NOT NULL;
    RETURN QUERY EXECUTE format('SELECT o.name::text, jsonb_build_object(''name'', o.name) || %s, %s FROM %s WHERE %s',
                                raw_sql, secret_sql, t.from_sql, t.scope_sql);
END
$fn$;

CREATE FUNCTION tripl.export_definitions() RETURNS jsonb LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    SET TimeZone = 'UTC' SET IntervalStyle = 'postgres' SET extra_float_digits = 1 AS $fn$
DECLARE
    t record;
    result jsonb := jsonb_build_object('tripl_definitions', 1);
    defaults jsonb;
BEGIN
    FOR t IN SELECT * FROM tripl._definition_types() ORDER BY rank LOOP
        CONTINUE WHEN t.admin AND NOT pg_has_role('tripl_admin', 'USAGE');
        result := result || jsonb_build_object(t.section,
            (SELECT coalesce(jsonb_agg(tripl._definition_canonical(t.object_type, s.raw) ORDER BY s.name COLLATE "C"), '[]')
             FROM tripl._definition_stored(t.object_type) s));
    END LOOP;
    IF pg_has_role('tripl_admin', 'USAGE') THEN
        defaults := tripl._definition_value('object', NULL, 'object:monitoring',
            (SELECT to_jsonb(m) - 'metric_id' FROM tripl.monitoring_settings m WHERE m.metric_id IS NULL));
        IF defaults <> 'null'::jsonb THEN
            result := result || jsonb_build_object('monitoring', defaults);
        END IF;
    END IF;
    RETURN result;
END
$fn$;
COMMENT ON FUNCTION tripl.export_definitions() IS
    'Every definition the caller manages as one JSON document (names sorted, defaults left out, secrets as placeholders)';

-- What is wrong with one object (or nested object) of a document, field by field
CREATE FUNCTION tripl._definition_object_problems(object_type text, obj jsonb, prefix text DEFAULT '')
    RETURNS SETOF text LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    f record;
    k text;
    v jsonb;
    what text;
BEGIN
    FOR k IN SELECT jsonb_object_keys(obj) ORDER BY 1 LOOP
        IF (prefix <> '' OR k <> 'name')
           AND NOT EXISTS (SELECT 1 FROM tripl._definition_fields() x WHERE x.object_type = $1 AND x.field = k) THEN
            RETURN NEXT format('unknown field "%s%s"', prefix, k);
        END IF;
    END LOOP;
    FOR f IN SELECT * FROM tripl._definition_fields() x WHERE x.object_type = $1 ORDER BY x.position LOOP
        v := obj -> f.field;
        what := format('field "%s%s"', prefix, f.field);
        IF v IS NULL OR v = 'null'::jsonb THEN
            IF f.default_value IS NULL THEN
                RETURN NEXT what || ' is required';
            END IF;
            CONTINUE;
        END IF;
        IF f.json_type = 'string' AND jsonb_typeof(v) <> 'string' THEN
            RETURN NEXT what || ' must be a string';
        ELSIF f.json_type = 'boolean' AND jsonb_typeof(v) <> 'boolean' THEN
            RETURN NEXT what || ' must be true or false';
        ELSIF f.json_type IN ('number', 'integer') AND jsonb_typeof(v) <> 'number' THEN
            RETURN NEXT what || ' must be a number';
        ELSIF f.json_type = 'integer' AND ((v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)
                                           OR abs((v #>> '{}')::numeric) > 2147483647) THEN
            RETURN NEXT what || ' must be an integer';
        ELSIF f.json_type = 'object' AND jsonb_typeof(v) <> 'object' THEN
            RETURN NEXT what || ' must be an object';
        ELSIF f.json_type = 'string_array' AND (jsonb_typeof(v) <> 'array'
              OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string')) THEN
            RETURN NEXT what || ' must be an array of strings';
        ELSIF f.json_type = 'secret' AND jsonb_typeof(v) <> 'string'
              AND NOT (jsonb_typeof(v) = 'object' AND jsonb_typeof(v -> 'secret_of') = 'string'
                       AND (SELECT count(*) FROM jsonb_object_keys(v)) = 1) THEN
            RETURN NEXT what || ' must be a string or {"secret_of": "<destination>"}';
        ELSIF f.canon LIKE 'object:%' THEN
            RETURN QUERY SELECT * FROM tripl._definition_object_problems(substr(f.canon, 8), v, prefix || f.field || '.');
        ELSIF f.sql_type IN ('pg_catalog.interval', 'pg_catalog.timestamptz', 'pg_catalog.float8') THEN
            BEGIN
                PERFORM tripl._definition_value(f.json_type, f.sql_type, f.canon, v);
            EXCEPTION WHEN data_exception THEN
                RETURN NEXT format('%s: %s', what, SQLERRM);
            END;
        END IF;
    END LOOP;
END
$fn$;

-- What is wrong with a document as a whole: (object_type, name, message),
-- name NULL for the document itself, or section[index] for an object
-- without a usable name
CREATE FUNCTION tripl._definition_problems(doc jsonb)
    RETURNS TABLE (object_type text, name text, message text) LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    k text;
    t record;
    e record;
    label text;
BEGIN
    IF doc IS NULL OR jsonb_typeof(doc) <> 'object' THEN
        RETURN QUERY SELECT 'document'::text, NULL::text, 'the document must be a JSON object'::text;
        RETURN;
    END IF;
    FOR k IN SELECT jsonb_object_keys(doc) ORDER BY 1 LOOP
        IF k NOT IN ('tripl_definitions', 'monitoring')
           AND NOT EXISTS (SELECT 1 FROM tripl._definition_types() x WHERE x.section = k) THEN
            RETURN QUERY SELECT 'document'::text, NULL::text, format('unknown section "%s"', k);
        END IF;
    END LOOP;
    IF doc ? 'tripl_definitions' AND doc -> 'tripl_definitions' <> '1'::jsonb THEN
        RETURN QUERY SELECT 'document'::text, NULL::text, 'tripl_definitions must be 1 (the version of the format)'::text;
    END IF;
    IF doc ? 'monitoring' AND doc -> 'monitoring' <> 'null'::jsonb THEN
        IF jsonb_typeof(doc -> 'monitoring') <> 'object' THEN
            RETURN QUERY SELECT 'monitoring'::text, 'defaults'::text, 'the default monitoring settings must be an object'::text;
        ELSE
            RETURN QUERY SELECT 'monitoring'::text, 'defaults'::text, p
                         FROM tripl._definition_object_problems('monitoring', doc -> 'monitoring') p;
        END IF;
    END IF;
    FOR t IN SELECT * FROM tripl._definition_types() ORDER BY rank LOOP
        CONTINUE WHEN NOT doc ? t.section OR doc -> t.section = 'null'::jsonb;
        IF jsonb_typeof(doc -> t.section) <> 'array' THEN
            RETURN QUERY SELECT 'document'::text, NULL::text, format('section "%s" must be an array', t.section);
            CONTINUE;
        END IF;
        FOR e IN SELECT x.value AS obj, x.ordinality - 1 AS i
                 FROM jsonb_array_elements(doc -> t.section) WITH ORDINALITY x LOOP
            label := format('%s[%s]', t.section, e.i);
            IF jsonb_typeof(e.obj) <> 'object' THEN
                RETURN QUERY SELECT t.object_type, label, 'must be an object'::text;
                CONTINUE;
            END IF;
            IF jsonb_typeof(e.obj -> 'name') IS DISTINCT FROM 'string' THEN
                RETURN QUERY SELECT t.object_type, label, 'field "name" is required and must be a string'::text;
            ELSIF (e.obj ->> 'name') !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
                RETURN QUERY SELECT t.object_type, label,
                    'invalid name: a name is 1 to 128 ASCII letters, digits, underscores, dots or dashes, not starting with a dot or dash'::text;
            ELSE
                label := e.obj ->> 'name';
                IF (SELECT count(*) FROM jsonb_array_elements(doc -> t.section) y WHERE y ->> 'name' = label) > 1
                   AND e.i = (SELECT min(y.o) - 1 FROM jsonb_array_elements(doc -> t.section) WITH ORDINALITY y(v, o)
                              WHERE y.v ->> 'name' = label) THEN
                    RETURN QUERY SELECT t.object_type, label, 'the name appears more than once'::text;
                END IF;
            END IF;
            RETURN QUERY SELECT t.object_type, label, p FROM tripl._definition_object_problems(t.object_type, e.obj) p;
        END LOOP;
    END LOOP;
END
$fn$;

-- A value as a SQL literal of the argument's type
CREATE FUNCTION tripl._definition_literal(v jsonb, sql_type text) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE
        WHEN v IS NULL OR v = 'null'::jsonb THEN 'NULL'
        WHEN sql_type = 'pg_catalog.text[]' THEN
            format('%L::pg_catalog.text[]', ARRAY(SELECT jsonb_array_elements_text(v))::text)
        WHEN sql_type = 'pg_catalog.jsonb' THEN format('%L::pg_catalog.jsonb', v::text)
        ELSE format('%L::%s', v #>> '{}', sql_type)
    END
$fn$;

-- tripl.set_monitoring for a metric (NULL: the defaults) with the settings
-- of a canonical monitoring object
CREATE FUNCTION tripl._definition_set_monitoring(metric text, settings jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    EXECUTE (SELECT format('SELECT tripl.set_monitoring(metric => %L::pg_catalog.text', metric)
                    || string_agg(format(', %I => %s', f.alter_arg, tripl._definition_literal(settings -> f.field, f.sql_type)),
                                  '' ORDER BY f.position) || ')'
             FROM tripl._definition_fields() f
             WHERE f.object_type = 'monitoring' AND settings ? f.field);
END
$fn$;

-- Create an object, or change it in place, through its create_ or alter_
-- function (and tripl.set_monitoring): want is its canonical form, raw the
-- document's object (for secrets), have and secrets what is stored
CREATE FUNCTION tripl._definition_execute(otype text, oname text, want jsonb, raw jsonb, have jsonb,
                                          secrets jsonb, changed text[], creating boolean)
    RETURNS void LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    t record;
    f record;
    g record;
    v jsonb;
    sql text;
    args text[] := '{}';
    arg text;
    part text;
    sp text;
    monitoring_changed boolean := 'monitoring' = ANY (changed);
BEGIN
    IF otype = 'monitoring' THEN
        IF have <> 'null'::jsonb THEN
            PERFORM tripl.set_monitoring(reset => true);
        END IF;
        IF want <> 'null'::jsonb THEN
            PERFORM tripl._definition_set_monitoring(NULL, want);
        END IF;
        RETURN;
    END IF;
    SELECT * INTO t FROM tripl._definition_types() x WHERE x.object_type = otype;
    SELECT coalesce(want ->> f2.field, f2.default_value #>> '{}') INTO sp
    FROM tripl._definition_fields() f2 WHERE f2.object_type = otype AND f2.canon = 'search_path';

    IF creating THEN
        sql := format('SELECT tripl.%I(name => %L::pg_catalog.text', t.create_fn, oname);
        FOR f IN SELECT * FROM tripl._definition_fields() x
                 WHERE x.object_type = otype AND x.canon IS DISTINCT FROM 'search_path'
                   AND x.canon IS DISTINCT FROM 'object:monitoring' ORDER BY x.position LOOP
            IF f.json_type = 'secret' THEN
                -- the document's secret, or (created again) the stored one
                v := CASE WHEN jsonb_typeof(raw -> f.field) = 'string' THEN raw -> f.field
                          ELSE to_jsonb(secrets ->> f.field) END;
            ELSE
                -- a default is passed too: the function's own may differ
                -- (a metric's timezone defaults to the tripl.timezone setting)
                v := coalesce(want -> f.field, f.default_value);
            END IF;
            CONTINUE WHEN v IS NULL OR v = 'null'::jsonb;
            sql := sql || format(', %I => %s', f.field, tripl._definition_literal(v, f.sql_type));
        END LOOP;
        monitoring_changed := want ? 'monitoring';
        have := NULL;
    ELSIF EXISTS (SELECT 1 FROM unnest(changed) c WHERE c <> 'monitoring') THEN
        sql := format('SELECT tripl.%I(name => %L::pg_catalog.text', t.alter_fn, oname);
        FOR f IN SELECT * FROM tripl._definition_fields() x
                 WHERE x.object_type = otype AND (x.field = ANY (changed) OR x.always)
                   AND x.canon IS DISTINCT FROM 'object:monitoring' ORDER BY x.position LOOP
            IF NOT want ? f.field AND f.default_value = 'null'::jsonb AND f.clear_arg IS NOT NULL THEN
                arg := split_part(f.clear_arg, ' ', 1);
                part := f.clear_arg;
            ELSE
                -- the argument may carry another field (search_path: the query)
                SELECT * INTO g FROM tripl._definition_fields() x WHERE x.object_type = otype AND x.field = f.alter_arg;
                arg := f.alter_arg;
                v := CASE WHEN g.json_type = 'secret' THEN raw -> g.field
                          ELSE coalesce(want -> g.field, g.default_value) END;
                part := format('%I => %s', arg, tripl._definition_literal(v, g.sql_type));
            END IF;
            CONTINUE WHEN arg = ANY (args);
            args := args || arg;
            sql := sql || ', ' || part;
        END LOOP;
    END IF;

    IF sql IS NOT NULL THEN
        -- user SQL is checked under the search_path it is defined with
        IF sp IS NOT NULL THEN
            PERFORM set_config('search_path', sp, true);
        END IF;
        EXECUTE sql || ')';
        PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    END IF;
    IF monitoring_changed THEN
        IF have ? 'monitoring' THEN
            PERFORM tripl.set_monitoring(metric => oname, reset => true);
        END IF;
        IF want ? 'monitoring' THEN
            PERFORM tripl._definition_set_monitoring(oname, want -> 'monitoring');
        END IF;
    END IF;
END
$fn$;

CREATE FUNCTION tripl.apply_definitions(doc jsonb, dry_run boolean DEFAULT true, prune boolean DEFAULT false)
    RETURNS TABLE (object_type text, name text, action text, detail text) LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET TimeZone = 'UTC' SET IntervalStyle = 'postgres' SET extra_float_digits = 1 AS $fn$
DECLARE
    errors text[] := '{}';
    first_state text;
    r record;
    t record;
    d jsonb;
    chg text[];
    rec boolean;
    repl boolean;
    bad_keys jsonb := '[]';
    n int;
    i int;
    st text;
    msg text;
    det text;
BEGIN
    IF to_regclass('pg_temp.tripl_definition_plan') IS NOT NULL THEN
        DROP TABLE pg_temp.tripl_definition_plan;
    END IF;
    CREATE TEMP TABLE tripl_definition_plan (
        otype text, oname text, rank int, depth int NOT NULL DEFAULT 0,
        raw jsonb, want jsonb, have jsonb, secrets jsonb,
        in_doc boolean NOT NULL DEFAULT false, in_db boolean NOT NULL DEFAULT false,
        bad boolean NOT NULL DEFAULT false, failed boolean NOT NULL DEFAULT false,
        act text, note text, changed text[] NOT NULL DEFAULT '{}', recreate boolean NOT NULL DEFAULT false,
        deps jsonb NOT NULL DEFAULT '[]', have_deps jsonb NOT NULL DEFAULT '[]',
        PRIMARY KEY (otype, oname)) ON COMMIT DROP;

    -- 1. the document's shape: every problem, then only sound objects go on
    FOR r IN SELECT * FROM tripl._definition_problems(doc) LOOP
        errors := errors || CASE
            WHEN r.name IS NULL THEN 'document: ' || r.message
            WHEN r.name ~ '\[\d+\]$' THEN format('%s: %s', r.name, r.message)
            ELSE format('%s "%s": %s', replace(r.object_type, '_', ' '), r.name, r.message) END;
        first_state := '22023';
        bad_keys := bad_keys || jsonb_build_array(jsonb_build_array(r.object_type, r.name));
        CONTINUE WHEN r.object_type <> 'document';
        IF jsonb_typeof(doc) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'the definitions document must be a JSON object'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Pass what tripl.export_definitions() returns, edited.';
        END IF;
    END LOOP;
    FOR t IN SELECT * FROM tripl._definition_types() ORDER BY rank LOOP
        CONTINUE WHEN jsonb_typeof(doc -> t.section) IS DISTINCT FROM 'array';
        INSERT INTO tripl_definition_plan (otype, oname, rank, raw, in_doc, bad)
        SELECT DISTINCT ON (x ->> 'name') t.object_type, x ->> 'name', t.rank, x, true,
               bad_keys @> jsonb_build_array(jsonb_build_array(t.object_type, x ->> 'name'))
        FROM jsonb_array_elements(doc -> t.section) x
        WHERE jsonb_typeof(x -> 'name') = 'string' AND (x ->> 'name') ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$';
    END LOOP;
    UPDATE tripl_definition_plan p SET want = tripl._definition_canonical(p.otype, p.raw) WHERE NOT p.bad;
    IF doc ? 'monitoring' THEN
        INSERT INTO tripl_definition_plan (otype, oname, rank, raw, in_doc, in_db, bad, have)
        VALUES ('monitoring', 'defaults', 0, doc -> 'monitoring', true, true,
                bad_keys @> '[["monitoring", "defaults"]]',
                tripl._definition_value('object', NULL, 'object:monitoring',
                    (SELECT to_jsonb(m) - 'metric_id' FROM tripl.monitoring_settings m WHERE m.metric_id IS NULL)));
        UPDATE tripl_definition_plan p
        SET want = tripl._definition_value('object', NULL, 'object:monitoring', p.raw)
        WHERE p.otype = 'monitoring' AND NOT p.bad;
    END IF;

    -- 2. what is stored, of what the caller manages
    FOR t IN SELECT * FROM tripl._definition_types() ORDER BY rank LOOP
        INSERT INTO tripl_definition_plan AS p (otype, oname, rank, have, secrets, in_db)
        SELECT t.object_type, s.name, t.rank, tripl._definition_canonical(t.object_type, s.raw), s.secrets, true
        FROM tripl._definition_stored(t.object_type) s
        ON CONFLICT (otype, oname) DO UPDATE SET have = EXCLUDED.have, secrets = EXCLUDED.secrets, in_db = true;
        -- a name somebody else uses is not the caller's to change
        FOR r IN SELECT * FROM tripl_definition_plan p WHERE p.otype = t.object_type AND p.in_doc AND NOT p.in_db LOOP
            EXECUTE format('SELECT o.owner::text FROM %s o WHERE o.name = $1', t.table_name) INTO msg USING r.oname;
            IF msg IS NOT NULL THEN
                errors := errors || format('%s "%s": already exists and belongs to role %s',
                                           replace(r.otype, '_', ' '), r.oname, msg);
                first_state := coalesce(first_state, '42501');
                UPDATE tripl_definition_plan p SET bad = true WHERE p.otype = r.otype AND p.oname = r.oname;
            END IF;
        END LOOP;
    END LOOP;

    -- 3. secrets: absent or a placeholder keeps the stored one; equal to
    -- the stored one is no change
    FOR r IN SELECT p.*, f.field FROM tripl_definition_plan p
             JOIN tripl._definition_fields() f ON f.object_type = p.otype AND f.json_type = 'secret'
             WHERE p.in_doc AND NOT p.bad LOOP
        d := r.raw -> r.field;
        IF jsonb_typeof(d) = 'object' AND d ->> 'secret_of' IS DISTINCT FROM r.oname THEN
            errors := errors || format('%s "%s": field "%s" is a placeholder for the secret of "%s", not of this one',
                                       replace(r.otype, '_', ' '), r.oname, r.field, d ->> 'secret_of');
        ELSIF jsonb_typeof(d) = 'object' AND r.secrets ->> r.field IS NULL THEN
            errors := errors || format('%s "%s": field "%s" is a placeholder, and this database holds no secret for it; put the secret itself in the document',
                                       replace(r.otype, '_', ' '), r.oname, r.field);
        ELSIF r.secrets ->> r.field IS NOT NULL
              AND (d IS NULL OR d = 'null'::jsonb OR jsonb_typeof(d) = 'object' OR d #>> '{}' = r.secrets ->> r.field) THEN
            UPDATE tripl_definition_plan p SET want = p.want || jsonb_build_object(r.field, r.have -> r.field)
            WHERE p.otype = r.otype AND p.oname = r.oname;
            CONTINUE;
        ELSE
            CONTINUE;
        END IF;
        first_state := coalesce(first_state, '22023');
        UPDATE tripl_definition_plan p SET bad = true WHERE p.otype = r.otype AND p.oname = r.oname;
    END LOOP;

    -- 4. the plan of each object
    UPDATE tripl_definition_plan p SET act = 'create', note = 'new' WHERE p.in_doc AND NOT p.in_db AND NOT p.bad;
    UPDATE tripl_definition_plan p SET act = 'drop', note = 'not in the document'
    WHERE p.in_db AND NOT p.in_doc AND prune
      AND jsonb_typeof(doc -> (SELECT x.section FROM tripl._definition_types() x WHERE x.object_type = p.otype)) = 'array';
    UPDATE tripl_definition_plan p
    SET act = CASE WHEN p.want IS NOT DISTINCT FROM p.have THEN 'unchanged' ELSE 'alter' END,
        note = CASE WHEN p.want IS NOT DISTINCT FROM p.have THEN NULL ELSE 'changed: default settings' END,
        changed = CASE WHEN p.want IS NOT DISTINCT FROM p.have THEN '{}'::text[] ELSE '{monitoring}' END
    WHERE p.otype = 'monitoring' AND NOT p.bad;
    FOR r IN SELECT p.*, x.alter_fn FROM tripl_definition_plan p JOIN tripl._definition_types() x ON x.object_type = p.otype
             WHERE p.in_doc AND p.in_db AND NOT p.bad LOOP
        SELECT coalesce(array_agg(f.field ORDER BY f.position), '{}'),
               coalesce(bool_or(r.alter_fn IS NULL OR f.alter_arg IS NULL
                                OR (NOT r.want ? f.field AND f.default_value = 'null'::jsonb AND f.clear_arg IS NULL
                                    AND f.canon IS DISTINCT FROM 'object:monitoring')), false),
               coalesce(bool_or(f.change = 'replace'), false)
        INTO chg, rec, repl
        FROM tripl._definition_fields() f
        WHERE f.object_type = r.otype AND (r.want -> f.field) IS DISTINCT FROM (r.have -> f.field);
        UPDATE tripl_definition_plan p
        SET changed = chg, recreate = rec,
            act = CASE WHEN cardinality(chg) = 0 THEN 'unchanged' WHEN rec OR repl THEN 'replace' ELSE 'alter' END,
            note = CASE WHEN cardinality(chg) > 0
                        THEN 'changed: ' || array_to_string(chg, ', ')
                             || CASE WHEN rec THEN '; dropped and created again' ELSE '' END END
        WHERE p.otype = r.otype AND p.oname = r.oname;
    END LOOP;

    -- 5. dependencies: what each object needs, in the document and as stored
    FOR r IN SELECT p.otype, p.oname, p.want, p.have, x.depends_sql
             FROM tripl_definition_plan p JOIN tripl._definition_types() x ON x.object_type = p.otype LOOP
        IF r.want IS NOT NULL THEN
            EXECUTE 'SELECT ' || r.depends_sql INTO d USING r.want;
            UPDATE tripl_definition_plan p SET deps = d WHERE p.otype = r.otype AND p.oname = r.oname;
        END IF;
        IF r.have IS NOT NULL THEN
            EXECUTE 'SELECT ' || r.depends_sql INTO d USING r.have;
            UPDATE tripl_definition_plan p SET have_deps = d WHERE p.otype = r.otype AND p.oname = r.oname;
        END IF;
    END LOOP;
    -- what is dropped (or dropped and created again) takes what uses it along
    LOOP
        n := 0;
        FOR r IN SELECT y.otype, y.oname, y.in_doc, y.bad, x.otype AS by_type, x.oname AS by_name, x.act AS by_act
                 FROM tripl_definition_plan x
                 JOIN tripl_definition_plan y
                   ON y.in_db AND y.have_deps @> jsonb_build_array(jsonb_build_array(x.otype, x.oname))
                 WHERE x.in_db AND (x.act = 'drop' OR x.recreate)
                   AND y.act IS DISTINCT FROM 'drop' AND NOT y.recreate LOOP
            IF r.in_doc AND NOT r.bad THEN
                UPDATE tripl_definition_plan p
                SET recreate = true, act = 'replace',
                    note = coalesce(p.note || '; ', '') || format('dropped and created again with %s "%s"',
                                                                 replace(r.by_type, '_', ' '), r.by_name)
                WHERE p.otype = r.otype AND p.oname = r.oname;
                n := n + 1;
            ELSIF NOT r.bad THEN
                errors := errors || format('%s "%s": cannot be %s: %s "%s" uses it and is not in the document',
                                           replace(r.by_type, '_', ' '), r.by_name,
                                           CASE WHEN r.by_act = 'drop' THEN 'dropped' ELSE 'dropped and created again' END,
                                           replace(r.otype, '_', ' '), r.oname);
                first_state := coalesce(first_state, '2BP01');
                UPDATE tripl_definition_plan p SET bad = true WHERE p.otype = r.otype AND p.oname = r.oname;
                n := n + 1;
            END IF;
        END LOOP;
        EXIT WHEN n = 0;
    END LOOP;
    -- inputs before what uses them, within one object type (derived metrics)
    n := (SELECT count(*) FROM tripl_definition_plan);
    i := 0;
    LOOP
        UPDATE tripl_definition_plan p SET depth = q.depth
        FROM (SELECT x.otype, x.oname, max(y.depth + 1) AS depth
              FROM tripl_definition_plan x
              CROSS JOIN LATERAL jsonb_array_elements(x.deps || x.have_deps) e
              JOIN tripl_definition_plan y ON y.otype = e ->> 0 AND y.oname = e ->> 1
              WHERE y.otype = x.otype
              GROUP BY x.otype, x.oname) q
        WHERE p.otype = q.otype AND p.oname = q.oname AND p.depth < q.depth;
        EXIT WHEN NOT FOUND;
        i := i + 1;
        IF i > n THEN
            errors := errors || 'document: the objects depend on each other in a circle'::text;
            first_state := coalesce(first_state, '22023');
            EXIT;
        END IF;
    END LOOP;

    -- 6. apply, each object in its own subtransaction so that every error
    -- is found; a dry run is rolled back as a whole
    BEGIN
        FOR r IN SELECT p.*, x.drop_fn FROM tripl_definition_plan p JOIN tripl._definition_types() x ON x.object_type = p.otype
                 WHERE (p.act = 'drop' OR p.recreate) AND NOT p.bad
                 ORDER BY p.rank DESC, p.depth DESC, p.oname COLLATE "C" DESC LOOP
            BEGIN
                EXECUTE format('SELECT tripl.%I(%L::pg_catalog.text)', r.drop_fn, r.oname);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
                errors := errors || format('%s "%s": %s%s', replace(r.otype, '_', ' '), r.oname, msg,
                                           CASE WHEN det <> '' THEN ' (' || det || ')' ELSE '' END);
                first_state := coalesce(first_state, st);
                UPDATE tripl_definition_plan p SET failed = true WHERE p.otype = r.otype AND p.oname = r.oname;
            END;
        END LOOP;
        FOR r IN SELECT p.* FROM tripl_definition_plan p
                 WHERE p.act IN ('create', 'alter', 'replace') AND NOT p.bad
                 ORDER BY p.rank, p.depth, p.oname COLLATE "C" LOOP
            -- what depends on an object with errors waits for it to be fixed
            CONTINUE WHEN EXISTS (SELECT 1 FROM tripl_definition_plan p
                                  WHERE p.otype = r.otype AND p.oname = r.oname AND p.failed)
                       OR EXISTS (SELECT 1 FROM jsonb_array_elements(r.deps) e
                                  JOIN tripl_definition_plan y ON y.otype = e ->> 0 AND y.oname = e ->> 1
                                  WHERE y.failed OR y.bad);
            BEGIN
                PERFORM tripl._definition_execute(r.otype, r.oname, r.want, r.raw, r.have, r.secrets,
                                                  r.changed, r.act = 'create' OR r.recreate);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
                errors := errors || format('%s "%s": %s%s', replace(r.otype, '_', ' '), r.oname, msg,
                                           CASE WHEN det <> '' THEN ' (' || det || ')' ELSE '' END);
                first_state := coalesce(first_state, st);
                UPDATE tripl_definition_plan p SET failed = true WHERE p.otype = r.otype AND p.oname = r.oname;
            END;
        END LOOP;
        IF dry_run THEN
            RAISE EXCEPTION 'dry run' USING ERRCODE = 'TRDRY';
        END IF;
    EXCEPTION WHEN SQLSTATE 'TRDRY' THEN
        NULL;
    END;

    IF cardinality(errors) > 0 THEN
        RAISE EXCEPTION 'the definitions document has % error%; nothing was applied',
                        cardinality(errors), CASE WHEN cardinality(errors) > 1 THEN 's' ELSE '' END
            USING ERRCODE = coalesce(first_state, '22023'),
                  DETAIL = array_to_string(errors, E'\n');
    END IF;

    RETURN QUERY SELECT p.otype, p.oname, p.act, p.note FROM tripl_definition_plan p WHERE p.act = 'drop'
                 ORDER BY p.rank DESC, p.depth DESC, p.oname COLLATE "C" DESC;
    RETURN QUERY SELECT p.otype, p.oname, p.act, p.note FROM tripl_definition_plan p
                 WHERE p.act IN ('create', 'alter', 'replace', 'unchanged')
                 ORDER BY p.rank, p.depth, p.oname COLLATE "C";
    DROP TABLE tripl_definition_plan;
END
$fn$;
COMMENT ON FUNCTION tripl.apply_definitions(jsonb, boolean, boolean) IS
    'Make the caller''s definitions what the document says: validate it all, plan create/alter/replace/drop/unchanged in dependency order, apply in one transaction (dry_run: only plan and check)';

--------------------------------------------------------------------------
-- Detection: the burst detector of
-- zero-typical series, tripl.forecast and tripl.explain_anomaly
--------------------------------------------------------------------------
ALTER TABLE tripl.anomalies DROP CONSTRAINT anomalies_detector;
ALTER TABLE tripl.anomalies ADD CONSTRAINT anomalies_detector
    CHECK (detector IN ('phase', 'rolling', 'trend', 'fractional', 'burst'));

CREATE FUNCTION tripl.forecast(metric text, horizon int DEFAULT NULL)
    RETURNS TABLE (bucket timestamptz, expected float8, lower_bound float8, upper_bound float8)
    AS 'MODULE_PATHNAME', 'tripl_forecast' LANGUAGE C STABLE;
COMMENT ON FUNCTION tripl.forecast(text, int) IS
    'The detector''s baseline of the buckets after the collected range (NULL horizon: one season), with its band';

CREATE FUNCTION tripl.explain_anomaly(metric text, bucket timestamptz)
    RETURNS TABLE (breakdown_column text, breakdown_value text, actual float8, expected float8,
                   delta float8, share_of_change float8)
    AS 'MODULE_PATHNAME', 'tripl_explain_anomaly' LANGUAGE C STABLE;
COMMENT ON FUNCTION tripl.explain_anomaly(text, timestamptz) IS
    'Which breakdown values drove a bucket''s change: actual against the median of the same bucket in the last three seasons';

--------------------------------------------------------------------------
-- Derived metrics: kind 'derived', its expression and inputs
--------------------------------------------------------------------------

ALTER TABLE tripl.metrics ADD COLUMN expression text;
ALTER TABLE tripl.metrics
    DROP CONSTRAINT metrics_kind,
    DROP CONSTRAINT metrics_composition;
ALTER TABLE tripl.metrics
    ADD CONSTRAINT metrics_kind
        CHECK (kind IN ('fact', 'sql', 'event_composition', 'derived')),
    ADD CONSTRAINT metrics_composition
        CHECK ((kind = 'fact' AND composition IN ('single', 'ratio'))
               OR (kind = 'event_composition' AND composition IN ('single', 'ratio', 'per_distinct_user'))
               OR (kind IN ('sql', 'derived') AND composition IS NULL)),
    ADD CONSTRAINT metrics_derived_fields
        CHECK ((kind = 'derived') = (expression IS NOT NULL)),
    ADD CONSTRAINT metrics_derived_no_breakdowns
        CHECK (kind <> 'derived' OR cardinality(breakdowns) = 0);

CREATE TABLE tripl.metric_inputs (
    metric_id       bigint NOT NULL REFERENCES tripl.metrics (id) ON DELETE CASCADE,
    input_metric_id bigint NOT NULL REFERENCES tripl.metrics (id) ON DELETE RESTRICT,
    PRIMARY KEY (metric_id, input_metric_id),
    CONSTRAINT metric_inputs_not_self CHECK (metric_id <> input_metric_id)
);
CREATE INDEX metric_inputs_input ON tripl.metric_inputs (input_metric_id);
COMMENT ON TABLE tripl.metric_inputs IS 'The input metrics of derived metrics';
SELECT pg_catalog.pg_extension_config_dump('tripl.metric_inputs', '');
REVOKE ALL ON tripl.metric_inputs FROM PUBLIC;
GRANT SELECT ON tripl.metric_inputs TO PUBLIC;
CREATE TRIGGER restore_guard AFTER INSERT ON tripl.metric_inputs
    FOR EACH STATEMENT EXECUTE FUNCTION tripl._note_restore_session();

-- (tripl.signals' final 0.2 form is at the end, with incidents)

--------------------------------------------------------------------------
-- Alerting that closes the loop (doc/alerting.md): resolutions when an
-- incident closes (notify_on_resolve, the incident's peak, 'resolution'
-- deliveries, resolved items in digests) and the email and teams
-- destination types with their options.
--------------------------------------------------------------------------

ALTER TABLE tripl.destinations ADD COLUMN options jsonb NOT NULL DEFAULT '{}';
ALTER TABLE tripl.destinations DROP CONSTRAINT destinations_type;
ALTER TABLE tripl.destinations ADD CONSTRAINT destinations_type
    CHECK (type IN ('webhook', 'slack', 'telegram', 'pagerduty', 'email', 'teams', 'jira'));
COMMENT ON TABLE tripl.destinations IS
    'Alert destinations (webhook, slack, telegram, pagerduty, email, teams, jira); schedule makes a digest; options: the type''s settings (email: from, to, starttls; jira: project, issue_type, labels, api_version)';

ALTER TABLE tripl.alert_rules ADD COLUMN notify_on_resolve boolean NOT NULL DEFAULT true;

ALTER TABLE tripl.alert_state ADD COLUMN peak_actual float8;
ALTER TABLE tripl.alert_state ADD COLUMN peak_expected float8;
ALTER TABLE tripl.alert_state ADD COLUMN peak_z float8;
ALTER TABLE tripl.alert_state ADD COLUMN peak_bucket timestamptz;
COMMENT ON TABLE tripl.alert_state IS 'Per rule and metric: whether an alert is open, and when it last notified; peak_*: the anomaly of the open incident with the largest |z|';

ALTER TABLE tripl.digest_items ADD COLUMN event text NOT NULL DEFAULT 'anomaly';
ALTER TABLE tripl.digest_items ADD CONSTRAINT digest_items_event CHECK (event IN ('anomaly', 'resolved'));
ALTER TABLE tripl.digest_items DROP CONSTRAINT digest_items_pkey;
ALTER TABLE tripl.digest_items ADD PRIMARY KEY (destination_id, rule_id, metric_id, direction, event);

ALTER TABLE tripl.deliveries DROP CONSTRAINT deliveries_kind;
ALTER TABLE tripl.deliveries ADD CONSTRAINT deliveries_kind
    CHECK (kind IN ('alert', 'digest', 'test', 'resolution'));

DROP FUNCTION tripl.create_destination(text, text, text, text, text, text, text, boolean);
CREATE FUNCTION tripl.create_destination(
    name text,
    type text,
    url text DEFAULT NULL,
    secret text DEFAULT NULL,
    secret_header text DEFAULT NULL,
    chat_id text DEFAULT NULL,
    schedule text DEFAULT NULL,
    enabled boolean DEFAULT true,
    options jsonb DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tripl_create_destination' LANGUAGE C;
COMMENT ON FUNCTION tripl.create_destination(text, text, text, text, text, text, text, boolean, jsonb) IS
    'Create an alert destination (webhook, slack, telegram, pagerduty, email, teams, jira); options: the type''s settings';

DROP FUNCTION tripl.alter_destination(text, boolean, text, text, text, text);
CREATE FUNCTION tripl.alter_destination(
    name text,
    enabled boolean DEFAULT NULL,
    url text DEFAULT NULL,
    secret text DEFAULT NULL,
    schedule text DEFAULT NULL,
    secret_header text DEFAULT NULL,
    options jsonb DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'tripl_alter_destination' LANGUAGE C;
COMMENT ON FUNCTION tripl.alter_destination(text, boolean, text, text, text, text, jsonb) IS
    'Change a destination: NULL keeps a setting; a webhook secret needs a secret_header (given or stored); schedule '''' makes it immediate';

DROP FUNCTION tripl.create_alert_rule(text, text, text[], boolean, boolean, float8, float8, float8, interval,
                                      text, timestamptz, boolean);
CREATE FUNCTION tripl.create_alert_rule(
    name text,
    destination text,
    metrics text[] DEFAULT NULL,
    notify_on_spike boolean DEFAULT true,
    notify_on_drop boolean DEFAULT true,
    min_percent_delta float8 DEFAULT 30,
    min_absolute_delta float8 DEFAULT 0,
    min_expected float8 DEFAULT 0,
    cooldown interval DEFAULT '1 day',
    message_template text DEFAULT NULL,
    muted_until timestamptz DEFAULT NULL,
    enabled boolean DEFAULT true,
    notify_on_resolve boolean DEFAULT true) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tripl_create_alert_rule' LANGUAGE C;

DROP FUNCTION tripl.alter_alert_rule(text, boolean, timestamptz, boolean, text);
CREATE FUNCTION tripl.alter_alert_rule(
    name text,
    enabled boolean DEFAULT NULL,
    muted_until timestamptz DEFAULT NULL,
    unmute boolean DEFAULT false,
    message_template text DEFAULT NULL,
    notify_on_resolve boolean DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'tripl_alter_alert_rule' LANGUAGE C;

-- The issue a tracker destination opened for an incident (one per
-- destination and incident occurrence, ref), so that later messages about
-- it become comments and a retry never opens a second issue
CREATE TABLE tripl.tickets (
    destination_id  bigint NOT NULL REFERENCES tripl.destinations (id) ON DELETE CASCADE,
    ref             text NOT NULL,
    issue_key       text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (destination_id, ref)
);
COMMENT ON TABLE tripl.tickets IS 'Issues opened in trackers (jira): one per destination and incident, found again by the label tripl-<ref>';
SELECT pg_catalog.pg_extension_config_dump('tripl.tickets', '');
CREATE TRIGGER restore_guard AFTER INSERT ON tripl.tickets
    FOR EACH STATEMENT EXECUTE FUNCTION tripl._note_restore_session();
CREATE INDEX deliveries_ref ON tripl.deliveries (destination_id, (payload->>'ref'))
    WHERE status IN ('pending', 'sending') AND payload ? 'ref';
REVOKE ALL ON tripl.tickets FROM PUBLIC;
GRANT SELECT ON tripl.tickets TO tripl_admin;

--------------------------------------------------------------------------
-- Linear destinations, the Jira transition on resolution, and what
-- trackers did in the views (doc/alerting.md, "Linear" and "Jira")
--------------------------------------------------------------------------

ALTER TABLE tripl.destinations DROP CONSTRAINT destinations_type;
ALTER TABLE tripl.destinations ADD CONSTRAINT destinations_type
    CHECK (type IN ('webhook', 'slack', 'telegram', 'pagerduty', 'email', 'teams', 'jira', 'linear'));
COMMENT ON TABLE tripl.destinations IS
    'Alert destinations (webhook, slack, telegram, pagerduty, email, teams, jira, linear); schedule makes a digest; options: the type''s settings (email: from, to, starttls; jira: project, issue_type, labels, api_version, resolve_transition; linear: team_id, label_ids)';
COMMENT ON FUNCTION tripl.create_destination(text, text, text, text, text, text, text, boolean, jsonb) IS
    'Create an alert destination (webhook, slack, telegram, pagerduty, email, teams, jira, linear); options: the type''s settings';

ALTER TABLE tripl.tickets ADD COLUMN issue_id text;
ALTER TABLE tripl.tickets ADD COLUMN resolved_at timestamptz;
COMMENT ON TABLE tripl.tickets IS 'Issues opened in trackers (jira, linear): one per destination and incident, found again by the label (jira) or description marker (linear) tripl-<ref>; issue_id: the tracker''s internal id; resolved_at: when the resolution was posted';

-- tripl.status (open incidents, resolutions waiting and dead, tickets open)
-- and a row per destination
CREATE OR REPLACE VIEW tripl.status AS
WITH w AS (SELECT * FROM tripl.worker_status() WHERE database = current_database()),
     state AS (
         SELECT m.id, m.bucket, s.watermark, s.last_status,
                tripl._bucket_start(tripl.now(), m.bucket, m.timezone) AS due_to,
                tripl._bucket_step(tripl.now(), m.bucket, m.timezone, -2) AS overdue_to
         FROM tripl.metrics m JOIN tripl.metric_state s ON s.metric_id = m.id WHERE m.status = 'active'),
     pending AS (SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')) AS pending,
                        count(*) FILTER (WHERE status = 'dead') AS dead,
                        min(created_at) FILTER (WHERE status IN ('pending', 'sending')) AS oldest,
                        count(*) FILTER (WHERE status IN ('pending', 'sending') AND kind = 'resolution') AS resolutions,
                        count(*) FILTER (WHERE status = 'dead' AND kind = 'resolution') AS dead_resolutions
                 FROM tripl.deliveries)
SELECT current_database() AS database,
       current_setting('tripl.scheduler', true) IS DISTINCT FROM 'off'
           AND (SELECT scheduler_pid FROM w) IS NOT NULL AS scheduler_running,
       coalesce(current_setting('tripl.scheduler', true), 'on') AS scheduler_setting,
       (SELECT scheduler_pid FROM w) AS scheduler_pid,
       (SELECT delivery_pid FROM w) AS delivery_pid,
       (SELECT max(finished_at) FROM tripl.runs WHERE kind = 'tick' AND NOT skipped) AS last_tick_at,
       (SELECT count(*) FROM state WHERE watermark IS NULL OR watermark < due_to) AS metrics_due,
       (SELECT count(*) FROM state WHERE watermark IS NULL OR watermark < overdue_to) AS metrics_overdue,
       (SELECT count(*) FROM state WHERE last_status = 'error') AS metrics_in_error,
       pending.pending AS deliveries_pending,
       pending.dead AS deliveries_dead,
       tripl.now() - pending.oldest AS oldest_pending_delivery_age,
       (SELECT count(*) FROM tripl.alert_state WHERE active) AS open_incidents,
       pending.resolutions AS resolutions_pending,
       (SELECT count(*) FROM tripl.tickets) AS tickets,
       (SELECT count(*) FROM tripl.tickets WHERE resolved_at IS NULL) AS tickets_open,
       pending.dead_resolutions AS resolutions_dead
FROM pending;
COMMENT ON VIEW tripl.status IS
    'Scheduler and delivery workers of this database, last tick, metrics due and in error, deliveries pending and dead, open incidents, resolutions waiting to be sent and dead, issues opened in trackers and those not yet resolved';

--------------------------------------------------------------------------
-- Anomaly score (doc/detection.md, "Anomaly score"): stored with each
-- anomaly and returned by detect_series as its last column
--------------------------------------------------------------------------
ALTER TABLE tripl.anomalies ADD COLUMN score float8;
COMMENT ON TABLE tripl.anomalies IS
    'Buckets the detector flagged: actual and expected value, spread, z-score, detector, direction and anomaly score';
DROP FUNCTION tripl.detect_series(timestamptz[], float8[], interval, boolean, jsonb);
CREATE FUNCTION tripl.detect_series(
    buckets timestamptz[],
    vals float8[],
    bucket interval,
    count_shaped boolean DEFAULT true,
    settings jsonb DEFAULT '{}')
    RETURNS TABLE (bucket timestamptz, actual float8, expected float8, effective_stddev float8,
                   z_score float8, is_anomaly boolean, detector text, direction text, score float8)
    AS 'MODULE_PATHNAME', 'tripl_detect_series' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION tripl.detect_series(timestamptz[], float8[], interval, boolean, jsonb) IS
    'Run the detector on any series; touches no table';

--------------------------------------------------------------------------
-- Incidents, not buckets (doc/detection.md, "Incidents"): an anomaly row is
-- an incident, tracked while it lasts; signals and alert candidates follow
-- it.  Signals count buckets on the metric's grid (doc/detection.md,
-- "Signals").
--------------------------------------------------------------------------
ALTER TABLE tripl.anomalies ADD COLUMN last_bucket timestamptz, ADD COLUMN ended_at timestamptz;
COMMENT ON TABLE tripl.anomalies IS
    'Incidents the detector flagged, by their first bucket: actual and expected value, spread, z-score, detector, direction, anomaly score, newest flagged bucket and end';
COMMENT ON COLUMN tripl.anomalies.last_bucket IS
    'Newest flagged bucket of the incident (NULL: stored before incidents were tracked)';
COMMENT ON COLUMN tripl.anomalies.ended_at IS
    'Bucket after the incident''s last flag, once the series is back; NULL while it lasts';
CREATE OR REPLACE VIEW tripl.signals AS
SELECT m.name AS metric,
       CASE
           WHEN lv.latest IS NULL THEN 'closed'
           WHEN a.last_bucket IS NOT NULL THEN
               CASE WHEN a.ended_at IS NULL AND (a.last_bucket >= h.since OR a.last_bucket > h.since_buckets)
                    THEN 'latest' ELSE 'closed' END
           WHEN a.bucket >= tripl._bucket_step(lv.latest, m.bucket, m.timezone, -h.lag)
                AND (a.bucket >= h.since OR a.bucket > h.since_buckets) THEN 'latest'
           WHEN a.bucket >= h.since OR a.bucket > h.since_buckets THEN 'recent'
           ELSE 'closed'
       END AS state,
       a.bucket, a.direction, a.actual, a.expected, a.z_score, a.last_bucket, a.ended_at
FROM tripl.metrics m
JOIN tripl.monitoring mo ON mo.metric_id = m.id
CROSS JOIN LATERAL (
    SELECT tripl.now() - mo.recent_signal_window AS since,
           tripl._bucket_step(tripl.now() - interval '1 microsecond', m.bucket, m.timezone, -3) AS since_buckets,
           ceil(mo.settling_minutes * 60 / extract(epoch FROM m.bucket))::int AS lag) h
JOIN LATERAL (
    SELECT x.bucket, x.direction, x.actual, x.expected, x.z_score, x.last_bucket, x.ended_at
    FROM tripl.anomalies x WHERE x.metric_id = m.id ORDER BY x.bucket DESC LIMIT 1) a ON true
LEFT JOIN LATERAL (
    SELECT max(v.bucket) AS latest FROM tripl.metric_values v WHERE v.metric_id = m.id) lv ON true
WHERE pg_catalog.pg_has_role('tripl_reader', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE');


-- One row per destination: its outbox and its tracker issues (for
-- administrators, who may read the outbox)
CREATE VIEW tripl.destination_status AS
SELECT x.name AS destination,
       x.type,
       x.enabled,
       coalesce(d.pending, 0) AS pending,
       coalesce(d.dead, 0) AS dead,
       coalesce(d.sent, 0) AS sent,
       coalesce(d.warnings, 0) AS sent_with_warning,
       coalesce(d.resolutions_sent, 0) AS resolutions_sent,
       coalesce(d.resolutions_dead, 0) AS resolutions_dead,
       d.last_sent_at,
       (SELECT e.last_error FROM tripl.deliveries e
        WHERE e.destination_id = x.id AND e.last_error IS NOT NULL
        ORDER BY coalesce(e.sent_at, e.next_attempt_at) DESC, e.id DESC LIMIT 1) AS last_error,
       coalesce(t.tickets, 0) AS tickets,
       coalesce(t.open, 0) AS tickets_open,
       t.latest_issue
FROM tripl.destinations x
LEFT JOIN (SELECT destination_id,
                  count(*) FILTER (WHERE status IN ('pending', 'sending')) AS pending,
                  count(*) FILTER (WHERE status = 'dead') AS dead,
                  count(*) FILTER (WHERE status = 'sent') AS sent,
                  count(*) FILTER (WHERE status = 'sent' AND last_error IS NOT NULL) AS warnings,
                  count(*) FILTER (WHERE status = 'sent' AND kind = 'resolution') AS resolutions_sent,
                  count(*) FILTER (WHERE status = 'dead' AND kind = 'resolution') AS resolutions_dead,
                  max(sent_at) AS last_sent_at
           FROM tripl.deliveries GROUP BY destination_id) d ON d.destination_id = x.id
LEFT JOIN (SELECT destination_id, count(*) AS tickets, count(*) FILTER (WHERE resolved_at IS NULL) AS open,
                  (array_agg(issue_key ORDER BY created_at DESC))[1] AS latest_issue
           FROM tripl.tickets GROUP BY destination_id) t ON t.destination_id = x.id;
COMMENT ON VIEW tripl.destination_status IS
    'Per destination: deliveries pending, dead, sent (and sent with a warning, e.g. a Jira transition not offered), resolutions sent and dead, the last error, tracker issues opened and not yet resolved';

REVOKE ALL ON tripl.destination_status FROM PUBLIC;
GRANT SELECT ON tripl.destination_status TO tripl_admin;

-- Rolling metrics: per-bucket engine states kept between passes
CREATE TABLE tripl.rolling_states (
    metric_id   bigint NOT NULL REFERENCES tripl.metrics (id) ON DELETE CASCADE,
    operand     smallint NOT NULL,
    bucket      timestamptz NOT NULL,
    fingerprint bigint NOT NULL,
    state       bytea NOT NULL,
    PRIMARY KEY (metric_id, operand, bucket),
    CONSTRAINT rolling_states_operand CHECK (operand IN (0, 1))
);
-- read every pass: compressing them would cost more time than it saves space
ALTER TABLE tripl.rolling_states ALTER COLUMN state SET STORAGE EXTERNAL;
COMMENT ON TABLE tripl.rolling_states IS
    'Per-bucket engine states of rolling metrics (operand 0: value or numerator, 1: denominator), kept between passes; fingerprint ties a state to the definition it was computed under';
REVOKE ALL ON tripl.rolling_states FROM PUBLIC;

-- tripl.metric_values: a ratio metric's operands per bucket (the detector's
-- ratio noise model); existing rows get NULL until their bucket is collected again
ALTER TABLE tripl.metric_values ADD COLUMN numerator float8, ADD COLUMN denominator float8;
COMMENT ON COLUMN tripl.metric_values.numerator IS
    'A ratio metric''s numerator operand in the bucket (over the window of a rolling ratio); NULL for other metrics';
COMMENT ON COLUMN tripl.metric_values.denominator IS
    'A ratio metric''s denominator operand in the bucket (over the window of a rolling ratio); NULL for other metrics';

-- Breakdowns of rolling metrics: tripl.rolling_states also keeps each
-- breakdown column's per-bucket cells, as operand 2 + the column's index
ALTER TABLE tripl.rolling_states DROP CONSTRAINT rolling_states_operand,
    ADD CONSTRAINT rolling_states_operand CHECK (operand >= 0);
COMMENT ON TABLE tripl.rolling_states IS
    'Per-bucket engine states of rolling metrics (operand 0: value or numerator, 1: denominator, 2 + i: the cells of the metric''s breakdown column i), kept between passes; fingerprint ties a state to the definition it was computed under';

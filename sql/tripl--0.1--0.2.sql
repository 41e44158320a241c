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

-- Views run with their owner's rights: they filter rows themselves.
CREATE OR REPLACE VIEW tripl.signals AS
SELECT m.name AS metric,
       CASE
           WHEN lv.latest IS NULL THEN 'closed'
           WHEN a.bucket >= lv.latest - h.lag AND a.bucket >= tripl.now() - h.horizon THEN 'latest'
           WHEN a.bucket >= tripl.now() - h.horizon THEN 'recent'
           ELSE 'closed'
       END AS state,
       a.bucket, a.direction, a.actual, a.expected, a.z_score
FROM tripl.metrics m
JOIN tripl.monitoring mo ON mo.metric_id = m.id
CROSS JOIN LATERAL (
    SELECT greatest(mo.recent_signal_window, 3 * m.bucket) AS horizon,
           ceil(mo.settling_minutes * 60 / extract(epoch FROM m.bucket))::int * m.bucket AS lag) h
JOIN LATERAL (
    SELECT x.* FROM tripl.anomalies x WHERE x.metric_id = m.id ORDER BY x.bucket DESC LIMIT 1) a ON true
LEFT JOIN LATERAL (
    SELECT max(v.bucket) AS latest FROM tripl.metric_values v WHERE v.metric_id = m.id) lv ON true
WHERE pg_catalog.pg_has_role('tripl_reader', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE');

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
           FROM tripl.series(m.name, lv.bucket - 23 * m.bucket, lv.bucket + m.bucket) s)
       END AS sparkline,
       m.unit,
       st.last_collected_at,
       st.last_status,
       CASE WHEN pg_catalog.pg_has_role('tripl_admin', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE')
            THEN st.last_error END AS last_error
FROM tripl.metrics m
LEFT JOIN tripl.metric_state st ON st.metric_id = m.id
LEFT JOIN LATERAL (
    SELECT v.bucket, v.value FROM tripl.metric_values v
    WHERE v.metric_id = m.id ORDER BY v.bucket DESC LIMIT 1) lv ON true
LEFT JOIN tripl.signals sg ON sg.metric = m.name
WHERE pg_catalog.pg_has_role('tripl_reader', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE');

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
-- More aggregations, rolling windows, derived metrics (issue 16)
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

-- create_metric gains timezone (the calendar change's), percentile, "window", expression
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
    timezone text DEFAULT NULL,         -- calendar time: added by the calendar change
    percentile float8 DEFAULT NULL,
    "window" interval DEFAULT NULL,
    expression text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tripl_create_metric' LANGUAGE C;

--------------------------------------------------------------------------
-- Derived metrics (issue 16): kind 'derived', its expression and inputs
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

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
-- Detection that holds up on real series (issue 17): the burst detector of
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

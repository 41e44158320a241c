-- The security model: user SQL runs only as its author, nothing survives
-- it, values are private until granted.  Each block reproduces an attack
-- that worked on tripl 0.1.
SET DateStyle = 'ISO, YMD';
SET tripl.mock_now = '2026-01-09 00:10+00';
SELECT count(tripl.drop_metric(name)) AS dropped FROM tripl.metrics;

CREATE ROLE regress_sec_alice;
CREATE ROLE regress_sec_bob;
CREATE ROLE regress_sec_carol;
GRANT tripl_reader TO regress_sec_carol;
GRANT SELECT ON orders TO regress_sec_alice, regress_sec_bob;
CREATE SCHEMA sec_bob AUTHORIZATION regress_sec_bob;
CREATE TABLE sec_bob.private (secret text);
INSERT INTO sec_bob.private VALUES ('bob-secret-42');
ALTER TABLE sec_bob.private OWNER TO regress_sec_bob;

-- A hand-written count per hour, to compare collected values with
CREATE VIEW sec_hand_count AS
SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00') AS bucket, count(*)::float8 AS value
FROM orders WHERE created_at >= '2026-01-05 00:00+00' AND created_at < '2026-01-06 00:00+00' GROUP BY 1;

--------------------------------------------------------------------------
-- 1. Settings changed inside user SQL do not survive it
--------------------------------------------------------------------------
-- bob plants a function that would run instead of pg_catalog.now() and a
-- query that moves the caller's search_path in front of pg_catalog
SET ROLE regress_sec_bob;
CREATE FUNCTION sec_bob.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '1999-01-01 00:00+00'::timestamptz $$;
SELECT tripl.create_fact_table('sec_bob_orders',
    $q$SELECT created_at FROM orders WHERE set_config('search_path', 'sec_bob, pg_catalog, public', false) IS NOT NULL
                                       AND set_config('default_transaction_read_only', 'on', false) IS NOT NULL
                                       AND set_config('work_mem', '77kB', false) IS NOT NULL$q$,
    'created_at') > 0 AS ok;
SELECT tripl.create_metric('sec_bob_count', 'fact', fact_table => 'sec_bob_orders', aggregation => 'count',
    filter_sql => $f$set_config('statement_timeout', '1234', false) IS NOT NULL$f$) > 0 AS ok;
SELECT tripl.create_metric('sec_bob_sql', 'sql', time_column => 'ts',
    query => $q$SELECT created_at AS ts, 1 AS value FROM orders WHERE set_config('search_path', 'sec_bob', false) IS NOT NULL$q$) > 0 AS ok;
RESET ROLE;
SHOW search_path;
SELECT metric, rows_written, status FROM tripl.collect('sec_bob_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT metric, rows_written, status FROM tripl.collect('sec_bob_sql', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
-- the caller's settings are as they were, and now() is pg_catalog's
SHOW search_path;
SHOW default_transaction_read_only;
SHOW work_mem;
SHOW statement_timeout;
SELECT now() > '2000-01-01' AS real_now;
-- and the values are right
SELECT count(*) AS buckets,
       count(*) FILTER (WHERE v.value IS DISTINCT FROM h.value) AS differing
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
FULL JOIN sec_hand_count h ON h.bucket = v.bucket
WHERE m.name = 'sec_bob_count' OR m.name IS NULL;
-- the same through tick(), which the scheduler runs
SELECT tripl.tick() IS NOT NULL AS ticked;
SHOW search_path;
SHOW default_transaction_read_only;
SELECT tripl.drop_metric('sec_bob_count'), tripl.drop_metric('sec_bob_sql'), tripl.drop_fact_table('sec_bob_orders');

--------------------------------------------------------------------------
-- 2. A metric reads only its owner's sources: SQL of one role runs as
--    that role only
--------------------------------------------------------------------------
SET ROLE regress_sec_alice;
SELECT tripl.create_fact_table('sec_alice_orders', 'SELECT created_at, amount FROM orders', 'created_at',
    row_filters => '{"big": "amount > 40"}') > 0 AS ok;
SELECT tripl.create_event_source('sec_alice_events', 'SELECT created_at, status FROM orders', 'created_at', 'status') > 0 AS ok;
RESET ROLE;
-- neither bob nor a superuser may define a metric on alice's sources
SET ROLE regress_sec_bob;
SELECT tripl.create_metric('sec_bob_on_alice', 'fact', fact_table => 'sec_alice_orders', aggregation => 'count');
SELECT tripl.create_metric('sec_bob_ratio', 'fact',
    numerator => '{"fact_table": "sec_alice_orders", "aggregation": "count"}',
    denominator => '{"fact_table": "sec_alice_orders", "aggregation": "count"}');
SELECT tripl.create_metric('sec_bob_events', 'event_composition', event_source => 'sec_alice_events',
    numerator_event => 'completed');
RESET ROLE;
SELECT tripl.create_metric('sec_super_on_alice', 'fact', fact_table => 'sec_alice_orders', aggregation => 'count');
SELECT count(*) AS metrics_made FROM tripl.metrics WHERE name LIKE 'sec_%';
-- alice's own metric works
SET ROLE regress_sec_alice;
SELECT tripl.create_metric('sec_alice_count', 'fact', fact_table => 'sec_alice_orders', aggregation => 'count') > 0 AS ok;
RESET ROLE;
-- A metric of another owner left from 0.1 (made here by editing the
-- catalog as its owner could not) fails with a clear error: alice's query
-- never runs as bob
UPDATE tripl.metrics SET owner = 'regress_sec_bob' WHERE name = 'sec_alice_count';
SET ROLE regress_sec_alice;
SELECT tripl.alter_fact_table('sec_alice_orders',
    query => $q$SELECT created_at, amount FROM orders
               WHERE CAST(query_to_xml('SELECT string_agg(secret, '','') FROM sec_bob.private', false, false, '')::text AS int) > 0$q$);
RESET ROLE;
SELECT metric, status, error FROM tripl.collect('sec_alice_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
-- run as alice (its real owner) her query cannot read bob's table, and
-- bob's secret appears nowhere
UPDATE tripl.metrics SET owner = 'regress_sec_alice' WHERE name = 'sec_alice_count';
SELECT metric, status, error FROM tripl.collect('sec_alice_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT count(*) AS leaks FROM tripl.metric_state WHERE last_error LIKE '%bob-secret%';
SELECT count(*) AS leaks FROM tripl.runs WHERE error LIKE '%bob-secret%' OR details::text LIKE '%bob-secret%';
SET ROLE regress_sec_alice;
SELECT tripl.alter_fact_table('sec_alice_orders', query => 'SELECT created_at, amount FROM orders');
RESET ROLE;

--------------------------------------------------------------------------
-- 3. SQL functions of the extension run with a fixed search_path
--------------------------------------------------------------------------
SELECT p.oid::regprocedure AS without_fixed_search_path
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'tripl'
JOIN pg_language l ON l.oid = p.prolang
WHERE l.lanname <> 'c' AND p.prokind <> 'a'
  AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false);
-- a planted public.unnest(float8[]) is not what sparkline calls
CREATE FUNCTION public.unnest(float8[]) RETURNS SETOF float8 LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'planted unnest ran'; END $$;
SET search_path = public, pg_catalog;
SELECT tripl.sparkline(ARRAY[1, 2, 3]::float8[]) AS sparkline;
RESET search_path;
DROP FUNCTION public.unnest(float8[]);

--------------------------------------------------------------------------
-- 4. State does not escape user SQL: advisory locks, large objects and
--    NOTIFY are refused, directly or through a function; temporary tables
--    and PREPARE are refused by the security-restricted operation
--------------------------------------------------------------------------
-- written straight into a query or filter, they are refused at definition
-- (the LIMIT 0 check starts the executor)
SET ROLE regress_sec_alice;
SELECT tripl.create_fact_table('sec_state', 'SELECT created_at FROM orders WHERE pg_try_advisory_lock(4242)', 'created_at');
SELECT tripl.create_fact_table('sec_state', 'SELECT created_at FROM orders', 'created_at',
    row_filters => $j${"lo": "lo_from_bytea(0, 'x'::bytea) > 0"}$j$);
SELECT tripl.create_fact_table('sec_state', 'SELECT created_at FROM orders', 'created_at',
    row_filters => $j${"notify": "pg_notify('sec', 'x') IS NULL"}$j$);
RESET ROLE;
-- hidden in PL/pgSQL functions, they are refused when collection runs them
CREATE FUNCTION sec_lock() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN pg_try_advisory_lock(4242); END $$;
CREATE FUNCTION sec_lock_xact() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN pg_try_advisory_xact_lock(4243); END $$;
CREATE FUNCTION sec_lo() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN lo_from_bytea(0, 'x'::bytea) > 0; END $$;
CREATE FUNCTION sec_notify() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('sec', 'x'); RETURN true; END $$;
CREATE FUNCTION sec_temp() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN CREATE TEMP TABLE sec_t (x int); RETURN true; END $$;
CREATE FUNCTION sec_prepare() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'PREPARE sec_p AS SELECT 1'; RETURN true; END $$;
CREATE FUNCTION sec_listen() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN LISTEN sec; RETURN true; END $$;
GRANT EXECUTE ON FUNCTION sec_lock(), sec_lock_xact(), sec_lo(), sec_notify(), sec_temp(), sec_prepare(), sec_listen()
    TO regress_sec_alice;
SET ROLE regress_sec_alice;
SELECT tripl.create_fact_table('sec_state', 'SELECT created_at FROM orders', 'created_at',
    row_filters => $j${"lock": "sec_lock()", "lock_xact": "sec_lock_xact()", "lo": "sec_lo()",
                       "notify": "sec_notify()", "temp": "sec_temp()", "prepare": "sec_prepare()",
                       "listen": "sec_listen()"}$j$) > 0 AS ok;
SELECT count(tripl.create_metric('sec_' || f, 'fact', fact_table => 'sec_state', aggregation => 'count',
                                 row_filters => ARRAY[f])) AS metrics
FROM unnest(ARRAY['lock', 'lock_xact', 'lo', 'notify', 'temp', 'prepare', 'listen']) AS f;
RESET ROLE;
SELECT count(*) AS large_objects_before FROM pg_largeobject_metadata \gset
SELECT metric, status, error FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-06 00:00+00')
WHERE metric LIKE 'sec\_%' AND metric <> 'sec_alice_count' ORDER BY 1;
SELECT count(*) AS advisory_locks_held FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SELECT count(*) - :large_objects_before AS large_objects_made FROM pg_largeobject_metadata;
SELECT count(*) AS prepared FROM pg_prepared_statements;
SELECT count(*) AS listening FROM pg_listening_channels();
SELECT count(tripl.drop_metric(name)) AS dropped FROM tripl.metrics WHERE name LIKE 'sec\_%' AND name <> 'sec_alice_count';
SELECT tripl.drop_fact_table('sec_state');

--------------------------------------------------------------------------
-- 5. Role settings of the role that runs the SQL apply to it
--------------------------------------------------------------------------
ALTER ROLE regress_sec_alice SET statement_timeout = '200ms';
CREATE FUNCTION sec_slow(float8) RETURNS boolean LANGUAGE sql AS $$ SELECT pg_sleep($1) IS NOT NULL $$;
GRANT EXECUTE ON FUNCTION sec_slow(float8) TO regress_sec_alice;
SET ROLE regress_sec_alice;
SELECT tripl.create_fact_table('sec_slow', 'SELECT created_at FROM orders WHERE sec_slow(0.05)', 'created_at') > 0 AS ok;
SELECT tripl.create_metric('sec_slow_count', 'fact', fact_table => 'sec_slow', aggregation => 'count') > 0 AS ok;
RESET ROLE;
-- the superuser's session has no statement_timeout: alice's applies to her query
SHOW statement_timeout;
SELECT metric, status, error FROM tripl.collect('sec_slow_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SHOW statement_timeout;
ALTER ROLE regress_sec_alice RESET statement_timeout;
ALTER ROLE regress_sec_alice SET work_mem = '64kB';
ALTER ROLE regress_sec_alice SET temp_file_limit = '100kB';
SET ROLE regress_sec_alice;
SELECT tripl.create_fact_table('sec_spill',
    $q$SELECT created_at FROM orders, LATERAL (SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC OFFSET 1) s) x$q$,
    'created_at') > 0 AS ok;
SELECT tripl.create_metric('sec_spill_count', 'fact', fact_table => 'sec_spill', aggregation => 'count') > 0 AS ok;
RESET ROLE;
SELECT metric, status, error FROM tripl.collect('sec_spill_count', '2026-01-05 00:00+00', '2026-01-05 01:00+00');
ALTER ROLE regress_sec_alice RESET ALL;
SELECT tripl.drop_metric('sec_spill_count'), tripl.drop_fact_table('sec_spill');

--------------------------------------------------------------------------
-- 6. A slow source costs one time limit, not one per metric; a cancel or
--    statement_timeout ends the whole call
--------------------------------------------------------------------------
SET ROLE regress_sec_alice;
SELECT tripl.create_fact_table('sec_slow2', 'SELECT created_at, amount FROM orders WHERE sec_slow(0.05)', 'created_at') > 0 AS ok;
SELECT tripl.create_metric('sec_slow_' || a, 'fact', fact_table => 'sec_slow2', aggregation => a,
                           measure_column => CASE WHEN a <> 'count' THEN 'amount' END) > 0 AS ok
FROM unnest(ARRAY['sum', 'min', 'max']) AS a;
RESET ROLE;
SET tripl.query_timeout = '1s';
SELECT clock_timestamp() AS t0 \gset
SELECT metric, status, error FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-06 00:00+00')
WHERE metric LIKE 'sec_slow%' ORDER BY 1;
-- four metrics, two sources: one time limit per source, two in all (the
-- 0.1 code retried each metric alone: five)
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) < 4 AS under_four_time_limits;
RESET tripl.query_timeout;
SET tripl.query_timeout = 0;
SET statement_timeout = '300ms';
\set VERBOSITY terse
SELECT metric, status FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-06 00:00+00')
WHERE metric LIKE 'sec_slow%';
\set VERBOSITY default
RESET statement_timeout;
RESET tripl.query_timeout;
SELECT count(tripl.drop_metric(name)) AS dropped FROM tripl.metrics WHERE name LIKE 'sec_slow%';
SELECT tripl.drop_fact_table('sec_slow'), tripl.drop_fact_table('sec_slow2');

--------------------------------------------------------------------------
-- 7. Values are private until granted; error texts only for owners and
--    tripl_admin; the run log only for tripl_admin
--------------------------------------------------------------------------
SELECT metric, status FROM tripl.collect('sec_alice_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
UPDATE tripl.metric_state SET last_error = 'an old error' WHERE metric_id = (SELECT id FROM tripl.metrics WHERE name = 'sec_alice_count');
SET ROLE regress_sec_alice;
SELECT count(*) AS alice_sees_values FROM tripl.metric_values;
SELECT name, last_error FROM tripl.catalog ORDER BY name;
SELECT count(*) AS alice_series FROM tripl.series('sec_alice_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SET ROLE regress_sec_bob;
SELECT count(*) AS bob_sees_values FROM tripl.metric_values;
SELECT count(*) AS bob_sees_state FROM tripl.metric_state;
SELECT count(*) AS bob_sees_catalog FROM tripl.catalog;
SELECT count(*) FROM tripl.series('sec_alice_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT count(*) FROM tripl.runs;
SET ROLE regress_sec_carol;
SELECT count(*) AS reader_sees_values FROM tripl.metric_values;
SELECT name, last_error FROM tripl.catalog ORDER BY name;
SELECT count(*) AS reader_series FROM tripl.series('sec_alice_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT count(*) AS reader_sees_state FROM tripl.metric_state;
RESET ROLE;

--------------------------------------------------------------------------
-- 8. detect_series is bounded
--------------------------------------------------------------------------
SELECT count(*) FROM tripl.detect_series(ARRAY['2000-01-01', '2030-01-01']::timestamptz[], ARRAY[1, 2]::float8[], '1 minute');

SELECT tripl.drop_metric('sec_alice_count');
SELECT tripl.drop_event_source('sec_alice_events'), tripl.drop_fact_table('sec_alice_orders');
DROP VIEW sec_hand_count;
DROP FUNCTION sec_lock(), sec_lock_xact(), sec_lo(), sec_notify(), sec_temp(), sec_prepare(), sec_listen(), sec_slow(float8);
DROP SCHEMA sec_bob CASCADE;
REVOKE ALL ON orders FROM regress_sec_alice, regress_sec_bob;
DROP ROLE regress_sec_alice, regress_sec_bob, regress_sec_carol;
RESET tripl.mock_now;

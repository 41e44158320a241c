-- The privilege model: definitions are made as the caller and remember it;
-- nobody defines anything over data they cannot read; only owners change
-- their definitions; the catalog is readable but written only through the
-- functions; tripl's own SQL cannot be hijacked through search_path.

-- alice can read orders: she defines as herself
SET ROLE regress_alice;
SELECT tripl.create_fact_table('alice_orders', 'SELECT created_at, amount, status FROM orders', 'created_at',
                               row_filters => '{"completed": "status = ''completed''"}') > 0 AS ok;
SELECT tripl.create_metric('alice_revenue', 'fact', fact_table => 'alice_orders', aggregation => 'sum',
                           measure_column => 'amount') > 0 AS ok;
SELECT name, owner FROM tripl.fact_tables WHERE name = 'alice_orders';
SELECT name, owner FROM tripl.metrics WHERE name = 'alice_revenue';
-- the catalog is readable ...
SELECT count(*) > 0 AS can_read FROM tripl.metrics;
-- ... but not writable directly
INSERT INTO tripl.fact_tables (name, query, timestamp_column, timestamp_type, columns, owner, search_path)
VALUES ('sneaky', 'SELECT 1', 'x', 'timestamptz', '[]', 'regress_alice', '');
UPDATE tripl.metrics SET owner = 'regress_alice' WHERE name = 'm_count';
DELETE FROM tripl.metric_values;
TRUNCATE tripl.metrics;
RESET ROLE;

-- bob cannot read orders: the introspection runs with his rights
SET ROLE regress_bob;
SELECT tripl.create_fact_table('bob_orders', 'SELECT created_at, amount FROM orders', 'created_at');
SELECT * FROM tripl.preview_fact_table('SELECT * FROM orders');
-- a metric reads only its owner's fact tables: bob cannot use alice's
SELECT tripl.create_metric('bob_revenue', 'fact', fact_table => 'alice_orders', aggregation => 'sum',
                           measure_column => 'amount');
SELECT tripl.create_event_source('bob_events', 'SELECT * FROM events', 'event_time', 'event_name');
SELECT tripl.create_metric('bob_sql', 'sql', query => 'SELECT created_at AS ts, amount AS value FROM orders',
                           time_column => 'ts');
-- and bob cannot change or drop alice's definitions
SELECT tripl.alter_fact_table('alice_orders', description => 'mine now');
SELECT tripl.drop_fact_table('alice_orders');
SELECT tripl.alter_metric('alice_revenue', status => 'archived');
SELECT tripl.drop_metric('alice_revenue');
-- bob may define things over data he can read
SELECT tripl.create_fact_table('bob_numbers', 'SELECT now() AS t, 1 AS n', 't') > 0 AS ok;
RESET ROLE;
SELECT name, owner FROM tripl.fact_tables WHERE name LIKE 'bob%';

-- A role that is a member of the owner role may manage its definitions
GRANT regress_alice TO regress_bob;
SET ROLE regress_bob;
SELECT tripl.alter_metric('alice_revenue', description => 'managed by a member');
RESET ROLE;
REVOKE regress_alice FROM regress_bob;
SELECT description FROM tripl.metrics WHERE name = 'alice_revenue';

-- tripl's own catalog SQL ignores the caller's search_path: an operator
-- planted ahead of pg_catalog is never called
CREATE SCHEMA regress_evil;
GRANT USAGE ON SCHEMA regress_evil TO PUBLIC;
CREATE FUNCTION regress_evil.texteq_spy(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'hijacked: % = %', $1, $2; RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.texteq_spy);
SET ROLE regress_alice;
SET search_path = regress_evil, pg_catalog, public;
SELECT 'the spy' = 'is live' AS plain_query_uses_it;
SELECT tripl.alter_metric('alice_revenue', description => 'no spy');
SELECT tripl.create_metric('alice_count', 'fact', fact_table => 'alice_orders', aggregation => 'count') > 0 AS ok;
RESET search_path;
RESET ROLE;

-- Superusers may manage anyone's definitions
SELECT tripl.drop_metric('alice_count');
SELECT tripl.drop_metric('alice_revenue');
SELECT tripl.drop_fact_table('alice_orders');
SELECT tripl.drop_fact_table('bob_numbers');

-- Privileges on the catalog tables
SELECT c.relname, has_table_privilege('regress_bob', c.oid, 'SELECT') AS sel,
       has_table_privilege('regress_bob', c.oid, 'INSERT') AS ins,
       has_table_privilege('regress_bob', c.oid, 'UPDATE') AS upd,
       has_table_privilege('regress_bob', c.oid, 'DELETE') AS del
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'tripl' AND c.relkind = 'r' ORDER BY 1;

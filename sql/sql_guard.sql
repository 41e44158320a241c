-- The user-SQL guard: queries must be exactly one read-only SELECT, filters
-- exactly one expression without a sub-query.  Checked with PostgreSQL's
-- parser; every rejection leaves no row behind.

-- Accepted shapes
SELECT column_name, type_class FROM tripl.preview_fact_table('SELECT created_at, amount FROM orders', 0);
SELECT column_name FROM tripl.preview_fact_table('WITH o AS (SELECT * FROM orders) SELECT created_at FROM o', 0);
SELECT column_name FROM tripl.preview_fact_table('SELECT created_at FROM orders;', 0);
SELECT column_name FROM tripl.preview_fact_table('SELECT created_at FROM orders -- trailing comment', 0);
SELECT column_name FROM tripl.preview_fact_table('SELECT created_at FROM orders /* block */', 0);
SELECT column_name FROM tripl.preview_fact_table('VALUES (now())', 0);
SELECT column_name FROM tripl.preview_fact_table('TABLE orders_daily', 0);
SELECT column_name FROM tripl.preview_fact_table('SELECT created_at FROM orders UNION ALL SELECT created_at FROM orders', 0);

-- Not a SELECT
SELECT tripl.create_fact_table('bad', 'DELETE FROM orders', 'created_at');
SELECT tripl.create_fact_table('bad', 'UPDATE orders SET amount = 0', 'created_at');
SELECT tripl.create_fact_table('bad', 'INSERT INTO orders DEFAULT VALUES', 'created_at');
SELECT tripl.create_fact_table('bad', 'MERGE INTO orders o USING orders p ON o.id = p.id WHEN MATCHED THEN DELETE', 'created_at');
SELECT tripl.create_fact_table('bad', 'TRUNCATE orders', 'created_at');
SELECT tripl.create_fact_table('bad', 'DROP TABLE orders', 'created_at');
SELECT tripl.create_fact_table('bad', 'COPY orders TO STDOUT', 'created_at');
SELECT tripl.create_fact_table('bad', 'DO $$ BEGIN DELETE FROM orders; END $$', 'created_at');
SELECT tripl.create_fact_table('bad', 'EXPLAIN SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table('bad', 'SET search_path = evil', 'created_at');
SELECT tripl.create_fact_table('bad', 'VACUUM orders', 'created_at');
SELECT tripl.create_fact_table('bad', 'CALL my_proc()', 'created_at');
SELECT tripl.create_fact_table('bad', 'PREPARE p AS SELECT 1', 'created_at');

-- Data-modifying WITH, anywhere
SELECT tripl.create_fact_table('bad', 'WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d', 'created_at');
SELECT tripl.create_fact_table('bad', 'WITH u AS (UPDATE orders SET amount = 0 RETURNING *) SELECT * FROM u', 'created_at');
SELECT tripl.create_fact_table('bad', 'WITH i AS (INSERT INTO orders DEFAULT VALUES RETURNING *) SELECT * FROM i', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM (WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d) s', 'created_at');

-- SELECT INTO and locking clauses, at any depth
SELECT tripl.create_fact_table('bad', 'SELECT * INTO stolen FROM orders', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders FOR UPDATE', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders FOR NO KEY UPDATE SKIP LOCKED', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders FOR SHARE', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM (SELECT * FROM orders FOR UPDATE) s', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT *, (SELECT 1 FROM orders LIMIT 1 FOR KEY SHARE) FROM orders', 'created_at');

-- Second statements, however hidden
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders; DROP TABLE orders', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders; SELECT 1', 'created_at');
SELECT tripl.create_fact_table('bad', E'SELECT * FROM orders;\n;DELETE FROM orders', 'created_at');

-- Nothing, or not SQL
SELECT tripl.create_fact_table('bad', NULL, 'created_at');
SELECT tripl.create_fact_table('bad', '', 'created_at');
SELECT tripl.create_fact_table('bad', '   ', 'created_at');
SELECT tripl.create_fact_table('bad', '-- only a comment', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders WHERE', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders /* unterminated', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders WHERE status = $1', 'created_at');

-- Huge input: a 1 MB query is refused before it is parsed
SELECT tripl.create_fact_table('bad', 'SELECT created_at FROM orders WHERE ' || repeat('true AND ', 116509) || 'true', 'created_at');

-- Read-only at run time too: a SELECT whose function writes fails
CREATE SEQUENCE guard_seq;
CREATE FUNCTION guard_writer() RETURNS int LANGUAGE plpgsql AS $$
BEGIN DELETE FROM orders WHERE false; RETURN 1; END $$;
SELECT * FROM tripl.preview_fact_table('SELECT nextval(''guard_seq'') AS n', 1);
SELECT * FROM tripl.preview_fact_table('SELECT guard_writer() AS w', 1);
SELECT last_value FROM guard_seq;

-- Fragments (row filters, filter_sql): one expression, no sub-query
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "status = ''completed''; DROP TABLE orders"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "true) OR (true"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "amount > (SELECT max(amount) FROM orders)"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "EXISTS (SELECT 1 FROM pg_authid)"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "true AS x"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "true FROM pg_authid"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "true UNION SELECT false"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "true ORDER BY 1"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "status, amount"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "*"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": ""}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "amount + 1"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "no_such_column = 1"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "count(*) > 1"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "status = $1"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => jsonb_build_object('f', repeat('x', 40000)));
-- a trailing comment in a filter cannot swallow what tripl appends
SELECT tripl.create_fact_table('commented', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "status = ''completed'' -- note"}');

-- Nothing was written by any rejected call
SELECT count(*) AS fact_tables FROM tripl.fact_tables;
SELECT name FROM tripl.fact_tables;
SELECT tripl.drop_fact_table('commented');

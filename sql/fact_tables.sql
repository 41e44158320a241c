-- Fact tables: create, preview, alter, drop; every rule positive and negative.

-- A good one, with an identifier and a named row filter
SELECT tripl.create_fact_table(
    name => 'orders',
    query => 'SELECT created_at, amount, currency, user_id, country, status FROM orders',
    timestamp_column => 'created_at',
    identifier_columns => '{user_id}',
    row_filters => '{"completed": "status = ''completed''", "big": "amount >= 50"}',
    description => 'One row per order') AS id;
SELECT name, timestamp_column, timestamp_type, identifier_columns, row_filters, description,
       owner, search_path
FROM tripl.fact_tables;
SELECT c->>'name' AS name, c->>'type_class' AS type_class, c->>'native_type' AS native_type
FROM tripl.fact_tables, jsonb_array_elements(columns) c WHERE name = 'orders';

-- Naive timestamps and dates are accepted as timestamp columns
SELECT tripl.create_fact_table('orders_naive', 'SELECT * FROM orders_naive', 'created_at') > 0 AS ok;
SELECT tripl.create_fact_table('orders_daily', 'SELECT * FROM orders_daily', 'day') > 0 AS ok;
SELECT name, timestamp_type FROM tripl.fact_tables ORDER BY id;

-- preview_fact_table: columns, type classes and samples, nothing stored
SELECT * FROM tripl.preview_fact_table(
    'SELECT created_at, amount, status, user_id, amount > 30 AS big FROM orders ORDER BY id', 3);
SELECT * FROM tripl.preview_fact_table('SELECT 1 AS a, 1 AS a', 1);
SELECT * FROM tripl.preview_fact_table('SELECT created_at FROM orders', -1);
SELECT * FROM tripl.preview_fact_table('SELECT created_at FROM orders', 1001);
SELECT * FROM tripl.preview_fact_table(NULL);

-- Names: unique, well-formed, no injection through them
SELECT tripl.create_fact_table('orders', 'SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table(NULL, 'SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table('', 'SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table('x''; DROP TABLE orders; --', 'SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table('"quoted"', 'SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table('has space', 'SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table('café', 'SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table(repeat('n', 129), 'SELECT * FROM orders', 'created_at');
SELECT tripl.create_fact_table('-dash', 'SELECT * FROM orders', 'created_at');

-- The timestamp column must be a real output column of a time type
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', NULL);
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', '');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'no_such_column');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at; DROP TABLE orders');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'CREATED_AT');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'amount');
SELECT tripl.create_fact_table('bad', 'SELECT created_at, created_at FROM orders', 'created_at');
SELECT tripl.create_fact_table('bad', 'SELECT FROM orders', 'created_at');

-- Identifier columns must be output columns
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', '{no_such_column}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', '{user_id, NULL}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', '{""}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', '{{user_id}}');

-- Row filters: an object of well-named string conditions that plan
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '["status = 1"]');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": 1}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"bad name": "true"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', row_filters => '{"f": "status = 1"}');
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at',
    row_filters => (SELECT jsonb_object_agg('f' || i, 'true') FROM generate_series(1, 101) i));

-- Description length
SELECT tripl.create_fact_table('bad', 'SELECT * FROM orders', 'created_at', description => repeat('d', 10001));

-- Nothing of the rejected calls was written
SELECT count(*) FROM tripl.fact_tables;

-- Metrics depend on fact tables
SELECT tripl.create_metric('orders_count', 'fact', fact_table => 'orders', aggregation => 'count',
                           row_filters => '{completed}', breakdowns => '{country}') > 0 AS ok;
SELECT tripl.drop_fact_table('orders');
SELECT tripl.drop_fact_table('no_such_table');
SELECT tripl.drop_fact_table(NULL);

-- alter_fact_table: a description change keeps values; a query change clears them
INSERT INTO tripl.metric_values SELECT id, '2026-01-05 00:00+00', 1 FROM tripl.metrics WHERE name = 'orders_count';
UPDATE tripl.metric_state SET watermark = '2026-01-06 00:00+00', last_status = 'success'
WHERE metric_id = (SELECT id FROM tripl.metrics WHERE name = 'orders_count');
SELECT tripl.alter_fact_table('orders', description => 'Orders, one row each');
SELECT description FROM tripl.fact_tables WHERE name = 'orders';
SELECT count(*) AS values_kept FROM tripl.metric_values;
SELECT tripl.alter_fact_table('orders',
    query => 'SELECT created_at, amount, currency, user_id, country, status FROM orders WHERE amount > 0');
SELECT count(*) AS values_cleared FROM tripl.metric_values;
SELECT watermark, last_status FROM tripl.metric_state;
SELECT query FROM tripl.fact_tables WHERE name = 'orders';

-- ... but may not break what metrics use
SELECT tripl.alter_fact_table('orders', query => 'SELECT created_at, amount, user_id, status FROM orders');
SELECT tripl.alter_fact_table('orders', row_filters => '{"big": "amount >= 50"}');
SELECT tripl.alter_fact_table('orders', query => 'SELECT created_at, amount, currency, user_id, country FROM orders');
SELECT tripl.alter_fact_table('orders', timestamp_column => 'amount');
SELECT tripl.alter_fact_table('orders', timestamp_column => '');
SELECT tripl.alter_fact_table('orders', query => 'DELETE FROM orders');
SELECT tripl.alter_fact_table('no_such_table', description => 'x');
-- a changed filter definition is material: values are cleared
INSERT INTO tripl.metric_values SELECT id, '2026-01-05 00:00+00', 1 FROM tripl.metrics WHERE name = 'orders_count';
SELECT tripl.alter_fact_table('orders', row_filters => '{"completed": "status IN (''completed'')", "big": "amount >= 50"}');
SELECT count(*) AS values_cleared FROM tripl.metric_values;
SELECT row_filters FROM tripl.fact_tables WHERE name = 'orders';

-- Dropping works once nothing uses it
SELECT tripl.drop_metric('orders_count');
SELECT tripl.drop_fact_table('orders_daily');
SELECT name FROM tripl.fact_tables ORDER BY id;

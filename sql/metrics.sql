-- Metrics: every kind, and every rule of create_metric / alter_metric / drop_metric.

-- fact, single: each aggregation
SELECT tripl.create_metric('m_count', 'fact', fact_table => 'orders', aggregation => 'count') > 0 AS ok;
SELECT tripl.create_metric('m_completed', 'fact', '1 day', fact_table => 'orders', aggregation => 'count',
                           row_filters => '{completed}') > 0 AS ok;
SELECT tripl.create_metric('m_revenue', 'fact', '1 day', fact_table => 'orders', aggregation => 'sum',
                           measure_column => 'amount', row_filters => '{completed, big}',
                           filter_sql => 'currency = ''USD''', unit => 'USD') > 0 AS ok;
SELECT tripl.create_metric('m_avg', 'fact', fact_table => 'orders', aggregation => 'avg', measure_column => 'amount') > 0 AS ok;
SELECT tripl.create_metric('m_min', 'fact', fact_table => 'orders', aggregation => 'min', measure_column => 'amount') > 0 AS ok;
SELECT tripl.create_metric('m_max', 'fact', fact_table => 'orders', aggregation => 'max', measure_column => 'amount') > 0 AS ok;
SELECT tripl.create_metric('m_users', 'fact', '1 week', fact_table => 'orders', aggregation => 'count_distinct',
                           distinct_column => 'user_id', breakdowns => '{country, currency, country}',
                           breakdown_values_limit => 3) > 0 AS ok;
-- fact, ratio (same table and two tables)
SELECT tripl.create_metric('m_aov', 'fact', '1 day',
    numerator => '{"fact_table": "orders", "aggregation": "sum", "measure_column": "amount", "row_filters": ["completed"]}',
    denominator => '{"fact_table": "orders", "aggregation": "count", "row_filters": ["completed"]}',
    breakdowns => '{country}') > 0 AS ok;
SELECT tripl.create_metric('m_cross', 'fact',
    numerator => '{"fact_table": "orders", "aggregation": "sum", "measure_column": "amount"}',
    denominator => '{"fact_table": "orders_naive", "aggregation": "count", "filter_sql": "status <> ''cancelled''"}') > 0 AS ok;
-- sql
SELECT tripl.create_metric('m_sql', 'sql', '1 day',
    query => 'SELECT date_trunc(''day'', created_at) AS ts, count(DISTINCT user_id) AS value FROM orders GROUP BY 1',
    time_column => 'ts') > 0 AS ok;
SELECT tripl.create_metric('m_sql2', 'sql', query => 'SELECT created_at AS t, amount AS v FROM orders_naive',
                           time_column => 't', value_column => 'v') > 0 AS ok;
-- event_composition: single, ratio, per_distinct_user (composition inferred or given)
SELECT tripl.create_metric('m_purchases', 'event_composition', event_source => 'app_events',
                           numerator_event => 'Purchase Completed', breakdowns => '{platform}') > 0 AS ok;
SELECT tripl.create_metric('m_conversion', 'event_composition', event_source => 'app_events',
                           numerator_event => 'Purchase Completed', denominator_event => 'Home Screen View',
                           unit => '%') > 0 AS ok;
SELECT tripl.create_metric('m_per_user', 'event_composition', event_source => 'app_events',
                           numerator_event => 'Purchase Completed', composition => 'per_distinct_user') > 0 AS ok;

SELECT name, kind, status, bucket, composition, breakdowns, breakdown_values_limit, anomaly_detection, unit, owner
FROM tripl.metrics ORDER BY id;
SELECT m.name, o.role, f.name AS fact_table, o.aggregation, o.measure_column, o.distinct_column, o.row_filters, o.filter_sql
FROM tripl.metric_operands o JOIN tripl.metrics m ON m.id = o.metric_id JOIN tripl.fact_tables f ON f.id = o.fact_table_id
ORDER BY m.id, o.role;
SELECT name, time_column, value_column, time_type FROM tripl.metrics WHERE kind = 'sql' ORDER BY id;
SELECT name, numerator_event, denominator_event FROM tripl.metrics WHERE kind = 'event_composition' ORDER BY id;
SELECT count(*) AS state_rows FROM tripl.metric_state;

-- Common arguments
SELECT tripl.create_metric('m_count', 'fact', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric(NULL, 'fact', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad name', 'fact', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('m''; DROP TABLE orders --', 'fact', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', NULL, fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'gauge', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', NULL, fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', '30 seconds', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', '2 months', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', '1 year 1 day', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', '90.5 seconds', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', '-1 hour', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', '400 days', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', status => 'paused', fact_table => 'orders', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', anomaly_detection => NULL);
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', unit => repeat('u', 51));
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', breakdowns => '{country}', breakdown_values_limit => 1);
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', breakdown_values_limit => 5);
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', breakdowns => '{nope}');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', breakdowns => '{NULL}');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', composition => 'blend');

-- fact, single: required and forbidden arguments
SELECT tripl.create_metric('bad', 'fact', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'nope', aggregation => 'count');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'median');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'sum');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'sum', measure_column => 'status');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'sum', measure_column => 'nope');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', measure_column => 'amount');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count_distinct');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', distinct_column => 'user_id');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', row_filters => '{nope}');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', filter_sql => 'amount > (SELECT 1)');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', filter_sql => 'amount');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', filter_sql => 'true; DROP TABLE orders');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', query => 'SELECT 1');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', time_column => 'created_at');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', value_column => 'amount');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', event_source => 'app_events');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', numerator_event => 'x');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders', aggregation => 'count', composition => 'ratio');

-- fact, ratio
SELECT tripl.create_metric('bad', 'fact', numerator => '{"fact_table": "orders", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'fact', numerator => '[1]', denominator => '{}');
SELECT tripl.create_metric('bad', 'fact', numerator => '{"fact_table": "orders", "aggregation": "count", "colour": "red"}',
                           denominator => '{"fact_table": "orders", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'fact', numerator => '{"fact_table": 1, "aggregation": "count"}',
                           denominator => '{"fact_table": "orders", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'fact', numerator => '{"fact_table": "orders", "aggregation": "count", "row_filters": "completed"}',
                           denominator => '{"fact_table": "orders", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'fact', numerator => '{"fact_table": "orders", "aggregation": "count"}',
                           denominator => '{"fact_table": "orders", "aggregation": "sum"}');
SELECT tripl.create_metric('bad', 'fact', numerator => '{"fact_table": "orders", "aggregation": "count"}',
                           denominator => '{"fact_table": "orders", "aggregation": "count", "row_filters": ["nope"]}');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'orders',
                           numerator => '{"fact_table": "orders", "aggregation": "count"}',
                           denominator => '{"fact_table": "orders", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'fact', composition => 'single',
                           numerator => '{"fact_table": "orders", "aggregation": "count"}',
                           denominator => '{"fact_table": "orders", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'fact', breakdowns => '{status}',
                           numerator => '{"fact_table": "orders", "aggregation": "count"}',
                           denominator => '{"fact_table": "orders_naive", "aggregation": "count"}');

-- sql
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT created_at AS ts, 1 AS value FROM orders');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT created_at AS ts, 1 AS value FROM orders', time_column => 'nope');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT created_at AS ts, 1 AS v FROM orders', time_column => 'ts');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT amount AS ts, 1 AS value FROM orders', time_column => 'ts');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT created_at AS ts, status AS value FROM orders', time_column => 'ts');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT created_at AS ts, 1 AS value FROM orders', time_column => 'ts', value_column => NULL);
SELECT tripl.create_metric('bad', 'sql', query => 'DELETE FROM orders RETURNING created_at AS ts, 1 AS value', time_column => 'ts');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT created_at AS ts, 1 AS value FROM orders', time_column => 'ts', breakdowns => '{ts}');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT created_at AS ts, 1 AS value FROM orders', time_column => 'ts', fact_table => 'orders');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT created_at AS ts, 1 AS value FROM orders', time_column => 'ts', composition => 'single');
SELECT tripl.create_metric('bad', 'sql', time_column => 'ts');

-- event_composition
SELECT tripl.create_metric('bad', 'event_composition', numerator_event => 'x');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'nope', numerator_event => 'x');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'app_events');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'app_events', numerator_event => 'x', composition => 'ratio');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'app_events', numerator_event => 'x',
                           denominator_event => 'y', composition => 'single');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'app_events', numerator_event => 'x',
                           denominator_event => 'y', composition => 'per_distinct_user');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'app_events', numerator_event => 'x', breakdowns => '{nope}');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'app_events', numerator_event => 'x', fact_table => 'orders');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'app_events', numerator_event => 'x', query => 'SELECT 1');
SELECT tripl.create_metric('bad', 'event_composition', event_source => 'app_events', numerator_event => repeat('x', 501));

-- Nothing of the rejected calls was written
SELECT count(*) AS metrics, (SELECT count(*) FROM tripl.metric_operands) AS operands,
       (SELECT count(*) FROM tripl.metric_state) AS states FROM tripl.metrics;

-- alter_metric
SELECT tripl.alter_metric('m_count', status => 'draft', anomaly_detection => false,
                          description => 'All orders', unit => 'orders');
SELECT name, status, anomaly_detection, description, unit FROM tripl.metrics WHERE name = 'm_count';
SELECT tripl.alter_metric('m_count', status => 'archived');
SELECT name, status, anomaly_detection, description, unit FROM tripl.metrics WHERE name = 'm_count';
SELECT tripl.alter_metric('m_count', status => 'paused');
SELECT tripl.alter_metric('nope', status => 'active');
SELECT tripl.alter_metric(NULL);

-- drop_metric removes the metric with its operands, values and state
INSERT INTO tripl.metric_values SELECT id, '2026-01-05', 1 FROM tripl.metrics WHERE name = 'm_aov';
SELECT tripl.drop_metric('m_aov');
SELECT tripl.drop_metric('m_aov');
SELECT count(*) FROM tripl.metric_values;
SELECT count(*) FROM tripl.metric_operands o WHERE NOT EXISTS (SELECT 1 FROM tripl.metrics m WHERE m.id = o.metric_id);

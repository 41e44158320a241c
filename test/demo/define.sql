-- tripl demo definitions: one fact table, one event source, and the four
-- metrics of tripl's own demo plus an hourly count split by country.

SELECT tripl.create_fact_table(
    name => 'orders',
    query => 'SELECT created_at, amount, currency, user_id, country, status FROM orders',
    timestamp_column => 'created_at',
    identifier_columns => '{user_id}',
    row_filters => '{"completed": "status = ''completed''"}',
    description => 'One row per order');

SELECT tripl.create_event_source(
    name => 'app_events',
    query => 'SELECT event_time, event_name, user_id, session_id, platform FROM events',
    timestamp_column => 'event_time',
    event_column => 'event_name',
    user_column => 'user_id',
    description => 'Mobile app events');

SELECT tripl.create_metric('active_sessions', 'sql', '1 day',
    query => 'SELECT date_trunc(''day'', event_time, ''UTC'') AS ts, count(DISTINCT session_id) AS value
              FROM events GROUP BY 1',
    time_column => 'ts', unit => 'sessions',
    description => 'Distinct app sessions per day');

SELECT tripl.create_metric('purchase_conversion', 'event_composition', '1 hour',
    event_source => 'app_events',
    numerator_event => 'Purchase Completed', denominator_event => 'Home Screen View',
    unit => 'purchases/view', description => 'Purchases per home screen view');

SELECT tripl.create_metric('revenue_completed', 'fact', '1 day',
    fact_table => 'orders', aggregation => 'sum', measure_column => 'amount',
    row_filters => '{completed}', unit => 'USD', description => 'Revenue of completed orders');

SELECT tripl.create_metric('average_order_value', 'fact', '1 day',
    numerator => '{"fact_table": "orders", "aggregation": "sum", "measure_column": "amount"}',
    denominator => '{"fact_table": "orders", "aggregation": "count"}',
    unit => 'USD', description => 'Average amount per order');

SELECT tripl.create_metric('completed_orders', 'fact', '1 hour',
    fact_table => 'orders', aggregation => 'count', row_filters => '{completed}',
    breakdowns => '{country}', breakdown_values_limit => 4,
    unit => 'orders', description => 'Completed orders per hour');

-- Benchmark data: 2 000 000 orders over 60 days (about 1 389 per hour), an
-- index on the timestamp, and 8 hourly metrics on one fact table.
SELECT setseed(0.42);
CREATE TABLE bench_facts (
    ts       timestamptz NOT NULL,
    amount   numeric(10, 2) NOT NULL,
    user_id  int NOT NULL,
    status   text NOT NULL,
    country  text NOT NULL
);
INSERT INTO bench_facts
SELECT '2026-01-01 00:00+00'::timestamptz + (i * interval '60 days' / 2000000),
       round((5 + random() * 200)::numeric, 2),
       (random() * 50000)::int,
       CASE WHEN random() < 0.8 THEN 'completed' ELSE 'pending' END,
       (ARRAY['US', 'DE', 'FR', 'BR'])[1 + floor(random() * 4)::int]
FROM generate_series(0, 1999999) AS i;
-- five more hours for the incremental passes
INSERT INTO bench_facts
SELECT '2026-03-02 00:00+00'::timestamptz + (i * interval '1 hour' / 1389),
       round((5 + random() * 200)::numeric, 2), (random() * 50000)::int,
       CASE WHEN random() < 0.8 THEN 'completed' ELSE 'pending' END,
       (ARRAY['US', 'DE', 'FR', 'BR'])[1 + floor(random() * 4)::int]
FROM generate_series(0, 5 * 1389 - 1) AS i;
CREATE INDEX ON bench_facts (ts);
VACUUM ANALYZE bench_facts;

SELECT tripl.create_fact_table('bench', 'SELECT ts, amount, user_id, status, country FROM bench_facts', 'ts',
    '{user_id}', '{"completed": "status = ''completed''", "us": "country = ''US''"}');
SELECT tripl.create_metric('b_count', 'fact', fact_table => 'bench', aggregation => 'count');
SELECT tripl.create_metric('b_completed', 'fact', fact_table => 'bench', aggregation => 'count', row_filters => '{completed}');
SELECT tripl.create_metric('b_revenue', 'fact', fact_table => 'bench', aggregation => 'sum', measure_column => 'amount', row_filters => '{completed}');
SELECT tripl.create_metric('b_avg', 'fact', fact_table => 'bench', aggregation => 'avg', measure_column => 'amount');
SELECT tripl.create_metric('b_min', 'fact', fact_table => 'bench', aggregation => 'min', measure_column => 'amount');
SELECT tripl.create_metric('b_max', 'fact', fact_table => 'bench', aggregation => 'max', measure_column => 'amount');
SELECT tripl.create_metric('b_users', 'fact', fact_table => 'bench', aggregation => 'count_distinct', distinct_column => 'user_id');
SELECT tripl.create_metric('b_us_revenue', 'fact', fact_table => 'bench', aggregation => 'sum', measure_column => 'amount', row_filters => '{us}');

CREATE TABLE hand_out (bucket timestamptz, m1 float8, m2 float8, m3 float8, m4 float8,
                       m5 float8, m6 float8, m7 float8, m8 float8);
CREATE TABLE naive_out (metric int, bucket timestamptz, value float8);

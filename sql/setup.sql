-- Shared set-up for the regression suites: the extension, a small data set
-- with known contents, and roles with different rights.
SET client_min_messages = warning;
CREATE EXTENSION tripl;
RESET client_min_messages;

SELECT extname, extversion FROM pg_extension WHERE extname = 'tripl';
-- the tripl schema belongs to the extension
SELECT n.nspname AS member_schema
FROM pg_depend d JOIN pg_namespace n ON d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'tripl') AND d.deptype = 'e';

-- pg_dump keeps the user-definition and value tables (and id sequences)
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'tripl' ORDER BY 1::text;

-- The tripl_admin role exists
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'tripl_admin';

-- Orders: 4 days of data at 30-minute steps, known contents
CREATE TABLE orders (
    id          serial PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    amount      numeric(10,2),
    currency    text,
    user_id     int,
    country     text,
    status      text
);
INSERT INTO orders (created_at, amount, currency, user_id, country, status)
SELECT '2026-01-05 00:00+00'::timestamptz + i * interval '30 minutes',
       (i % 7) * 10 + 5,
       CASE WHEN i % 4 = 0 THEN 'EUR' ELSE 'USD' END,
       i % 13,
       (ARRAY['DE', 'US', 'FR', 'BR'])[1 + i % 4],
       CASE WHEN i % 3 = 0 THEN 'completed' WHEN i % 3 = 1 THEN 'pending' ELSE 'cancelled' END
FROM generate_series(0, 191) AS i;

-- Same data with naive timestamps (UTC) and dates
CREATE TABLE orders_naive AS
SELECT id, created_at AT TIME ZONE 'UTC' AS created_at, amount, status FROM orders;
CREATE TABLE orders_daily AS
SELECT (created_at AT TIME ZONE 'UTC')::date AS day, amount FROM orders;

-- Events: one row per tracked event
CREATE TABLE events (
    event_time  timestamptz NOT NULL,
    event_name  text NOT NULL,
    user_id     int,
    platform    text
);
INSERT INTO events
SELECT '2026-01-05 00:00+00'::timestamptz + i * interval '10 minutes',
       CASE WHEN i % 5 = 0 THEN 'Purchase Completed' ELSE 'Home Screen View' END,
       i % 17,
       CASE WHEN i % 2 = 0 THEN 'ios' ELSE 'android' END
FROM generate_series(0, 575) AS i;

-- Roles: alice may read orders and events, bob may read nothing
CREATE ROLE regress_alice;
CREATE ROLE regress_bob;
GRANT SELECT ON orders, orders_naive, orders_daily, events TO regress_alice;
GRANT CREATE ON SCHEMA public TO regress_alice, regress_bob;

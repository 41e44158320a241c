-- tripl demo data: thirty days of hourly shop traffic ending at the current
-- hour, with daily and weekly seasonality and a few injected incidents.
-- Deterministic: the random generator is seeded.
--
-- Incidents (relative to the current hour T):
--   T-11 days 20:00-23:00  marketing campaign: three times the orders (UTC)
--   T-6 days  10:00-14:00  checkout outage: orders fail instead of completing
--   T-4 days  (whole day)  pricing bug: order amounts at 55 %
--   T-2 days  14:00-19:00  payment provider trouble: few purchases per view
--   T-8 days  (whole day)  bot traffic: twice the sessions
--   the last 6 hours       checkout failing right now: most orders fail

SELECT setseed(0.2026);

CREATE TABLE demo_hours AS
SELECT h AS hour_start,
       extract(hour FROM h AT TIME ZONE 'UTC')::int AS hod,
       extract(isodow FROM h AT TIME ZONE 'UTC')::int AS dow,
       (date_trunc('hour', now()) - h) AS age
FROM generate_series(date_trunc('hour', now()) - interval '30 days',
                     date_trunc('hour', now()) - interval '1 hour',
                     interval '1 hour') AS h;

-- orders per hour: a daily curve peaking in the evening, busier weekends
CREATE TABLE demo_rates AS
SELECT hour_start, hod, dow, age,
       150 * (1 + 0.6 * sin(2 * pi() * (hod - 13) / 24.0))
          * CASE WHEN dow IN (6, 7) THEN 1.25 ELSE 1.0 END
          * CASE WHEN date_trunc('day', hour_start AT TIME ZONE 'UTC')
                      = date_trunc('day', (now() - interval '11 days') AT TIME ZONE 'UTC')
                  AND hod BETWEEN 20 AND 22 THEN 3 ELSE 1 END AS rate
FROM demo_hours;

CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    amount      numeric(10, 2) NOT NULL,
    currency    text NOT NULL,
    user_id     int NOT NULL,
    country     text NOT NULL,
    status      text NOT NULL
);

INSERT INTO orders (created_at, amount, currency, user_id, country, status)
SELECT r.hour_start + random() * interval '1 hour',
       round(((30 + 70 * random() ^ 2)
             * CASE WHEN date_trunc('day', r.hour_start AT TIME ZONE 'UTC')
                       = date_trunc('day', (now() - interval '4 days') AT TIME ZONE 'UTC') THEN 0.55 ELSE 1 END)::numeric, 2),
       CASE WHEN random() < 0.7 THEN 'USD' ELSE 'EUR' END,
       (random() * 5000)::int,
       (ARRAY['US', 'US', 'US', 'US', 'DE', 'DE', 'DE', 'FR', 'FR', 'BR'])[1 + floor(random() * 10)::int],
       CASE
           WHEN date_trunc('day', r.hour_start AT TIME ZONE 'UTC')
                = date_trunc('day', (now() - interval '6 days') AT TIME ZONE 'UTC')
                AND r.hod BETWEEN 10 AND 13 THEN 'failed'
           WHEN r.age <= interval '6 hours' AND random() < 0.75 THEN 'failed'
           WHEN random() < 0.88 THEN 'completed'
           WHEN random() < 0.6 THEN 'pending'
           ELSE 'cancelled'
       END
FROM demo_rates r,
     LATERAL generate_series(1, greatest(0, round(r.rate + sqrt(r.rate) * (random() + random() + random() - 1.5) * 2))::int) AS n;

CREATE INDEX ON orders (created_at);

-- app events: screen views (about 8 per order) and purchases (about 2 per order)
CREATE TABLE events (
    event_time  timestamptz NOT NULL,
    event_name  text NOT NULL,
    user_id     int NOT NULL,
    session_id  bigint NOT NULL,
    platform    text NOT NULL
);

INSERT INTO events (event_time, event_name, user_id, session_id, platform)
SELECT r.hour_start + random() * interval '1 hour',
       'Home Screen View',
       (random() * 20000)::int,
       (extract(epoch FROM r.hour_start)::bigint / 3600) * 100000 + (random() * r.rate * 3
            * CASE WHEN date_trunc('day', r.hour_start AT TIME ZONE 'UTC')
                      = date_trunc('day', (now() - interval '8 days') AT TIME ZONE 'UTC') THEN 2 ELSE 1 END)::int,
       CASE WHEN random() < 0.55 THEN 'ios' ELSE 'android' END
FROM demo_rates r,
     -- about Poisson(8 * rate): the mean plus its square root times a normal-ish draw
     LATERAL generate_series(1, round(r.rate * 8 + sqrt(r.rate * 8) * (random() + random() + random() - 1.5) * 2)::int) AS n;

INSERT INTO events (event_time, event_name, user_id, session_id, platform)
SELECT r.hour_start + random() * interval '1 hour',
       'Purchase Completed',
       (random() * 20000)::int,
       (extract(epoch FROM r.hour_start)::bigint / 3600) * 100000 + (random() * r.rate * 3)::int,
       CASE WHEN random() < 0.55 THEN 'ios' ELSE 'android' END
FROM demo_rates r
     CROSS JOIN LATERAL (SELECT 2 * r.rate
            * CASE WHEN date_trunc('day', r.hour_start AT TIME ZONE 'UTC')
                      = date_trunc('day', (now() - interval '2 days') AT TIME ZONE 'UTC')
                    AND r.hod BETWEEN 14 AND 18 THEN 0.25 ELSE 1 END AS mean) AS p,
     LATERAL generate_series(1, round(p.mean + sqrt(p.mean) * (random() + random() + random() - 1.5) * 2)::int) AS n;

CREATE INDEX ON events (event_time);
DROP TABLE demo_hours, demo_rates;
ANALYZE orders;
ANALYZE events;

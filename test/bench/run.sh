#!/usr/bin/env bash
# make bench: tripl against hand-written SQL, measured in the same run on
# the same server.  Prints medians (ms) and ratios.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)

# BENCH_ONLY=citus: only the Citus cluster bench (test/bench/citus.sh)
if [ "${BENCH_ONLY:-}" = citus ]; then
	exec bash "$REPO/test/bench/citus.sh"
fi
source "$REPO/test/lib/cluster.sh"
DIR=$(cluster_dir "${BENCH_DIR:-/tmp/tripl-bench}")
PORT=${BENCH_PORT:-54331}
REPS=${REPS:-5}
WINDOW="window_from => '2026-01-01 00:00+00', window_to => '2026-03-02 00:00+00'"

cluster_stop "$DIR" 2>/dev/null || true
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT" "shared_buffers = '2GB'" "work_mem = '256MB'" "jit = off" \
	"max_wal_size = '4GB'" "synchronous_commit = off"
psql_b() { cluster_psql "$DIR" "$PORT" -d postgres -q "$@"; }

echo "== setting up 2 000 000 rows over 60 days and 8 hourly metrics"
psql_b -c "SET client_min_messages = warning" -c "CREATE EXTENSION tripl"
psql_b -f "$REPO/test/bench/collect_setup.sql" >/dev/null

# time_sql LABEL SQL [SETUP_SQL]: run SQL $REPS times in one session (setup
# untimed before each), print the median and the minimum in ms
declare -A MEDIAN
time_sql() {
	local label=$1 stmt=$2 setup=${3:-} script i out
	script="SET tripl.mock_now = '2026-03-02 00:00+00';"$'\n'
	for i in $(seq 1 "$REPS"); do
		script+="\\timing off"$'\n'"$setup"$'\n'"\\echo @@"$'\n'"\\timing on"$'\n'"$stmt"$'\n'"\\timing off"$'\n'"\\echo @@end"$'\n'
	done
	out=$(printf '%s\n' "$script" | psql_b -o /dev/null 2>&1)
	MEDIAN[$label]=$(printf '%s\n' "$out" | summarize)
	printf '   %-62s median %9s ms   min %9s ms\n' "$label" ${MEDIAN[$label]}
}
# sum the statement times between @@ and @@end markers; print median and min
summarize() {
	awk '/^@@end/{print t; grab=0; next} /^@@/{grab=1; t=0; next} grab && /^Time:/{t+=$2}' | sort -n |
		awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f %.1f", m, a[1]}'
}
med() { echo "${MEDIAN[$1]}" | cut -d' ' -f1; }
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" 'BEGIN { printf "%.2f", a / b }'; }

# 200 metrics on one source: the 8 above plus 192 "amount > i" filters
# cycling count/sum/avg/min/max; tripl (C engine, SQL path) against one
# hand-written date_bin scan with the 200 FILTER aggregates
MANY_AGGS=("count(*)" "count(*) FILTER (WHERE status = 'completed')" "sum(amount) FILTER (WHERE status = 'completed')"
	"avg(amount)" "min(amount)" "max(amount)" "count(DISTINCT user_id)" "sum(amount) FILTER (WHERE country = 'US')")
for i in $(seq 1 192); do
	case $((i % 5)) in
		0) MANY_AGGS+=("count(*) FILTER (WHERE amount > $i)") ;;
		1) MANY_AGGS+=("sum(amount) FILTER (WHERE amount > $i)") ;;
		2) MANY_AGGS+=("avg(amount) FILTER (WHERE amount > $i)") ;;
		3) MANY_AGGS+=("min(amount) FILTER (WHERE amount > $i)") ;;
		4) MANY_AGGS+=("max(amount) FILTER (WHERE amount > $i)") ;;
	esac
done
bench_many() {
	local cols="" list="" a
	for i in $(seq 1 200); do cols+=", m$i float8"; done
	for a in "${MANY_AGGS[@]}"; do list+=", $a"; done
	echo "== 200 hourly metrics on one fact table (the 8 above + 192 'amount > i' filters), 60-day backfill"
	psql_b -o /dev/null -c "CREATE TABLE hand200_out (bucket timestamptz$cols)" \
		-c "SELECT count(tripl.create_metric('t200_' || i, 'fact', fact_table => 'bench',
		        aggregation => (ARRAY['count', 'sum', 'avg', 'min', 'max'])[1 + i % 5],
		        measure_column => CASE WHEN i % 5 <> 0 THEN 'amount' END, filter_sql => 'amount > ' || i))
		    FROM generate_series(1, 192) AS i"
	time_sql "hand-written: one date_bin scan with 200 FILTER aggregates" \
		"INSERT INTO hand200_out SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00')$list
		 FROM bench_facts WHERE ts >= '2026-01-01 00:00+00' AND ts < '2026-03-02 00:00+00' GROUP BY 1;" \
		"TRUNCATE hand200_out;"
	time_sql "tripl backfill of 200 metrics, C engine" "SELECT count(*) FROM tripl.collect($WINDOW);"
	REPS=${REPS_SQL200:-$REPS} time_sql "  200 metrics, tripl.engine = sql" \
		"SELECT count(*) FROM tripl.collect($WINDOW);" "SET tripl.engine = sql;"
	psql_b -o /dev/null -c "SET tripl.mock_now = '2026-03-02 00:00+00'" -c "SELECT count(*) FROM tripl.collect($WINDOW)"
	mismatch=$(psql_b -At -c "SELECT count(*) FROM hand200_out h FULL JOIN (SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 't200_1' AND v.bucket < '2026-03-02') s ON s.bucket = h.bucket WHERE abs(h.m9 - s.value) > 1e-9 * abs(h.m9) OR (h.m9 IS NULL) <> (s.value IS NULL)")
	echo "   check: t200_1 (sum, amount > 1) buckets differing from the hand-written query: $mismatch"
	psql_b -o /dev/null -c "SELECT tripl.alter_metric(name, status => 'archived') FROM tripl.metrics WHERE name LIKE 't200\_%'"
}
ratios_many() {
	local H200='hand-written: one date_bin scan with 200 FILTER aggregates'
	printf '   %-62s %6s   (target <= 0.50)\n' "200 metrics: C engine / hand-written 200-aggregate scan" "$(ratio 'tripl backfill of 200 metrics, C engine' "$H200")"
	printf '   %-62s %6s   (target <= 30)\n' "200 metrics, C engine / 8 metrics, C engine" "$(ratio 'tripl backfill of 200 metrics, C engine' 'tripl batched backfill: tripl.collect(window_from, window_to)')"
	printf '   %-62s %6s\n' "200 metrics: tripl.engine = sql / hand-written" "$(ratio '  200 metrics, tripl.engine = sql' "$H200")"
}

# The 8 metrics plus a p95 and an approximate distinct count; one daily
# distinct count, exact against approximate
bench_aggregations() {
	echo "== more aggregations: the 8 metrics + a p95 and an approximate distinct count"
	psql_b -o /dev/null -f - <<'SQL'
SELECT tripl.create_metric('b_p95', 'fact', fact_table => 'bench', aggregation => 'percentile',
	                           measure_column => 'amount', percentile => 0.95);
SELECT tripl.create_metric('b_users_approx', 'fact', fact_table => 'bench', aggregation => 'approx_count_distinct',
	                           distinct_column => 'user_id');
SQL
	time_sql "tripl backfill, 8 metrics + p95 + approx distinct, C engine" \
		"SELECT count(*) FROM tripl.collect($WINDOW);"
	p95_bad=$(psql_b -At -c "SELECT count(*) FROM (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS bucket, percentile_cont(0.95) WITHIN GROUP (ORDER BY amount::float8) AS v FROM bench_facts WHERE ts >= '2026-01-01 00:00+00' AND ts < '2026-03-02 00:00+00' GROUP BY 1) h FULL JOIN (SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'b_p95' AND v.bucket < '2026-03-02') s ON s.bucket = h.bucket WHERE h.v IS DISTINCT FROM s.value")
	echo "   check: b_p95 buckets differing from percentile_cont: $p95_bad"
	# one distinct count alone: exact set against the sketch, over every user of a day
	psql_b -o /dev/null -f - <<'SQL'
SELECT tripl.alter_metric(name, status => 'archived') FROM tripl.metrics WHERE name LIKE 'b\_%';
SELECT tripl.create_metric('d_exact', 'fact', '1 day', fact_table => 'bench', aggregation => 'count_distinct',
	                           distinct_column => 'user_id');
SELECT tripl.create_metric('d_approx', 'fact', '1 day', fact_table => 'bench', aggregation => 'approx_count_distinct',
	                           distinct_column => 'user_id');
SQL
	time_sql "daily distinct users, exact count_distinct (C engine)" \
		"SELECT count(*) FROM tripl.collect('d_exact', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"
	time_sql "daily distinct users, approx_count_distinct (C engine)" \
		"SELECT count(*) FROM tripl.collect('d_approx', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"
	psql_b -At -c "SELECT '   approx / exact daily distinct users: max relative error ' || round(max(abs(a.value - e.value) / e.value)::numeric, 5) || ' over ' || count(*) || ' days, ' || round(avg(e.value)) || ' users a day on average' FROM tripl.metric_values a JOIN tripl.metrics ma ON ma.id = a.metric_id AND ma.name = 'd_approx' JOIN tripl.metric_values e ON e.bucket = a.bucket JOIN tripl.metrics me ON me.id = e.metric_id AND me.name = 'd_exact'"
	psql_b -o /dev/null -c "SELECT tripl.alter_metric(name, status => 'active') FROM tripl.metrics WHERE name LIKE 'b\_%'" \
		-c "SELECT tripl.drop_metric('b_p95'), tripl.drop_metric('b_users_approx'), tripl.drop_metric('d_exact'), tripl.drop_metric('d_approx')"
}

ratios_aggregations() {
	printf '   %-62s %6s   (target <= 1.30)\n' "8 metrics + p95 + approx distinct / 8 metrics (C engine)" "$(ratio 'tripl backfill, 8 metrics + p95 + approx distinct, C engine' 'tripl batched backfill: tripl.collect(window_from, window_to)')"
	printf '   %-62s %6s   (target <= 0.50)\n' "approx_count_distinct / exact count_distinct (daily users)" "$(ratio 'daily distinct users, approx_count_distinct (C engine)' 'daily distinct users, exact count_distinct (C engine)')"
}

# A 28-day rolling distinct-user metric on daily buckets (monthly active
# users) against the plain daily distinct count: 60-day backfill, and a
# due pass one hour later (the resume window: the last two days, which the
# rolling metric reads with the 27 days before them)
bench_rolling() {
	echo "== rolling windows: 28-day distinct users on daily buckets"
	psql_b -o /dev/null -f - <<'SQL'
SELECT tripl.alter_metric(name, status => 'archived') FROM tripl.metrics WHERE status = 'active';
SELECT tripl.create_metric('r_daily', 'fact', '1 day', fact_table => 'bench', aggregation => 'count_distinct',
	                           distinct_column => 'user_id');
SELECT tripl.create_metric('r_mau', 'fact', '1 day', fact_table => 'bench', aggregation => 'count_distinct',
	                           distinct_column => 'user_id', "window" => '28 days');
SQL
	time_sql "daily distinct users, 60-day backfill (C engine)" \
		"SELECT count(*) FROM tripl.collect('r_daily', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"
	time_sql "28-day rolling distinct users, 60-day backfill (C engine)" \
		"SELECT count(*) FROM tripl.collect('r_mau', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"
	if [ "${BENCH_ROLLING_SQL:-1}" = 1 ]; then
		time_sql "  the same, tripl.engine = sql" \
			"SELECT count(*) FROM tripl.collect('r_mau', '2026-01-01 00:00+00', '2026-03-02 00:00+00');" "SET tripl.engine = sql;"
	fi
	time_sql "daily distinct users, due pass one hour later" \
		"SELECT count(*) FROM tripl.collect('r_daily');" "SET tripl.mock_now = '2026-03-02 01:00+00';"
	# the SQL path keeps no bucket states: one C-engine pass stores them again
	psql_b -o /dev/null -c "SET tripl.mock_now = '2026-03-02 01:00+00'" -c "SELECT count(*) FROM tripl.collect('r_mau')"
	time_sql "28-day rolling distinct users, due pass one hour later" \
		"SELECT count(*) FROM tripl.collect('r_mau');" "SET tripl.mock_now = '2026-03-02 01:00+00';"
	psql_b -At -F ' ' -c "SELECT 'stored states of r_mau: ' || count(*) || ' buckets, ' || round(avg(length(s.state))) || ' bytes per bucket on average (' || round(avg(length(s.state)) / 8) || ' keys of 8 bytes), ' || pg_size_pretty(sum(length(s.state))::bigint) || ' in all' FROM tripl.rolling_states s JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name = 'r_mau'" | sed 's/^/   /'
	psql_b -o /dev/null -c "SET tripl.mock_now = '2026-03-02 00:00+00'" \
		-c "SELECT count(*) FROM tripl.collect('r_mau', '2026-01-01 00:00+00', '2026-03-02 00:00+00')"
	bad=$(psql_b -At -c "SELECT count(*) FROM (SELECT b AS bucket, count(DISTINCT f.user_id)::float8 AS v FROM unnest(ARRAY['2026-01-01', '2026-01-20', '2026-02-10', '2026-03-01']::timestamptz[]) b JOIN bench_facts f ON f.ts >= b + interval '1 day' - interval '28 days' AND f.ts < b + interval '1 day' GROUP BY b) h LEFT JOIN (SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'r_mau') s ON s.bucket = h.bucket WHERE h.v IS DISTINCT FROM s.value")
	echo "   check: r_mau days (of 4 sampled) differing from hand-written window SQL: $bad"
	psql_b -o /dev/null -c "SELECT tripl.drop_metric('r_daily'), tripl.drop_metric('r_mau')"
	bench_rolling_breakdown
}

# The same 28-day distinct users by a 5-value breakdown (region: the
# row's country, JP for every fifth user): 60-day backfill and due pass
# (which reads the stored per-bucket region cells), against the plain
# rolling metric on the same source
bench_rolling_breakdown() {
	echo "== rolling windows with a breakdown: 28-day distinct users by region (5 values) on daily buckets"
	psql_b -o /dev/null -f - <<'SQL'
SELECT tripl.create_fact_table('bench_region',
	'SELECT ts, user_id, CASE WHEN user_id % 5 = 0 THEN ''JP'' ELSE country END AS region FROM bench_facts', 'ts');
SELECT tripl.create_metric('r_mau_plain', 'fact', '1 day', fact_table => 'bench_region', aggregation => 'count_distinct',
	                           distinct_column => 'user_id', "window" => '28 days');
SELECT tripl.create_metric('r_mau_region', 'fact', '1 day', fact_table => 'bench_region', aggregation => 'count_distinct',
	                           distinct_column => 'user_id', "window" => '28 days', breakdowns => '{region}');
-- the same with a values limit that keeps all 5: folding ranks over the
-- window, so its due pass rescans the window (no stored cells)
SELECT tripl.create_metric('r_mau_region_rescan', 'fact', '1 day', fact_table => 'bench_region', aggregation => 'count_distinct',
	                           distinct_column => 'user_id', "window" => '28 days', breakdowns => '{region}',
	                           breakdown_values_limit => 6);
SQL
	time_sql "28-day rolling distinct users, 60-day backfill, no breakdown" \
		"SELECT count(*) FROM tripl.collect('r_mau_plain', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"
	time_sql "28-day rolling distinct users by region, 60-day backfill" \
		"SELECT count(*) FROM tripl.collect('r_mau_region', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"
	time_sql "  the same, values limit (rescans every pass), 60-day backfill" \
		"SELECT count(*) FROM tripl.collect('r_mau_region_rescan', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"
	psql_b -o /dev/null -c "SET tripl.mock_now = '2026-03-02 01:00+00'" -c "SELECT count(*) FROM tripl.collect('r_mau_plain')"
	time_sql "28-day rolling distinct users, due pass, no breakdown" \
		"SELECT count(*) FROM tripl.collect('r_mau_plain');" "SET tripl.mock_now = '2026-03-02 01:00+00';"
	time_sql "28-day rolling distinct users by region, due pass" \
		"SELECT count(*) FROM tripl.collect('r_mau_region');" "SET tripl.mock_now = '2026-03-02 01:00+00';"
	time_sql "  the same, values limit (rescans every pass), due pass" \
		"SELECT count(*) FROM tripl.collect('r_mau_region_rescan');" "SET tripl.mock_now = '2026-03-02 01:00+00';"
	psql_b -At -F ' ' -c "SELECT 'stored states of r_mau_region, ' || CASE s.operand WHEN 0 THEN 'the value' ELSE 'the region cells' END || ': ' || count(*) || ' buckets, ' || round(avg(length(s.state))) || ' bytes per bucket on average, ' || pg_size_pretty(sum(length(s.state))::bigint) || ' in all' FROM tripl.rolling_states s JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name = 'r_mau_region' GROUP BY s.operand ORDER BY s.operand" | sed 's/^/   /'
	psql_b -o /dev/null -c "SET tripl.mock_now = '2026-03-02 00:00+00'" \
		-c "SELECT count(*) FROM tripl.collect('r_mau_region', '2026-01-01 00:00+00', '2026-03-02 00:00+00')"
	bad=$(psql_b -At -c "SELECT count(*) FROM (SELECT b AS bucket, CASE WHEN f.user_id % 5 = 0 THEN 'JP' ELSE f.country END AS region, count(DISTINCT f.user_id)::float8 AS v FROM unnest(ARRAY['2026-01-01', '2026-01-20', '2026-02-10', '2026-03-01']::timestamptz[]) b JOIN bench_facts f ON f.ts >= b + interval '1 day' - interval '28 days' AND f.ts < b + interval '1 day' GROUP BY 1, 2) h FULL JOIN (SELECT v.bucket, v.breakdown_value AS region, v.value FROM tripl.metric_breakdowns v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'r_mau_region' AND v.bucket IN ('2026-01-01', '2026-01-20', '2026-02-10', '2026-03-01')) s ON s.bucket = h.bucket AND s.region = h.region WHERE h.v IS DISTINCT FROM s.value")
	echo "   check: r_mau_region (day, region) rows of 4 sampled days differing from hand-written window SQL: $bad"
	psql_b -o /dev/null -c "SELECT tripl.drop_metric('r_mau_plain'), tripl.drop_metric('r_mau_region'), tripl.drop_metric('r_mau_region_rescan'), tripl.drop_fact_table('bench_region')"
}

ratios_rolling() {
	printf '   %-62s %6s   (target <= 2)\n' "28-day rolling / daily distinct users, 60-day backfill" "$(ratio '28-day rolling distinct users, 60-day backfill (C engine)' 'daily distinct users, 60-day backfill (C engine)')"
	printf '   %-62s %6s   (target <= 10)\n' "28-day rolling / daily distinct users, due pass" "$(ratio '28-day rolling distinct users, due pass one hour later' 'daily distinct users, due pass one hour later')"
	printf '   %-62s %6s\n' "rolling by region / rolling, no breakdown, 60-day backfill" "$(ratio '28-day rolling distinct users by region, 60-day backfill' '28-day rolling distinct users, 60-day backfill, no breakdown')"
	printf '   %-62s %6s\n' "rolling by region / rolling, no breakdown, due pass" "$(ratio '28-day rolling distinct users by region, due pass' '28-day rolling distinct users, due pass, no breakdown')"
	printf '   %-62s %6s\n' "rolling by region, rescanning / keeping cells, due pass" "$(ratio '  the same, values limit (rescans every pass), due pass' '28-day rolling distinct users by region, due pass')"
}

# BENCH_ONLY=rolling: the rolling-window part only
if [ "${BENCH_ONLY:-}" = rolling ]; then
	psql_b -o /dev/null -c "SELECT count(*) FROM bench_facts" -c "SELECT count(*) FROM bench_facts"
	bench_rolling
	echo "== ratios"
	ratios_rolling
	exit 0
fi

# Calendar time: the 8 metrics as daily metrics in America/New_York against
# the same daily metrics in UTC (C engine) and against a hand-written
# date_trunc('day', ts, 'America/New_York') GROUP BY with the same aggregates
bench_calendar() {
	echo "== calendar time: 8 daily metrics in America/New_York vs UTC"
	psql_b -o /dev/null -f - <<'SQL'
SELECT tripl.alter_metric(name, status => 'archived') FROM tripl.metrics WHERE name LIKE 'b\_%';
SELECT tripl.create_metric('cal_' || z.tag || '_' || m.n, 'fact', '1 day', fact_table => 'bench',
                           aggregation => m.agg, measure_column => m.col, distinct_column => m.dcol,
                           row_filters => m.rf, timezone => z.zone)
FROM (VALUES ('count', 'count', NULL, NULL, '{}'::text[]), ('completed', 'count', NULL, NULL, '{completed}'),
             ('revenue', 'sum', 'amount', NULL, '{completed}'), ('avg', 'avg', 'amount', NULL, '{}'),
             ('min', 'min', 'amount', NULL, '{}'), ('max', 'max', 'amount', NULL, '{}'),
             ('users', 'count_distinct', NULL, 'user_id', '{}'), ('us_revenue', 'sum', 'amount', NULL, '{us}'))
     m (n, agg, col, dcol, rf),
     (VALUES ('ny', 'America/New_York'), ('utc', 'UTC')) z (tag, zone)
ORDER BY 1;
CREATE TABLE hand_cal_out (bucket timestamptz, m1 float8, m2 float8, m3 float8, m4 float8,
                           m5 float8, m6 float8, m7 float8, m8 float8);
SQL
	local only_ny="SELECT count(tripl.alter_metric(name, status => CASE WHEN name LIKE 'cal\_ny\_%' THEN 'active' ELSE 'archived' END)) FROM tripl.metrics WHERE name LIKE 'cal\_%';"
	local only_utc="SELECT count(tripl.alter_metric(name, status => CASE WHEN name LIKE 'cal\_utc\_%' THEN 'active' ELSE 'archived' END)) FROM tripl.metrics WHERE name LIKE 'cal\_%';"
	time_sql "daily backfill in UTC, 8 metrics, C engine" "SELECT count(*) FROM tripl.collect($WINDOW);" "$only_utc"
	time_sql "daily backfill in America/New_York, 8 metrics, C engine" "SELECT count(*) FROM tripl.collect($WINDOW);" "$only_ny"
	time_sql "hand-written: date_trunc('day', ts, 'America/New_York') GROUP BY" \
		"INSERT INTO hand_cal_out SELECT date_trunc('day', ts, 'America/New_York'), count(*),
		        count(*) FILTER (WHERE status = 'completed'), sum(amount) FILTER (WHERE status = 'completed'),
		        avg(amount), min(amount), max(amount), count(DISTINCT user_id),
		        sum(amount) FILTER (WHERE country = 'US')
		 FROM bench_facts WHERE ts >= '2025-12-31 00:00 America/New_York' AND ts < '2026-03-02 00:00 America/New_York' GROUP BY 1;" \
		"TRUNCATE hand_cal_out;"
	mismatch=$(psql_b -At -c "SELECT count(*) FROM hand_cal_out h FULL JOIN (SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'cal_ny_users') s ON s.bucket = h.bucket WHERE h.m7 IS DISTINCT FROM s.value")
	echo "   check: cal_ny_users days differing from the hand-written query: $mismatch"
	psql_b -o /dev/null -c "SELECT tripl.drop_metric(name) FROM tripl.metrics WHERE name LIKE 'cal\_%'" \
		-c "SELECT tripl.alter_metric(name, status => 'active') FROM tripl.metrics WHERE name LIKE 'b\_%'" \
		-c "DROP TABLE hand_cal_out"
}

ratios_calendar() {
	printf '   %-62s %6s   (target <= 1.20)\n' "daily in America/New_York / daily in UTC (C engine)" "$(ratio 'daily backfill in America/New_York, 8 metrics, C engine' 'daily backfill in UTC, 8 metrics, C engine')"
	printf '   %-62s %6s   (target <= 0.25)\n' "daily in America/New_York / hand-written date_trunc GROUP BY" "$(ratio 'daily backfill in America/New_York, 8 metrics, C engine' "hand-written: date_trunc('day', ts, 'America/New_York') GROUP BY")"
}

# BENCH_ONLY=calendar: the calendar-time part only
if [ "${BENCH_ONLY:-}" = calendar ]; then
	psql_b -o /dev/null -c "SELECT count(*) FROM bench_facts" -c "SELECT count(*) FROM bench_facts"
	bench_calendar
	echo "== ratios"
	ratios_calendar
	exit 0
fi

# BENCH_ONLY=aggregations: the 8-metric backfill and the aggregations part only
if [ "${BENCH_ONLY:-}" = aggregations ]; then
	psql_b -o /dev/null -c "SELECT count(*) FROM bench_facts" -c "SELECT count(*) FROM bench_facts"
	time_sql "tripl batched backfill: tripl.collect(window_from, window_to)" \
		"SELECT count(*) FROM tripl.collect($WINDOW);"
	bench_aggregations
	echo "== ratios"
	ratios_aggregations
	exit 0
fi

# BENCH_ONLY=many: the 8-metric backfill and the 200-metric part only
if [ "${BENCH_ONLY:-}" = many ]; then
	psql_b -o /dev/null -c "SELECT count(*) FROM bench_facts" -c "SELECT count(*) FROM bench_facts"
	time_sql "tripl batched backfill: tripl.collect(window_from, window_to)" \
		"SELECT count(*) FROM tripl.collect($WINDOW);"
	bench_many
	echo "== ratios"
	ratios_many
	exit 0
fi

echo "== collection (hourly, 60 days = 1 440 buckets, 8 metrics)"
# warm the cache
psql_b -o /dev/null -c "SELECT count(*) FROM bench_facts" -c "SELECT count(*) FROM bench_facts"

time_sql "floor: SELECT count(*) over the table" \
	"SELECT count(*) FROM bench_facts WHERE ts >= '2026-01-01 00:00+00' AND ts < '2026-03-02 00:00+00';"

time_sql "hand-written: one date_bin + FILTER query into a table" \
	"INSERT INTO hand_out SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00'), count(*),
	        count(*) FILTER (WHERE status = 'completed'), sum(amount) FILTER (WHERE status = 'completed'),
	        avg(amount), min(amount), max(amount), count(DISTINCT user_id),
	        sum(amount) FILTER (WHERE country = 'US')
	 FROM bench_facts WHERE ts >= '2026-01-01 00:00+00' AND ts < '2026-03-02 00:00+00' GROUP BY 1;" \
	"TRUNCATE hand_out;"

NAIVE_HAND=""
i=0
for agg in "count(*)" "count(*) FILTER (WHERE status = 'completed')" "sum(amount) FILTER (WHERE status = 'completed')" \
	"avg(amount)" "min(amount)" "max(amount)" "count(DISTINCT user_id)" "sum(amount) FILTER (WHERE country = 'US')"; do
	i=$((i + 1))
	NAIVE_HAND+="INSERT INTO naive_out SELECT $i, date_bin('1 hour', ts, '1970-01-01 00:00+00'), $agg FROM bench_facts
	 WHERE ts >= '2026-01-01 00:00+00' AND ts < '2026-03-02 00:00+00' GROUP BY 2;"$'\n'
done
time_sql "hand-written naive: one query per metric" "BEGIN;"$'\n'"$NAIVE_HAND"$'\n'"COMMIT;" "TRUNCATE naive_out;"

time_sql "tripl batched backfill: tripl.collect(window_from, window_to)" \
	"SELECT count(*) FROM tripl.collect($WINDOW);"

time_sql "  the same, with tripl.parallel_workers = 2" \
	"SELECT count(*) FROM tripl.collect($WINDOW);" "SET tripl.parallel_workers = 2;"

time_sql "  the same, tripl.engine = sql (the reference path)" \
	"SELECT count(*) FROM tripl.collect($WINDOW);" "SET tripl.engine = sql;"

NAIVE_TRIPL="BEGIN;"$'\n'
for m in b_count b_completed b_revenue b_avg b_min b_max b_users b_us_revenue; do
	NAIVE_TRIPL+="SELECT count(*) FROM tripl.collect('$m', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"$'\n'
done
NAIVE_TRIPL+="COMMIT;"
time_sql "tripl naive: tripl.collect(metric, ...) once per metric" "$NAIVE_TRIPL"
time_sql "  naive, tripl.engine = sql" "$NAIVE_TRIPL" "SET tripl.engine = sql;"

# incremental: after the backfill, each pass one hour later
psql_b -o /dev/null -c "SET tripl.mock_now = '2026-03-02 00:00+00'" -c "SELECT count(*) FROM tripl.collect($WINDOW)"
INCR=""
for h in $(seq 1 "$REPS"); do
	INCR+="\\timing off"$'\n'"SET tripl.mock_now = '2026-03-02 $(printf %02d "$h"):00+00';"$'\n'"\\echo @@"$'\n'"\\timing on"$'\n'"SELECT count(*) FROM tripl.collect();"$'\n'"\\timing off"$'\n'"\\echo @@end"$'\n'
done
MEDIAN[incremental]=$(printf '%s\n' "$INCR" | psql_b -o /dev/null 2>&1 | summarize)
printf '   %-62s median %9s ms   min %9s ms\n' "tripl incremental due pass one hour later: tripl.collect()" ${MEDIAN[incremental]}

# the stored values equal the hand-written query's
psql_b -c "TRUNCATE hand_out" -c "INSERT INTO hand_out SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00'), count(*), 0,0,0,0,0,0,0 FROM bench_facts WHERE ts >= '2026-01-01 00:00+00' AND ts < '2026-03-02 00:00+00' GROUP BY 1" >/dev/null
mismatch=$(psql_b -At -c "SELECT count(*) FROM hand_out h FULL JOIN (SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'b_count' AND v.bucket < '2026-03-02') s ON s.bucket = h.bucket WHERE h.m1 IS DISTINCT FROM s.value")
echo "   check: b_count buckets differing from the hand-written query: $mismatch"

bench_many

bench_aggregations
bench_calendar

bench_rolling
psql_b -o /dev/null -c "SELECT tripl.alter_metric(name, status => 'active') FROM tripl.metrics WHERE name LIKE 'b\_%'"

echo "== breakdowns: the same 8 metrics split by country (4 values)"
psql_b -o /dev/null -f - <<'SQL'
SELECT tripl.alter_metric(name, status => 'archived') FROM tripl.metrics WHERE name LIKE 'b\_%';
SELECT tripl.create_metric('bb_count', 'fact', fact_table => 'bench', aggregation => 'count', breakdowns => '{country}');
SELECT tripl.create_metric('bb_completed', 'fact', fact_table => 'bench', aggregation => 'count', row_filters => '{completed}', breakdowns => '{country}');
SELECT tripl.create_metric('bb_revenue', 'fact', fact_table => 'bench', aggregation => 'sum', measure_column => 'amount', row_filters => '{completed}', breakdowns => '{country}');
SELECT tripl.create_metric('bb_avg', 'fact', fact_table => 'bench', aggregation => 'avg', measure_column => 'amount', breakdowns => '{country}');
SELECT tripl.create_metric('bb_min', 'fact', fact_table => 'bench', aggregation => 'min', measure_column => 'amount', breakdowns => '{country}');
SELECT tripl.create_metric('bb_max', 'fact', fact_table => 'bench', aggregation => 'max', measure_column => 'amount', breakdowns => '{country}');
SELECT tripl.create_metric('bb_users', 'fact', fact_table => 'bench', aggregation => 'count_distinct', distinct_column => 'user_id', breakdowns => '{country}');
SELECT tripl.create_metric('bb_us_revenue', 'fact', fact_table => 'bench', aggregation => 'sum', measure_column => 'amount', row_filters => '{us}', breakdowns => '{country}');
CREATE TABLE hand_bd_out (bucket timestamptz, country text, m1 float8, m2 float8, m3 float8, m4 float8,
                          m5 float8, m6 float8, m7 float8, m8 float8);
SQL
time_sql "hand-written breakdown: one date_bin, country + FILTER query" \
	"INSERT INTO hand_bd_out SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00'), country, count(*),
	        count(*) FILTER (WHERE status = 'completed'), sum(amount) FILTER (WHERE status = 'completed'),
	        avg(amount), min(amount), max(amount), count(DISTINCT user_id),
	        sum(amount) FILTER (WHERE country = 'US')
	 FROM bench_facts WHERE ts >= '2026-01-01 00:00+00' AND ts < '2026-03-02 00:00+00' GROUP BY 1, 2;" \
	"TRUNCATE hand_bd_out;"
time_sql "tripl backfill with breakdowns (values + breakdowns), C engine" \
	"SELECT count(*) FROM tripl.collect($WINDOW);"
time_sql "  breakdowns, tripl.engine = sql" \
	"SELECT count(*) FROM tripl.collect($WINDOW);" "SET tripl.engine = sql;"
psql_b -o /dev/null -c "SET tripl.mock_now = '2026-03-02 00:00+00'" -c "SELECT count(*) FROM tripl.collect($WINDOW)"
mismatch=$(psql_b -At -c "SELECT count(*) FROM hand_bd_out h FULL JOIN (SELECT b.bucket, b.breakdown_value, b.value FROM tripl.metric_breakdowns b JOIN tripl.metrics m ON m.id = b.metric_id WHERE m.name = 'bb_users' AND b.bucket < '2026-03-02') s ON s.bucket = h.bucket AND s.breakdown_value = h.country WHERE h.m7 IS DISTINCT FROM s.value")
echo "   check: bb_users (bucket, country) cells differing from the hand-written query: $mismatch"

echo "== engine memory: 100 000 one-minute buckets x 8 operands in one chunk"
psql_b -o /dev/null -f - <<'SQL'
SELECT tripl.alter_metric(name, status => 'archived') FROM tripl.metrics WHERE name LIKE 'bb\_%';
SELECT tripl.create_metric('mm_' || n, 'fact', '1 minute', fact_table => 'bench', aggregation => a,
       measure_column => CASE WHEN a IN ('sum', 'avg', 'min', 'max') THEN 'amount' END,
       distinct_column => CASE WHEN a = 'count_distinct' THEN 'user_id' END,
       row_filters => f)
FROM (VALUES (1, 'count', '{}'::text[]), (2, 'count', '{completed}'), (3, 'sum', '{completed}'), (4, 'avg', '{}'),
             (5, 'min', '{}'), (6, 'max', '{}'), (7, 'count_distinct', '{}'), (8, 'sum', '{us}')) AS v(n, a, f);
SQL
memline=$(psql_b -At -c "SET tripl.chunk_buckets = 100000" -c "SET client_min_messages = debug1" \
	-c "SET max_parallel_workers_per_gather = 0" \
	-c "SELECT count(*) FROM tripl.collect(window_from => '2026-01-01 00:00+00', window_to => '2026-03-11 10:40+00')" 2>&1 |
	grep -o 'tripl engine: [0-9]* buckets, [0-9]* operands.*' | head -1)
echo "   $memline"

echo "== engine core alone (test/bench/engine_micro.c, 5 million synthetic rows per case)"
gcc -std=gnu99 -O2 -I"$REPO/src/core" "$REPO/test/bench/engine_micro.c" "$REPO/src/core/engine.c" "$REPO/src/core/engine_image.c" "$REPO/src/core/engine_result.c" "$REPO/src/core/engine_window.c" "$REPO/src/core/compose.c" "$REPO/src/core/ddsketch.c" "$REPO/src/core/hll.c" "$REPO/src/core/order.c" "$REPO/src/core/core.c" -lm -o "$DIR/engine_micro"
"$DIR/engine_micro" 5 | sed 's/^/   /'

echo "== detection quality (test/bench/detect_quality.c: seeded synthetic series with known incidents)"
gcc -std=gnu99 -O2 -I"$REPO/src/core" "$REPO/test/bench/detect_quality.c" "$REPO"/src/core/detect_*.c "$REPO/src/core/stl.c" "$REPO/src/core/order.c" "$REPO/src/core/core.c" \
	-lm -o "$DIR/detect_quality"
"$DIR/detect_quality" | sed 's/^/   /'

echo "== detection failure modes (test/bench/detect_failure_modes.c: real incident shapes, replayed a pass per point, per incident)"
gcc -std=gnu99 -O2 -I"$REPO/src/core" "$REPO/test/bench/detect_failure_modes.c" "$REPO"/src/core/detect_*.c "$REPO/src/core/stl.c" "$REPO/src/core/order.c" "$REPO/src/core/core.c" \
	-lm -o "$DIR/detect_failure_modes"
"$DIR/detect_failure_modes" | sed 's/^/   /'

echo "== detection speed in the database: 1 000 hourly series x 2 000 buckets, one detect_series call each"
psql_b -o /dev/null -f - <<'SQL'
SELECT setseed(0.7);
CREATE TABLE det_bench AS
SELECT s, array_agg(b ORDER BY i) AS b, array_agg(v ORDER BY i) AS v
FROM (SELECT s, i, '2026-01-01 00:00+00'::timestamptz + i * interval '1 hour' AS b,
             greatest(0, round(200 * (1 + 0.5 * sin(2 * pi() * (i % 24) / 24)) * (1 + 0.2 * sin(2 * pi() * (i % 168) / 168))
                               + sqrt(200) * (random() + random() + random() - 1.5) * 2))::float8 AS v
      FROM generate_series(1, 1000) AS s, generate_series(0, 1999) AS i) x
GROUP BY s;
SQL
time_sql "detect_series over 1 000 series x 2 000 buckets (2 000 000 buckets)" \
	"SELECT count(*) FROM det_bench, LATERAL tripl.detect_series(det_bench.b, det_bench.v, '1 hour') d;"
awk -v ms="$(med 'detect_series over 1 000 series x 2 000 buckets (2 000 000 buckets)')" \
	'BEGIN { printf "   %-62s %6.2f M buckets/s   (target >= 1)\n", "buckets scored per second (one core)", 2000 / ms }'

echo "== ratios"
HAND='hand-written: one date_bin + FILTER query into a table'
printf '   %-62s %6s   (target <= 0.50, stretch 0.25)\n' "tripl batched (C engine) / hand-written single scan" "$(ratio 'tripl batched backfill: tripl.collect(window_from, window_to)' "$HAND")"
printf '   %-62s %6s\n' "  with tripl.parallel_workers = 2 / hand-written" "$(ratio '  the same, with tripl.parallel_workers = 2' "$HAND")"
printf '   %-62s %6s   (target <= 1.10)\n' "  tripl.engine = sql / hand-written single scan" "$(ratio '  the same, tripl.engine = sql (the reference path)' "$HAND")"
printf '   %-62s %6s   (target <= 5)\n' "tripl batched (C engine) / count(*) floor" "$(ratio 'tripl batched backfill: tripl.collect(window_from, window_to)' 'floor: SELECT count(*) over the table')"
printf '   %-62s %6s   (target <= 0.50)\n' "tripl with breakdowns (C) / hand-written breakdown query" "$(ratio 'tripl backfill with breakdowns (values + breakdowns), C engine' 'hand-written breakdown: one date_bin, country + FILTER query')"
printf '   %-62s %6s\n' "  tripl.engine = sql / hand-written breakdown query" "$(ratio '  breakdowns, tripl.engine = sql' 'hand-written breakdown: one date_bin, country + FILTER query')"
printf '   %-62s %6s   (target >= 2.5)\n' "tripl naive / tripl batched, tripl.engine = sql" "$(ratio '  naive, tripl.engine = sql' '  the same, tripl.engine = sql (the reference path)')"
printf '   %-62s %6s\n' "tripl naive / tripl batched, C engine" "$(ratio 'tripl naive: tripl.collect(metric, ...) once per metric' 'tripl batched backfill: tripl.collect(window_from, window_to)')"
printf '   %-62s %6s\n' "hand-written naive / hand-written single scan" "$(ratio 'hand-written naive: one query per metric' 'hand-written: one date_bin + FILTER query into a table')"
printf '   %-62s %6s   (target >= 20)\n' "tripl batched backfill / incremental pass" "$(ratio 'tripl batched backfill: tripl.collect(window_from, window_to)' incremental)"
printf '   %-62s %6s\n' "hand-written single scan / count(*) floor" "$(ratio 'hand-written: one date_bin + FILTER query into a table' 'floor: SELECT count(*) over the table')"
ratios_aggregations
ratios_rolling
ratios_many
ratios_calendar

# Thousands of metrics (its own server) and the engine's memory limit
cluster_stop "$DIR"
trap - EXIT
bash "$REPO/test/bench/catalog_scale.sh"
echo "== the C engine's memory limit (peak backend RSS)"
bash "$REPO/test/bench/memory_limits.sh"

# A Citus cluster (coordinator + 2 workers on this machine): Citus is built
# once per machine from ../shared/vendor/citus by test/lib/citus.sh
echo "== Citus: 13 metrics on a distributed table against the same on a plain table (test/bench/citus.sh)"
if bash "$REPO/test/lib/citus.sh" >/dev/null 2>&1 || bash "$REPO/test/lib/citus.sh" --check; then
	bash "$REPO/test/bench/citus.sh"
else
	echo "   not run: Citus cannot be built here (bash test/lib/citus.sh says why)"
fi

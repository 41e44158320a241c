#!/usr/bin/env bash
# Catalog scale: 10 000 metrics across 20 fact tables (500 each: count, sum,
# avg, min and max with a filter_sql each), 2 days of data.  Times defining
# them, a backfill, tick() with nothing due and with everything due,
# detection of every metric, tripl.catalog and tripl.status; prints
# per-metric and per-bucket figures and the backend's peak memory.
#
#   bash test/bench/catalog_scale.sh        (make bench runs it too)
#   METRICS_PER_TABLE=100 ... for a smaller run
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/test/lib/cluster.sh"
DIR=$(cluster_dir "${SCALE_DIR:-/tmp/tripl-scale}")
PORT=${SCALE_PORT:-54332}
TABLES=${TABLES:-20}
PER=${METRICS_PER_TABLE:-500}
N=$((TABLES * PER))

cluster_stop "$DIR" 2>/dev/null || true
[ "${KEEP:-0}" = 1 ] || trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" "$PORT" "shared_buffers = '1GB'" "jit = off" "synchronous_commit = off" \
	"max_wal_size = '4GB'" "tripl.query_timeout = '10min'"
psql_s() { cluster_psql "$DIR" "$PORT" -d postgres -qAt "$@"; }

# run SQL once in a fresh session (after the untimed WARMUP, if given);
# print "<ms> <peak backend RSS kB>"
timed() {
	psql_s <<SQL | tail -n 1
SET tripl.mock_now = '$1';
SET client_min_messages = warning;
${3:-}
SELECT clock_timestamp() AS t0 \gset
$2
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000) || ' ' ||
       substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') from 'VmHWM:\s*([0-9]+) kB');
SQL
}

echo "== catalog scale: $N metrics over $TABLES fact tables, 2 days of 10-second data"
psql_s -c "SET client_min_messages = warning" -c "CREATE EXTENSION tripl" >/dev/null
psql_s >/dev/null <<SQL
CREATE TABLE scale_facts AS
SELECT '2026-03-01 00:00+00'::timestamptz + g * interval '10 seconds' AS ts,
       (g % $TABLES) AS src, (abs(hashint4(g)) % 1000)::float8 AS amount
FROM generate_series(0, 2 * 8640 - 1) g;
CREATE INDEX ON scale_facts (src, ts);
ANALYZE scale_facts;
SELECT tripl.create_fact_table('t' || i, format('SELECT ts, amount FROM scale_facts WHERE src = %s', i), 'ts')
FROM generate_series(0, $TABLES - 1) i;
SQL

# defined one fact table at a time: the first and the last batch show
# whether defining gets slower as the catalog grows
total=0
for t in $(seq 0 $((TABLES - 1))); do
	read -r ms rss < <(timed '2026-03-01 00:00+00' "SELECT count(tripl.create_metric(format('m_%s_%s', $t, k), 'fact',
		fact_table => 't$t', aggregation => (ARRAY['count','sum','avg','min','max'])[1 + k % 5],
		measure_column => CASE WHEN k % 5 <> 0 THEN 'amount' END, filter_sql => format('amount > %s', k)))
		FROM generate_series(0, $PER - 1) k;")
	total=$((total + ms))
	[ "$t" = 0 ] && first=$ms
done
printf '   %-50s %9s ms  %8.3f ms/metric  first %s ms, last %s ms for %s\n' "define $N metrics, $PER per statement" "$total" \
	"$(awk -v a=$total -v n=$N 'BEGIN{print a/n}')" "$first" "$ms" "$PER"

# measure LABEL NOW SQL [WARMUP] [TARGET]: one timed run, a line of figures
# per metric
measure() {
	local ms rss
	read -r ms rss < <(timed "$2" "$3" "${4:-}")
	printf '   %-50s %9s ms  %8.3f ms/metric  peak %7s kB   %s\n' "$1" "$ms" \
		"$(awk -v a=$ms -v n=$N 'BEGIN{print a/n}')" "$rss" "${5:-}"
}

measure "backfill 48 hourly buckets of every metric" '2026-03-03 00:10+00' \
	"SELECT count(*) FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-03 00:00+00');"
measure "tick, everything due (first pass: detect, alert)" '2026-03-03 00:10+00' "SELECT tripl.tick() IS NOT NULL;"
measure "tick, nothing due, first in a new session" '2026-03-03 00:20+00' "SELECT tripl.tick() IS NOT NULL;"
measure "tick, nothing due (a scheduler's steady state)" '2026-03-03 00:20+00' "SELECT tripl.tick() IS NOT NULL;" \
	"SELECT tripl.tick() IS NOT NULL;" "(target <= 100 ms)"
measure "tick, every metric due (one new bucket each)" '2026-03-03 01:10+00' "SELECT tripl.tick() IS NOT NULL;"

BUCKETS=$(psql_s -c "SELECT count(*) FROM tripl.metric_values")
psql_s -c "UPDATE tripl.metric_state SET changed_from = '2026-03-01 00:00+00', last_detected_at = NULL" >/dev/null
read -r ms rss < <(timed '2026-03-03 01:10+00' "SELECT count(*) FROM tripl.detect();")
printf '   %-50s %9s ms  %8.3f us/bucket  peak %7s kB   (target <= 10 us/bucket)\n' "detect every metric over all $BUCKETS stored buckets" "$ms" "$(awk -v a=$ms -v n=$BUCKETS 'BEGIN{print a*1000/n}')" "$rss"

measure "SELECT * FROM tripl.catalog" '2026-03-03 01:10+00' "SELECT count(*) FROM (SELECT * FROM tripl.catalog) c;" "" "(target <= 1000 ms)"
measure "SELECT * FROM tripl.status" '2026-03-03 01:10+00' "SELECT count(*) FROM (SELECT * FROM tripl.status) s;"
measure "SELECT * FROM tripl.signals" '2026-03-03 01:10+00' "SELECT count(*) FROM tripl.signals;"

#!/usr/bin/env bash
# make bench: tripl against hand-written SQL, measured in the same run on
# the same server.  Prints medians (ms) and ratios.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/test/lib/cluster.sh"
DIR=${BENCH_DIR:-/tmp/tripl-bench}
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

NAIVE_TRIPL="BEGIN;"$'\n'
for m in b_count b_completed b_revenue b_avg b_min b_max b_users b_us_revenue; do
	NAIVE_TRIPL+="SELECT count(*) FROM tripl.collect('$m', '2026-01-01 00:00+00', '2026-03-02 00:00+00');"$'\n'
done
NAIVE_TRIPL+="COMMIT;"
time_sql "tripl naive: tripl.collect(metric, ...) once per metric" "$NAIVE_TRIPL"

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

echo "== ratios"
printf '   %-62s %6s   (target <= 1.10)\n' "tripl batched / hand-written single scan" "$(ratio 'tripl batched backfill: tripl.collect(window_from, window_to)' 'hand-written: one date_bin + FILTER query into a table')"
printf '   %-62s %6s   (target >= 2.5)\n' "tripl naive / tripl batched" "$(ratio 'tripl naive: tripl.collect(metric, ...) once per metric' 'tripl batched backfill: tripl.collect(window_from, window_to)')"
printf '   %-62s %6s\n' "hand-written naive / hand-written single scan" "$(ratio 'hand-written naive: one query per metric' 'hand-written: one date_bin + FILTER query into a table')"
printf '   %-62s %6s   (target >= 20)\n' "tripl batched backfill / incremental pass" "$(ratio 'tripl batched backfill: tripl.collect(window_from, window_to)' incremental)"
printf '   %-62s %6s\n' "hand-written single scan / count(*) floor" "$(ratio 'hand-written: one date_bin + FILTER query into a table' 'floor: SELECT count(*) over the table')"
printf '   %-62s %6s\n' "tripl batched / count(*) floor" "$(ratio 'tripl batched backfill: tripl.collect(window_from, window_to)' 'floor: SELECT count(*) over the table')"

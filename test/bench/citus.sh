#!/usr/bin/env bash
# tripl on a Citus cluster: a coordinator and two workers on this machine,
# over Unix sockets, and the same rows in a plain table.  Measures (does not
# assert):
#   - collection time of the same 17 metrics (test/lib/citus_setup.sql) on
#     the plain table and on the distributed table, C engine and SQL path
#     (median of $REPS replays of the whole window);
#   - EXPLAIN (ANALYZE, VERBOSE) of the statements collection runs, on the
#     coordinator: "Tuple data received from nodes", the rows received and
#     the plan's top nodes (SQL path); for the C engine, pushed down, the
#     plan without ANALYZE and each shard task run on its node (rows, bytes).
#
#   bash test/bench/citus.sh                 ROWS=1000000 REPS=3 by default
#   ROWS=5000000 SHARDS=32 KEEP=1 bash test/bench/citus.sh
#
# Citus comes from test/lib/citus.sh (built once per machine from
# ../shared/vendor/citus).  PostgreSQL is the one pg_config finds.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
bash "$REPO/test/lib/citus.sh"
source "$REPO/test/lib/cluster.sh"
ROWS=${ROWS:-1000000}
DAYS=${DAYS:-10}
SHARDS=${SHARDS:-32}
REPS=${REPS:-3}
DIR=$(cluster_dir "${BENCH_DIR:-/tmp/tripl-bench-citus}")
PORT=${BENCH_PORT:-54341}
WFROM='2026-01-01 00:00+00'
WTO=$(date -u -d "2026-01-01 + $DAYS days" '+%Y-%m-%d 00:00+00')

nodes=(coord w1 w2)
stop_all() { for n in "${nodes[@]}"; do cluster_stop "$DIR/$n"; done; rm -rf "$DIR"; }
stop_all 2>/dev/null || true
if [ "${KEEP:-0}" != 1 ]; then trap stop_all EXIT; fi

conf=("shared_preload_libraries = 'citus'" "shared_buffers = '512MB'" "work_mem = '64MB'" "jit = off"
	"max_wal_size = '4GB'" "synchronous_commit = off" "max_connections = 100"
	"citus.enable_statistics_collection = off")
i=0
for n in "${nodes[@]}"; do
	cluster_start "$DIR/$n" $((PORT + i)) "${conf[@]}" &
	i=$((i + 1))
done
wait
psql_n() { local n=$1; shift; cluster_psql "$DIR/$n" $((PORT + $2)) -d postgres -q "${@:3}"; }
coord() { cluster_psql "$DIR/coord" "$PORT" -d postgres -q "$@"; }
for i in 0 1 2; do cluster_psql "$DIR/${nodes[$i]}" $((PORT + i)) -d postgres -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION citus"; done
coord -c "SELECT citus_set_coordinator_host('$DIR/coord/sock', $PORT)" >/dev/null
coord -c "SELECT citus_add_node('$DIR/w1/sock', $((PORT + 1)))" -c "SELECT citus_add_node('$DIR/w2/sock', $((PORT + 2)))" >/dev/null
coord -c "SET client_min_messages = warning" -c "CREATE EXTENSION tripl"

echo "== $ROWS rows over $DAYS days, $SHARDS shards on 2 workers; 17 hourly metrics on each table"
t0=$(date +%s)
coord -v rows="$ROWS" -v days="$DAYS" -v shards="$SHARDS" -f "$REPO/test/lib/citus_setup.sql" >/dev/null
echo "   set up in $(($(date +%s) - t0)) s"

# collect SIDE ENGINE: median and min (ms) of $REPS replays of the window
collect_time() {
	local side=$1 engine=$2 script r out
	script="SET tripl.engine = $engine;"$'\n'"SELECT citus_activate('$side');"$'\n'
	for r in $(seq 1 "$REPS"); do
		script+="\\echo @@"$'\n'"\\timing on"$'\n'
		script+="SELECT count(*) FILTER (WHERE status <> 'success') AS failed FROM tripl.collect(window_from => '$WFROM', window_to => '$WTO');"$'\n'
		script+="\\timing off"$'\n'"\\echo @@end"$'\n'
	done
	out=$(printf '%s\n' "$script" | coord -At 2>&1)
	if printf '%s\n' "$out" | grep -qE '^[1-9][0-9]*$'; then echo "   !! failed collections: $out" >&2; fi
	printf '%s\n' "$out" | awk '/^@@end/{print t; grab=0; next} /^@@/{grab=1; t=0; next} grab && /^Time:/{t+=$2}' | sort -n |
		awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f %.0f", m, a[1]}'
}

echo "== collection of the whole window (17 metrics, one pass), median of $REPS (min) in ms"
declare -A T
for side in p d; do
	for engine in c sql; do
		T[$side$engine]=$(collect_time "$side" "$engine")
		printf '   %-34s %8s ms  (min %s)\n' "$([ $side = p ] && echo plain table || echo distributed table), tripl.engine = $engine" \
			"${T[$side$engine]% *}" "${T[$side$engine]#* }"
	done
done
r() { awk -v a="${T[$1]% *}" -v b="${T[$2]% *}" 'BEGIN { printf "%.2f", a / b }'; }
echo "== ratios"
printf '   %-62s %6s   (target <= 2)\n' "cluster (3 nodes), C engine / plain table, C engine" "$(r dc pc)"
printf '   %-62s %6s   (target <= 0.6)\n' "cluster, C engine / cluster, SQL path" "$(r dc dsql)"
printf '   %-62s %6s\n' "cluster, SQL path / plain table, SQL path" "$(r dsql psql)"

coord -c "SELECT citus_activate('pd')" >/dev/null
echo "== values: distributed vs plain (after the last replay, SQL path)"
coord -c "SELECT sum(n_values) AS values, sum(bad_values) AS differing, sum(n_breakdowns) AS breakdowns, sum(bad_breakdowns) AS differing_breakdowns FROM citus_diff()"

# EXPLAIN (ANALYZE, VERBOSE) of the statements collection runs, as it runs
# them: auto_explain (log_analyze, log_verbose, nested statements) logs the
# plan of each statement tripl.explain_metric() shows, with the window and
# -- for the C engine -- the configuration collection passes as $3 (which
# no SQL function exposes).  Prints, per source statement: the top plan
# node, the rows and the tuple data the coordinator received from the
# nodes.  explain_collect ENGINE [METRIC]: one metric, or every d_ metric.
explain_collect() {
	local engine=$1 metric=${2:-} call
	if [ -n "$metric" ]; then
		call="SELECT status FROM tripl.collect('$metric', '$WFROM', '$WTO')"
	else
		call="SELECT citus_activate('d'); SELECT status FROM tripl.collect(window_from => '$WFROM', window_to => '$WTO')"
	fi
	coord -At 2>&1 <<-SQL | awk '
		/^Query Text:/ { src = ($0 ~ /_engine_agg|date_bin|FROM \(/) ; q = substr($0, 13, 44); next }
		!src { next }
		/^(Aggregate|GroupAggregate|HashAggregate|Custom Scan|Limit|Sort|Result)/ && !top { top = ($1 == "Custom") ? "Custom Scan" : $1 }
		/Custom Scan \(Citus/ { match($0, /actual rows=[0-9]+/); rows = substr($0, RSTART + 12, RLENGTH - 12) }
		/Tuple data received from nodes:/ { sub(/.*nodes: /, ""); printf "      %-44s  top node %-11s rows received %9s   tuple data %s\n", q, top, rows, $0; top = ""; src = 0 }'
	SET tripl.engine = $engine;
	SET citus.explain_all_tasks = off;
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_analyze = on;
	SET auto_explain.log_verbose = on;
	SET auto_explain.log_timing = off;
	SET auto_explain.log_nested_statements = on;
	SET auto_explain.log_level = notice;
	SET client_min_messages = notice;
	$call;
	SQL
}

# The C engine's statements cannot be EXPLAIN ANALYZEd once pushed down
# (Citus's worker_partial_agg returns cstring: "column has pseudo-type
# cstring"; the failed statement would be retried on the SQL path).  So for
# them auto_explain logs the plan without ANALYZE but with every task, and
# each task's query is run on its node: its rows and the bytes of its text
# output are what the coordinator receives.
explain_engine() {
	local metric=${1:-} call stmts
	if [ -n "$metric" ]; then
		call="SELECT status FROM tripl.collect('$metric', '$WFROM', '$WTO')"
	else
		call="SELECT citus_activate('d'); SELECT status FROM tripl.collect(window_from => '$WFROM', window_to => '$WTO')"
	fi
	coord -At 2>&1 <<-SQL | awk '
		/^Query Text:/ { src = ($0 ~ /_engine_agg/); if (src) { n++; print "@@stmt " n " " substr($0, 13, 44) } next }
		!src { next }
		/^(Aggregate|GroupAggregate|HashAggregate)/ && !top[n] { top[n] = $1; print "@@top " $1 }
		/^ +Query: / { sub(/^ +Query: /, ""); q = $0; next }
		/^ +Node: host=/ { match($0, /port=[0-9]+/); print "@@task " substr($0, RSTART + 5, RLENGTH - 5) "\t" q }' >"$DIR/explain_c.txt"
	SET tripl.engine = c;
	SET citus.explain_all_tasks = on;
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_verbose = on;
	SET auto_explain.log_nested_statements = on;
	SET auto_explain.log_level = notice;
	SET client_min_messages = notice;
	$call;
	SQL
	local label="" top="" rows=0 bytes=0 line port q r
	flush() { [ -z "$label" ] || printf '      %-44s  top node %-11s rows received %9s   tuple data %s bytes (states as text)\n' "$label" "$top" "$rows" "$bytes"; }
	while IFS= read -r line; do
		case $line in
			"@@stmt "*) flush; label=${line#@@stmt * }; top=""; rows=0; bytes=0 ;;
			"@@top "*) top=${line#@@top } ;;
			"@@task "*)
				port=${line#@@task }; q=${port#*$'\t'}; port=${port%%$'\t'*}
				r=$(cluster_psql "$DIR/${nodes[$((port - PORT))]}" "$port" -d postgres -At -c "SELECT count(*) || ' ' || coalesce(sum(octet_length(q::text)), 0) FROM ($q) q")
				rows=$((rows + ${r% *})); bytes=$((bytes + ${r#* })) ;;
		esac
	done <"$DIR/explain_c.txt"
	flush
}

echo "== EXPLAIN (VERBOSE) on the coordinator of the collection statements (auto_explain)"
echo "   tripl.engine = c, metric d_count (no ANALYZE; every shard task run on its node):"
explain_engine d_count
for m in d_users d_users_by_device d_devices d_approx_users; do
	echo "   tripl.engine = c, metric $m alone:"
	explain_engine $m
done
echo "   tripl.engine = c, all 17 d_ metrics in one pass:"
explain_engine
for engine in sql; do
	echo "   tripl.engine = $engine, metric d_count (ANALYZE):"
	explain_collect "$engine" d_count
	echo "   tripl.engine = $engine, all 17 d_ metrics in one pass:"
	explain_collect "$engine"
done
coord -c "SELECT citus_activate('pd')" >/dev/null
[ "${KEEP:-0}" != 1 ] || echo "kept: psql -h $DIR/coord/sock -p $PORT -U postgres postgres"

#!/usr/bin/env bash
# make demo: a throwaway server, thirty days of shop traffic, and tripl's
# whole pipeline — backfill, detect, alert to a local webhook receiver — told
# as a story: the catalog, the anomalies found, the notifications received,
# and one SVG plot per anomalous metric.  KEEP=1 leaves the server running.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/test/lib/cluster.sh"
DIR=$(cluster_dir "${DEMO_DIR:-/tmp/tripl-demo}")
PORT=${DEMO_PORT:-54329}
PLOTS=${DEMO_PLOTS:-$DIR/plots}
T0=$(date +%s)

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
note() { printf '\033[2m%s\033[0m\n' "$*"; }
sql() { cluster_psql "$DIR" "$PORT" -d demo -q -P footer=off "$@"; }
val() { cluster_psql "$DIR" "$PORT" -d demo -qAt "$@"; }

SINK_PID=""
cluster_stop "$DIR" 2>/dev/null || true
cleanup() {
	[ -z "$SINK_PID" ] || kill "$SINK_PID" 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then
		bold "The demo server is still running:"
		echo "  psql -h $DIR/sock -p $PORT -U postgres demo"
		echo "  try: SELECT * FROM tripl.catalog;   SELECT * FROM tripl.status;"
		echo "  stop it with: (cd / && runuser -u postgres -- $PG_BIN/pg_ctl -D $DIR/data stop)"
	else
		cluster_stop "$DIR"
	fi
}
trap cleanup EXIT

bold "1. A throwaway PostgreSQL server ($DIR, port $PORT) with tripl"
# the local receiver is on 127.0.0.1, which tripl refuses unless told
cluster_start "$DIR" "$PORT" "tripl.allow_private_destinations = on"
cluster_psql "$DIR" "$PORT" -q -c "CREATE DATABASE demo"
sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION tripl"
val -c "SELECT 'tripl ' || extversion || ' on ' || version() FROM pg_extension WHERE extname = 'tripl'" | cut -c1-90

bold "2. Thirty days of shop traffic: orders and app events"
sql -f "$REPO/test/demo/data.sql" >/dev/null
sql -c "SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM events) AS app_events,
               (SELECT min(created_at)::date FROM orders) AS since, (SELECT max(created_at)::timestamp(0) FROM orders) AS until"
note "Hidden in it: a marketing campaign 11 days ago, a checkout outage 6 days ago, a pricing bug
4 days ago, payment trouble 2 days ago, bot traffic 8 days ago — and checkout failing right now."

bold "3. Definitions: a fact table, an event source, five metrics"
sql -f "$REPO/test/demo/define.sql" >/dev/null
sql -c "SELECT name, kind, bucket, coalesce(unit, '') AS unit, description FROM tripl.metrics ORDER BY id"

bold "4. Backfill thirty days, up to six hours ago: SELECT * FROM tripl.collect(window_from => ..., window_to => ...)"
sql -c "SELECT metric, rows_written, status
        FROM tripl.collect(window_from => date_trunc('hour', now()) - interval '30 days',
                           window_to => date_trunc('hour', now()) - interval '6 hours')
        ORDER BY metric"

bold "5. Detect: SELECT * FROM tripl.detect()"
sql -c "SELECT metric, evaluated_from::timestamp(0) AS evaluated_from, evaluated_to::timestamp(0) AS evaluated_to,
               anomalies, coalesce(error, '') AS error
        FROM tripl.detect() ORDER BY metric"

bold "6. Alert: a webhook to a local receiver, one rule for every metric"
SINK_LOG="$DIR/notifications.jsonl"
exec 3< <(python3 "$REPO/test/lib/http_sink.py" --port 0 --log "$SINK_LOG")
read -r _ SINK_PORT <&3
SINK_PID=$(pgrep -f "http_sink.py --port 0 --log $SINK_LOG" | head -1)
echo "receiver listening on http://127.0.0.1:$SINK_PORT/hook"
sql -c "SELECT tripl.create_destination('team-webhook', 'webhook', 'http://127.0.0.1:$SINK_PORT/hook') AS destination_id" \
	-c "SELECT tripl.create_alert_rule('everything', 'team-webhook', min_percent_delta => 20) AS rule_id"
sql -c "SELECT rule, metric, event, sent FROM tripl.evaluate_alerts() ORDER BY metric"

bold "7. The last six hours, as the scheduler runs them: collect, detect, evaluate_alerts once an hour"
note "tripl.mock_now plays the clock: each pass collects the hour that ended, detects and evaluates
the alert rules; an incident is reported once, in the pass that first sees it."
for h in 5 4 3 2 1 0; do
	sql -q -c "SET tripl.mock_now = '$(val -c "SELECT (date_trunc('hour', now()) - interval '$h hours' + interval '2 minutes')::text")'" \
		-c "SELECT to_char(tripl.now(), 'HH24:MI') AS pass_at,
		           (SELECT count(*) FROM tripl.collect()) AS metrics_collected,
		           (SELECT coalesce(sum(anomalies), 0) FROM tripl.detect()) AS anomalies,
		           (SELECT count(*) FROM tripl.evaluate_alerts() WHERE sent) AS alerts"
done
sent=$(val -c "SELECT tripl.deliver()")
echo "SELECT tripl.deliver() sent $sent notification(s)"
sql -c "SELECT d.name AS destination, x.kind, x.status, x.attempts, coalesce(x.last_error, '') AS last_error
        FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id ORDER BY x.id"

bold "The catalog: SELECT * FROM tripl.catalog"
sql -c "SELECT name, to_char(latest_bucket, 'MM-DD HH24:MI') AS latest, round(latest_value::numeric, 2) AS value,
               coalesce(unit, '') AS unit, coalesce(signal, '') AS signal, sparkline AS last_24_buckets, last_status
        FROM tripl.catalog ORDER BY name"

bold "The anomalies found (newest first)"
sql -c "SELECT m.name AS metric, to_char(a.bucket, 'Dy MM-DD HH24:MI') AS bucket, a.direction,
               round(a.actual::numeric, 2) AS actual, round(a.expected::numeric, 2) AS expected,
               to_char(100 * (a.actual - a.expected) / nullif(a.expected, 0), 'SG990') || '%' AS change,
               round(a.z_score::numeric, 1) AS z
        FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id
        ORDER BY a.bucket DESC, m.name"

bold "The notifications the receiver got"
python3 - "$SINK_LOG" <<'PY'
import json, sys
n = 0
with open(sys.argv[1]) as f:
    for line in f:
        req = json.loads(line)
        if not req.get("path", "").startswith("/hook"):
            continue
        n += 1
        body = req.get("body")
        payload = json.loads(body) if isinstance(body, str) else body
        print(f"--- POST {req['path']}  ({payload.get('matched_count', '?')} anomalies, rule {payload['rule']['name']})")
        print(payload.get("message", ""))
        for item in payload.get("items", []):
            print(f"    incident {item.get('incident_id')}  {item.get('scope_name')} {item.get('direction')}"
                  f"  actual {item.get('actual_count')} expected {item.get('expected_count')}")
if n == 0:
    print("(none)")
PY

bold "Plots: one SVG per anomalous metric"
mkdir -p "$PLOTS"
if [ "$(val -c "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'tripl' AND p.proname = 'plot'")" = 1 ]; then
	for m in $(val -c "SELECT DISTINCT m.name FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id ORDER BY 1"); do
		val -c "SELECT tripl.plot('$m', date_trunc('hour', now()) - interval '30 days', date_trunc('hour', now()))" >"$PLOTS/$m.svg"
		echo "  $PLOTS/$m.svg"
	done
else
	echo "  (tripl.plot is not available in this build)"
fi

bold "Done in $(($(date +%s) - T0)) s."
[ "${KEEP:-0}" = 1 ] || note "Run 'make demo KEEP=1' to keep the server and explore with psql."

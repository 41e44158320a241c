#!/usr/bin/env bash
# make demo: a throwaway server, the demo data set, tripl's whole pipeline,
# and a readable account of what it found.  KEEP=1 leaves the server up.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/test/lib/cluster.sh"
DIR=${DEMO_DIR:-/tmp/tripl-demo}
PORT=${DEMO_PORT:-54329}

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
sql() { cluster_psql "$DIR" "$PORT" -d demo -q "$@"; }

cluster_stop "$DIR" 2>/dev/null || true
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		bold "The demo server is still running:"
		echo "  psql -h $DIR/sock -p $PORT -U postgres demo"
		echo "  stop it with: pg_ctl -D $DIR/data stop   (as the postgres user), or rm -rf $DIR after stopping"
	else
		cluster_stop "$DIR"
	fi
}
trap cleanup EXIT

bold "Starting a throwaway PostgreSQL server ($DIR, port $PORT)"
cluster_start "$DIR" "$PORT"
cluster_psql "$DIR" "$PORT" -q -c "CREATE DATABASE demo"
sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION tripl"

bold "Loading thirty days of shop traffic (orders and app events)"
sql -f "$REPO/test/demo/data.sql" >/dev/null
sql -c "SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM events) AS app_events,
               (SELECT min(created_at)::date FROM orders) AS since"

bold "Defining a fact table, an event source and five metrics"
sql -f "$REPO/test/demo/define.sql" >/dev/null
sql -P footer=off -c "SELECT name, kind, bucket, coalesce(composition, '') AS composition,
                             coalesce(unit, '') AS unit, description
                      FROM tripl.metrics ORDER BY id"

bold "Backfilling thirty days: tripl.collect(window_from => ..., window_to => ...)"
sql -P footer=off -c "SELECT metric, window_from::date AS \"from\", window_to AS \"to\", rows_written, status
                      FROM tripl.collect(window_from => date_trunc('hour', now()) - interval '30 days',
                                         window_to => date_trunc('hour', now()))
                      ORDER BY metric"

bold "Completed orders per hour, the last twelve hours, split by country"
sql -P footer=off -c "SELECT to_char(s.bucket, 'Dy HH24:MI') AS hour, s.value AS completed,
                             string_agg(b.breakdown_value || ' ' || b.value, '  ' ORDER BY b.is_other, b.value DESC) AS by_country
                      FROM tripl.series('completed_orders', date_trunc('hour', now()) - interval '12 hours', date_trunc('hour', now())) s
                      LEFT JOIN tripl.breakdown_series('completed_orders', 'country',
                                date_trunc('hour', now()) - interval '12 hours', date_trunc('hour', now())) b ON b.bucket = s.bucket
                      GROUP BY s.bucket, s.value ORDER BY s.bucket"

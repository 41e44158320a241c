#!/usr/bin/env bash
# Delivery throughput per destination type to receivers on 127.0.0.1
# (test/lib/http_sink.py, test/lib/smtp_sink.py): N deliveries of each type
# (the body of a real tripl.test_destination() copied N times) sent by one
# tripl.deliver(N) pass (jira, linear: N issues created, each its own
# incident);
# prints deliveries per second, and per CPU second of the delivering
# process (tripl.runs details, cpu_ms), which does not depend on the
# receivers or on what else the machine runs.  The receivers are single
# Python processes, so the first figures are a floor for tripl.
#
#   bash test/bench/delivery.sh            # N=2000 (BENCH_N), REPS=3, every type
#   BENCH_TYPES="jira email" bash test/bench/delivery.sh
#   BENCH_DETAILS=1 ...                    # and each pass's tripl.runs details (phases)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/test/lib/cluster.sh"
DIR=$(cluster_dir "${BENCH_DIR:-/tmp/tripl-bench-delivery}")
PORT=${BENCH_PORT:-54341}
N=${BENCH_N:-2000}
REPS=${REPS:-3}

cluster_stop "$DIR" 2>/dev/null || true
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	cluster_stop "$DIR"
}
trap cleanup EXIT
cluster_start "$DIR" "$PORT" "shared_preload_libraries = ''" "max_worker_processes = 16" \
	"tripl.allow_private_destinations = on" "tripl.delivery_ca_file = '$DIR/cert.pem'" \
	"synchronous_commit = off"
psql_b() { cluster_psql "$DIR" "$PORT" -d postgres -qAt "$@"; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/key.pem" -out "$DIR/cert.pem" -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
chmod a+r "$DIR/key.pem" "$DIR/cert.pem"

# start a receiver; prints its port
start_sink() {
	local name=$1
	shift
	"$@" >"$DIR/$name.out" 2>"$DIR/$name.err" &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		if grep -q '^PORT' "$DIR/$name.out" 2>/dev/null; then
			awk '/^PORT/{print $2}' "$DIR/$name.out"
			return
		fi
		sleep 0.1
	done
	echo "receiver $name did not start" >&2
	exit 1
}
HTTP=$(start_sink http python3 "$REPO/test/lib/http_sink.py" --port 0 --log /dev/null)
SMTP=$(start_sink smtp python3 "$REPO/test/lib/smtp_sink.py" --port 0 --log /dev/null)
JIRA=$(start_sink jira python3 "$REPO/test/lib/jira_sink.py" --port 0 --auth me@example.com:tok --project OPS)
TEAM=9cfb482a-81e3-4154-b5b9-2c805e70a02d
LINEAR=$(start_sink linear python3 "$REPO/test/lib/linear_sink.py" --port 0 --key lin_api_tok --team $TEAM)
SMTPTLS=$(start_sink smtptls python3 "$REPO/test/lib/smtp_sink.py" --port 0 --log /dev/null \
	--cert "$DIR/cert.pem" --key "$DIR/key.pem" --auth tripl:s3cret)

psql_b -c "SET client_min_messages = warning" -c "CREATE EXTENSION tripl"
psql_b <<SQL >/dev/null
SELECT tripl.create_destination('webhook', 'webhook', 'http://127.0.0.1:$HTTP/hook');
SELECT tripl.create_destination('slack', 'slack', 'http://127.0.0.1:$HTTP/slack');
SELECT tripl.create_destination('telegram', 'telegram', 'http://127.0.0.1:$HTTP', secret => '1:a', chat_id => '1');
SELECT tripl.create_destination('pagerduty', 'pagerduty', 'http://127.0.0.1:$HTTP/pd', secret => 'key');
SELECT tripl.create_destination('teams', 'teams', 'http://127.0.0.1:$HTTP/teams?sig=x');
SELECT tripl.create_destination('jira', 'jira', 'http://127.0.0.1:$JIRA', secret => 'me@example.com:tok',
    options => '{"project": "OPS"}');
SELECT tripl.create_destination('linear', 'linear', 'http://127.0.0.1:$LINEAR/graphql', secret => 'lin_api_tok',
    options => '{"team_id": "$TEAM"}');
SELECT tripl.create_destination('email', 'email', 'smtp://127.0.0.1:$SMTP',
    options => '{"from": "tripl@example.com", "to": "ops@example.com", "starttls": false}');
SELECT tripl.create_destination('email_starttls', 'email', 'smtp://127.0.0.1:$SMTPTLS', secret => 'tripl:s3cret',
    options => '{"from": "tripl@example.com", "to": "ops@example.com"}');
SQL

echo "== delivery throughput, $N deliveries per pass, median of $REPS passes (receivers on 127.0.0.1)"
for dest in ${BENCH_TYPES:-webhook slack telegram pagerduty teams jira linear email email_starttls}; do
	rates=()
	cpus=()
	for rep in $(seq 1 "$REPS"); do
		psql_b -c "SELECT tripl.test_destination('$dest')" >/dev/null
		psql_b <<SQL >/dev/null
DELETE FROM tripl.deliveries d USING tripl.destinations x WHERE x.id = d.destination_id AND x.name = '$dest' AND d.status = 'sent';
INSERT INTO tripl.deliveries (destination_id, kind, idempotency_key, payload, next_attempt_at, created_at)
SELECT d.destination_id, 'test', 'bench-$dest-$rep-' || i,
       CASE WHEN '$dest' IN ('jira', 'linear') THEN jsonb_build_object('action', 'open', 'ref', md5('$rep-' || i),
            'subject', 'tripl: bench', 'text', 'bench ' || i) ELSE d.payload END, now(), now()
FROM (SELECT * FROM tripl.deliveries WHERE destination_id = (SELECT id FROM tripl.destinations WHERE name = '$dest')
      AND status = 'pending' LIMIT 1) d, generate_series(2, $N) i;
SQL
		out=$(psql_b -c '\timing on' -c "SELECT tripl.deliver($N)")
		sent=$(printf '%s\n' "$out" | head -1)
		ms=$(printf '%s\n' "$out" | awk '/^Time:/{print $2}')
		rates+=("$(awk -v n="$sent" -v ms="$ms" 'BEGIN{printf "%.0f", n / (ms / 1000)}')")
		# the delivering process's own CPU time (tripl.runs details): deliveries per CPU second of tripl
		cpu=$(psql_b -c "SELECT details->>'cpu_ms' FROM tripl.runs WHERE kind = 'deliver' ORDER BY id DESC LIMIT 1")
		if [ -n "${BENCH_DETAILS:-}" ]; then
			psql_b -c "SELECT details FROM tripl.runs WHERE kind = 'deliver' ORDER BY id DESC LIMIT 1" >&2
		fi
		cpus+=("$(awk -v n="$sent" -v ms="$cpu" 'BEGIN{printf "%.0f", n / (ms / 1000)}')")
		if [ "$sent" != "$N" ]; then echo "   $dest: only $sent of $N sent" >&2; fi
	done
	median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	cpu_median=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	printf '   %-16s %6s deliveries/s   (passes: %s)   %6s per CPU second of the delivering process\n' \
		"$dest" "$median" "${rates[*]}" "$cpu_median"
done

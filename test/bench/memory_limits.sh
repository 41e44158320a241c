#!/usr/bin/env bash
# The C engine's memory limit: peak backend RSS (VmHWM) of collecting a
# distinct count over 300 000 distinct 2 kB strings and a breakdown limited
# to 10 values over 5 000 000 distinct values, one day each, with the C
# engine under its default limit (it hands the source to the SQL path), with
# the limit raised out of the way (the engine unbounded), and on the SQL
# path.  make bench runs it; alone: bash test/bench/memory_limits.sh
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/test/lib/cluster.sh"
D=$(cluster_dir "${MEMORY_DIR:-/tmp/tripl-memory}"); P=${MEMORY_PORT:-54333}
cluster_stop $D 2>/dev/null || true
trap 'cluster_stop "$D"' EXIT
cluster_start $D $P "shared_buffers = '512MB'" "jit = off" >/dev/null
q() { cluster_psql $D $P -d postgres -qAt "$@"; }
q -c "CREATE EXTENSION tripl" -c "
CREATE TABLE wide AS SELECT '2026-03-01 00:00+00'::timestamptz + (g % 86400) * interval '1 second' AS ts,
   repeat(md5(g::text), 64) AS k FROM generate_series(1, 300000) g;
CREATE TABLE many AS SELECT '2026-03-01 00:00+00'::timestamptz + (g % 86400) * interval '1 second' AS ts,
   'value-' || g AS v FROM generate_series(1, 5000000) g;
ANALYZE wide; ANALYZE many;
SELECT tripl.create_fact_table('wide', 'SELECT ts, k FROM wide', 'ts');
SELECT tripl.create_fact_table('many', 'SELECT ts, v FROM many', 'ts');
SELECT tripl.create_metric('distinct_long', 'fact', '1 day', fact_table => 'wide', aggregation => 'count_distinct', distinct_column => 'k');
SELECT tripl.create_metric('limited_bd', 'fact', '1 day', fact_table => 'many', aggregation => 'count', breakdowns => '{v}', breakdown_values_limit => 10);
" >/dev/null
for m in distinct_long limited_bd; do
  for mode in "c|-1" "c|4000000" "sql|-1"; do
    eng=${mode%|*}; lim=${mode#*|}
    out=$(cluster_psql $D $P -d postgres -qAt <<SQL
SET tripl.engine = $eng;
SET tripl.engine_memory_limit = $lim;
SELECT status || ' ' || rows_written FROM tripl.collect('$m', '2026-03-01', '2026-03-02');
SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') from 'VmHWM:\\s*([0-9]+ kB)');
SQL
)
    printf '   %-16s engine=%-3s tripl.engine_memory_limit=%-9s %s\n' "$m" "$eng" "$lim" "$(echo $out | tr '\n' ' ')"
  done
done

#!/bin/bash
# Peak backend RSS of collecting the issue's memory cases, C engine vs SQL path
set -eu
source /work/main/test/lib/cluster.sh
D=/tmp/memtest/c; P=55531
cluster_stop $D 2>/dev/null || true
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
    echo "$m engine=$eng limit=$lim: $(echo $out | tr '\n' ' ')"
  done
done
cluster_stop $D

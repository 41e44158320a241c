# tripl on a Citus cluster: a coordinator and two workers over Unix sockets
# (Citus 13.2.2, built from ../shared/vendor/citus by test/lib/citus.sh,
# which run_tests.sh runs before this file).
#
#   - CREATE EXTENSION tripl on the coordinator is propagated to the workers
#   - a worker node with tripl preloaded runs no scheduler over its empty
#     catalog
#   - every stored value and breakdown of 17 metrics over a distributed
#     table (32 shards) equals that of the same metrics over a plain table
#     with the same rows, under tripl.engine = c and = sql
#   - the coordinator's scheduler (tripl preloaded there) collects the
#     distributed source by itself
#   - a worker stopped in the middle of a collection: the metric errors
#     (a node failure, no backoff), the tick completes, the window's
#     previous values are intact, and once the worker is back the metric is
#     collected again at the next tick
#   - workers started after the coordinator: the first tick's error is a
#     node failure without backoff; later ticks collect the right values
#
#   - tripl.explain_metric() says the plan shape on Citus (pushed-down
#     engine, SQL path pushed down, rows gathered, reference tables) and
#     Citus plans the statement it shows that way
#   - pushdown: under the C engine the coordinator receives one partial
#     engine state per shard and statement (EXPLAIN via auto_explain);
#     test/bench/citus.sh measures times and bytes
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $src = $ENV{TRIPL_SRC} or die "TRIPL_SRC is not set";
my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
BAIL_OUT("Citus is not installed in $pkglibdir: run test/lib/citus.sh (it builds Citus from ../shared/vendor/citus)")
  unless -f "$pkglibdir/citus.so";

my $coord = PostgreSQL::Test::Cluster->new('coord');
my $w1 = PostgreSQL::Test::Cluster->new('worker1');
my $w2 = PostgreSQL::Test::Cluster->new('worker2');
my $common = qq{
max_connections = 100
max_worker_processes = 20
citus.enable_statistics_collection = off
timezone = 'UTC'
fsync = off
};
# worker 1 preloads tripl too (its launcher must start no scheduler
# there); worker 2 only citus, as doc/citus.md recommends
$w1->init;
$w1->append_conf('postgresql.conf', "shared_preload_libraries = 'citus,tripl'\ntripl.tick_interval = '1s'\n$common");
$w2->init;
$w2->append_conf('postgresql.conf', "shared_preload_libraries = 'citus'\n$common");
$coord->init;
# the scheduler starts switched off: the comparison below replays windows
# itself; section 3 switches it on with a mock clock
$coord->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus,tripl'
tripl.tick_interval = '1s'
tripl.scheduler = off
$common});
$_->start foreach ($w1, $w2, $coord);

sub sql { my ($n, $q) = @_; return $n->safe_psql('postgres', $q) }
sub csql { return sql($coord, @_) }

# 1. The cluster, Citus and tripl
my $t0 = time;
sql($_, 'CREATE EXTENSION citus') foreach ($coord, $w1, $w2);
csql(sprintf(q{SELECT citus_set_coordinator_host('%s', %d)}, $coord->host, $coord->port));
csql(sprintf(q{SELECT citus_add_node('%s', %d)}, $_->host, $_->port)) foreach ($w1, $w2);
is(csql(q{SELECT count(*) FROM citus_get_active_worker_nodes()}), '2', 'the coordinator has two active workers');
csql('SET client_min_messages = warning; CREATE EXTENSION tripl');
is(sql($_, q{SELECT extversion FROM pg_extension WHERE extname = 'tripl'}), csql(q{SELECT extversion FROM pg_extension WHERE extname = 'tripl'}),
	'CREATE EXTENSION tripl on the coordinator is propagated to ' . $_->name) foreach ($w1, $w2);
is(csql(q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::regclass::text LIKE 'tripl.%'}), '0',
	"tripl's own tables stay local to the coordinator");
# worker 1 has tripl preloaded: its launcher looks at the database, finds a
# Citus worker node and runs no scheduler (nor delivery worker) there
ok($w1->wait_for_log(qr/tripl: database "postgres" is on a Citus worker node: no scheduler runs here/),
	'worker 1 (tripl preloaded): the launcher sees a Citus worker node');
sleep 3;    # three tick intervals
is(sql($w1, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('tripl scheduler', 'tripl delivery')}), '0',
	'worker 1: no tripl scheduler or delivery worker runs');
is(sql($w1, q{SELECT count(*) FROM tripl.worker_status()}) . '/' . sql($w1, q{SELECT count(*) FROM tripl.runs}), '0/0',
	'worker 1: no worker in tripl.worker_status(), no tick in its (empty) run log');
is(sql($w1, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tripl launcher'}), '1',
	'worker 1: (its launcher runs)');

# 60 000 events over 3 days (72 hourly buckets), plain and distributed
my $setup = slurp_file("$src/test/lib/citus_setup.sql");
csql("\\set rows 60000\n\\set days 3\n\\set shards 32\n$setup");
is(csql(q{SELECT count(DISTINCT shardid) || ' shards on ' || count(DISTINCT nodeport) || ' nodes' FROM pg_dist_shard
	JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node USING (groupid) WHERE logicalrelid = 'events_dist'::regclass}),
	'32 shards on 2 nodes', 'events_dist: 32 shards on the two workers');
is(csql(q{SELECT (SELECT count(*) FROM events_dist) = (SELECT count(*) FROM events_plain)}), 't', 'the same rows in both tables');
diag(sprintf('cluster and data set up in %d s', time - $t0));

# 2. Distributed vs plain, under both engines: replay the whole window of
# every metric (from empty tables), then compare every stored row
my $window = q{window_from => '2026-01-01 00:00+00', window_to => '2026-01-04 00:00+00'};
foreach my $engine ('c', 'sql')
{
	my $t = time;
	my $res = csql(qq{
		DELETE FROM tripl.metric_values; DELETE FROM tripl.metric_breakdowns;
		SET tripl.engine = $engine;
		SELECT count(*) || ' collected, ' || count(*) FILTER (WHERE status <> 'success') || ' failed'
		    || coalesce(': ' || string_agg(metric || ' ' || error, '; ') FILTER (WHERE status <> 'success'), '')
		FROM tripl.collect($window)});
	is($res, '34 collected, 0 failed', "engine $engine: the 34 metrics are collected");
	diag(sprintf('engine %s: collected in %d s', $engine, time - $t));
	my $diff = csql(q{SELECT string_agg(format('%s: %s/%s values, %s/%s breakdowns differ', metric, bad_values, n_values,
		bad_breakdowns, n_breakdowns), E'\n') FILTER (WHERE bad_values + bad_breakdowns > 0) FROM citus_diff()});
	is($diff, '', "engine $engine: every value and breakdown of the distributed metrics equals the plain table's");
	my $sums = csql(q{SELECT sum(n_values) || ' values, ' || sum(n_breakdowns) || ' breakdown rows; ' ||
		count(*) FILTER (WHERE n_values = 0) || ' metrics without values' FROM citus_diff()});
	like($sums, qr/^\d+ values, \d+ breakdown rows; 0 metrics without values$/, "engine $engine: every metric has values ($sums)");
	is(csql(q{SELECT count(*) FROM citus_diff() WHERE metric IN ('by_country', 'aov', 'users_by_country', 'users_by_device',
		'approx_devices') AND n_breakdowns > 0}), '5',
		"engine $engine: both breakdown metrics have breakdown rows");
	is(csql(q{SELECT count(*) FROM tripl.metric_breakdowns b JOIN tripl.metrics m ON m.id = b.metric_id
		WHERE m.name = 'd_aov' AND b.breakdown_column = 'device' AND b.is_other}), '72',
		"engine $engine: the values limit folds devices into 'Other' in every bucket");
	# and a hand count over the plain table, to be sure both sides are right
	is(csql(q{SELECT count(*) FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
		JOIN (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS b, count(DISTINCT user_id) AS c
		      FROM events_plain GROUP BY 1) h ON h.b = v.bucket AND h.c = v.value WHERE m.name = 'd_users'}), '72',
		"engine $engine: d_users equals a hand-written count(DISTINCT user_id) in all 72 buckets");
	# distinct users of the distribution column by breakdown: per value (the
	# shards' counts added) and 'Other' (sets united: a user seen on two
	# folded devices counts once), by hand over the plain table
	is(csql(q{SELECT count(*) FROM tripl.metric_breakdowns v JOIN tripl.metrics m ON m.id = v.metric_id
		JOIN (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS b, country, count(DISTINCT user_id) AS c
		      FROM events_plain GROUP BY 1, 2) h ON h.b = v.bucket AND h.country IS NOT DISTINCT FROM v.breakdown_value
		      AND h.c = v.value
		WHERE m.name = 'd_users_by_country' AND NOT v.is_other}),
		csql(q{SELECT count(DISTINCT (date_bin('1 hour', ts, '1970-01-01 00:00+00'), country)) FROM events_plain}),
		"engine $engine: d_users_by_country equals a hand-written count(DISTINCT user_id) per hour and country");
	is(csql(q{SELECT count(*) FROM tripl.metric_breakdowns v JOIN tripl.metrics m ON m.id = v.metric_id
		WHERE m.name = 'd_users_by_device' AND v.is_other
		  AND v.value = (SELECT count(DISTINCT e.user_id) FROM events_plain e
		                 WHERE date_bin('1 hour', e.ts, '1970-01-01 00:00+00') = v.bucket
		                   AND e.device NOT IN (SELECT k.breakdown_value FROM tripl.metric_breakdowns k
		                                        WHERE k.metric_id = v.metric_id AND k.bucket = v.bucket AND NOT k.is_other))}),
		'72', "engine $engine: d_users_by_device's 'Other' equals a hand-written distinct count over the folded devices");
	cmp_ok(csql(q{SELECT count(*) FROM tripl.metric_breakdowns v JOIN tripl.metrics m ON m.id = v.metric_id
		WHERE m.name = 'd_users_by_device' AND v.is_other
		  AND v.value < (SELECT sum(c) FROM (SELECT count(DISTINCT e.user_id) AS c FROM events_plain e
		                 WHERE date_bin('1 hour', e.ts, '1970-01-01 00:00+00') = v.bucket
		                   AND e.device NOT IN (SELECT k.breakdown_value FROM tripl.metric_breakdowns k
		                                        WHERE k.metric_id = v.metric_id AND k.bucket = v.bucket AND NOT k.is_other)
		                 GROUP BY e.device) per_device)}),
		'>', 10, "... where adding the folded devices' counts would count users twice (in many buckets)");
	# the C engine's distributable form (used on both tables here) against
	# the SQL path: every stored value and breakdown row
	csql(q{CREATE TABLE c_values AS SELECT * FROM tripl.metric_values;
		CREATE TABLE c_breakdowns AS SELECT * FROM tripl.metric_breakdowns}) if $engine eq 'c';
}
is(csql(q{SELECT count(*) FROM c_values c FULL JOIN tripl.metric_values s USING (metric_id, bucket)
	WHERE c.value IS DISTINCT FROM s.value AND NOT coalesce(abs(c.value - s.value) <= 1e-12 * abs(s.value), false)}), '0',
	'engine c (tripl._engine_agg_rows) and the SQL path store the same values');
is(csql(q{SELECT count(*) FROM
	(SELECT metric_id, breakdown_column, bucket, coalesce(breakdown_value, E'\\x01null') AS v, is_other, value FROM c_breakdowns) c
	FULL JOIN (SELECT metric_id, breakdown_column, bucket, coalesce(breakdown_value, E'\\x01null') AS v, is_other, value
	           FROM tripl.metric_breakdowns) s USING (metric_id, breakdown_column, bucket, v, is_other)
	WHERE c.value IS DISTINCT FROM s.value AND NOT coalesce(abs(c.value - s.value) <= 1e-12 * abs(s.value), false)}), '0',
	'engine c (tripl._engine_agg_rows) and the SQL path store the same breakdown rows');

# 2b. Pushdown, C engine.  auto_explain (VERBOSE, nested statements, every
# task) logs the plan of each statement collection runs, as it runs it ($3
# is the real configuration).  Without ANALYZE: Citus cannot EXPLAIN
# ANALYZE a pushed-down custom aggregate (its worker_partial_agg returns
# cstring: "column has pseudo-type cstring"), so what the coordinator
# receives is measured by running each shard task's query on its node.
my ($out, $err) = ('', '');
$coord->psql('postgres', qq{
	SELECT citus_activate('d');
	SET tripl.engine = c;
	SET citus.explain_all_tasks = on;
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_verbose = on;
	SET auto_explain.log_nested_statements = on;
	SET auto_explain.log_level = notice;
	SET client_min_messages = notice;
	SELECT count(*) FROM tripl.collect($window)}, stdout => \$out, stderr => \$err);
my %node_of = map { ($_->port => $_) } ($w1, $w2);
my (@stmts, $cur);
foreach my $line (split /\n/, $err)
{
	if ($line =~ /^Query Text: (.*)/)
	{
		$cur = ($1 =~ /_engine_agg/) ? { text => $1, tasks => [] } : undef;
		push @stmts, $cur if $cur;
		next;
	}
	next unless $cur;
	$cur->{agg} = 1 if $line =~ /^Aggregate\s/;
	$cur->{combine} = 1 if $line =~ /coord_combine_agg/;
	$cur->{ntasks} = $1 if $line =~ /Task Count: (\d+)/;
	push @{ $cur->{tasks} }, { query => $1 } if $line =~ /^\s+Query: (.*)/;
	$cur->{tasks}[-1]{port} = $1 if $line =~ /^\s+Node: host=\S+ port=(\d+)/ && @{ $cur->{tasks} };
}
my ($bad, $rows_all, $bytes_all) = (0, 0, 0);
foreach my $st (@stmts)
{
	my ($rows, $bytes) = (0, 0);
	foreach my $task (@{ $st->{tasks} })
	{
		my ($n, $b) = split /\|/, sql($node_of{ $task->{port} },
			"SELECT count(*), coalesce(sum(octet_length(q::text)), 0) FROM ($task->{query}) q");
		$rows += $n;
		$bytes += $b;
		$bad++ unless $task->{query} =~ /worker_partial_agg/ && $task->{query} !~ /GROUP BY/;
	}
	$bad++ unless $st->{combine} && $st->{agg} && $st->{ntasks} == @{ $st->{tasks} };
	$bad++ if $rows > 32;
	$rows_all += $rows;
	$bytes_all += $bytes;
}
diag(sprintf('engine c: %d engine statements; the coordinator receives %d rows, %d bytes of states', scalar @stmts, $rows_all, $bytes_all));
ok(@stmts >= 2, 'engine c: collection ran its engine statements (' . scalar(@stmts) . ')');
is($bad, 0, 'engine c: every engine statement is pushed down: the shards run worker_partial_agg, the coordinator coord_combine_agg');
ok($rows_all > 0 && $rows_all <= 32 * @stmts, "engine c: the coordinator receives at most one partial state per shard and statement ($rows_all rows)");

# 2c. tripl.explain_metric() says which plan shape a source gets on Citus
# (pg_dist_partition), and the statement it shows plans that way
my $shards = csql(q{SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'events_dist'::regclass});
csql(q{CREATE TABLE countries (code text PRIMARY KEY, region text);
	SELECT create_reference_table('countries');
	INSERT INTO countries VALUES ('US', 'Americas'), ('BR', 'Americas'), ('DE', 'Europe'), ('FR', 'Europe');
	SELECT tripl.create_fact_table('ref_only', 'SELECT now() AS ts, region FROM countries', 'ts');
	SELECT tripl.create_metric('r_count', 'fact', fact_table => 'ref_only', aggregation => 'count', status => 'draft');
	SELECT tripl.create_fact_table('d_joined', 'SELECT e.ts, e.user_id, c.region FROM events_dist e JOIN countries c ON c.code = e.country', 'ts');
	SELECT tripl.create_metric('j_users', 'fact', fact_table => 'd_joined', aggregation => 'count_distinct',
		distinct_column => 'user_id', status => 'draft');
	SELECT tripl.create_metric('j_regions', 'fact', fact_table => 'd_joined', aggregation => 'count_distinct',
		distinct_column => 'region', status => 'draft')});
my %x;
foreach my $engine ('c', 'sql')
{
	$x{$engine}{$_} = csql("SET tripl.engine = $engine; SELECT tripl.explain_metric('$_')")
	  foreach qw(d_count d_users d_devices p_count r_count j_users j_regions);
}
my $table_line = qr/^-- Citus: reads distributed table public\.events_dist \(distributed by user_id, $shards shards\)$/m;
like($x{c}{d_count}, $table_line, "explain_metric names the distributed table, its column and its $shards shards");
like($x{c}{d_count}, qr/^-- plan: the C engine pushed down: each shard returns one partial engine state/m,
	'explain_metric, engine c: the engine is pushed down');
like($x{sql}{d_count}, qr/^-- plan: SQL path pushed down/m, 'explain_metric, engine sql: the SQL path is pushed down');
like($x{sql}{d_devices}, qr/^-- plan: rows gathered: a count_distinct not over the distribution column/m,
	'explain_metric, engine sql: count_distinct of device gathers rows');
like($x{c}{d_devices}, qr/^-- count_distinct of device: not the distribution column: each shard ships its exact set/m,
	'explain_metric, engine c: count_distinct of device ships sets');
like($x{c}{d_users}, qr/^-- count_distinct of user_id: the distribution column .*each shard ships its count of values per bucket/m,
	'explain_metric, engine c: count_distinct of user_id (the distribution column) ships counts');
like($x{sql}{d_users}, qr/^-- count_distinct of user_id: the distribution column .*pushed down/m,
	'explain_metric, engine sql: count_distinct of user_id (the distribution column) is pushed down');
like($x{sql}{j_users}, qr/^-- Citus: reads distributed table public\.events_dist .*, 1 reference table read$/m,
	'explain_metric: a join with a reference table is named');
like($x{sql}{j_users}, qr/^-- count_distinct of user_id: the distribution column/m,
	'... the distribution column is followed through the join');
like($x{sql}{j_regions}, qr/^-- plan: rows gathered/m, '... a column of the reference table is not the distribution column');
like($x{c}{r_count}, qr/^-- Citus: reads reference tables only/m, 'explain_metric: a source over a reference table only');
unlike($x{c}{p_count}, qr/Citus/, 'explain_metric: nothing about Citus for a plain table');
# the statement explain_metric shows, planned by Citus: per-shard
# aggregates (pushed down) or (bucket, value) rows (gathered)
foreach my $case (['d_count', 'count(', 'pushed down'], ['d_devices', 'GROUP BY', 'gathered'])
{
	my ($m, $task_has, $shape) = @$case;
	(my $stmt = $x{sql}{$m}) =~ s/^--.*\n//mg;
	my $plan = csql(qq{SET citus.explain_all_tasks = off; PREPARE q(timestamptz, timestamptz) AS $stmt;
		EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('2026-01-01', '2026-01-02')});
	my ($task) = $plan =~ /^\s+Query: (.*)$/m;
	my $coord_groups = ($plan =~ /^(?:\s*->\s*)?(?:HashAggregate|GroupAggregate)/m) ? 1 : 0;
	ok(defined $task && index($task, $task_has) >= 0, "$m, SQL path: Citus's shard task is what explain_metric says ($shape)");
	if ($m eq 'd_devices')
	{
		like($task, qr/GROUP BY .*\bdevice\b/, "$m: the shard task returns a row per (bucket, device), not per bucket");
	}
}
csql(q{SELECT tripl.drop_metric(m) FROM unnest(ARRAY['r_count', 'j_users', 'j_regions']) m});

# 3. The scheduler on the coordinator collects the distributed source by
# itself.  A mock clock (tripl.mock_now) just after the data; fresh metrics.
my $hand_ok = q{SELECT count(*) FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
	JOIN (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS b, count(*) AS c FROM events_plain GROUP BY 1) h
	ON h.b = v.bucket AND h.c = v.value WHERE m.name = 's_count'};
csql(q{SELECT citus_activate('');
	SELECT tripl.create_metric('s_count', 'fact', fact_table => 'd_events', aggregation => 'count');
	SELECT tripl.create_metric('s_country', 'fact', fact_table => 'd_events', aggregation => 'sum',
		measure_column => 'amount', breakdowns => '{country}')});
set_clock('2026-01-04 00:00+00');
csql(q{ALTER SYSTEM SET tripl.scheduler = on; SELECT pg_reload_conf()});
ok($coord->poll_query_until('postgres', q{SELECT count(*) = 2 FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id
	WHERE m.name IN ('s_count', 's_country') AND s.last_status = 'success'}), 'the scheduler collects the distributed source by itself');
is(csql($hand_ok), '30', 'its first run stored the last 30 buckets, each equal to a hand count');
is(csql(q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick' AND error IS NULL AND NOT skipped}) > 0 ? 1 : 0, 1,
	'its ticks are logged without errors');

# 4. A worker stopped in the middle of a collection.  A session on worker 2
# holds a lock on one of its shards, so the next collection waits there
# with the other shards' rows already received; then worker 2 stops.
my $snapshot_sql = q{SELECT string_agg(v.bucket || '=' || v.value, ',' ORDER BY v.bucket) FROM tripl.metric_values v
	JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 's_count'};
my $before = csql($snapshot_sql);
my $shard = csql(q{SELECT shard_name('events_dist'::regclass, s.shardid) FROM pg_dist_shard s
	JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.logicalrelid = 'events_dist'::regclass AND n.nodeport = } . $w2->port . q{ ORDER BY s.shardid LIMIT 1});
my $locker = $w2->background_psql('postgres', on_error_stop => 0);
$locker->query_safe("SET citus.enable_manual_changes_to_shards = on; BEGIN; LOCK TABLE $shard IN ACCESS EXCLUSIVE MODE");
set_clock('2026-01-04 01:00+00');
ok($coord->poll_query_until('postgres', q{SELECT last_status = 'running' FROM tripl.metric_state s JOIN tripl.metrics m
	ON m.id = s.metric_id WHERE m.name = 's_count'}), 'the next collection is running');
ok($w2->poll_query_until('postgres', qq{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'
	AND query LIKE '%$shard%'}), '... and waits on worker 2 for the locked shard');
$w2->stop('immediate');
eval { $locker->quit };
my $state_sql = q{SELECT last_status || '|' || (last_failed_at IS NULL) || '|' || coalesce(last_error, '')
	FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name = 's_count'};
ok($coord->poll_query_until('postgres', q{SELECT last_status = 'error' FROM tripl.metric_state s JOIN tripl.metrics m
	ON m.id = s.metric_id WHERE m.name = 's_count'}), 'worker 2 stopped: the metric errors');
my ($st, $nobackoff, $error) = split /\|/, csql($state_sql), 3;
diag("the error: $error");
like($error, qr/connection|remote node|server closed/i, 'the error says the node connection failed');
unlike($error, qr/interrupted/, '... and is not "interrupted"');
is($nobackoff, 'true', 'a node failure leaves no failure time: no one-bucket backoff');
is(csql($snapshot_sql), $before, 'nothing half-written: the values of the window are the previous ones');
# the tick itself completed: its row counts the failed metric, with that error
my $tick = csql(q{SELECT metrics_failed || '|' || error FROM tripl.runs WHERE kind = 'tick' AND error LIKE '%s_count%'
	ORDER BY id LIMIT 1});
like($tick, qr/^[1-9]\d*\|.*(connection|remote node|server closed)/i, 'the tick completed and logged the metric\'s node error');
diag("the tick's row: $tick");
is(csql(q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick' AND (error LIKE '%essential%' OR error LIKE '%interrupted%')}), '0',
	'no tick failed as a whole');
# the clock stays where it is: the metric is retried at every tick and
# succeeds once worker 2 is back
$w2->start;
my $tr = time;
ok($coord->poll_query_until('postgres', q{SELECT last_status = 'success' AND watermark >= '2026-01-04 01:00+00'
	FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name = 's_count'}),
	'worker 2 back: the metric is collected again at the next tick, the clock unmoved');
diag(sprintf('recovered %d s after worker 2 started', time - $tr));
is(csql($hand_ok), '30', 'and its values equal a hand count');

# 5. Workers started after the coordinator: the whole cluster stops, the
# coordinator starts alone (its first tick cannot reach the nodes), then the
# workers start.  The values are still right.
csql(q{ALTER SYSTEM SET tripl.mock_now = '2026-01-04 03:00+00'});
$_->stop foreach ($coord, $w1, $w2);
csql_on_start();
ok($coord->poll_query_until('postgres', q{SELECT last_status = 'error' FROM tripl.metric_state s JOIN tripl.metrics m
	ON m.id = s.metric_id WHERE m.name = 's_count'}), 'coordinator alone: its first tick fails to reach the workers');
($st, $nobackoff, $error) = split /\|/, csql($state_sql), 3;
diag("the error: $error");
like($error, qr/connection|remote node/i, 'the error says the node connection failed');
is($nobackoff, 'true', '... with no one-bucket backoff');
$_->start foreach ($w1, $w2);
ok($coord->poll_query_until('postgres', q{SELECT bool_and(last_status = 'success' AND watermark >= '2026-01-04 03:00+00')
	FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name IN ('s_count', 's_country')}),
	'workers started after the coordinator: the metrics are collected at a later tick, the clock unmoved');
is(csql($hand_ok), '30', 'the values are right');
is(csql(q{SELECT count(*) FROM tripl.metric_breakdowns b JOIN tripl.metrics m ON m.id = b.metric_id
	JOIN (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS b, coalesce(country, '') AS c, sum(amount) AS s
	      FROM events_plain GROUP BY 1, 2) h ON h.b = b.bucket AND h.c = coalesce(b.breakdown_value, '')
	      AND abs(h.s - b.value::numeric) <= 1e-9 * abs(h.s)
	WHERE m.name = 's_country'}), csql(q{SELECT count(*) FROM tripl.metric_breakdowns b JOIN tripl.metrics m ON m.id = b.metric_id
	WHERE m.name = 's_country'}), 'and so are the breakdowns');
diag(sprintf('total %d s', time - $t0));

$_->stop foreach ($coord, $w1, $w2);
done_testing();

# the scheduler's clock: tripl.mock_now, reloaded
sub set_clock
{
	my ($ts) = @_;
	csql(qq{ALTER SYSTEM SET tripl.mock_now = '$ts'; SELECT pg_reload_conf()});
}

sub csql_on_start { $coord->start }

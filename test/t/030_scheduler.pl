# The background scheduler with tripl in shared_preload_libraries: values
# appear by themselves, every database with the extension gets its workers,
# new and dropped databases are noticed, killed workers come back, crashes
# leave no half-written window, tripl.scheduler = off stops the work, and a
# standby runs nothing until it is promoted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tripl'
tripl.tick_interval = '1s'
max_worker_processes = 20
wal_level = replica
restart_after_crash = on
});
$node->start;

sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q) }

# wait until a query returns 't' (or time out)
sub wait_for
{
	my ($n, $db, $q, $what) = @_;
	ok($n->poll_query_until($db, $q), $what);
}

sub tripl_workers
{
	my ($n) = @_;
	return $n->safe_psql('postgres', q{SELECT string_agg(backend_type || ':' || coalesce(datname, '-'), ' '
		ORDER BY backend_type || ':' || coalesce(datname, '-'))
		FROM pg_stat_activity WHERE backend_type LIKE 'tripl%'});
}

my $setup = q{
	CREATE EXTENSION tripl;
	CREATE TABLE hits (ts timestamptz NOT NULL, n int);
	INSERT INTO hits SELECT date_trunc('hour', now()) - interval '20 hours' + i * interval '1 minute', 1
	FROM generate_series(0, 20 * 60 - 1) i;
	SELECT tripl.create_fact_table('hits', 'SELECT ts, n FROM hits', 'ts');
	SELECT tripl.create_metric('hits', 'fact', fact_table => 'hits', aggregation => 'count');
};

# 1. Values appear without any call, in two databases
sql('postgres', 'CREATE DATABASE db1');
sql('postgres', 'CREATE DATABASE db2');
sql('db1', $setup);
sql('db2', $setup);
wait_for($node, 'db1', q{SELECT count(*) >= 20 FROM tripl.metric_values}, 'db1: values appear by themselves');
wait_for($node, 'db2', q{SELECT count(*) >= 20 FROM tripl.metric_values}, 'db2: values appear by themselves');
is(sql('db1', q{SELECT count(*) FROM tripl.metric_values v
	JOIN (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS b, count(*) AS c FROM hits GROUP BY 1) h
	ON h.b = v.bucket AND h.c = v.value}), '20', 'the scheduled values equal a hand count');

# 1b. A setting changed inside user SQL does not survive it in the worker:
# a query that turns default_transaction_read_only on for the session does
# not stop the ticks after it
sql('db1', q{
	CREATE TABLE hits_sticky AS SELECT * FROM hits;
	SELECT tripl.create_fact_table('sticky',
		$q$SELECT ts FROM hits_sticky WHERE set_config('default_transaction_read_only', 'on', false) IS NOT NULL$q$, 'ts');
	SELECT tripl.create_metric('sticky', 'fact', fact_table => 'sticky', aggregation => 'count');
});
wait_for($node, 'db1', q{SELECT count(*) >= 20 FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
	WHERE m.name = 'sticky'}, 'a metric whose query sets default_transaction_read_only is collected by the worker');
my $tick0 = sql('db1', q{SELECT coalesce(max(id), 0) FROM tripl.runs});
wait_for($node, 'db1', qq{SELECT count(*) >= 3 FROM tripl.runs WHERE kind = 'tick' AND id > $tick0 AND error IS NULL AND NOT skipped},
	'... and the later ticks of that database still succeed');
sql('db1', q{SELECT tripl.drop_metric('sticky'); SELECT tripl.drop_fact_table('sticky'); DROP TABLE hits_sticky;});
wait_for($node, 'postgres', q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'tripl scheduler'},
	'two databases, two schedulers');
is(tripl_workers($node),
	'tripl delivery:db1 tripl delivery:db2 tripl launcher:- tripl scheduler:db1 tripl scheduler:db2',
	'one launcher, and a scheduler and a delivery worker per database');
is(sql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE application_name IN
	('tripl launcher', 'tripl scheduler db1', 'tripl delivery db1')}), '3', 'workers are named in pg_stat_activity');
wait_for($node, 'db1', q{SELECT count(*) >= 2 FROM tripl.runs WHERE kind = 'tick'}, 'ticks are logged in tripl.runs');
is(sql('db1', q{SELECT scheduler_running AND scheduler_pid IS NOT NULL AND delivery_pid IS NOT NULL FROM tripl.status}),
	't', 'tripl.status shows the workers');

# 2. A database created later with CREATE EXTENSION is picked up
sql('postgres', 'CREATE DATABASE db3');
sql('db3', 'CREATE EXTENSION tripl');
wait_for($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'tripl scheduler' AND datname = 'db3'},
	'a new database with the extension gets a scheduler within seconds');

# 3. DROP EXTENSION and DROP DATABASE
sql('db3', 'DROP EXTENSION tripl');
wait_for($node, 'postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type LIKE 'tripl%' AND datname = 'db3'},
	'DROP EXTENSION: its workers leave');
my $t0 = time;
sql('postgres', 'DROP DATABASE db2');
ok(time - $t0 < 10, 'DROP DATABASE of a scheduled database succeeds promptly');
is(sql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE datname = 'db2'}), '0', 'its workers are gone');

# 4. Terminated workers come back
foreach my $type ('tripl scheduler', 'tripl delivery', 'tripl launcher')
{
	my $pid = sql('postgres', qq{SELECT pid FROM pg_stat_activity WHERE backend_type = '$type' ORDER BY pid LIMIT 1});
	sql('postgres', "SELECT pg_terminate_backend($pid)");
	wait_for($node, 'postgres',
		qq{SELECT count(*) >= 1 FROM pg_stat_activity WHERE backend_type = '$type' AND pid <> $pid},
		"pg_terminate_backend($type): it comes back");
}

# 5. tripl.scheduler = off stops all work without a restart
sql('postgres', q{ALTER SYSTEM SET tripl.scheduler = off; SELECT pg_reload_conf()});
usleep(2_500_000);
my $ticks = sql('db1', q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick'});
usleep(3_000_000);
is(sql('db1', q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick'}), $ticks, 'tripl.scheduler = off: no more ticks');
is(sql('db1', q{SELECT scheduler_running FROM tripl.status}), 'f', '... and tripl.status says so');
sql('postgres', q{ALTER SYSTEM SET tripl.scheduler = on; SELECT pg_reload_conf()});
wait_for($node, 'db1', qq{SELECT count(*) > $ticks FROM tripl.runs WHERE kind = 'tick'}, 'back on: ticks resume');

# 6. kill -9 of a worker: crash recovery, then scheduling continues
my $pid = sql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'tripl scheduler' AND datname = 'db1'});
kill 'KILL', $pid;
wait_for($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'tripl scheduler' AND datname = 'db1'},
	'after kill -9 and crash recovery the scheduler is back');
$ticks = sql('db1', q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick'});
wait_for($node, 'db1', qq{SELECT count(*) > $ticks FROM tripl.runs WHERE kind = 'tick'}, '... and ticking');

# 7. Immediate shutdown in the middle of a (slow) collection: nothing is
# half-written, and after the restart the window is collected again
sql('db1', q{
	CREATE TABLE slow_hits AS SELECT * FROM hits;
	SELECT tripl.create_fact_table('slow_hits',
		'SELECT ts, n FROM slow_hits WHERE pg_sleep(0.01) IS NOT NULL', 'ts');
	SELECT tripl.create_metric('slow', 'fact', fact_table => 'slow_hits', aggregation => 'count');
});
wait_for($node, 'db1', q{SELECT count(*) = 1 FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id
	WHERE m.name = 'slow' AND s.last_status = 'running'}, 'the slow collection is running (marker committed)');
$node->stop('immediate');
$node->start;
is(sql('db1', q{SELECT count(*) FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'slow'}),
	'0', 'the interrupted window left no rows');
wait_for($node, 'db1', q{SELECT count(*) >= 20 FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
	WHERE m.name = 'slow'}, 'after the restart it is collected again');
is(sql('db1', q{SELECT count(*) FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
	JOIN (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS b, count(*) AS c FROM slow_hits GROUP BY 1) h
	ON h.b = v.bucket AND h.c = v.value WHERE m.name = 'slow'}), '20', 'and its values equal a clean count');
isnt(sql('db1', q{SELECT s.last_status FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name = 'slow'}),
	'running', 'no stale running marker is left');

# 8. A streaming standby runs nothing; after promotion it does
$node->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b1', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
usleep(3_000_000);
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'tripl%'}), '0',
	'the standby runs no tripl worker');
$node->stop;
$standby->promote;
ok($standby->poll_query_until('postgres', q{SELECT count(*) >= 1 FROM pg_stat_activity WHERE backend_type = 'tripl scheduler'}),
	'after promotion the scheduler starts');
my $before = $standby->safe_psql('db1', q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick'});
ok($standby->poll_query_until('db1', qq{SELECT count(*) > $before FROM tripl.runs WHERE kind = 'tick'}),
	'and ticks run on the promoted server');
$standby->stop;

done_testing();

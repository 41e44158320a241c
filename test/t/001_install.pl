# Installing tripl: CREATE EXTENSION with and without shared_preload_libraries,
# and definitions surviving a pg_dump / restore round trip.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Without preloading
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
is($plain->safe_psql('postgres', 'CREATE EXTENSION tripl; SELECT extversion FROM pg_extension WHERE extname = $$tripl$$'),
	'0.2', 'CREATE EXTENSION works without shared_preload_libraries');
is($plain->safe_psql('postgres', q{SELECT tripl.now() = now()}), 't', 'tripl.now() is the transaction time by default');
$plain->safe_psql('postgres', q{SET tripl.mock_now = '2026-03-01 12:00+00'; SELECT 1});
is($plain->safe_psql('postgres', q{SET tripl.mock_now = '2026-03-01 12:00+00'; SELECT tripl.now() AT TIME ZONE 'UTC'}),
	'2026-03-01 12:00:00', 'tripl.mock_now moves tripl.now()');
my ($ret, $out, $err) = $plain->psql('postgres', q{LOAD 'tripl'; SET tripl.mock_now = 'not a time'});
isnt($ret, 0, 'tripl.mock_now refuses garbage');
like($err, qr/invalid value for parameter "tripl.mock_now"/, '... with a clear message');
$plain->safe_psql('postgres', 'CREATE ROLE regress_user LOGIN');
($ret, $out, $err) = $plain->psql('postgres', q{SELECT tripl.now(); SET ROLE regress_user; SET tripl.mock_now = '2026-03-01'});
isnt($ret, 0, 'tripl.mock_now is superuser-only');
like($err, qr/permission denied to set parameter "tripl.mock_now"/, '... and says so');
$plain->safe_psql('postgres', 'DROP EXTENSION tripl');
is($plain->safe_psql('postgres', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'tripl'}), '0',
	'DROP EXTENSION removes the schema');
$plain->safe_psql('postgres', 'CREATE EXTENSION tripl');
is($plain->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname = 'tripl_admin'}), '1',
	'a second CREATE EXTENSION finds tripl_admin already there');
$plain->safe_psql('postgres', 'DROP EXTENSION tripl; CREATE SCHEMA tripl AUTHORIZATION regress_user');
($ret, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION tripl');
isnt($ret, 0, 'CREATE EXTENSION refuses a tripl schema made by somebody else');
like($err, qr/schema "tripl" already exists/, '... saying why');
$plain->safe_psql('postgres', 'DROP SCHEMA tripl');
$plain->stop;

# With preloading
my $pre = PostgreSQL::Test::Cluster->new('preloaded');
$pre->init;
$pre->append_conf('postgresql.conf', "shared_preload_libraries = 'tripl'\ntripl.scheduler = off\n");
$pre->start;
is($pre->safe_psql('postgres', q{SHOW shared_preload_libraries}), 'tripl', 'server starts with tripl preloaded');
is($pre->safe_psql('postgres', 'CREATE EXTENSION tripl; SELECT count(*) FROM tripl.metrics'), '0',
	'CREATE EXTENSION works with tripl preloaded');

# pg_dump keeps definitions, values and sequences
$pre->safe_psql('postgres', q{
	CREATE TABLE orders (created_at timestamptz, amount numeric, status text);
	INSERT INTO orders SELECT '2026-01-01'::timestamptz + i * interval '1 hour', i, 'completed' FROM generate_series(1, 48) i;
	SELECT tripl.create_fact_table('orders', 'SELECT * FROM orders', 'created_at',
		row_filters => '{"completed": "status = ''completed''"}');
	SELECT tripl.create_metric('revenue', 'fact', '1 day', fact_table => 'orders', aggregation => 'sum',
		measure_column => 'amount', row_filters => '{completed}');
	INSERT INTO tripl.metric_values SELECT id, '2026-01-01', 42 FROM tripl.metrics;
});
$pre->safe_psql('postgres', 'CREATE DATABASE restored');
my $dump = $pre->basedir . '/dump.sql';
$pre->command_ok([ 'pg_dump', '-d', $pre->connstr('postgres'), '-f', $dump ], 'pg_dump of a database using tripl');
$pre->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $pre->connstr('restored'), '-f', $dump ],
	'restore into a fresh database');
is($pre->safe_psql('restored', q{
	SELECT f.name || ' ' || m.name || ' ' || o.aggregation || ' ' || v.value
	FROM tripl.metrics m JOIN tripl.metric_operands o ON o.metric_id = m.id
	JOIN tripl.fact_tables f ON f.id = o.fact_table_id JOIN tripl.metric_values v ON v.metric_id = m.id}),
	'orders revenue sum 42', 'definitions and values survive the round trip');
is($pre->safe_psql('restored', q{
	SELECT tripl.create_metric('after_restore', 'fact', fact_table => 'orders', aggregation => 'count')
	     > (SELECT min(id) FROM tripl.metrics)}), 't', 'id sequences continue after a restore');

# A plain restore into a server whose scheduler is running, ticking every
# 100 ms, with pauses between the tables so that ticks land in the middle:
# the run log is not in the dump, and ticks wait while the restore loads
# tripl's tables (a tick between metric_state and metric_values would
# collect buckets the load is still to bring).  The metric is due when the
# copy comes up: its last three hours are missing.
$pre->safe_psql('postgres', q{
	CREATE TABLE hits (ts timestamptz NOT NULL);
	INSERT INTO hits SELECT date_trunc('hour', now()) - interval '48 hours' + i * interval '1 minute'
	FROM generate_series(0, 48 * 60 - 1) i;
	SELECT tripl.create_fact_table('hits', 'SELECT ts FROM hits', 'ts');
	SELECT tripl.create_metric('hits', 'fact', fact_table => 'hits', aggregation => 'count');
	SELECT tripl.tick();
	SELECT tripl.tick();
	DELETE FROM tripl.metric_values WHERE metric_id = (SELECT id FROM tripl.metrics WHERE name = 'hits')
		AND bucket >= date_trunc('hour', now()) - interval '3 hours';
	UPDATE tripl.metric_state SET watermark = date_trunc('hour', now()) - interval '3 hours'
	WHERE metric_id = (SELECT id FROM tripl.metrics WHERE name = 'hits');
});
ok($pre->safe_psql('postgres', q{SELECT count(*) FROM tripl.runs}) >= 2, 'the source has a run log');
my ($source_values, $last_bucket) = split /\|/, $pre->safe_psql('postgres', q{
	SELECT string_agg(v.bucket || '=' || v.value, ',' ORDER BY v.bucket), max(v.bucket)
	FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'hits'});
$pre->command_ok([ 'pg_dump', '-d', $pre->connstr('postgres'), '-f', $dump ], 'pg_dump with the scheduler off');
my $slow_dump = $pre->basedir . '/slow_dump.sql';
open(my $in, '<', $dump) or die;
open(my $out, '>', $slow_dump) or die;
my $pauses = 0;
while (my $line = <$in>)
{
	if ($line =~ /^COPY tripl\./ || $line =~ /^SELECT pg_catalog\.setval\('tripl\./)
	{
		print $out "SELECT pg_sleep(0.3);\n";
		$pauses++;
	}
	print $out $line;
}
close($in);
close($out);
ok($pauses > 15, "a pause before each of tripl's tables and sequences ($pauses)");
unlike(slurp_file($dump), qr/COPY tripl\.runs/, 'the run log is not in the dump');
$pre->safe_psql('postgres', q{ALTER SYSTEM SET tripl.scheduler = on; ALTER SYSTEM SET tripl.tick_interval = '100ms';
	SELECT pg_reload_conf()});
$pre->safe_psql('postgres', 'CREATE DATABASE restored_live');
my $restore_start = $pre->safe_psql('postgres', 'SELECT now()');
$pre->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $pre->connstr('restored_live'), '-f', $slow_dump ],
	'restore while the new database\'s scheduler ticks');
ok($pre->safe_psql('restored_live', q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick' AND skipped
	AND details->>'reason' LIKE 'a restore is loading tripl''s tables (session %)'}) > 0,
	'ticks came during the restore, and skipped');
is($pre->safe_psql('restored_live', qq{SELECT count(*) FROM tripl.runs WHERE started_at < '$restore_start'}), '0',
	'the source\'s run log did not come along');
is($pre->safe_psql('restored_live', qq{SELECT string_agg(v.bucket || '=' || v.value, ',' ORDER BY v.bucket)
	FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
	WHERE m.name = 'hits' AND v.bucket <= '$last_bucket'}), $source_values, 'the values are the ones dumped');
ok($pre->poll_query_until('restored_live', qq{SELECT count(*) >= 3 FROM tripl.metric_values v
	JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'hits' AND v.bucket > '$last_bucket'}),
	'after the restore, ticks run and collect the missing hours');
is($pre->safe_psql('restored_live', q{SELECT count(*) FROM tripl.restore_sessions}), '0',
	'and the restore session is forgotten');
$pre->stop;

done_testing();

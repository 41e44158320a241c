# Without preloading tripl: everything runs from pg_cron, set up by
# tripl.schedule_with_pg_cron(), with the real pg_cron.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TriplSink;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 20
tripl.allow_private_destinations = on
});
$node->start;
my $sink = TriplSink->start($node->basedir);

sub sql { my ($q, $db) = @_; return $node->safe_psql($db // 'postgres', $q) }

sql(q{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION tripl;
	CREATE TABLE hits (ts timestamptz NOT NULL);
	INSERT INTO hits SELECT date_trunc('hour', now()) - interval '10 hours' + i * interval '1 minute'
	FROM generate_series(0, 10 * 60 - 1) i;
	SELECT tripl.create_fact_table('hits', 'SELECT ts FROM hits', 'ts');
	SELECT tripl.create_metric('hits', 'fact', fact_table => 'hits', aggregation => 'count');
});
sql("SELECT tripl.create_destination('hook', 'webhook', '" . $sink->url('/cron') . "')");
is(sql(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'tripl%'}), '0',
	'tripl is not preloaded: no tripl worker runs');

is(sql(q{SELECT string_agg(job_name, ',' ORDER BY job_name) FROM tripl.schedule_with_pg_cron()}),
	'tripl-deliver,tripl-tick', 'schedule_with_pg_cron creates two jobs');
is(sql(q{SELECT string_agg(jobname || '=' || schedule || '=' || command, ' | ' ORDER BY jobname) FROM cron.job}),
	'tripl-deliver=* * * * *=SELECT tripl.deliver() | tripl-tick=* * * * *=SELECT tripl.tick()',
	'the jobs run tripl.tick() and tripl.deliver() every minute');
sql(q{SELECT * FROM tripl.schedule_with_pg_cron()});
is(sql(q{SELECT count(*) FROM cron.job}), '2', 'calling it again updates the jobs instead of adding more');

# pg_cron runs jobs from one database: elsewhere the helper says so, and
# how to schedule both jobs for that database from the pg_cron one
sql('CREATE DATABASE other');
sql('CREATE EXTENSION tripl', 'other');
sql("SELECT tripl.create_destination('hook', 'webhook', '" . $sink->url('/other') . "')", 'other');
my ($ret, $out, $err) = $node->psql('other', q{SELECT * FROM tripl.schedule_with_pg_cron(deliver_schedule => '*/1 * * * *')});
like($err, qr/ERROR:  pg_cron runs jobs from database "postgres", not "other"/,
	'in another database: it names the database pg_cron runs jobs from');
my ($hint) = $err =~ /HINT:  (.*)/;
like($hint, qr/^Create both jobs from there: in database postgres run (SELECT cron\.schedule_in_database\([^;]*\); ?){2}$/,
	'... and its hint says how to create both jobs there');
like($hint, qr/\('tripl-tick-other', '\* \* \* \* \*', 'SELECT tripl\.tick\(\)', 'other'\)/, '... the tick job');
like($hint, qr/\('tripl-deliver-other', '\*\/1 \* \* \* \*', 'SELECT tripl\.deliver\(\)', 'other'\)/,
	'... and the deliver job, with the schedules given');
my ($commands) = $hint =~ /run (.*)$/;
sql($commands);
is(sql(q{SELECT string_agg(jobname || '=' || database || '=' || command, ' | ' ORDER BY jobname) FROM cron.job
	WHERE database = 'other'}),
	'tripl-deliver-other=other=SELECT tripl.deliver() | tripl-tick-other=other=SELECT tripl.tick()',
	'the commands of the hint create the two jobs for that database');
my $other_id = sql(q{SELECT tripl.test_destination('hook')}, 'other');

my $id = sql(q{SELECT tripl.test_destination('hook')});
ok($node->poll_query_until('postgres', q{SELECT count(*) >= 10 FROM tripl.metric_values}, 't'),
	'pg_cron runs the tick: values appear');
ok($node->poll_query_until('postgres', q{SELECT count(*) >= 1 FROM tripl.runs WHERE kind = 'tick'}, 't'),
	'the tick is in the run log');
ok($node->poll_query_until('postgres', qq{SELECT status = 'sent' FROM tripl.deliveries WHERE id = $id}, 't'),
	'pg_cron runs the delivery pass: the test message is sent');
is(scalar(grep { $_->{path} eq '/cron' } $sink->requests), 1, 'the receiver got it');
is(sql(q{SELECT count(*) FROM tripl.metric_values v
	JOIN (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS b, count(*) AS c FROM hits GROUP BY 1) h
	ON h.b = v.bucket AND h.c = v.value}), '10', 'the values equal a hand count');
ok($node->poll_query_until('postgres', q{SELECT count(*) >= 1 FROM cron.job_run_details
	WHERE command = 'SELECT tripl.tick()' AND status = 'succeeded'}, 't'), 'pg_cron records the tick as succeeded');

ok($node->poll_query_until('other', q{SELECT count(*) >= 1 FROM tripl.runs WHERE kind = 'tick' AND NOT skipped}, 't'),
	'the jobs made from the hint tick the other database');
ok($node->poll_query_until('other', qq{SELECT status = 'sent' FROM tripl.deliveries WHERE id = $other_id}, 't'),
	'... and send its deliveries');
is(scalar(grep { $_->{path} eq '/other' } $sink->requests), 1, 'the receiver got the other database\'s message');

# without pg_cron at all: a clear error
my $plain = PostgreSQL::Test::Cluster->new('nocron');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION tripl');
($ret, $out, $err) = $plain->psql('postgres', q{SELECT * FROM tripl.schedule_with_pg_cron()});
like($err, qr/pg_cron is not installed in this database/, 'without pg_cron: a clear error');
like($err, qr/HINT:  Install pg_cron/, '... with a hint');
$plain->stop;

$sink->stop;
$node->stop;
done_testing();

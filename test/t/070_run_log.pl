# The run log, tripl.runs: one row per tick (a skipped one too, saying why),
# per call of tripl.collect(), tripl.detect() and tripl.deliver(), with the
# counts and the first error; a tick's own collection and detection add no
# rows; a call that fails as a whole rolls its row back, except deliver,
# whose pass commits in its own worker; sessions loading tripl's tables
# directly (a restore) make ticks skip until they end; retention covers
# every kind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use TriplSink;

my $node = PostgreSQL::Test::Cluster->new('runlog');
$node->init;
$node->append_conf('postgresql.conf', qq{
tripl.allow_private_destinations = on
tripl.delivery_timeout = '2s'
max_worker_processes = 16
});
$node->start;
my $sink = TriplSink->start($node->basedir);

sub sql { return $node->safe_psql('postgres', $_[0]) }

# the newest run-log row of a kind, as "collected failed detected anomalies deliveries skipped error"
sub last_run
{
	my ($kind) = @_;
	return sql(qq{SELECT concat_ws(' ', metrics_collected, metrics_failed, metrics_detected, anomalies,
		deliveries, skipped, coalesce(error, '-')) FROM tripl.runs WHERE kind = '$kind' ORDER BY id DESC LIMIT 1});
}
sub runs { return sql(q{SELECT count(*) FROM tripl.runs} . ($_[0] ? " WHERE kind = '$_[0]'" : '')) }

my $now = "SET tripl.mock_now = '2026-03-22 00:10+00';";
sql(q{
	CREATE EXTENSION tripl;
	CREATE TABLE visits (ts timestamptz NOT NULL, n int NOT NULL DEFAULT 1);
	INSERT INTO visits (ts)
	SELECT h + (i * interval '30 seconds')
	FROM generate_series('2026-03-01 00:00+00'::timestamptz, '2026-03-21 23:00+00', '1 hour') h,
	     generate_series(1, 100) i;
	INSERT INTO visits (ts) SELECT '2026-03-21 21:10+00' FROM generate_series(1, 300);
	SELECT tripl.create_fact_table('visits', 'SELECT ts, n FROM visits', 'ts');
	SELECT tripl.create_metric('visits', 'fact', fact_table => 'visits', aggregation => 'count');
	SELECT tripl.create_metric('broken', 'fact', fact_table => 'visits', aggregation => 'count',
		filter_sql => '100 / (n - 1) > 0');
});
is(runs(), '0', 'a new database has an empty run log');

# 1. tripl.collect(): one row per call, with counts and the first error
sql("$now SELECT count(*) FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-22 00:00+00')");
is(runs('collect'), '1', 'tripl.collect() writes one row');
is(last_run('collect'), '1 1 0 0 0 f broken: division by zero',
	'... one metric collected, one failed, with its error');
is(sql(q{SELECT details->>'rows_written' FROM tripl.runs WHERE kind = 'collect'}), '504', '... and the rows written in details');
ok(sql(q{SELECT finished_at >= started_at AND details ? 'duration_ms' FROM tripl.runs WHERE kind = 'collect'}) eq 't',
	'... with its timings');
sql("$now SELECT * FROM tripl.collect('visits', '2026-03-21 00:00+00', '2026-03-22 00:00+00')");
is(last_run('collect'), '1 0 0 0 0 f -', 'replaying one metric: one row, no error');
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM tripl.collect('no_such_metric')});
like($err, qr/metric "no_such_metric" does not exist/, 'a call that fails as a whole raises its error');
is(runs('collect'), '2', '... and leaves no row: it rolled back with the call');
sql(q{BEGIN; SELECT * FROM tripl.collect('visits', '2026-03-21 00:00+00', '2026-03-22 00:00+00'); ROLLBACK});
is(runs('collect'), '2', 'a collection that is rolled back takes its row with it');

# 2. tripl.detect(): one row per call
sql("$now SELECT * FROM tripl.detect()");
is(runs('detect'), '1', 'tripl.detect() writes one row');
is(last_run('detect'), '0 0 1 1 0 f -', '... one metric detected, one anomaly');
sql("$now SELECT * FROM tripl.detect('visits')");
is(last_run('detect'), '0 0 1 1 0 f -', 'detecting one metric: one row');
($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM tripl.detect('no_such_metric')});
is(runs('detect'), '2', 'a detection that fails as a whole leaves no row');

# 3. tripl.deliver(): one row per call, written by its worker
sql("SELECT tripl.create_destination('hook', 'webhook', '" . $sink->url('/hook') . "')");
sql(q{SELECT tripl.test_destination('hook')});
is(sql(q{SELECT tripl.deliver()}), '1', 'a delivery is sent');
is(runs('deliver'), '1', 'tripl.deliver() writes one row');
is(last_run('deliver'), '0 0 0 0 1 f -', '... with the number sent');
is(sql(q{SELECT details->>'claimed' || ' ' || (details->>'not_sent') FROM tripl.runs WHERE kind = 'deliver'}), '1 0',
	'... and the number claimed in details');
sql(q{SELECT tripl.deliver()});
is(last_run('deliver'), '0 0 0 0 0 f -', 'a pass with nothing to send writes its row too');
$sink->plan([ { status => 503 } ], { status => 200 });
sql(q{SELECT tripl.test_destination('hook')});
sql(q{BEGIN; SELECT tripl.deliver(); ROLLBACK});
is(runs('deliver'), '3', 'a pass whose caller rolls back keeps its row: the pass committed on its own');
is(sql(q{SELECT deliveries || ' ' || (details->>'not_sent') FROM tripl.runs WHERE kind = 'deliver' ORDER BY id DESC LIMIT 1}),
	'0 1', '... which says the delivery was not sent');
# a pass that fails as a whole: a delivery whose attempt count cannot grow
my $id = sql(q{SELECT id FROM tripl.deliveries WHERE status = 'pending'});
sql(qq{UPDATE tripl.deliveries SET attempts = 2147483647, next_attempt_at = now() WHERE id = $id});
($ret, $out, $err) = $node->psql('postgres', q{SELECT tripl.deliver()});
like($err, qr/tripl delivery pass failed: integer out of range/, 'a failing pass fails the call');
is(last_run('deliver'), '0 0 0 0 0 f integer out of range', '... and is in the run log with its error');
sql(qq{DELETE FROM tripl.deliveries WHERE id = $id});

# 4. A tick writes exactly one row: its collection and detection add none
my %before = map { $_ => runs($_) } qw(tick collect detect deliver);
my $tick = sql(q{SET tripl.mock_now = '2026-03-22 03:10+00'; SELECT tripl.tick()});
like($tick, qr/"collected": 1,.*"collect_failed": 1,/, 'the tick collected one metric, the other failed');
is(runs('tick'), $before{tick} + 1, 'the tick wrote one tick row');
is(join(' ', map { runs($_) } qw(collect detect deliver)), join(' ', map { $before{$_} } qw(collect detect deliver)),
	'and no collect, detect or deliver rows');
is(last_run('tick'), '1 1 1 2 0 f broken: division by zero', 'its row has the counts and the first error');

# 5. A skipped tick writes a row saying why, without the lock, and does not fail
my $holder = $node->background_psql('postgres');
$holder->query_safe(q{BEGIN; SELECT tripl.tick();});
my $t0 = time;
is(sql(q{SELECT t->>'skipped' FROM tripl.tick() t}), 'true', 'a tick while another holds the lock skips');
ok(time - $t0 < 5, '... at once, without waiting for the lock');
is(sql(q{SELECT skipped || ' ' || (details->>'reason') || ' ' || metrics_collected || ' ' || coalesce(error, '-')
	FROM tripl.runs WHERE kind = 'tick' ORDER BY id DESC LIMIT 1}),
	'true another tick is running 0 -', 'the skipped tick is in the run log, with the reason');
is(sql(q{BEGIN READ ONLY; SELECT t->>'skipped' FROM tripl.tick() t; COMMIT}), 'true',
	'in a read-only transaction a skipped tick does not fail (and writes nothing)');
$holder->query_safe(q{COMMIT});
$holder->quit;
is(sql(q{SELECT last_tick_at = (SELECT max(finished_at) FROM tripl.runs WHERE kind = 'tick' AND NOT skipped)
	AND last_tick_at < (SELECT max(finished_at) FROM tripl.runs WHERE kind = 'tick' AND skipped) FROM tripl.status}), 't',
	'tripl.status counts only ticks that ran');

# 6. A session that loads tripl's tables directly (as a restore does) makes
#    ticks skip until it disconnects; tripl's own writes do not
my $loader = $node->background_psql('postgres');
my $loader_pid = $loader->query_safe(q{SELECT pg_backend_pid()});
$loader_pid =~ s/\s+//g;
$loader->query_safe(q{SELECT * FROM tripl.collect('visits', '2026-03-21 00:00+00', '2026-03-22 00:00+00')});
is(sql(q{SELECT count(*) FROM tripl.restore_sessions}), '0', 'a session writing through tripl\'s functions is not noted');
$loader->query_safe(q{COPY tripl.metric_values (metric_id, bucket, value) FROM PROGRAM 'printf ''1\t2026-01-01 00:00+00\t7\n'''});
is(sql(q{SELECT t->>'skipped' || ' ' || (t->>'reason') FROM tripl.tick() t}),
	"true a restore is loading tripl's tables (session $loader_pid)",
	'while a session that loaded tripl\'s tables with COPY is connected, ticks skip');
is(sql(q{SELECT skipped || ' ' || (details->>'reason') FROM tripl.runs WHERE kind = 'tick' ORDER BY id DESC LIMIT 1}),
	"true a restore is loading tripl's tables (session $loader_pid)", '... and say why in the run log');
$loader->quit;
ok($node->poll_query_until('postgres', qq{SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $loader_pid}),
	'the loading session ends');
is(sql(q{SELECT t->>'skipped' FROM tripl.tick() t}), 'false', 'then ticks run again');
is(sql(q{SELECT count(*) FROM tripl.restore_sessions}), '0', '... and the session is forgotten');
$loader = $node->background_psql('postgres');
$loader->query_safe(q{INSERT INTO tripl.metric_values VALUES (1, '2026-01-02 00:00+00', 7)});
is(sql(q{SELECT t->>'skipped' FROM tripl.tick() t}), 'true', 'an INSERT into tripl\'s tables counts as loading too');
is($loader->query_safe(q{SELECT t->>'skipped' FROM tripl.tick() t}), 'false', '... but not for the loading session itself');
$loader->quit;

# 7. Retention applies to every kind: rows without an error after
#    tripl.run_retention (7 days), rows with one after tripl.run_error_retention (30 days)
sql(q{UPDATE tripl.runs SET started_at = now() - interval '8 days', finished_at = now() - interval '8 days'
	WHERE kind IN ('collect', 'detect', 'deliver')});
sql(q{UPDATE tripl.runs SET started_at = now() - interval '31 days', finished_at = now() - interval '31 days'
	WHERE kind = 'deliver' AND error IS NOT NULL});
my $kept_errors = sql(q{SELECT count(*) FROM tripl.runs WHERE kind IN ('collect', 'detect', 'deliver')
	AND error IS NOT NULL AND finished_at > now() - interval '30 days'});
sql(q{SELECT tripl.tick()});
is(sql(q{SELECT count(*) FROM tripl.runs WHERE kind IN ('collect', 'detect', 'deliver') AND error IS NULL}), '0',
	'a tick prunes collect, detect and deliver rows past tripl.run_retention');
is(sql(q{SELECT count(*) FROM tripl.runs WHERE kind IN ('collect', 'detect', 'deliver') AND error IS NOT NULL}),
	$kept_errors, 'rows with an error are kept until tripl.run_error_retention');
ok($kept_errors > 0, "($kept_errors of them)");

$sink->stop;
$node->stop;
done_testing();

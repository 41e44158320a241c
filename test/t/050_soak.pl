# Soak of the background scheduler: thousands of ticks at a 10 ms interval
# with collection, detection, alerting and webhook delivery running all
# along, and the workers' memory stable.
#
# The fact tables grow by one (mock) minute of rows every ~0.4 s and
# tripl.mock_now advances with them (ALTER SYSTEM + reload, which the
# workers pick up), so one tick in twenty or so collects and detects six
# 1-minute metrics (count, sum, count_distinct, a breakdown, a fact ratio,
# an event ratio); every 40th minute holds a spike and every 40th a drop,
# which the detector flags and two alert rules send to a local webhook
# receiver.  Each step also enqueues a test message to both webhooks, so
# that the delivery worker has a steady load (~4 deliveries a second).  The
# other ticks find nothing due and run the bare tick path.
#
# After a warm-up, the private memory (RssAnon of /proc/<pid>/status: VmRSS
# also counts the shared buffers a process has touched, which grows
# legitimately) and the memory contexts (pg_log_backend_memory_contexts) of
# the scheduler and of the delivery worker are read; again after the
# measured phase (2500 ticks, or 80 s at most).  The figures are printed as
#   # soak: N ticks in S s (...), ... scheduler RssAnon A kB -> B kB ...
# (run with KEEP=1 to keep the output: the harness prints it only when a
# test fails).
use strict;
use warnings;
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use TriplSink;

# The measured phase runs until this many ticks, or for at most this long
my $target_ticks = 2500;
my $min_ticks = 2000;
my $max_seconds = 80;

# Bounds on the growth over the measured phase.  A leak of 1 kB per tick is
# 2-2.5 MB over it, so it fails both; the scheduler's contexts catch even
# ~100 bytes per tick.  Steady state moves RssAnon by a few hundred kB at
# most (malloc's arena, the working set of one detection).
my $rss_bound_kb = 1024;
my $context_bound = 256 * 1024;

my $node = PostgreSQL::Test::Cluster->new('soak');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tripl'
# off while the database is set up; on for the soak
tripl.scheduler = off
tripl.tick_interval = '10ms'
# the run log must keep every tick of the soak (the mock clock runs ahead)
tripl.run_retention = '30d'
tripl.allow_private_destinations = on
tripl.delivery_timeout = '2s'
max_worker_processes = 16
});
$node->start;
my $sink = TriplSink->start($node->basedir . '/sink');
# receivers answer with a body, which tripl keeps (up to 1 kB) as last_response
# for "hook" (a destination with a secret, "hook2", keeps none)
$sink->plan([], { status => 200, body => '{"ok": true, "note": "' . ('accepted ' x 100) . '"}' });

sub sql { my ($q) = @_; return $node->safe_psql('soak', $q) }

# RssAnon, VmRSS, VmHWM of a process, in kB
sub proc_mem
{
	my ($pid) = @_;
	my %m;
	open(my $fh, '<', "/proc/$pid/status") or return undef;
	while (<$fh>)
	{
		$m{$1} = $2 if /^(RssAnon|VmRSS|VmHWM):\s+(\d+) kB/;
	}
	close $fh;
	return \%m;
}

# A process's memory contexts (pg_log_backend_memory_contexts), in bytes:
# [the grand total, the part that outlives a tick].  The request is served
# at the process's next interrupt check, which may be inside a tick: the
# transaction's and the tick loop's contexts (both reset after every tick)
# are left out of the second figure.
sub contexts
{
	my ($pid) = @_;
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	$node->wait_for_log(qr/\[$pid\] LOG:  Grand total: /, $offset);
	my ($grand, $kept, $skip_below) = (0, 0, undef);
	foreach my $line (split /\n/, slurp_file($node->logfile, $offset))
	{
		next unless $line =~ /\[$pid\] LOG:  (.*)/;
		my $msg = $1;
		if ($msg =~ /^Grand total: (\d+) bytes/)
		{
			$grand = $1;
			last;
		}
		next unless $msg =~ /^level: (\d+); (.*?): (\d+) total in/;
		my ($level, $name, $bytes) = ($1, $2, $3);
		next if defined $skip_below && $level > $skip_below;
		$skip_below = undef;
		if ($name =~ /^(TopTransactionContext|PortalContext|tripl scheduler loop)$/)
		{
			$skip_below = $level;
			next;
		}
		$kept += $bytes;
	}
	return [ $grand, $kept ];
}

sub ts { return strftime('%Y-%m-%d %H:%M:%S+00', gmtime($_[0])) }

# 1. The database: two sources, six metrics, two webhooks and two rules.
#    The mock clock starts at the current minute, so that the run log's
#    retention (against the mock clock) never prunes the soak's ticks.
my $t0 = int(time() / 60) * 60;
$node->safe_psql('postgres', 'CREATE DATABASE soak');
sql(q{
	CREATE EXTENSION tripl;
	CREATE TABLE orders (ts timestamptz NOT NULL, user_id int NOT NULL, amount numeric NOT NULL,
		country text NOT NULL);
	CREATE TABLE app_events (ts timestamptz NOT NULL, name text NOT NULL, user_id int NOT NULL);
	-- the rows of the minutes in [m0, m1): 50..70 orders a minute, five
	-- times as many every 40th minute (a spike) and a tenth twenty minutes
	-- later (a drop); 80 events a minute, a quarter of them purchases.
	-- With a day of 1-minute history the detector judges by its rolling
	-- baseline (the previous 14 minutes, spikes included): 20 minutes
	-- apart, no spike widens the baseline a drop is judged by
	CREATE FUNCTION soak_fill(m0 timestamptz, m1 timestamptz) RETURNS void LANGUAGE sql AS $$
		INSERT INTO orders
		SELECT mm + (i % 60) * interval '1 second', (i * 7919 + n) % 500, 10 + i % 17,
			(ARRAY['DE', 'FR', 'US', 'GB', 'NL'])[1 + i % 5]
		FROM generate_series(m0, m1 - interval '1 minute', interval '1 minute') mm,
			LATERAL (SELECT extract(epoch FROM mm)::bigint / 60 AS n) minute,
			generate_series(1, (50 + n * 37 % 21) * CASE n % 40 WHEN 0 THEN 50 WHEN 20 THEN 1 ELSE 10 END / 10) i;
		INSERT INTO app_events
		SELECT mm + (i % 60) * interval '1 second', CASE WHEN i % 4 = 0 THEN 'Purchase' ELSE 'Visit' END,
			(i * 31 + extract(epoch FROM mm)::int / 60) % 300
		FROM generate_series(m0, m1 - interval '1 minute', interval '1 minute') mm, generate_series(1, 80) i;
	$$;
});
sql(qq{
	SET tripl.mock_now = '@{[ ts($t0) ]}';
	SELECT soak_fill(to_timestamp($t0) - interval '1 day', to_timestamp($t0));
	SELECT tripl.create_fact_table('orders', 'SELECT ts, user_id, amount, country FROM orders', 'ts', '{user_id}');
	SELECT tripl.create_event_source('app', 'SELECT ts, name, user_id FROM app_events', 'ts', 'name', 'user_id');
	SELECT tripl.create_metric('orders', 'fact', '1 minute', fact_table => 'orders', aggregation => 'count');
	SELECT tripl.create_metric('revenue', 'fact', '1 minute', fact_table => 'orders', aggregation => 'sum',
		measure_column => 'amount');
	SELECT tripl.create_metric('buyers', 'fact', '1 minute', fact_table => 'orders',
		aggregation => 'count_distinct', distinct_column => 'user_id');
	SELECT tripl.create_metric('orders_by_country', 'fact', '1 minute', fact_table => 'orders',
		aggregation => 'count', breakdowns => '{country}');
	SELECT tripl.create_metric('aov', 'fact', '1 minute',
		numerator => '{"fact_table": "orders", "aggregation": "sum", "measure_column": "amount"}',
		denominator => '{"fact_table": "orders", "aggregation": "count"}');
	SELECT tripl.create_metric('conversion', 'event_composition', '1 minute', event_source => 'app',
		numerator_event => 'Purchase', denominator_event => 'Visit');
	SELECT tripl.set_monitoring(settling_minutes => 2);
	-- every anomaly to one webhook (one message per pass), two metrics' to another
	SELECT tripl.create_destination('hook', 'webhook', '@{[ $sink->url('/all') ]}');
	SELECT tripl.create_destination('hook2', 'webhook', '@{[ $sink->url('/orders') ]}',
		secret => 'soak-secret', secret_header => 'X-Soak-Token');
	SELECT tripl.create_alert_rule('all', 'hook', cooldown => '1 minute');
	SELECT tripl.create_alert_rule('orders', 'hook2', metrics => '{orders, revenue}', cooldown => '1 minute');
	-- the day of history, collected at once (the scheduler would start 30 buckets back)
	SELECT count(*) FROM tripl.collect(window_from => to_timestamp($t0) - interval '1 day',
		window_to => to_timestamp($t0));
});
is(sql(q{SELECT count(*) FROM tripl.metric_values}), 6 * 1440, 'a day of history for six metrics');

# The driver: one more (mock) minute of rows and a test message to each
# webhook (so that the delivery worker has a steady load besides the
# alerts), then the clock past the minute's end
my $minute = $t0;			# the open minute: filled next
sub step
{
	$node->safe_psql('soak', sprintf(
		"SELECT soak_fill(to_timestamp(%d), to_timestamp(%d));\n"
		  . "SELECT tripl.test_destination('hook'), tripl.test_destination('hook2');\n"
		  . "ALTER SYSTEM SET tripl.mock_now = '%s';\nSELECT pg_reload_conf();",
		$minute, $minute + 60, ts($minute + 65)));
	$minute += 60;
}

sub ticks { return sql(q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick'}) }
sub sent { return sql(q{SELECT count(*) FROM tripl.deliveries WHERE status = 'sent'}) }
sub alerts_sent
{
	return sql(q{SELECT count(*) FROM tripl.deliveries WHERE status = 'sent' AND payload->>'event' = 'tripl.alert'});
}

sub worker_pids
{
	return split /\|/, $node->safe_psql('postgres', q{
		SELECT (SELECT pid FROM pg_stat_activity WHERE backend_type = 'tripl scheduler' AND datname = 'soak'),
			(SELECT pid FROM pg_stat_activity WHERE backend_type = 'tripl delivery' AND datname = 'soak')});
}

# 2. Scheduler on: warm up until every path has run (collections,
#    detections, spikes and drops sent to both webhooks) and at least 300
#    ticks
$node->safe_psql('soak', qq{ALTER SYSTEM SET tripl.mock_now = '@{[ ts($t0 + 5) ]}';
	ALTER SYSTEM SET tripl.scheduler = on;
	SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM pg_stat_activity
	WHERE backend_type IN ('tripl scheduler', 'tripl delivery') AND datname = 'soak'}),
	'the scheduler and the delivery worker start');
my ($sched_pid, $deliv_pid) = worker_pids();
my $t_warm = time;
while (time - $t_warm < 60)
{
	step();
	usleep(300_000);
	last if $minute - $t0 >= 30 * 60 && ticks() >= 300 && alerts_sent() >= 4;
}
my $warm_ticks = ticks();
ok($warm_ticks >= 300 && alerts_sent() >= 4, "warm-up: $warm_ticks ticks, " . alerts_sent() . ' alerts sent');

# 3. The measured phase.  Memory is read after half a second without new
#    rows, when the ticks find nothing due, so that no collection's working
#    set is counted.
usleep(500_000);
my %before = (sched => proc_mem($sched_pid), deliv => proc_mem($deliv_pid),
	sched_cxt => contexts($sched_pid), deliv_cxt => contexts($deliv_pid));
my $ticks0 = ticks();
my $run0 = sql(q{SELECT max(id) FROM tripl.runs});
my $sent0 = sent();
my $alerts0 = alerts_sent();
my $minute0 = $minute;
my $start = time;
my @samples;
while (1)
{
	step();
	usleep(300_000);
	next if (($minute - $minute0) / 60) % 10;
	my $n = ticks() - $ticks0;
	push @samples, sprintf('%d:%d', $n, proc_mem($sched_pid)->{RssAnon});
	last if $n >= $target_ticks || time - $start >= $max_seconds;
}
my $elapsed = time - $start;
usleep(500_000);
my $ticks = ticks() - $ticks0;
my $steps = ($minute - $minute0) / 60;
my %after = (sched => proc_mem($sched_pid), deliv => proc_mem($deliv_pid),
	sched_cxt => contexts($sched_pid), deliv_cxt => contexts($deliv_pid));
my $sent = sent() - $sent0;
my $alerts = alerts_sent() - $alerts0;

my $summary = sprintf('soak: %d ticks in %.0f s (%d of them collecting), %d deliveries sent (%d alerts), '
	  . 'scheduler RssAnon %d kB -> %d kB (VmHWM %d kB), contexts %d -> %d bytes; '
	  . 'delivery worker RssAnon %d kB -> %d kB (VmHWM %d kB), contexts %d -> %d bytes',
	$ticks, $elapsed, $steps, $sent, $alerts,
	$before{sched}{RssAnon}, $after{sched}{RssAnon}, $after{sched}{VmHWM},
	$before{sched_cxt}[1], $after{sched_cxt}[1],
	$before{deliv}{RssAnon}, $after{deliv}{RssAnon}, $after{deliv}{VmHWM},
	$before{deliv_cxt}[1], $after{deliv_cxt}[1]);
note $summary;
note sprintf('scheduler VmRSS %d kB -> %d kB (with the shared buffers it touched); '
	  . 'contexts grand total %d -> %d bytes (with a tick\'s transient ones if it was in one)',
	$before{sched}{VmRSS}, $after{sched}{VmRSS}, $before{sched_cxt}[0], $after{sched_cxt}[0]);
note 'scheduler RssAnon along the way (ticks:kB): ' . join(' ', @samples);

# 4. The checks
my ($sched_pid2, $deliv_pid2) = worker_pids();
is($sched_pid2, $sched_pid, 'the same scheduler process throughout (no crash, no restart)');
is($deliv_pid2, $deliv_pid, 'the same delivery worker throughout');
ok($ticks >= $min_ticks, "at least $min_ticks ticks in the measured phase ($ticks)");
is(sql(q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick' AND (error IS NOT NULL OR metrics_failed > 0)}),
	'0', 'no tick had an error');
is(sql(q{SELECT count(*) FROM tripl.runs WHERE kind = 'tick' AND skipped}), '0', 'no tick was skipped');
ok(sql(qq{SELECT count(*) FROM tripl.runs WHERE kind = 'tick' AND metrics_collected > 0
	AND id > $run0}) >= $steps * 0.9,
	'the ticks collected as the rows came');
ok($alerts > 0, "alerts were delivered during the soak ($alerts)");
is(sql(q{SELECT count(*) FROM tripl.deliveries WHERE status = 'dead' OR (status = 'pending' AND attempts > 0)}),
	'0', 'no delivery failed');
my $received = () = $sink->requests;
ok($received >= sent(), "the receiver got every sent delivery ($received requests)");

# every metric has a value for every minute of the soak, and they are right
ok($node->poll_query_until('soak', qq{SELECT bool_and(watermark >= to_timestamp($minute)) FROM tripl.metric_state}),
	'the scheduler catches up with the last minute');
is(sql(qq{SELECT string_agg(m.name || '=' || (SELECT count(*) FROM tripl.metric_values v
	WHERE v.metric_id = m.id AND v.bucket >= to_timestamp($t0)), ' ' ORDER BY m.id) FROM tripl.metrics m}),
	join(' ', map { "$_=" . (($minute - $t0) / 60) } qw(orders revenue buyers orders_by_country aov conversion)),
	'every metric has a value for every minute of the soak');
is(sql(qq{SELECT count(*) FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
	JOIN (SELECT date_bin('1 minute', ts, '1970-01-01 00:00+00') AS b, count(*) AS c FROM orders GROUP BY 1) h
	ON h.b = v.bucket AND h.c = v.value WHERE m.name = 'orders' AND v.bucket >= to_timestamp($t0)}),
	($minute - $t0) / 60, 'and the counts equal a hand count');
is(sql(qq{SELECT count(DISTINCT breakdown_value) FROM tripl.metric_breakdowns WHERE bucket >= to_timestamp($t0)}),
	'5', 'the breakdown by country is collected');
my $anomalies = sql(qq{SELECT string_agg(direction || ' ' || n, ', ' ORDER BY direction) FROM
	(SELECT direction, count(DISTINCT bucket) AS n FROM tripl.anomalies WHERE bucket >= to_timestamp($t0) GROUP BY 1) a});
like($anomalies, qr/^drop \d+, spike \d+$/, "the spikes and drops of the soak are detected ($anomalies minutes)");

# the memory
foreach my $w ([ 'scheduler', 'sched' ], [ 'delivery worker', 'deliv' ])
{
	my ($name, $k) = @$w;
	my $growth = $after{$k}{RssAnon} - $before{$k}{RssAnon};
	ok($growth < $rss_bound_kb, "$name: RssAnon grew by $growth kB (< $rss_bound_kb kB)");
	$growth = $after{"${k}_cxt"}[1] - $before{"${k}_cxt"}[1];
	ok($growth < $context_bound, "$name: its memory contexts grew by $growth bytes (< $context_bound)");
}

$sink->stop;
$node->stop;
done_testing();

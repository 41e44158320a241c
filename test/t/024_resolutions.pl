# Resolutions over real HTTP to a receiver on 127.0.0.1: an incident is
# created, still active, then closed; every destination type gets exactly
# one alert and one resolution, across a receiver outage and a crash after
# the resolution was enqueued; PagerDuty's trigger and resolve share one
# dedup key; the Teams Adaptive Card's shape and escaping, and Teams'
# answers (429 with Retry-After, 400 with an error body).
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TriplSink;

my $node = PostgreSQL::Test::Cluster->new('resolutions');
$node->init;
$node->append_conf('postgresql.conf', qq{
tripl.allow_private_destinations = on
tripl.delivery_timeout = '2s'
tripl.delivery_connect_timeout = '1s'
tripl.delivery_lease = '3s'
tripl.delivery_retry_base = '10s'
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION tripl');
my $sink = TriplSink->start($node->basedir);

sub sql { $node->safe_psql('postgres', $_[0]) }

sub deliver_at { sql("SET tripl.mock_now = '$_[0]'; SELECT tripl.deliver()") }

# the recorded requests by path (without the query), bodies decoded
sub by_path
{
	my %r;
	foreach my $q ($sink->requests)
	{
		(my $p = $q->{path}) =~ s/\?.*//;
		$p =~ s{/bot[^/]+/sendMessage}{/tg};
		push @{ $r{$p} }, decode_json($q->{body});
	}
	return \%r;
}

sql("SELECT tripl.create_destination('hook', 'webhook', '" . $sink->url('/hook') . "')");
sql("SELECT tripl.create_destination('pd', 'pagerduty', '" . $sink->url('/pd') . "', secret => 'routing-key')");
sql("SELECT tripl.create_destination('chat', 'slack', '" . $sink->url('/slack') . "')");
sql("SELECT tripl.create_destination('tg', 'telegram', '" . $sink->url('') . "', secret => '123:abc', chat_id => '-42')");
sql("SELECT tripl.create_destination('team', 'teams', '" . $sink->url('/teams?sig=t3amsS3cret') . "')");
sql(q{
	CREATE TABLE orders (created_at timestamptz NOT NULL);
	SELECT tripl.create_fact_table('orders', 'SELECT created_at FROM orders', 'created_at');
	SELECT tripl.create_metric('a_count', 'fact', fact_table => 'orders', aggregation => 'count', unit => 'orders');
	SELECT tripl.create_alert_rule('r_hook', 'hook');
	SELECT tripl.create_alert_rule('r_pd', 'pd');
	SELECT tripl.create_alert_rule('r_chat', 'chat');
	SELECT tripl.create_alert_rule('r_tg', 'tg');
	SELECT tripl.create_alert_rule('r_team', 'team', message_template => '*{{metric}}* [x](http://evil.example) {{items}}');
	SELECT tripl.create_alert_rule('r_quiet', 'hook', notify_on_resolve => false);
	INSERT INTO tripl.metric_values SELECT m.id, b, 100 FROM tripl.metrics m,
	    generate_series('2026-02-01 00:00+00'::timestamptz, '2026-02-01 12:00+00', '1 hour') b;
	INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 10:00+00', 40, 100, 8, 10, -6, 'phase', 'drop' FROM tripl.metrics;
});

# 1. created: one alert per destination (r_quiet's goes to the webhook too)
is(sql(q{SET tripl.mock_now = '2026-02-01 12:05+00'; SELECT string_agg(event || ' ' || sent, ',') FROM tripl.evaluate_alerts()}),
	join(',', ('created true') x 6), 'created: every rule sends');
is(deliver_at('2026-02-01 12:05+00'), '6', 'six alerts are sent');
my $r = by_path();
is(scalar(@{ $r->{'/hook'} }), 2, 'the webhook got two (r_hook and r_quiet)');
my $incident = sql(q{SELECT incident_id FROM tripl.alert_state s JOIN tripl.alert_rules r ON r.id = s.rule_id WHERE r.name = 'r_pd'});
is($r->{'/pd'}[0]{event_action} . ' ' . $r->{'/pd'}[0]{dedup_key}, "trigger $incident",
	'PagerDuty: a trigger with the incident id as dedup key');

# the Teams card (Adaptive Card 1.5 in a message attachment)
my $card = $r->{'/teams'}[0];
is($card->{type}, 'message', 'Teams: a message');
is($card->{attachments}[0]{contentType}, 'application/vnd.microsoft.card.adaptive', '... with an Adaptive Card attachment');
my $c = $card->{attachments}[0]{content};
is($c->{type} . ' ' . $c->{version}, 'AdaptiveCard 1.5', '... version 1.5');
is($c->{body}[0]{type} . ': ' . $c->{body}[0]{text}, 'TextBlock: tripl alert r\_team', 'its title (Markdown-escaped)');
is($c->{body}[1]{text}, '*a\_count* [x](http://evil.example) a\_count drop: 40 orders, expected 100 \\(-60.0%\\) at 2026-02-01 10:00 UTC',
	'the message: template text as written, values escaped');
my $table = $c->{body}[2];
is($table->{type}, 'Table', 'a table of the anomalies');
is(scalar(@{ $table->{rows} }), 2, '... a header row and one anomaly');
is(join('|', map { $_->{items}[0]{text} } @{ $table->{rows}[1]{cells} }),
	'a\_count|drop|40 orders|100|-60.0%|2026-02-01 10:00 UTC|open', '... its cells');

# 2. still active (a newer anomaly within the cooldown): nothing new
sql(q{INSERT INTO tripl.metric_values SELECT id, '2026-02-01 13:00+00', 100 FROM tripl.metrics;
	INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 11:00+00', 20, 100, 8, 10, -8, 'phase', 'drop' FROM tripl.metrics});
is(sql(q{SET tripl.mock_now = '2026-02-01 14:05+00'; SELECT string_agg(DISTINCT event || ' ' || sent, ',') FROM tripl.evaluate_alerts()}),
	'still_active false', 'still active: nothing is sent');

# 3. the receiver is down when the incident closes; the server crashes
#    right after the resolutions were enqueued
$sink->reset;
$sink->stop;
sql(q{INSERT INTO tripl.metric_values SELECT id, b, 100 FROM tripl.metrics,
	generate_series('2026-02-01 14:00+00'::timestamptz, '2026-02-01 16:00+00', '1 hour') b});
is(sql(q{SET tripl.mock_now = '2026-02-01 17:05+00'; SELECT string_agg(rule || ' ' || event || ' ' || sent, ',' ORDER BY rule) FROM tripl.evaluate_alerts()}),
	'r_chat closed true,r_hook closed true,r_pd closed true,r_quiet closed false,r_team closed true,r_tg closed true',
	'closed: a resolution for every rule but the one with notify_on_resolve off');
$node->stop('immediate');
$node->start;
is(sql(q{SELECT count(*) FROM tripl.deliveries WHERE kind = 'resolution' AND status = 'pending'}), '5',
	'the five resolutions survived the crash');
is(deliver_at('2026-02-01 17:05+00'), '0', 'receiver down: nothing sent');
is(sql(q{SELECT string_agg(DISTINCT status, ',') FROM tripl.deliveries WHERE kind = 'resolution'}), 'pending',
	'... they wait for a retry');
sql(q{SET tripl.mock_now = '2026-02-01 17:06+00'; SELECT * FROM tripl.evaluate_alerts()});
is(sql(q{SELECT count(*) FROM tripl.deliveries WHERE kind = 'resolution'}), '5', 'evaluating again enqueues none');
$sink->restart;
is(deliver_at('2026-02-01 17:30+00'), '5', 'receiver back: the five resolutions are sent');
is(deliver_at('2026-02-01 18:30+00'), '0', '... and nothing more');
$r = by_path();
is(join(',', map { "$_=" . scalar(@{ $r->{$_} }) } sort keys %$r), '/hook=1,/pd=1,/slack=1,/teams=1,/tg=1',
	'exactly one resolution per destination');
is($r->{'/pd'}[0]{event_action} . ' ' . $r->{'/pd'}[0]{dedup_key}, "resolve $incident",
	'PagerDuty: a resolve with the trigger\'s dedup key');
is($r->{'/pd'}[0]{routing_key}, 'routing-key', '... and the routing key');
# the peak is the 11:00 anomaly (20 vs 100, z -8), the incident lasted 12:05-17:05
my $line = 'a_count drop resolved after 5h 0m: peak 20 orders, expected 100 (-80.0%) at 2026-02-01 11:00 UTC';
is($r->{'/hook'}[0]{event} . ' | ' . $r->{'/hook'}[0]{message}, "tripl.resolved | tripl resolved r_hook: $line",
	'webhook: tripl.resolved with duration and peak');
is($r->{'/hook'}[0]{items}[0]{duration_seconds} . ' ' . $r->{'/hook'}[0]{items}[0]{incident_id},
	'18000 ' . sql(q{SELECT incident_id FROM tripl.alert_state s JOIN tripl.alert_rules r ON r.id = s.rule_id WHERE r.name = 'r_hook'}),
	'... its item: the duration and the incident');
is($r->{'/slack'}[0]{blocks}[0]{text}{text}, '*tripl resolved* r_chat', 'Slack: a resolved header');
is($r->{'/slack'}[0]{text}, "tripl resolved r_chat: $line", '... and text');
is($r->{'/tg'}[0]{text}, "<b>tripl resolved r_tg</b>: $line", 'Telegram: the resolved message');
$c = $r->{'/teams'}[0]{attachments}[0]{content};
is($c->{body}[0]{text}, 'tripl resolved r\_team', 'Teams: a resolved card');
is($c->{body}[2]{rows}[1]{cells}[6]{items}[0]{text}, 'resolved after 5h 0m \(peak\)', '... its table says so');

# 4. Teams' answers: 429 with Retry-After waits, a 400 with an error body is final
$sink->reset;
$sink->plan([ { status => 429, retry_after => '120', body => { error => { code => 'TooManyRequests' } } },
	{ status => 400, body => { error => { code => 'InvalidRequestContent', message => 'bad card' } } } ],
	{ status => 202 });
my $id = sql(q{SET tripl.mock_now = '2026-02-02 00:00+00'; SELECT tripl.test_destination('team')});
deliver_at('2026-02-02 00:00+00');
is(sql("SELECT status || ' ' || last_http_status || ' ' || (next_attempt_at >= '2026-02-02 00:02+00') FROM tripl.deliveries WHERE id = $id"),
	'pending 429 true', 'Teams 429: retried after its Retry-After');
deliver_at('2026-02-02 00:03+00');
is(sql("SELECT status || ' ' || last_http_status || ' ' || last_response FROM tripl.deliveries WHERE id = $id"),
	'dead 400 response body not stored: destination has a secret', 'Teams 400: dead (the URL is a secret: no body kept)');
my @q = $sink->requests;
is(scalar(grep { index($_->{path}, 'sig=t3amsS3cret') >= 0 } @q), 2, 'both requests went to the workflow URL');
is(decode_json($q[0]{body})->{attachments}[0]{content}{body}[0]{text}, 'tripl test message',
	'a test message is a card too');

$sink->stop;
$node->stop;
done_testing();

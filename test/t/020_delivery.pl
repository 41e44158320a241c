# Alert delivery over real HTTP to a receiver on 127.0.0.1: a real anomaly
# end to end, retries with one idempotency key, Retry-After, permanent
# failures, crashes before and after sending, slow receivers, the
# private-address guard after DNS, a bulk send, secrets that receivers
# echo, and retries timed from the failure.
use strict;
use warnings;
use Encode;
use JSON::PP;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use TriplSink;

my $node = PostgreSQL::Test::Cluster->new('delivery');
$node->init;
$node->append_conf('postgresql.conf', qq{
tripl.allow_private_destinations = on
tripl.delivery_timeout = '2s'
tripl.delivery_connect_timeout = '1s'
tripl.delivery_lease = '3s'
tripl.delivery_retry_base = '10s'
tripl.delivery_retry_cap = '10min'
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION tripl');
my $sink = TriplSink->start($node->basedir);

sub sql { $node->safe_psql('postgres', $_[0]) }

# deliver at a (mock) time; returns how many were sent
sub deliver_at
{
	my ($t) = @_;
	return sql(($t ? "SET tripl.mock_now = '$t'; " : '') . 'SELECT tripl.deliver()');
}

sub delivery
{
	my ($id) = @_;
	my @f = split /\|/, sql("SELECT status, attempts, coalesce(last_http_status::text, ''), "
		  . "coalesce(last_error, ''), idempotency_key FROM tripl.deliveries WHERE id = $id");
	return { status => $f[0], attempts => $f[1], http => $f[2], error => $f[3], key => $f[4] };
}

sql("SELECT tripl.create_destination('hook', 'webhook', '" . $sink->url('/alerts') . "', "
	  . "secret => 'hook-secret', secret_header => 'X-Hook-Token')");

# 1. A real anomaly, end to end: collect -> detect -> evaluate -> deliver
sql(q{
	CREATE TABLE visits (ts timestamptz NOT NULL);
	INSERT INTO visits
	SELECT h + (i * interval '30 seconds')
	FROM generate_series('2026-03-01 00:00+00'::timestamptz, '2026-03-21 23:00+00', '1 hour') h,
	     generate_series(1, 100) i;
	INSERT INTO visits SELECT '2026-03-21 21:10+00' FROM generate_series(1, 300);
	SELECT tripl.create_fact_table('visits', 'SELECT ts FROM visits', 'ts');
	SELECT tripl.create_metric('visits', 'fact', fact_table => 'visits', aggregation => 'count', unit => 'visits');
	SELECT tripl.create_alert_rule('all_metrics', 'hook');
});
is(sql(q{SET tripl.mock_now = '2026-03-22 00:10+00';
	SELECT count(*) FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-22 00:00+00')
	WHERE status = 'success'}), '1', 'the metric is collected');
is(sql(q{SET tripl.mock_now = '2026-03-22 00:10+00'; SELECT anomalies FROM tripl.detect()}), '1',
	'detection finds the one spike');
is(sql(q{SELECT bucket AT TIME ZONE 'UTC' || ' ' || direction || ' ' || actual || ' ' || round(expected)
	FROM tripl.anomalies}), '2026-03-21 21:00:00 spike 400 100', 'the spike at 21:00, 400 against 100');
is(sql(q{SET tripl.mock_now = '2026-03-22 00:10+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'created true', 'the rule matches and sends');
is(deliver_at('2026-03-22 00:10+00'), '1', 'tripl.deliver() sends it');
my @reqs = $sink->requests;
is(scalar(@reqs), 1, 'the receiver got one request');
my $body = decode_json($reqs[0]{body});
is($reqs[0]{path}, '/alerts', '... on the webhook path');
is($body->{items}[0]{scope_name} . ' ' . $body->{items}[0]{direction} . ' ' . $body->{items}[0]{actual_count},
	'visits spike 400', '... about the spike');
is(TriplSink::header($reqs[0], 'X-Hook-Token'), 'hook-secret', '... with the secret header');
is(TriplSink::header($reqs[0], 'Idempotency-Key'), sql('SELECT idempotency_key FROM tripl.deliveries'),
	'... and the delivery\'s idempotency key');
is(sql("SELECT status || ' ' || last_http_status FROM tripl.deliveries"), 'sent 200', 'the delivery is recorded as sent');
like(sql('SELECT last_error IS NULL FROM tripl.deliveries'), qr/t/, 'no error is kept for it');

# 1b. PagerDuty: one event per incident, its summary (at most 1000 bytes)
#     cut on a character boundary; Slack: a test message says so in its
#     header, and texts escape only &, < and >
$sink->reset;
sql("SELECT tripl.create_destination('pd', 'pagerduty', '" . $sink->url('/pd') . "', secret => 'routing-key-1')");
sql(q{SELECT tripl.create_alert_rule('pd_rule', 'pd', message_template => repeat('x', 999) || 'é {{metric}} <&> "q"')});
is(sql(q{SET tripl.mock_now = '2026-03-22 00:10+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()
	WHERE rule = 'pd_rule'}), 'created true', 'a PagerDuty rule matches the spike');
is(deliver_at('2026-03-22 00:10+00'), '1', 'the PagerDuty event is sent');
@reqs = grep { $_->{path} eq '/pd' } $sink->requests;
is(scalar(@reqs), 1, 'the receiver got it');
my $pd = eval { JSON::PP->new->utf8->decode(MIME::Base64::decode_base64($reqs[0]{body_base64})) };
ok(defined $pd, 'its body is valid UTF-8 JSON') or diag($@);
my $summary = $pd ? $pd->{payload}{summary} : '';
{
	use bytes;
	is(length(Encode::encode('UTF-8', $summary)), 999, 'the summary is cut to 999 bytes, before the 2-byte "é" at byte 1000');
}
is($summary, 'x' x 999, '... and is the text up to it');
is($pd ? $pd->{routing_key} . ' ' . $pd->{event_action} : '', 'routing-key-1 trigger', 'with the routing key');
sql(q{SELECT tripl.drop_alert_rule('pd_rule')});

sql("SELECT tripl.create_destination('chat', 'slack', '" . $sink->url('/slack') . "')");
sql(q{SELECT tripl.test_destination('chat')});
is(deliver_at(undef), '1', 'a Slack test message is sent');
@reqs = grep { $_->{path} eq '/slack' } $sink->requests;
my $slack = eval { decode_json($reqs[0]{body}) };
is($slack ? $slack->{blocks}[0]{text}{text} : '', '*tripl test message*', 'its header says it is a test message');
is($slack ? $slack->{text} : '', 'tripl test message for destination "chat" in database "postgres"',
	'its text keeps quotes as they are (Slack decodes only &amp; &lt; &gt;)');

# 2. The receiver fails twice, then accepts: one delivery, one key throughout
$sink->reset;
$sink->plan([ { status => 503, count => 2 } ], { status => 200 });
my $id = sql(q{SET tripl.mock_now = '2026-03-22 01:00:00+00'; SELECT tripl.test_destination('hook')});
is(deliver_at('2026-03-22 01:00:00+00'), '0', 'first attempt: 503');
my $d = delivery($id);
is("$d->{status} $d->{attempts} $d->{http}", 'pending 1 503', 'pending after one attempt, status kept');
# the backoff counts from the failure: the mock time plus the (short) time
# the pass took to see the 503
is(sql("SELECT extract(epoch FROM next_attempt_at - '2026-03-22 01:00+00') BETWEEN 8.75 AND 12.25 FROM tripl.deliveries WHERE id = $id"),
	't', 'next attempt after the 10 s base backoff with jitter');
is(deliver_at('2026-03-22 01:00:05+00'), '0', 'not retried before its time');
is(scalar($sink->requests), 1, '... so the receiver saw one request');
is(deliver_at('2026-03-22 01:01:00+00'), '0', 'second attempt: 503');
is(deliver_at('2026-03-22 01:10:00+00'), '1', 'third attempt: accepted');
@reqs = $sink->requests;
is(scalar(@reqs), 3, 'three requests in all');
my %keys = map { TriplSink::header($_, 'Idempotency-Key') => 1 } @reqs;
is_deeply([ keys %keys ], [ delivery($id)->{key} ], 'every attempt carried the same idempotency key');
is(join(',', map { TriplSink::header($_, 'X-Tripl-Attempt') } @reqs), '1,2,3', 'attempts are numbered');
is(delivery($id)->{status}, 'sent', 'recorded as sent once');

# 2b. The receiver is down (connection refused), then back
$sink->stop;
$id = sql(q{SET tripl.mock_now = '2026-03-22 02:00+00'; SELECT tripl.test_destination('hook')});
is(deliver_at('2026-03-22 02:00+00'), '0', 'receiver down: nothing sent');
$d = delivery($id);
is($d->{status}, 'pending', 'a network error is retried');
like($d->{error}, qr/connect|refused/i, '... and its error kept: ' . $d->{error});
$sink->restart;
is(deliver_at('2026-03-22 02:10+00'), '1', 'receiver back: sent');
is(scalar($sink->requests), 1, 'exactly one accepted request');

# 3. Retry-After is honoured
$sink->reset;
$sink->plan([ { status => 429, retry_after => '300' } ], { status => 200 });
$id = sql(q{SET tripl.mock_now = '2026-03-22 03:00+00'; SELECT tripl.test_destination('hook')});
is(deliver_at('2026-03-22 03:00+00'), '0', '429 with Retry-After: 300');
is(sql("SELECT extract(epoch FROM next_attempt_at - '2026-03-22 03:00+00') >= 300 FROM tripl.deliveries WHERE id = $id"),
	't', 'the next attempt waits at least the 300 s asked for');
is(deliver_at('2026-03-22 03:04:00+00'), '0', 'not before');
is(scalar($sink->requests), 1, '... no request before then');
is(deliver_at('2026-03-22 03:06:00+00'), '1', 'sent after the wait');

# 4. A permanent 4xx is dead at once; too many attempts are dead too
$sink->reset;
$sink->plan([ { status => 404 } ], { status => 200 });
$id = sql(q{SET tripl.mock_now = '2026-03-22 04:00+00'; SELECT tripl.test_destination('hook')});
deliver_at('2026-03-22 04:00+00');
$d = delivery($id);
is("$d->{status} $d->{attempts} $d->{http} $d->{error}", 'dead 1 404 HTTP status 404', '404: dead after one attempt');
deliver_at('2026-03-22 05:00+00');
is(scalar($sink->requests), 1, 'a dead delivery is not retried');
$sink->reset;
$sink->plan([ { status => 500, count => 5 } ], { status => 200 });
$id = sql(q{SET tripl.mock_now = '2026-03-22 06:00+00'; SELECT tripl.test_destination('hook')});
sql(q{SET tripl.mock_now = '2026-03-22 06:00+00'; SET tripl.delivery_max_attempts = 2; SELECT tripl.deliver()});
sql(q{SET tripl.mock_now = '2026-03-22 06:30+00'; SET tripl.delivery_max_attempts = 2; SELECT tripl.deliver()});
$d = delivery($id);
is("$d->{status} $d->{attempts}", 'dead 2', 'dead after tripl.delivery_max_attempts attempts');
like($d->{error}, qr/gave up after 2 attempts/, '... saying so');

# 5. A crash between enqueue and send loses nothing
$sink->reset;
$id = sql(q{SELECT tripl.test_destination('hook')});
$node->stop('immediate');
$node->start;
is(sql(q{SELECT status FROM tripl.deliveries WHERE id = } . $id), 'pending', 'the enqueued delivery survived the crash');
is(deliver_at(undef), '1', 'and is sent after the restart');
is(scalar($sink->requests), 1, 'once');

# 6. A crash after sending, before recording: resent with the same key
$sink->reset;
$sink->plan([ { action => 'hang', seconds => 15 } ], { status => 200 });
$id = sql(q{SELECT tripl.test_destination('hook')});
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, "\\echo started\nSELECT tripl.deliver();\n");
my $waited = 0;
while (scalar($sink->requests) < 1 && $waited++ < 200) { usleep(50_000) }
is(scalar($sink->requests), 1, 'the receiver has the request (and does not answer)');
$node->stop('immediate');
eval { $bg->quit };
$node->start;
is(delivery($id)->{status}, 'sending', 'after the crash the delivery is still leased (sending)');
# the lease outlives any send: tripl.delivery_lease (3 s here) is raised to
# tripl.delivery_timeout + tripl.delivery_connect_timeout + 10 s = 13 s
my ($lease, $after_raw_lease, $after_lease) = split /\|/, sql(qq{SELECT extract(epoch FROM lease_until - created_at),
	created_at + interval '5 seconds', lease_until + interval '1 second' FROM tripl.deliveries WHERE id = $id});
ok($lease >= 13 && $lease < 15, "the lease is timeout + connect timeout + 10 s ($lease s), not tripl.delivery_lease (3 s)");
is(deliver_at(undef), '0', 'not taken over while its lease runs');
is(deliver_at($after_raw_lease), '0', '... nor once tripl.delivery_lease alone would have run out');
is(deliver_at($after_lease), '1', 'resent once the lease expired');
@reqs = $sink->requests;
is(scalar(@reqs), 2, 'the receiver saw it twice');
is(TriplSink::header($reqs[0], 'Idempotency-Key'), TriplSink::header($reqs[1], 'Idempotency-Key'),
	'with the same idempotency key, so it can drop the duplicate');

# 7. Slow receivers block neither other deliveries nor collection
my $slow = TriplSink->start($node->basedir . '/slow');
$slow->plan([], { action => 'hang', seconds => 20 });
$sink->reset;
sql("SELECT tripl.create_destination('slow', 'webhook', '" . $slow->url('/slow') . "')");
my $slow_id = sql(q{SELECT tripl.test_destination('slow')});
my $fast_id = sql(q{SELECT tripl.test_destination('hook')});
my $t0 = time;
is(deliver_at(undef), '1', 'the fast delivery is sent');
my $elapsed = time - $t0;
ok($elapsed < 10, sprintf('the pass ends at the 2 s timeout, not the receiver\'s 20 s (%.1f s)', $elapsed));
is(delivery($fast_id)->{status}, 'sent', 'fast: sent');
$d = delivery($slow_id);
is($d->{status}, 'pending', 'slow: timed out, to be retried');
like($d->{error}, qr/timed out/i, '... with the timeout as its error');
# a long pass in the background does not hold up collection
$bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, "\\echo started\nSET tripl.delivery_timeout = '15s'; "
	  . "SET tripl.mock_now = '2030-01-01'; SELECT tripl.deliver();\n");
usleep(500_000);
$t0 = time;
is(sql(q{SELECT count(*) FROM tripl.collect('visits', '2026-03-21 00:00+00', '2026-03-22 00:00+00') WHERE status = 'success'}),
	'1', 'collection runs while a delivery pass waits on a slow receiver');
ok(time - $t0 < 5, 'and is not held up by it');
eval { $bg->quit };
$slow->stop;

# 8. The private-address guard after DNS: a host name resolving to 127.0.0.1
$sink->reset;
sql("SELECT tripl.create_destination('byname', 'webhook', 'http://localhost:" . $sink->port . "/byname')");
$id = sql(q{SELECT tripl.test_destination('byname')});
sql(q{SET tripl.allow_private_destinations = off; SELECT tripl.deliver()});
$d = delivery($id);
is($d->{status}, 'dead', 'a name resolving to loopback is refused at connect time');
like($d->{error}, qr/refused to connect to a loopback address/, '... with the reason');
is(scalar($sink->requests), 0, 'and nothing reached the receiver');
my ($ret, $out, $err) = $node->psql('postgres', q{SET tripl.allow_private_destinations = off;
	SELECT tripl.create_destination('literal', 'webhook', 'http://127.0.0.1:9/x')});
like($err, qr/points to a loopback address/, 'a literal loopback address is refused when defined');

# 9. 1 000 deliveries in one pass
$sink->reset;
sql(q{INSERT INTO tripl.deliveries (destination_id, kind, idempotency_key, payload, next_attempt_at, created_at)
	SELECT d.id, 'test', 'bulk-' || i, jsonb_build_object('n', i), now(), now()
	FROM tripl.destinations d, generate_series(1, 1000) i WHERE d.name = 'hook'});
$t0 = time;
is(sql('SELECT tripl.deliver(1000)'), '1000', '1 000 deliveries sent in one pass');
$elapsed = time - $t0;
note(sprintf('throughput: 1000 deliveries in %.2f s = %.0f per second', $elapsed, 1000 / $elapsed));
@reqs = $sink->requests;
my %bulk = map { TriplSink::header($_, 'Idempotency-Key') => 1 } @reqs;
is(scalar(keys %bulk), 1000, 'the receiver got 1 000 distinct deliveries');
is(sql(q{SELECT count(*) FROM tripl.deliveries WHERE idempotency_key LIKE 'bulk-%' AND status = 'sent'}), '1000',
	'all recorded as sent');

# 10. Secrets are never stored, however a receiver echoes them back: the
#     response body of a destination with a secret is not kept (only its
#     status and a note), and error texts lose every trace of the secret

# every trace of $secret in $text: the secret as written, JSON-escaped,
# percent-encoded, base64, or any 8 bytes of it in a row
sub pct { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord($1))/ge; return $s }
sub traces
{
	my ($text, $secret) = @_;
	my $json = JSON::PP->new->allow_nonref->encode($secret);
	$json =~ s/^"|"$//g;
	my @forms = ($secret, $json, pct($secret), lc(pct($secret)), MIME::Base64::encode_base64($secret, ''));
	push @forms, substr($secret, $_, 8) for 0 .. length($secret) - 8;
	return grep { index($text, $_) >= 0 } @forms;
}
sub stored
{
	my ($id) = @_;
	return sql("SELECT coalesce(last_http_status::text, '') || '|' || coalesce(last_error, '') || '|' "
		  . "|| coalesce(last_response, '') FROM tripl.deliveries WHERE id = $id");
}
my $note = 'response body not stored: destination has a secret';
# a quote and a backslash, so that JSON escapes it
my $hook_secret = 'Zq7"Wx\\9/Kp+Lm=T0k3n';
my $slack_path = '/echo-slack/T000/B000/sl4ckS3cretP4rt';
sql("SELECT tripl.create_destination('echo_plain', 'webhook', '" . $sink->url('/echo-plain') . "')");
sql("SELECT tripl.create_destination('echo_hook', 'webhook', '" . $sink->url('/echo') . "', "
	  . "secret => '$hook_secret', secret_header => 'X-Hook-Token')");
sql("SELECT tripl.create_destination('echo_chat', 'slack', '" . $sink->url($slack_path) . "')");

# without a secret the answer is kept, so the receiver's echo is seen
$sink->reset;
$sink->plan([ { status => 500, echo => JSON::PP::true } ], { status => 200 });
$id = sql(q{SELECT tripl.test_destination('echo_plain')});
deliver_at(undef);
like(stored($id), qr/^500\|HTTP status 500\|\{"method": "POST", "path": "\/echo-plain"/,
	'a destination without a secret keeps the (echoed) answer');

# the receiver echoes the request JSON-escaped (and base64, and URL-encoded)
$sink->reset;
$sink->plan([ { status => 500, echo => JSON::PP::true } ], { status => 200 });
$id = sql(q{SELECT tripl.test_destination('echo_hook')});
deliver_at(undef);
@reqs = $sink->requests;
is(TriplSink::header($reqs[0], 'X-Hook-Token'), $hook_secret, 'the receiver got the secret header ...');
is(stored($id), "500|HTTP status 500|$note", '... and echoed it, but only the status and a note are stored');
is(join(', ', traces(stored($id), $hook_secret)), '', 'no trace of the secret is stored');

# the echo is cut at 1 kB 10 bytes into the secret
$sink->reset;
$sink->plan([ { status => 500, echo_header => 'X-Hook-Token', body => 'x' x 1014 } ], { status => 200 });
$id = sql(q{SELECT tripl.test_destination('echo_hook')});
deliver_at(undef);
is(stored($id), "500|HTTP status 500|$note", 'an echo cut inside the secret is not stored either');
is(join(', ', traces(stored($id), $hook_secret)), '', '... no trace of the secret');

# Slack: the secret is the URL; the receiver echoes the path
$sink->reset;
$sink->plan([ { status => 404, echo => JSON::PP::true } ], { status => 200 });
$id = sql(q{SELECT tripl.test_destination('echo_chat')});
deliver_at(undef);
is(($sink->requests)[0]{path}, $slack_path, 'the Slack receiver got the secret path ...');
is(stored($id), "404|HTTP status 404|$note", '... and echoed it, but only the status and a note are stored');
is(join(', ', traces(stored($id), $slack_path)), '', 'no trace of the Slack URL\'s path is stored');

# a connection error to a Slack URL names the host (shown in tripl.destinations anyway), not the path
my $down_path = '/services/T1/B1/d0wnS3cretP4th';
sql("SELECT tripl.create_destination('down_chat', 'slack', 'http://127.0.0.1:" . $slow->port . "$down_path')");
$id = sql(q{SELECT tripl.test_destination('down_chat')});
deliver_at(undef);
$d = delivery($id);
like($d->{error}, qr/connect.*127\.0\.0\.1|127\.0\.0\.1.*connect/i, 'a connection error keeps the host: ' . $d->{error});
is(join(', ', traces($d->{error}, $down_path)), '', '... and has no trace of the secret path');
sql(q{SELECT tripl.alter_destination('down_chat', enabled => false)});

# 11. The next attempt waits its backoff from the failure, not from the
#     start of the pass: a request that times out after 3 s with a 2 s
#     (+-12.5 %) backoff is retried 1.75-2.25 s after the timeout
my $timing = q{SET tripl.delivery_timeout = '3s'; SET tripl.delivery_retry_base = '2s'; };
# the echo tests above leave retries pending (10 s backoff): keep them out of these passes
sql(q{SELECT tripl.alter_destination(name, enabled => false) FROM tripl.destinations WHERE name LIKE 'echo%'});
$sink->reset;
$sink->plan([ { action => 'hang', seconds => 8 } ], { status => 200 });
$id = sql(q{SELECT tripl.test_destination('hook')});
$t0 = time;
is(sql($timing . 'SELECT tripl.deliver()'), '0', 'attempt 1 times out');
my $t1 = time;
ok($t1 - $t0 >= 2.9, sprintf('... after the 3 s timeout (%.2f s)', $t1 - $t0));
my $due = sql("SELECT extract(epoch FROM next_attempt_at) FROM tripl.deliveries WHERE id = $id");
my $wait = $due - $t1;
ok($wait >= 1.75 - 0.5 && $wait <= 2.25,
	sprintf('attempt 2 is due 2 s (+-12.5 %%) after the timeout was seen, not after the pass started (%.2f s after the pass)', $wait));
# deliver until it is sent (on a loaded machine attempt 2 may itself run
# out of time; the backoff is judged on the first two attempts either way)
my $tries = 0;
while (delivery($id)->{status} ne 'sent' && $tries++ < 200)
{
	sql($timing . 'SELECT tripl.deliver()');
	usleep(100_000);
}
@reqs = $sink->requests;
cmp_ok(scalar(@reqs), '>=', 2, 'attempt 2 reached the receiver');
# judged against the due time the failure recorded (the receiver's clock
# is this machine's): on a loaded machine the receiver may note attempt 1
# late, so a gap between the two requests would understate the wait
my $early = $due - $reqs[1]{time};
ok($early <= 0.1, sprintf('attempt 2 reached the receiver no earlier than its due time (%.2f s before it)', $early));
is(delivery($id)->{status}, 'sent', 'sent');

# with tripl.mock_now, the failure is seen at the mock time plus the time
# the pass took, so the backoff still counts from it
$sink->reset;
$sink->plan([ { action => 'hang', seconds => 8 } ], { status => 200 });
$id = sql(q{SET tripl.mock_now = '2026-03-23 00:00+00'; SELECT tripl.test_destination('hook')});
sql($timing . q{SET tripl.mock_now = '2026-03-23 00:00+00'; SELECT tripl.deliver()});
$wait = sql("SELECT extract(epoch FROM next_attempt_at - '2026-03-23 00:00+00') FROM tripl.deliveries WHERE id = $id");
ok($wait >= 3 + 1.75 && $wait <= 3 + 2.25 + 2,
	sprintf('with tripl.mock_now: due 3 s (the timeout) + 2 s (+-12.5 %%) after the mock time (%.2f s)', $wait));
is(deliver_at('2026-03-23 00:00:04+00'), '0', 'not retried before then');
is(deliver_at('2026-03-23 00:01:00+00'), '1', 'retried and sent after it');

$sink->stop;
$node->stop;
done_testing();

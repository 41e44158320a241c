# Linear destinations against a Linear-like GraphQL server on 127.0.0.1
# (test/lib/linear_sink.py, which validates every request's shape): bad
# definitions refused with nothing created; one issue per incident,
# created -> still active (a comment) -> closed (a resolution comment); the
# first create's answer is lost and the retry finds the issue by the
# tripl-<ref> marker in its description instead of opening a second one;
# a comment whose answer is lost is not posted twice; Linear's rate-limit
# answers (HTTP 400 RATELIMITED, 429) are retried; a GraphQL error with
# HTTP 200 and a wrong API key are failures.
use strict;
use warnings;
use JSON::PP;
use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $team = '9cfb482a-81e3-4154-b5b9-2c805e70a02d';
my $label = 'f2a1c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
my $key = 'lin_api_s3cretKEY';

my $node = PostgreSQL::Test::Cluster->new('linear');
$node->init;
my $dir = $node->basedir;
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

my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0)
{
	open(STDOUT, '>', "$dir/linear.out") or die;
	open(STDERR, '>>', "$dir/linear.err") or die;
	exec('python3', "$ENV{TRIPL_SRC}/test/lib/linear_sink.py", '--port', '0', '--key', $key, '--team', $team,
		'--team-key', 'ENG', '--labels', $label) or die;
}
my $port;
for (1 .. 200)
{
	if (open(my $fh, '<', "$dir/linear.out")) { my $l = <$fh>; if ($l && $l =~ /^PORT (\d+)/) { $port = $1; last } }
	usleep(50_000);
}
die 'linear sink did not start' unless $port;
my $http = HTTP::Tiny->new;
sub plan_next { $http->post("http://127.0.0.1:$port/_plan", { content => encode_json($_[0]) }) }
sub lstate { decode_json($http->get("http://127.0.0.1:$port/_state")->{content}) }

sub sql { $node->safe_psql('postgres', $_[0]) }
sub deliver_at { sql("SET tripl.mock_now = '$_[0]'; SELECT tripl.deliver()") }
sub delivery
{
	my @f = split /\|/, sql("SELECT status, attempts, coalesce(last_http_status::text, ''), coalesce(last_error, '') "
		  . "FROM tripl.deliveries WHERE id = $_[0]");
	return { status => $f[0], attempts => $f[1], code => $f[2], error => $f[3] };
}
# the error of a statement that must fail
sub fails
{
	my ($stmt) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $stmt);
	return $ret == 0 ? 'succeeded' : $err;
}

my $url = "http://127.0.0.1:$port/graphql";

# 1. bad definitions: a clear error, nothing created
like(fails("SELECT tripl.create_destination('l', 'linear', '$url', secret => '$key')"),
	qr/a linear destination needs options with a team_id/, 'options are required');
like(fails("SELECT tripl.create_destination('l', 'linear', '$url', options => '{\"team_id\": \"$team\"}')"),
	qr/secret is required for a linear destination/, 'the API key is required');
like(fails("SELECT tripl.create_destination('l', 'linear', '$url', secret => '$key', options => '{\"team_id\": \"ENG\"}')"),
	qr/option "team_id" must be a Linear team id \(a UUID\)/, 'a team key is not a team id');
like(fails("SELECT tripl.create_destination('l', 'linear', '$url', secret => '$key', options => '{\"team\": \"$team\"}')"),
	qr/unknown option for a linear destination: team/, 'an unknown option');
like(fails("SELECT tripl.create_destination('l', 'linear', '$url', secret => '$key', "
		  . "options => '{\"team_id\": \"$team\", \"label_ids\": [\"bug\"]}')"),
	qr/option "label_ids" must be an array of at most 10 Linear label ids/, 'a label name is not a label id');
like(fails("SELECT tripl.create_destination('l', 'linear', '$url', secret => '$key', schedule => '0 9 * * *', "
		  . "options => '{\"team_id\": \"$team\"}')"),
	qr/linear destinations cannot be digests/, 'no digests');
like(fails("SELECT tripl.create_destination('l', 'linear', 'ftp://127.0.0.1/graphql', secret => '$key', "
		  . "options => '{\"team_id\": \"$team\"}')"),
	qr/invalid destination URL/, 'http or https only');
like(fails("SET tripl.allow_private_destinations = off; SELECT tripl.create_destination('l', 'linear', '$url', "
		  . "secret => '$key', options => '{\"team_id\": \"$team\"}')"),
	qr/destination URL points to a loopback/, 'the address guard applies');
like(fails("SELECT tripl.create_destination('l', 'linear', '$url', secret => 'lin_api_x\ny', "
		  . "options => '{\"team_id\": \"$team\"}')"),
	qr/secret must not contain control characters/, 'no line break in the key (it is a header)');
is(sql('SELECT count(*) FROM tripl.destinations'), '0', 'nothing was created');
is(sql("SELECT tripl.create_destination('l_default', 'linear', secret => 'k', options => '{\"team_id\": \"$team\"}'); "
		  . "SELECT url FROM tripl.destinations WHERE name = 'l_default'"), "1\nhttps://api.linear.app/graphql",
	'the default URL is Linear\'s API');
sql(q{SELECT tripl.drop_destination('l_default')});

sql("SELECT tripl.create_destination('linear', 'linear', '$url', secret => '$key', "
	  . "options => '{\"team_id\": \"" . uc($team) . "\", \"label_ids\": [\"$label\"]}')");
is(sql(q{SELECT options FROM tripl.destinations WHERE name = 'linear'}),
	qq({"team_id": "$team", "label_ids": ["$label"]}), 'the options, ids in lower case');
like(fails(q{SELECT tripl.alter_destination('linear', options => '{"team_id": "x"}')}),
	qr/option "team_id" must be a Linear team id/, 'alter checks the options too');

# 2. test_destination reads the team; a wrong key is final, and not shown
my $id = sql(q{SET tripl.mock_now = '2026-02-01 11:00+00'; SELECT tripl.test_destination('linear')});
deliver_at('2026-02-01 11:00+00');
is(delivery($id)->{status} . ' ' . delivery($id)->{code}, 'sent 200', 'a test reads the team');
is(scalar(@{ lstate()->{issues} }), 0, '... and opens no issue');

sql("SELECT tripl.create_destination('linear_bad', 'linear', '$url', secret => 'lin_api_wr0ngKEY', "
	  . "options => '{\"team_id\": \"$team\"}')");
$id = sql(q{SET tripl.mock_now = '2026-02-01 11:00+00'; SELECT tripl.test_destination('linear_bad')});
deliver_at('2026-02-01 11:00+00');
my $d = delivery($id);
is("$d->{status} $d->{code}", 'dead 400', 'a wrong API key: HTTP 400 with an error, dead');
like($d->{error}, qr/Authentication required, not authenticated \(AUTHENTICATION_ERROR\)/, '... with Linear\'s message');
unlike($d->{error} . sql("SELECT coalesce(last_response, '') FROM tripl.deliveries WHERE id = $id"), qr/wr0ng/,
	'... nothing stored shows the key');

# the address guard at connection time too (tripl.deliver uses the session's setting)
$id = sql(q{SET tripl.mock_now = '2026-02-01 11:00+00'; SELECT tripl.test_destination('linear')});
sql(q{SET tripl.allow_private_destinations = off; SET tripl.mock_now = '2026-02-01 11:00+00'; SELECT tripl.deliver()});
$d = delivery($id);
is("$d->{status} $d->{error}",
	'dead refused to connect to a loopback address (tripl.allow_private_destinations is off)',
	'a loopback address is refused when connecting');

plan_next({ errors_200 => 1 });
$id = sql(q{SET tripl.mock_now = '2026-02-01 11:00+00'; SELECT tripl.test_destination('linear')});
deliver_at('2026-02-01 11:00+00');
$d = delivery($id);
is("$d->{status} $d->{code}", 'dead 200', 'a GraphQL error with HTTP 200 is a failure (final)');
like($d->{error}, qr/Entity not found: Team \(INVALID_INPUT\)/, '... with its message and code');

# 3. an incident: its issue is created, but the answer is lost
sql(q{
	CREATE TABLE orders (created_at timestamptz NOT NULL);
	SELECT tripl.create_fact_table('orders', 'SELECT created_at FROM orders', 'created_at');
	SELECT tripl.create_metric('a_count', 'fact', fact_table => 'orders', aggregation => 'count', unit => 'orders');
	SELECT tripl.create_alert_rule('r_linear', 'linear', cooldown => '0');
	INSERT INTO tripl.metric_values SELECT m.id, b, 100 FROM tripl.metrics m,
	    generate_series('2026-02-01 00:00+00'::timestamptz, '2026-02-01 12:00+00', '1 hour') b;
	INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 10:00+00', 40, 100, 8, 10, -6, 'phase', 'drop' FROM tripl.metrics;
});
is(sql(q{SET tripl.mock_now = '2026-02-01 12:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'created true', 'created: an issue is to be opened');
my $open = sql(q{SELECT id FROM tripl.deliveries WHERE rule_id IS NOT NULL});
plan_next({ create_then_hang => 1 });
deliver_at('2026-02-01 12:05+00');
$d = delivery($open);
is($d->{status}, 'pending', 'the create timed out: tripl does not know whether it worked');
my $s = lstate();
is(scalar(@{ $s->{issues} }), 1, '... but Linear created the issue');
my $ref = sql(qq{SELECT payload->>'ref' FROM tripl.deliveries WHERE id = $open});
my $issue = $s->{issues}[0];
is($issue->{title}, 'tripl: a_count drop (rule r_linear)', 'the title');
is_deeply($issue->{labelIds}, [$label], 'the destination\'s labels');
is($issue->{description},
	"```\ntripl alert r_linear: 1 anomaly\na_count drop: 40 orders, expected 100 (-60.0%) at 2026-02-01 10:00 UTC\n```\n\ntripl-$ref",
	'the description: the message in a code block, then the incident\'s marker');

# 4. a newer anomaly: its comment waits for the issue; the retried create finds it
sql(q{INSERT INTO tripl.metric_values SELECT id, '2026-02-01 13:00+00', 100 FROM tripl.metrics;
	INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 11:00+00', 20, 100, 8, 10, -8, 'phase', 'drop' FROM tripl.metrics});
is(sql(q{SET tripl.mock_now = '2026-02-01 13:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'still_active true', 'still active with a newer anomaly: a comment is to be posted');
is(deliver_at('2026-02-01 13:05+00'), '1', 'one delivery is sent in this pass: the retried create, not the comment');
$d = delivery($open);
is("$d->{status} $d->{attempts}", 'sent 2', 'the retry found the issue by its marker');
$s = lstate();
is(scalar(@{ $s->{issues} }), 1, '... and created no second issue');
is(sql(q{SELECT issue_key || ' ' || (issue_id = '} . $s->{issues}[0]{id} . q{') || ' ' || (resolved_at IS NULL) FROM tripl.tickets}),
	'ENG-1 true true', 'the ticket: identifier and id, not resolved');

# Linear's rate limits: HTTP 400 with RATELIMITED, and 429
plan_next({ rate_limit => 1 });
is(deliver_at('2026-02-01 13:06+00'), '0', 'the comment: rate-limited (HTTP 400, RATELIMITED)');
my $comment = sql(q{SELECT id FROM tripl.deliveries WHERE payload->>'action' = 'comment'});
$d = delivery($comment);
is("$d->{status} $d->{code}", 'pending 400', '... retried later');
like($d->{error}, qr/Rate limit exceeded \(RATELIMITED\)/, '... saying why');
plan_next({ too_many => 1 });
is(deliver_at('2026-02-01 13:10+00'), '0', 'then HTTP 429');
is(delivery($comment)->{status}, 'pending', '... retried later');

# the comment is made but its answer is lost, and the delivery gives up;
# revived, it sees the comment and does not post it again
plan_next({ answer_then_hang => 1 });
is(sql(q{SET tripl.delivery_max_attempts = 1; SET tripl.mock_now = '2026-02-01 13:20+00'; SELECT tripl.deliver()}), '0',
	'the comment is posted, its answer lost');
is(scalar(@{ lstate()->{issues}[0]{comments} }), 1, '... Linear has it');
like(delivery($comment)->{status} . ' ' . delivery($comment)->{error}, qr/^dead .*gave up after 3 attempts/, '... the delivery gave up');
is(sql(q{SET tripl.mock_now = '2026-02-01 13:40+00'; SELECT tripl.retry_deliveries('linear')}), '3',
	'revived, with the two dead tests');
is(deliver_at('2026-02-01 13:40+00'), '3', 'the retries');
is(delivery($comment)->{status}, 'sent', '... the comment\'s too');
$s = lstate();
is(scalar(@{ $s->{issues}[0]{comments} }), 1, '... found it (its marker) and did not post it twice');
my $ckey = sql(qq{SELECT idempotency_key FROM tripl.deliveries WHERE id = $comment});
like($s->{issues}[0]{comments}[0], qr/^```\ntripl alert r_linear: 1 anomaly\na_count drop: 20 orders.*\n```\n\ntripl-d-\Q$ckey\E$/s,
	'the comment: the newer anomaly, then the delivery\'s marker');

# 5. closed: the resolution is a comment on the same issue, once
sql(q{INSERT INTO tripl.metric_values SELECT id, b, 100 FROM tripl.metrics,
	generate_series('2026-02-01 14:00+00'::timestamptz, '2026-02-01 16:00+00', '1 hour') b});
is(sql(q{SET tripl.mock_now = '2026-02-01 17:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'closed true', 'closed: a resolution');
is(deliver_at('2026-02-01 17:06+00'), '1', 'the resolution is sent');
is(deliver_at('2026-02-01 18:00+00'), '0', '... once');
$s = lstate();
is(scalar(@{ $s->{issues} }), 1, 'still one issue for the incident');
is(scalar(@{ $s->{issues}[0]{comments} }), 2, 'two comments: the newer anomaly and the resolution');
like($s->{issues}[0]{comments}[1],
	qr/^```\ntripl resolved r_linear: a_count drop resolved after 5h 0m: peak 20 orders, expected 100 \(-80.0%\) at 2026-02-01 11:00 UTC\n```\n/,
	'the resolution comment: duration and peak');
is(sql(q{SELECT resolved_at >= '2026-02-01 17:06+00' AND resolved_at < '2026-02-01 17:07+00' FROM tripl.tickets}), 't',
	'the ticket is resolved (when the resolution was sent)');
is(sql(q{SELECT destination || ' ' || tickets || ' ' || tickets_open || ' ' || resolutions_sent || ' ' || latest_issue
	FROM tripl.destination_status WHERE destination = 'linear'}), 'linear 1 0 1 ENG-1', 'tripl.destination_status');
is(sql(q{SELECT tickets || ' ' || tickets_open FROM tripl.status}), '1 0', 'tripl.status: tickets and open tickets');
is_deeply(lstate()->{bad}, [], 'every request had the shape Linear expects');

kill 'TERM', $pid;
waitpid($pid, 0);
$node->stop;
done_testing();

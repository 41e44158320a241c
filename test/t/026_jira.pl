# Jira destinations against a Jira-like REST server on 127.0.0.1
# (test/lib/jira_sink.py): one issue per incident, created -> still active
# (a comment) -> closed (a resolution comment); the first create's answer
# is lost (the issue exists, tripl timed out) and the retry finds the issue
# by its label instead of opening a second one; a comment waits for its
# issue; a 429 is retried; a wrong login is final; API v2 bodies; on
# resolution the transition named by resolve_transition, and one not offered.
use strict;
use warnings;
use JSON::PP;
use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('jira');
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
	open(STDOUT, '>', "$dir/jira.out") or die;
	open(STDERR, '>>', "$dir/jira.err") or die;
	exec('python3', "$ENV{TRIPL_SRC}/test/lib/jira_sink.py", '--port', '0', '--auth', 'me@example.com:t0ken',
		'--project', 'OPS') or die;
}
my $port;
for (1 .. 200)
{
	if (open(my $fh, '<', "$dir/jira.out")) { my $l = <$fh>; if ($l && $l =~ /^PORT (\d+)/) { $port = $1; last } }
	usleep(50_000);
}
die 'jira sink did not start' unless $port;
my $http = HTTP::Tiny->new;
sub jira_plan { $http->post("http://127.0.0.1:$port/_plan", { content => encode_json($_[0]) }) }
sub jira_state { decode_json($http->get("http://127.0.0.1:$port/_state")->{content}) }

sub sql { $node->safe_psql('postgres', $_[0]) }
sub deliver_at { sql("SET tripl.mock_now = '$_[0]'; SELECT tripl.deliver()") }
sub delivery
{
	my @f = split /\|/, sql("SELECT status, attempts, coalesce(last_http_status::text, ''), coalesce(last_error, '') "
		  . "FROM tripl.deliveries WHERE id = $_[0]");
	return { status => $f[0], attempts => $f[1], code => $f[2], error => $f[3] };
}
# the text of an ADF document of one code block
sub adf_text { my ($d) = @_; return $d->{content}[0]{content}[0]{text} }

sql("SELECT tripl.create_destination('jira', 'jira', 'http://127.0.0.1:$port', secret => 'me\@example.com:t0ken', "
	  . q{options => '{"project": "OPS", "issue_type": "Task", "labels": ["metrics", "tripl.alerts"]}')});
is(sql(q{SELECT options FROM tripl.destinations WHERE name = 'jira'}),
	'{"labels": ["metrics", "tripl.alerts"], "project": "OPS", "issue_type": "Task", "api_version": 3}',
	'the options, completed with their defaults');

# 1. test_destination reads the project (checks the login, opens nothing)
my $id = sql(q{SET tripl.mock_now = '2026-02-01 11:00+00'; SELECT tripl.test_destination('jira')});
deliver_at('2026-02-01 11:00+00');
is(delivery($id)->{status} . ' ' . delivery($id)->{code}, 'sent 200', 'a test reads the project');
is(scalar(@{ jira_state()->{issues} }), 0, '... and opens no issue');

sql("SELECT tripl.create_destination('jira_bad', 'jira', 'http://127.0.0.1:$port', secret => 'me\@example.com:wr0ng', "
	  . q{options => '{"project": "OPS"}')});
$id = sql(q{SET tripl.mock_now = '2026-02-01 11:00+00'; SELECT tripl.test_destination('jira_bad')});
deliver_at('2026-02-01 11:00+00');
my $d = delivery($id);
is("$d->{status} $d->{code}", 'dead 401', 'a wrong API token: 401, dead');
unlike($d->{error}, qr/wr0ng/, '... the error does not show it');

# 2. an incident: its issue is created, but the answer is lost
sql(q{
	CREATE TABLE orders (created_at timestamptz NOT NULL);
	SELECT tripl.create_fact_table('orders', 'SELECT created_at FROM orders', 'created_at');
	SELECT tripl.create_metric('a_count', 'fact', fact_table => 'orders', aggregation => 'count', unit => 'orders');
	SELECT tripl.create_alert_rule('r_jira', 'jira', cooldown => '0');
	INSERT INTO tripl.metric_values SELECT m.id, b, 100 FROM tripl.metrics m,
	    generate_series('2026-02-01 00:00+00'::timestamptz, '2026-02-01 12:00+00', '1 hour') b;
	INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 10:00+00', 40, 100, 8, 10, -6, 'phase', 'drop' FROM tripl.metrics;
});
is(sql(q{SET tripl.mock_now = '2026-02-01 12:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'created true', 'created: an issue is to be opened');
my $open = sql(q{SELECT id FROM tripl.deliveries WHERE rule_id IS NOT NULL});
jira_plan({ create_then_hang => 1 });
deliver_at('2026-02-01 12:05+00');
$d = delivery($open);
is($d->{status}, 'pending', 'the create timed out: tripl does not know whether it worked');
my $s = jira_state();
is(scalar(@{ $s->{issues} }), 1, '... but Jira opened the issue');
my $f = $s->{issues}[0]{fields};
is($f->{project}{key} . ' ' . $f->{issuetype}{name} . ' | ' . $f->{summary}, 'OPS Task | tripl: a_count drop (rule r_jira)',
	'project, issue type and summary');
my $ref = sql(q{SELECT payload->>'ref' FROM tripl.deliveries WHERE id = } . $open);
is_deeply($f->{labels}, [ 'tripl', "tripl-$ref", 'metrics', 'tripl.alerts' ], 'labels: tripl, the incident\'s, the destination\'s');
is(adf_text($f->{description}),
	"tripl alert r_jira: 1 anomaly\na_count drop: 40 orders, expected 100 (-60.0%) at 2026-02-01 10:00 UTC",
	'the description: the message, in a code block of an ADF document');
is(sql(q{SELECT count(*) FROM tripl.tickets}), '0', 'no ticket is recorded yet');

# 3. a newer anomaly while the open waits: its comment waits for the issue
sql(q{INSERT INTO tripl.metric_values SELECT id, '2026-02-01 13:00+00', 100 FROM tripl.metrics;
	INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 11:00+00', 20, 100, 8, 10, -8, 'phase', 'drop' FROM tripl.metrics});
is(sql(q{SET tripl.mock_now = '2026-02-01 13:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'still_active true', 'still active with a newer anomaly: a comment is to be posted');
is(deliver_at('2026-02-01 13:05+00'), '1', 'one delivery is sent in this pass: the retried open, not the comment');
$d = delivery($open);
is("$d->{status} $d->{attempts}", 'sent 2', 'the retry found the issue by its label');
$s = jira_state();
is(scalar(@{ $s->{issues} }), 1, '... and opened no second issue');
ok((grep { $_->{path} =~ m{^/rest/api/3/search/jql\?jql=labels%20%3D%20%22tripl-\Q$ref\E%22} } @{ $s->{requests} }),
	'... searching with JQL labels = "tripl-<ref>"');
is(sql(q{SELECT issue_key || ' ' || (ref = '} . $ref . q{') FROM tripl.tickets}), 'OPS-1 true', 'the ticket is recorded');
is(scalar(@{ $s->{issues}[0]{comments} }), 0, 'no comment yet');

jira_plan({ rate_limit => 1 });
is(deliver_at('2026-02-01 13:06+00'), '0', 'the comment: 429');
is(sql(q{SELECT status || ' ' || last_http_status FROM tripl.deliveries WHERE payload->>'action' = 'comment'}),
	'pending 429', '... retried later');
is(deliver_at('2026-02-01 13:10+00'), '1', 'then sent');
$s = jira_state();
is(scalar(@{ $s->{issues}[0]{comments} }), 1, 'one comment on OPS-1');
like(adf_text($s->{issues}[0]{comments}[0]), qr/^tripl alert r_jira: 1 anomaly\na_count drop: 20 orders/,
	'... with the newer anomaly');

# 4. closed: the resolution is a comment on the same issue, once
sql(q{INSERT INTO tripl.metric_values SELECT id, b, 100 FROM tripl.metrics,
	generate_series('2026-02-01 14:00+00'::timestamptz, '2026-02-01 16:00+00', '1 hour') b});
is(sql(q{SET tripl.mock_now = '2026-02-01 17:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'closed true', 'closed: a resolution');
sql(q{SET tripl.mock_now = '2026-02-01 17:06+00'; SELECT * FROM tripl.evaluate_alerts()});
is(deliver_at('2026-02-01 17:06+00'), '1', 'the resolution is sent');
is(deliver_at('2026-02-01 18:00+00'), '0', '... once');
$s = jira_state();
is(scalar(@{ $s->{issues} }), 1, 'still one issue for the incident');
is(scalar(@{ $s->{issues}[0]{comments} }), 2, 'two comments: the newer anomaly and the resolution');
is(adf_text($s->{issues}[0]{comments}[1]),
	'tripl resolved r_jira: a_count drop resolved after 5h 0m: peak 20 orders, expected 100 (-80.0%) at 2026-02-01 11:00 UTC',
	'the resolution comment: duration and peak');

# 5. API v2: plain-text description and comment
sql(q{SELECT tripl.alter_destination('jira', options => '{"project": "OPS", "api_version": 2}')});
sql(q{INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 16:00+00', 300, 100, 8, 10, 9, 'phase', 'spike' FROM tripl.metrics});
is(sql(q{SET tripl.mock_now = '2026-02-01 18:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'reopened true', 'a new incident (reopened)');
deliver_at('2026-02-01 18:05+00');
$s = jira_state();
is(scalar(@{ $s->{issues} }), 2, 'a new incident opens a new issue');
is($s->{issues}[1]{fields}{description},
	"tripl alert r_jira: 1 anomaly\na_count spike: 300 orders, expected 100 (+200.0%) at 2026-02-01 16:00 UTC",
	'v2: the description is a string');
ok((grep { $_->{path} eq '/rest/api/2/issue' } @{ $s->{requests} }), '... posted to /rest/api/2/issue');
is(sql(q{SELECT count(*) FROM tripl.tickets}), '2', 'two tickets recorded');

# 6. resolve_transition: after the resolution comment, the transition of that name
sub fails
{
	my ($ret, $out, $err) = $node->psql('postgres', $_[0]);
	return $ret == 0 ? 'succeeded' : $err;
}
like(fails(q{SELECT tripl.alter_destination('jira', options => '{"project": "OPS", "resolve_transition": 5}')}),
	qr/option "resolve_transition" must be the name of a Jira transition/, 'resolve_transition is a name');
like(fails(q{SELECT tripl.alter_destination('jira', options => '{"project": "OPS", "resolve_transition": ""}')}),
	qr/option "resolve_transition" must be the name/, '... not empty');
sql(q{SELECT tripl.alter_destination('jira', options => '{"project": "OPS", "api_version": 2, "resolve_transition": "done"}')});
is(sql(q{SELECT options->>'resolve_transition' FROM tripl.destinations WHERE name = 'jira'}), 'done', 'stored as given');
sql(q{INSERT INTO tripl.metric_values SELECT id, b, 100 FROM tripl.metrics,
	generate_series('2026-02-01 17:00+00'::timestamptz, '2026-02-01 21:00+00', '1 hour') b});
is(sql(q{SET tripl.mock_now = '2026-02-01 22:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'closed true', 'the second incident closes');
is(deliver_at('2026-02-01 22:06+00'), '1', 'its resolution is sent');
$s = jira_state();
is($s->{issues}[1]{status}, 'Done', '... and OPS-2 moved to Done ("done" matches the transition "Done")');
is(scalar(@{ $s->{issues}[1]{comments} }), 1, '... after the resolution comment');
ok((grep { $_->{method} eq 'GET' && $_->{path} eq '/rest/api/2/issue/OPS-2/transitions' } @{ $s->{requests} }),
	'... GET .../issue/OPS-2/transitions');
ok((grep { $_->{method} eq 'POST' && $_->{path} eq '/rest/api/2/issue/OPS-2/transitions' && $_->{status} == 204 } @{ $s->{requests} }),
	'... POST .../issue/OPS-2/transitions: 204');
is(sql(q{SELECT status || ' ' || (last_error IS NULL) FROM tripl.deliveries WHERE kind = 'resolution' ORDER BY id DESC LIMIT 1}),
	'sent true', '... without a warning');

# a transition the issue does not offer: sent, with a warning (never retried)
sql(q{SELECT tripl.alter_destination('jira', options => '{"project": "OPS", "resolve_transition": "Ship it"}')});
sql(q{INSERT INTO tripl.metric_values SELECT id, '2026-02-01 22:00+00', 100 FROM tripl.metrics;
	INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 22:00+00', 400, 100, 8, 10, 12, 'phase', 'spike' FROM tripl.metrics});
is(sql(q{SET tripl.mock_now = '2026-02-01 23:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'reopened true', 'a third incident');
deliver_at('2026-02-01 23:05+00');
sql(q{INSERT INTO tripl.metric_values SELECT id, b, 100 FROM tripl.metrics,
	generate_series('2026-02-01 23:00+00'::timestamptz, '2026-02-02 03:00+00', '1 hour') b});
is(sql(q{SET tripl.mock_now = '2026-02-02 04:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'closed true', '... closes');
is(deliver_at('2026-02-02 04:06+00'), '1', 'its resolution is sent');
is(sql(q{SELECT status || ' | ' || last_error FROM tripl.deliveries WHERE kind = 'resolution' ORDER BY id DESC LIMIT 1}),
	'sent | resolution comment posted, but OPS-3 does not offer the transition "Ship it" (offered: "Start progress", "Done")',
	'... with a warning naming the transitions offered');
$s = jira_state();
is($s->{issues}[2]{status} . ' ' . scalar(@{ $s->{issues}[2]{comments} }), 'To Do 1', 'OPS-3 keeps its status, has the comment');
is(deliver_at('2026-02-02 05:00+00'), '0', 'nothing is retried');
is(sql(q{SELECT sent_with_warning || ' ' || tickets || ' ' || tickets_open || ' ' || resolutions_sent
	FROM tripl.destination_status WHERE destination = 'jira'}), '1 3 0 3', 'tripl.destination_status: the warning, tickets resolved');

kill 'TERM', $pid;
waitpid($pid, 0);
$node->stop;
done_testing();

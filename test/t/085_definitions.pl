# Definitions as code across versions (doc/definitions.md, "Definitions as
# code"): definitions made with tripl 0.1, updated with ALTER EXTENSION
# tripl UPDATE and exported, apply to a fresh 0.2 install and export the
# same document there.  The exports conform to the JSON Schema in
# doc/definitions.schema.json, and the schema describes exactly the fields
# of src/defio.c (test/lib/json_schema.py).
use strict;
use warnings;
use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $repo = $ENV{TRIPL_SRC} // '.';
my $node = PostgreSQL::Test::Cluster->new('definitions');
$node->init;
$node->append_conf('postgresql.conf', "timezone = 'UTC'");
$node->start;

my $data = q{
CREATE TABLE orders (created_at timestamptz, amount numeric, status text, country text, user_id int);
CREATE TABLE events (event_time timestamptz, event_name text, user_id int);
GRANT SELECT ON orders, events TO regress_carol;
};
$node->safe_psql('postgres', 'CREATE ROLE regress_carol');
$node->safe_psql('postgres', qq{CREATE EXTENSION tripl VERSION '0.1'; GRANT tripl_admin TO regress_carol; $data});

# Every kind of 0.1 definition, made by carol
$node->safe_psql('postgres', q{
SET ROLE regress_carol;
SELECT tripl.create_fact_table('orders', 'SELECT created_at, amount, status, country, user_id FROM orders',
    'created_at', identifier_columns => '{user_id}', row_filters => '{"completed": "status = ''completed''"}',
    description => 'Orders');
SELECT tripl.create_event_source('app', 'SELECT event_time, event_name, user_id FROM events', 'event_time',
    'event_name', 'user_id');
SELECT tripl.create_metric('completed', 'fact', '15 minutes', fact_table => 'orders', aggregation => 'count',
    row_filters => '{completed}', filter_sql => 'amount > 0', breakdowns => '{country}', breakdown_values_limit => 5,
    unit => 'orders');
SELECT tripl.create_metric('aov', 'fact', '1 day',
    numerator => '{"fact_table": "orders", "aggregation": "sum", "measure_column": "amount"}',
    denominator => '{"fact_table": "orders", "aggregation": "count"}');
SELECT tripl.create_metric('buyers', 'fact', '1 week', fact_table => 'orders', aggregation => 'count_distinct',
    distinct_column => 'user_id', status => 'archived');
SELECT tripl.create_metric('raw', 'sql', '1 hour', query => 'SELECT created_at AS ts, amount AS v FROM orders',
    time_column => 'ts', value_column => 'v', anomaly_detection => false);
SELECT tripl.create_metric('conversion', 'event_composition', '1 hour', event_source => 'app',
    numerator_event => 'buy', denominator_event => 'view');
SELECT tripl.create_metric('per_user', 'event_composition', '1 day', event_source => 'app',
    numerator_event => 'buy', composition => 'per_distinct_user');
SELECT tripl.set_monitoring('conversion', sigma_threshold => 3, settling_minutes => 30);
SELECT tripl.create_destination('hook', 'webhook', 'https://hooks.example.com/t', secret => 'hook-secret',
    secret_header => 'X-Token');
SELECT tripl.create_destination('chat', 'telegram', secret => '123456:ABC-def', chat_id => '-100123');
SELECT tripl.create_destination('team', 'slack', 'https://hooks.slack.com/services/T/B/slack-secret');
SELECT tripl.create_alert_rule('rule', 'hook', metrics => '{conversion,completed}', min_expected => 5,
    muted_until => '2030-01-01 00:00+00');
SELECT tripl.create_alert_rule('everything', 'team', cooldown => '6 hours', enabled => false);
});
$node->safe_psql('postgres', 'ALTER EXTENSION tripl UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'tripl'}), '0.2',
	'updated to 0.2');

my $old = $node->safe_psql('postgres', q{SET ROLE regress_carol; SELECT tripl.export_definitions()});
like($old, qr/"per_distinct_user"/, 'the export of the updated database has the definitions');
unlike($old, qr/hook-secret|ABC-def|slack-secret/, 'and none of their secrets');
is($node->safe_psql('postgres', q{SELECT jsonb_array_length(tripl.export_definitions() -> 'metrics')}), '6',
	'every metric is exported');

# The JSON Schema: the exports conform, and it describes exactly the fields of src/defio.c
my $dir = tempdir(CLEANUP => 1);
sub schema_check
{
	my ($mode, $json, $name) = @_;
	my $file = "$dir/check.json";
	open(my $fh, '>', $file) or die;
	print $fh $json;
	close($fh);
	my ($out, $err);
	my $ok = IPC::Run::run([ 'python3', "$repo/test/lib/json_schema.py", $mode,
			"$repo/doc/definitions.schema.json", $file ], '>', \$out, '2>', \$err);
	ok($ok, $name) or diag($out . $err);
	return $ok;
}
schema_check('validate', $old, 'the export conforms to doc/definitions.schema.json');
schema_check('fields', $node->safe_psql('postgres', q{
	SELECT json_agg(json_build_object('t', object_type, 'f', field, 'j', json_type, 'd', default_value,
	                                  'r', default_value IS NULL, 'c', canon) ORDER BY position)
	FROM tripl._definition_fields()}), 'the schema describes every field of src/defio.c, and no other');
my ($ok_bad) = !IPC::Run::run([ 'python3', "$repo/test/lib/json_schema.py", 'validate',
		"$repo/doc/definitions.schema.json", '/dev/stdin' ],
	'<', \'{"metrics": [{"name": "m", "kind": "fact", "colour": 1}]}', '>', \my $o2, '2>', \my $e2);
ok($ok_bad && $o2 =~ /property colour is not allowed/, 'the schema check fails on an unknown field');

# A fresh 0.2 database: the 0.1 export applies, with its secrets put back
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', qq{CREATE EXTENSION tripl; $data});
my $with_secrets = $node->safe_psql('postgres', q{
	SET ROLE regress_carol;
	SELECT jsonb_set(jsonb_set(jsonb_set(d, '{destinations,1,secret}', '"hook-secret"'),
	                           '{destinations,0,secret}', '"123456:ABC-def"'),
	                 '{destinations,2,url}', '"https://hooks.slack.com/services/T/B/slack-secret"')
	FROM (SELECT tripl.export_definitions() AS d) s});
my $apply = sub {
	my ($dry) = @_;
	return $node->safe_psql('fresh', qq{
		SET ROLE regress_carol;
		SELECT action || ' ' || count(*)
		FROM tripl.apply_definitions(\$j\$$with_secrets\$j\$, dry_run => $dry) GROUP BY action ORDER BY 1});
};
is($apply->('true'), 'create 13', 'a dry run plans every object');
is($node->safe_psql('fresh', 'SELECT count(*) FROM tripl.metrics'), '0', '... and changes nothing');
is($apply->('false'), 'create 13', 'the 0.1 export applies to a fresh 0.2 install');
is($node->safe_psql('fresh', q{SET ROLE regress_carol; SELECT tripl.export_definitions()}), $old,
	'and exports the same document there');
is($apply->('false'), 'unchanged 13', 'applied again, nothing changes');
is($node->safe_psql('fresh', q{SELECT string_agg(d.name || '=' || s.secret, ',' ORDER BY d.name)
	FROM tripl.destinations d JOIN tripl.destination_secrets s ON s.destination_id = d.id}),
	'chat=123456:ABC-def,hook=hook-secret,team=https://hooks.slack.com/services/T/B/slack-secret',
	'the secrets given are stored');
is($node->safe_psql('fresh', q{SELECT m.name || ' ' || o.sigma_threshold || ' ' || o.settling_minutes
	FROM tripl.monitoring_settings o JOIN tripl.metrics m ON m.id = o.metric_id}),
	'conversion 3 30', 'monitoring overrides come along');
# both databases collect the same values from the same data
for my $db ('postgres', 'fresh')
{
	$node->safe_psql($db, q{INSERT INTO orders
		SELECT '2026-01-05 00:00+00'::timestamptz + i * interval '7 minutes', i % 9, 'completed', 'DE', i % 5
		FROM generate_series(0, 500) i});
	$node->safe_psql($db, q{SELECT count(*) FROM tripl.collect(window_from => '2026-01-05 00:00+00',
		window_to => '2026-01-08 00:00+00')});
}
my $values = q{SELECT string_agg(m.name || ':' || v.bucket || ':' || v.value, ',' ORDER BY m.name, v.bucket)
	FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id};
my $v_old = $node->safe_psql('postgres', $values);
cmp_ok(length($v_old), '>', 100, 'the updated database collected values');
is($node->safe_psql('fresh', $values), $v_old, 'the fresh one collects the same values');

$node->stop;
done_testing();

# Upgrades: a database made with tripl 0.1, holding definitions, values,
# anomalies and secrets, is updated with ALTER EXTENSION tripl UPDATE.  It
# must then equal a fresh install (every table, column, constraint, index,
# policy, view, function and grant of the extension) and keep its rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "timezone = 'UTC'\ntripl.allow_private_destinations = on");
$node->start;

# Everything of the extension, as text, one object per line
my $describe = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'tripl'),
members AS (SELECT d.classid, d.objid FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'),
rels AS (SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
    SELECT format('relation %s kind=%s rls=%s force=%s acl=%s', r.oid::regclass, r.relkind, r.relrowsecurity,
                  r.relforcerowsecurity, r.relacl) AS line FROM rels r
    UNION ALL
    SELECT format('column %s.%s %s notnull=%s default=%s acl=%s', r.oid::regclass, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attacl)
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT format('constraint %s.%s %s', r.oid::regclass, co.conname, pg_get_constraintdef(co.oid))
    FROM rels r JOIN pg_constraint co ON co.conrelid = r.oid
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid)) FROM rels r JOIN pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT format('policy %s.%s cmd=%s roles=%s using=%s check=%s', r.oid::regclass, p.polname, p.polcmd,
                  p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
    FROM rels r JOIN pg_policy p ON p.polrelid = r.oid
    UNION ALL
    SELECT format('view %s %s', r.oid::regclass, pg_get_viewdef(r.oid)) FROM rels r WHERE r.relkind = 'v'
    UNION ALL
    SELECT format('trigger %s.%s %s', r.oid::regclass, t.tgname, pg_get_triggerdef(t.oid))
    FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('function %s kind=%s lang=%s volatile=%s strict=%s secdef=%s parallel=%s config=%s acl=%s rettype=%s src=%s',
                  p.oid::regprocedure, p.prokind, p.prolang::regclass, p.provolatile, p.proisstrict, p.prosecdef,
                  p.proparallel, p.proconfig, p.proacl, p.prorettype::regtype, md5(p.prosrc))
    FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
    UNION ALL
    SELECT format('type %s input=%s output=%s len=%s align=%s storage=%s', t.oid::regtype, t.typinput, t.typoutput,
                  t.typlen, t.typalign, t.typstorage)
    FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
    UNION ALL
    SELECT format('aggregate %s sfunc=%s stype=%s final=%s combine=%s serial=%s deserial=%s', a.aggfnoid::regprocedure,
                  a.aggtransfn, a.aggtranstype::regtype, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn)
    FROM pg_aggregate a JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = a.aggfnoid
    UNION ALL
    SELECT format('schema acl %s', n.nspacl) FROM pg_namespace n WHERE n.nspname = 'tripl'
    UNION ALL
    SELECT format('config %s', x::regclass) FROM pg_extension e, unnest(e.extconfig) x WHERE e.extname = 'tripl'
    UNION ALL
    SELECT format('role %s member of %s', m.member::regrole, m.roleid::regrole)
    FROM pg_auth_members m WHERE m.roleid::regrole::text LIKE 'tripl\_%'
) lines};

# The old release, with things in it
$node->safe_psql('postgres', q{
CREATE EXTENSION tripl VERSION '0.1';
CREATE ROLE regress_alice;
CREATE ROLE regress_bob;
CREATE TABLE orders AS
SELECT '2026-01-05 00:00+00'::timestamptz + i * interval '10 minutes' AS created_at, (i % 7)::numeric AS amount
FROM generate_series(0, 1000) i;
GRANT SELECT ON orders TO regress_alice;
SET ROLE regress_alice;
SELECT tripl.create_fact_table('orders', 'SELECT created_at, amount FROM orders', 'created_at');
SELECT tripl.create_metric('revenue', 'fact', fact_table => 'orders', aggregation => 'sum', measure_column => 'amount');
SELECT tripl.create_metric('orders_count', 'fact', fact_table => 'orders', aggregation => 'count');
RESET ROLE;
SELECT count(*) FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-12 00:00+00');
INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, detector, direction)
SELECT id, '2026-01-06 00:00+00', 1, 10, 'phase', 'drop' FROM tripl.metrics WHERE name = 'revenue';
SELECT tripl.create_destination('hook', 'webhook', 'http://127.0.0.1:9/hook', secret => 's3cret',
                                secret_header => 'X-Token');
SELECT tripl.test_destination('hook');
});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'tripl'}), '0.1',
	'the old release is installed');
my $counts = q{SELECT (SELECT count(*) FROM tripl.metrics) || ' ' || (SELECT count(*) FROM tripl.metric_values) || ' '
	|| (SELECT count(*) FROM tripl.anomalies) || ' ' || (SELECT count(*) FROM tripl.destination_secrets) || ' '
	|| (SELECT sum(value) FROM tripl.metric_values) || ' '
	|| (SELECT count(*) FROM tripl.deliveries WHERE status = 'pending')};
my $before = $node->safe_psql('postgres', $counts);
like($before, qr/^2 \d+ 1 1 \S+ 1$/, 'definitions, values, an anomaly, a secret and a pending delivery are there');

$node->safe_psql('postgres', 'ALTER EXTENSION tripl UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'tripl'}), '0.2',
	'ALTER EXTENSION tripl UPDATE brings it to 0.2');
is($node->safe_psql('postgres', $counts), $before, 'every row is kept');

# A fresh install of the new release in another database
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION tripl');
my $updated = $node->safe_psql('postgres', $describe);
my $fresh = $node->safe_psql('fresh', $describe);
cmp_ok(length($fresh), '>', 10000, 'the description covers the extension');
like($fresh, qr/policy tripl\.metric_values\.metric_values_readers/, '... its policies');
like($fresh, qr/function tripl\.sparkline\(double precision\[\]\).*config=\{"search_path=pg_catalog, pg_temp"\}/,
	'... and the settings of its functions');
is($updated, $fresh, 'the updated database equals a fresh install');

# The updated database behaves as 0.2: values are private until granted
is($node->safe_psql('postgres', q{SET ROLE regress_alice; SELECT count(*) > 0 FROM tripl.metric_values}), 't',
	'the owner still sees her values');
is($node->safe_psql('postgres', q{SET ROLE regress_bob; SELECT count(*) FROM tripl.metric_values}), '0',
	'another role sees none of them');
# Calendar time: the metrics of 0.1 are UTC metrics with their grids unchanged
is($node->safe_psql('postgres', q{SELECT string_agg(timezone || ' ' || bucket, ',' ORDER BY name) FROM tripl.metrics}),
	'UTC 01:00:00,UTC 01:00:00', 'metrics of 0.1 are in UTC');
my $values = q{SELECT string_agg(m.name || ' ' || v.bucket || ' ' || v.value, ',' ORDER BY m.name, v.bucket)
	FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE v.bucket < '2026-01-06 00:00+00'};
my $values_before = $node->safe_psql('postgres', $values);
is($node->safe_psql('postgres', q{SELECT count(*) FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-06 00:00+00') WHERE status = 'success'}),
	'2', 'collection works after the update');
is($node->safe_psql('postgres', $values), $values_before, 're-collected values of 0.1 metrics are identical');
is($node->safe_psql('postgres', q{SET tripl.mock_now = '2026-01-12 00:30+00'; SELECT count(*) FROM tripl.detect()}),
	'2', 'detection works after the update');
$node->safe_psql('postgres', q{SELECT tripl.deliver()});
is($node->safe_psql('postgres', q{SELECT attempts || ' ' || (last_error IS NOT NULL) FROM tripl.deliveries}),
	'1 true', 'the pending delivery is attempted after the update (its receiver is down)');

$node->stop;
done_testing();

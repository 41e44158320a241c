# The background workers around other people's work: a delivery that is due
# for a disabled destination does not make the delivery worker spin;
# CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME and ... SET
# TABLESPACE are not refused because tripl's workers are connected, and the
# workers come back (under the new name); taking a database out of
# tripl.databases stops its workers, putting it back starts them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use TriplSink;

my $node = PostgreSQL::Test::Cluster->new('workers');
$node->init;
# a long tick interval and no autovacuum: the transactions counted below
# are the delivery worker's (and the scheduler's look every 2 s)
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tripl'
tripl.tick_interval = '1h'
autovacuum = off
tripl.allow_private_destinations = on
max_worker_processes = 24
allow_in_place_tablespaces = on
});
$node->start;
my $sink = TriplSink->start($node->basedir);

sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q) }

# "scheduler:db delivery:db ..." for the tripl workers of the given databases
sub workers
{
	my (@dbs) = @_;
	my $in = join(', ', map { "'$_'" } @dbs);
	return sql('postgres', qq{SELECT string_agg(replace(backend_type, 'tripl ', '') || ':' || datname, ' '
		ORDER BY datname, backend_type) FROM pg_stat_activity WHERE backend_type LIKE 'tripl %' AND datname IN ($in)}) // '';
}

sub wait_workers
{
	my ($expect, $what, @dbs) = @_;
	my $in = join(', ', map { "'$_'" } @dbs);
	ok($node->poll_query_until('postgres', qq{SELECT coalesce(string_agg(replace(backend_type, 'tripl ', '') || ':' || datname, ' '
		ORDER BY datname, backend_type), '') FROM pg_stat_activity WHERE backend_type LIKE 'tripl %' AND datname IN ($in)},
		$expect), $what) or diag('workers: ' . workers(@dbs));
}

sql('postgres', 'CREATE DATABASE shop');
sql('postgres', 'CREATE DATABASE other');
sql('shop', 'CREATE EXTENSION tripl');
sql('other', 'CREATE EXTENSION tripl');
wait_workers('delivery:other scheduler:other delivery:shop scheduler:shop', 'both databases have their workers',
	'shop', 'other');

# 1. A delivery due for a disabled destination: the delivery worker sleeps
#    as if nothing were due (it used to wake every 50 ms)
sql('shop', "SELECT tripl.create_destination('off', 'webhook', '" . $sink->url('/off') . "', enabled => false)");
sql('shop', q{SELECT tripl.test_destination('off')});
usleep(1_000_000);
my $xacts = sub {
	sql('postgres', q{SELECT xact_commit FROM pg_stat_database WHERE datname = 'shop'});
};
my ($c0, $t0) = ($xacts->(), time);
usleep(8_000_000);
my ($c1, $t1) = ($xacts->(), time);
note "xact_commit $c0 -> $c1 in " . ($t1 - $t0) . " s";
my $rate = ($c1 - $c0) / ($t1 - $t0);
note sprintf('transactions in database shop with a delivery due for a disabled destination: %.1f per second', $rate);
ok($rate < 10, sprintf('the delivery worker does not spin: %.1f transactions per second (< 10)', $rate));
is(sql('shop', q{SELECT status || ' ' || attempts FROM tripl.deliveries}), 'pending 0', 'the delivery waits');
is(scalar($sink->requests), 0, '... and is not sent');
sql('shop', q{SELECT tripl.alter_destination('off', enabled => true)});
ok($node->poll_query_until('shop', q{SELECT status = 'sent' FROM tripl.deliveries}), 'enabled again: it is sent');
is(scalar($sink->requests), 1, '... once');

# 2. CREATE DATABASE ... TEMPLATE and ALTER DATABASE ... RENAME stop the
#    workers of the database first, and they come back
my $t = time;
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE DATABASE shop_copy TEMPLATE shop');
is($ret, 0, 'CREATE DATABASE ... TEMPLATE of a database with tripl\'s workers succeeds') or diag($err);
ok(time - $t < 10, sprintf('... promptly (%.1f s)', time - $t));
wait_workers('delivery:shop scheduler:shop delivery:shop_copy scheduler:shop_copy',
	'the template\'s workers come back, and the copy gets its own', 'shop', 'shop_copy');
is(sql('shop_copy', q{SELECT count(*) FROM tripl.destinations}), '1', 'the copy has the destination');

($ret, $out, $err) = $node->psql('postgres', 'ALTER DATABASE shop RENAME TO store');
is($ret, 0, 'ALTER DATABASE ... RENAME of a database with tripl\'s workers succeeds') or diag($err);
wait_workers('delivery:store scheduler:store', 'its workers come back under the new name', 'shop', 'store');
is(sql('postgres', q{SELECT string_agg(application_name, ', ' ORDER BY application_name) FROM pg_stat_activity
	WHERE datname = 'store' AND backend_type LIKE 'tripl %'}), 'tripl delivery store, tripl scheduler store',
	'... and names');

# a rename in an open transaction: the workers wait for its end
my $bg = $node->background_psql('postgres');
$bg->query_safe(q{BEGIN; ALTER DATABASE store RENAME TO shop;});
usleep(2_500_000);
is(workers('store', 'shop'), '', 'while the renaming transaction is open, the workers stay away');
$bg->query_safe(q{COMMIT});
$bg->quit;
wait_workers('delivery:shop scheduler:shop', 'after its commit they are back, as shop', 'shop', 'store');
# ... and after a rollback, under the old name
$bg = $node->background_psql('postgres');
$bg->query_safe(q{BEGIN; ALTER DATABASE shop RENAME TO store;});
$bg->query_safe(q{ROLLBACK});
$bg->quit;
wait_workers('delivery:shop scheduler:shop', 'after a rolled-back rename they are back, as shop', 'shop', 'store');

# someone who may not rename it leaves the workers alone
my $shop_workers = sql('postgres', q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
	WHERE datname = 'shop' AND backend_type LIKE 'tripl %'});
sql('postgres', 'CREATE ROLE someone LOGIN CREATEDB');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE someone; ALTER DATABASE shop RENAME TO taken');
like($err, qr/must be owner of database shop/, 'a role that does not own the database may not rename it');
is(sql('postgres', q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
	WHERE datname = 'shop' AND backend_type LIKE 'tripl %'}), $shop_workers, '... and its attempt does not stop the workers');

sql('postgres', q{CREATE TABLESPACE elsewhere LOCATION ''});
($ret, $out, $err) = $node->psql('postgres', 'ALTER DATABASE shop_copy SET TABLESPACE elsewhere');
is($ret, 0, 'ALTER DATABASE ... SET TABLESPACE succeeds') or diag($err);
wait_workers('delivery:shop_copy scheduler:shop_copy', '... and the workers come back', 'shop_copy');
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE shop_copy');
is($ret, 0, 'DROP DATABASE still succeeds') or diag($err);

# 3. tripl.databases: a database taken out of it loses its workers at the
#    reload; put back, it gets them again
my $shop_pids = sql('postgres', q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
	WHERE datname = 'shop' AND backend_type LIKE 'tripl %'});
sql('postgres', q{ALTER SYSTEM SET tripl.databases = 'shop'; SELECT pg_reload_conf()});
wait_workers('', 'a database taken out of tripl.databases: its workers stop', 'other');
is(sql('postgres', q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
	WHERE datname = 'shop' AND backend_type LIKE 'tripl %'}), $shop_pids, 'the listed database keeps its workers');
sql('postgres', q{ALTER SYSTEM SET tripl.databases = '"not closed'; SELECT pg_reload_conf()});
usleep(3_000_000);
is(workers('shop'), 'delivery:shop scheduler:shop', 'an unreadable tripl.databases stops nothing');
sql('postgres', q{ALTER SYSTEM RESET tripl.databases; SELECT pg_reload_conf()});
wait_workers('delivery:other scheduler:other', 'put back (tripl.databases empty): its workers start again', 'other');

$sink->stop;
$node->stop;
done_testing();

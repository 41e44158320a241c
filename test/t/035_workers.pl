# The background workers around other people's work: a delivery that is due
# for a disabled destination does not make the delivery worker spin.
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

$sink->stop;
$node->stop;
done_testing();

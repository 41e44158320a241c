# Email destinations against real SMTP servers on 127.0.0.1
# (test/lib/smtp_sink.py): STARTTLS with a throwaway certificate and AUTH,
# SMTPS, plain SMTP when the destination turns STARTTLS off; the raw message
# (headers, RFC 2047 subject, base64 parts, CRLF, recipients) with a
# template and a unit that try to inject headers; the resolution email;
# 5xx and 4xx answers, a refused login, a server that hangs, a server
# without STARTTLS, and the address guard at connection.
use strict;
use warnings;
use utf8;
use Encode;
use JSON::PP;
use MIME::Base64;
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('email');
$node->init;
my $dir = $node->basedir;

# a throwaway certificate for 127.0.0.1, trusted through tripl.delivery_ca_file
system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', "$dir/key.pem",
	'-out', "$dir/cert.pem", '-days', '2', '-subj', '/CN=127.0.0.1',
	'-addext', 'subjectAltName=IP:127.0.0.1') == 0 or die 'openssl failed';

# a server under valgrind (make valgrind) needs many seconds for a TLS
# handshake: the timeouts are longer there, the hang test waits longer
my ($timeout, $connect, $lease) = ($ENV{TRIPL_VALGRIND} // '0') eq '1' ? ('60s', '30s', '100s') : ('2s', '1s', '3s');
$node->append_conf('postgresql.conf', qq{
tripl.allow_private_destinations = on
tripl.delivery_timeout = '$timeout'
tripl.delivery_connect_timeout = '$connect'
tripl.delivery_lease = '$lease'
tripl.delivery_retry_base = '10s'
tripl.delivery_ca_file = '$dir/cert.pem'
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION tripl');

my @sinks;

# start an SMTP server; returns { port, log, plan }
sub smtp_sink
{
	my ($name, @args) = @_;
	my $s = { log => "$dir/$name.log", plan => "$dir/$name.plan", out => "$dir/$name.out" };
	unlink $s->{log}, $s->{out};
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', $s->{out}) or die;
		open(STDERR, '>>', "$dir/$name.err") or die;
		exec('python3', "$ENV{TRIPL_SRC}/test/lib/smtp_sink.py", '--port', '0', '--log', $s->{log},
			'--plan', $s->{plan}, @args) or die "exec: $!";
	}
	$s->{pid} = $pid;
	push @sinks, $pid;
	for (1 .. 200)
	{
		if (open(my $fh, '<', $s->{out}))
		{
			my $line = <$fh>;
			if (defined $line && $line =~ /^PORT (\d+)/)
			{
				$s->{port} = $1;
				return $s;
			}
		}
		usleep(50_000);
	}
	die "smtp sink $name did not start";
}

# the answers a sink gives from now on
sub plan
{
	my ($s, $plan) = @_;
	open(my $fh, '>', $s->{plan}) or die;
	print $fh encode_json($plan);
	close $fh;
}

# the messages a sink accepted
sub messages
{
	my ($s) = @_;
	open(my $fh, '<', $s->{log}) or return ();
	my @m = map { decode_json($_) } grep { /\S/ } <$fh>;
	$_->{data} = decode_base64($_->{data_base64}) foreach @m;
	return @m;
}

# headers (unfolded, name => [values]) and body of a raw message
sub parse_message
{
	my ($raw) = @_;
	my ($head, $body) = split(/\r\n\r\n/, $raw, 2);
	$head =~ s/\r\n[ \t]/ /g;
	my %h;
	foreach my $line (split(/\r\n/, $head))
	{
		my ($k, $v) = $line =~ /^([^:]+):\s?(.*)$/ or return undef;
		push @{ $h{lc $k} }, $v;
	}
	return (\%h, $body);
}

# the decoded parts of a multipart body: content type => text
sub parts
{
	my ($headers, $body) = @_;
	my ($boundary) = $headers->{'content-type'}[0] =~ /boundary="([^"]+)"/;
	my %p;
	foreach my $part (split(/--\Q$boundary\E(?:--)?\r\n/, $body))
	{
		next unless $part =~ /\S/;
		my ($ph, $pb) = split(/\r\n\r\n/, $part, 2);
		my ($type) = $ph =~ /Content-Type: ([^;\r]+)/;
		$p{$type} = Encode::decode('UTF-8', decode_base64($pb));
	}
	return \%p;
}

sub sql { $node->safe_psql('postgres', Encode::encode('UTF-8', $_[0])) }

sub deliver_at
{
	my ($t, $pre) = @_;
	return sql(($pre // '') . ($t ? "SET tripl.mock_now = '$t'; " : '') . 'SELECT tripl.deliver()');
}

sub delivery
{
	my ($id) = @_;
	my @f = split /\|/, sql("SELECT status, attempts, coalesce(last_http_status::text, ''), "
		  . "coalesce(last_error, ''), idempotency_key FROM tripl.deliveries WHERE id = $id");
	return { status => $f[0], attempts => $f[1], code => $f[2], error => $f[3], key => $f[4] };
}

my $tls = smtp_sink('tls', '--cert', "$dir/cert.pem", '--key', "$dir/key.pem", '--auth', 'tripl:s3cret');
my $smtps = smtp_sink('smtps', '--cert', "$dir/cert.pem", '--key', "$dir/key.pem", '--implicit-tls');
my $plain = smtp_sink('plain');

sql("SELECT tripl.create_destination('mail', 'email', 'smtp://127.0.0.1:$tls->{port}', secret => 'tripl:s3cret', "
	  . q{options => '{"from": "tripl@example.com", "to": ["ops@example.com", "cto@example.org"]}')});

# 1. An anomaly by email: a template and a unit with CR/LF, header names,
#    a lone "." line and HTML
sql(q{
	CREATE TABLE orders (created_at timestamptz NOT NULL);
	SELECT tripl.create_fact_table('orders', 'SELECT created_at FROM orders', 'created_at');
	SELECT tripl.create_metric('a_count', 'fact', fact_table => 'orders', aggregation => 'count',
	                           unit => E'orders\r\nX-Unit: injected');
	INSERT INTO tripl.metric_values SELECT m.id, b, 100 FROM tripl.metrics m,
	    generate_series('2026-02-01 00:00+00'::timestamptz, '2026-02-01 12:00+00', '1 hour') b;
	INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
	SELECT id, '2026-02-01 10:00+00', 40, 100, 8, 10, -6, 'phase', 'drop' FROM tripl.metrics;
});
my $template = "{{metric}} {{direction}} ünïcødé <b>&\r\nBcc: evil\@example.com\r\n.\r\nX-Injected: yes {{unit}}";
sql("SELECT tripl.create_alert_rule('mail_rule', 'mail', message_template => E'"
	  . ($template =~ s/\r/\\r/gr =~ s/\n/\\n/gr) . "')");
is(sql(q{SET tripl.mock_now = '2026-02-01 12:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'created true', 'the rule matches');
my $id = sql(q{SELECT id FROM tripl.deliveries});
is(deliver_at('2026-02-01 12:05+00'), '1', 'the email is sent');
my $d = delivery($id);
is("$d->{status} $d->{code}", 'sent 250', 'recorded as sent, with the SMTP reply code');
my @m = messages($tls);
is(scalar(@m), 1, 'the server accepted one message');
is($m[0]{mail_from}, '<tripl@example.com>', 'from the from address');
is_deeply($m[0]{rcpt}, [ '<ops@example.com>', '<cto@example.org>' ], 'to both recipients');
ok($m[0]{tls}, 'over TLS (STARTTLS)');
ok((grep { $_ eq 'STARTTLS' } @{ $m[0]{commands} }), '... asked for with STARTTLS');
is($m[0]{auth}, 'tripl', 'after logging in');

my $raw = $m[0]{data};
unlike($raw, qr/(?<!\r)\n/, 'every line ends in CRLF');
unlike($raw, qr/[^\r\n]{999}/, 'no line is longer than 998 bytes');
my ($h, $body) = parse_message($raw);
ok(defined $h, 'the header block parses');
is_deeply([ sort keys %$h ],
	[ sort qw(date from to subject message-id mime-version auto-submitted x-tripl-idempotency-key content-type) ],
	'exactly the headers tripl writes: nothing injected');
is(scalar(grep { scalar(@{ $h->{$_} }) != 1 } keys %$h), 0, '... each once');
unlike($raw, qr/^(Bcc|X-Injected|X-Unit):/mi, 'no injected header line anywhere');
is($h->{from}[0], '<tripl@example.com>', 'From');
is($h->{to}[0], '<ops@example.com>, <cto@example.org>', 'To');
is($h->{'message-id'}[0], "<$d->{key}\@example.com>", 'Message-ID from the idempotency key');
is($h->{'x-tripl-idempotency-key'}[0], $d->{key}, 'X-Tripl-Idempotency-Key');
# created at 2026-02-01 12:05 UTC (the mock time), a Sunday
is($h->{date}[0], strftime('%a, %d %b %Y %H:%M:%S +0000', gmtime(1769947500)), 'Date: when the delivery was made');
is($h->{date}[0], 'Sun, 01 Feb 2026 12:05:00 +0000', '... in RFC 5322 form');
like($h->{subject}[0], qr/^(=\?UTF-8\?B\?[A-Za-z0-9+\/=]+\?= ?)+$/, 'the subject is RFC 2047 encoded words');
is(Encode::decode('MIME-Header', $h->{subject}[0]), "[tripl] a_count drop ünïcødé <b>&",
	'... of the first line of the message');
like($h->{'content-type'}[0], qr{^multipart/alternative; boundary="=_tripl_\Q$d->{key}\E"$}, 'multipart/alternative');
my $p = parts($h, $body);
my $text = "a_count drop ünïcødé <b>&\r\nBcc: evil\@example.com\r\n.\r\nX-Injected: yes orders\r\nX-Unit: injected";
is($p->{'text/plain'}, $text, 'the text part is the message, line ends CRLF');
like($p->{'text/html'}, qr/ünïcødé &lt;b&gt;&amp;/, 'the HTML part escapes the text');
unlike($p->{'text/html'}, qr/<b>/, '... so it has no markup from the template');
like($p->{'text/html'}, qr{<td>a_count</td><td>drop</td><td>40 orders<br>\s*X-Unit: injected</td><td>100</td><td>-60.0%</td>},
	'... and a table of the anomaly');

# 2. The incident closes: one resolution email; evaluating again adds none
sql(q{INSERT INTO tripl.metric_values SELECT id, b, 100 FROM tripl.metrics,
	generate_series('2026-02-01 13:00+00'::timestamptz, '2026-02-01 16:00+00', '1 hour') b});
is(sql(q{SET tripl.mock_now = '2026-02-01 17:05+00'; SELECT event || ' ' || sent FROM tripl.evaluate_alerts()}),
	'closed true', 'the incident closes and a resolution is enqueued');
sql(q{SET tripl.mock_now = '2026-02-01 17:10+00'; SELECT * FROM tripl.evaluate_alerts()});
is(deliver_at('2026-02-01 17:10+00'), '1', 'the resolution is sent');
@m = messages($tls);
is(scalar(@m), 2, 'one more message, only one');
($h, $body) = parse_message($m[1]{data});
is(Encode::decode('MIME-Header', $h->{subject}[0]),
	'[tripl] tripl resolved mail_rule: a_count drop resolved after 5h 0m: peak 40 orders',
	'its subject says what resolved, after how long, and the peak (cut at the unit\'s line break)');
is(parts($h, $body)->{'text/plain'},
	"tripl resolved mail_rule: a_count drop resolved after 5h 0m: peak 40 orders\r\nX-Unit: injected, expected 100 (-60.0%) at 2026-02-01 10:00 UTC",
	'its text: duration and peak deviation');

# 3. Answers: 550 to the message is final, 451 to MAIL is retried, a wrong
#    password is final, a hang times out and is retried
plan($tls, { data => '550 5.7.1 Message rejected' });
$id = sql(q{SET tripl.mock_now = '2026-02-01 18:00+00'; SELECT tripl.test_destination('mail')});
deliver_at('2026-02-01 18:00+00');
$d = delivery($id);
is("$d->{status} $d->{attempts} $d->{code}", 'dead 1 550', '550 after DATA: dead at once');
like($d->{error}, qr/SMTP reply 550/, '... saying so: ' . $d->{error});
is(scalar(messages($tls)), 2, '... and nothing was accepted');

plan($tls, { mail => '451 4.3.0 Try again later' });
$id = sql(q{SET tripl.mock_now = '2026-02-01 18:10+00'; SELECT tripl.test_destination('mail')});
deliver_at('2026-02-01 18:10+00');
$d = delivery($id);
is("$d->{status} $d->{code}", 'pending 451', '451: retried later');
plan($tls, {});
deliver_at('2026-02-01 18:20+00');
is(delivery($id)->{status}, 'sent', '... and sent once the server takes it');
@m = messages($tls);
my ($last) = parse_message($m[-1]{data});
is($last->{'message-id'}[0], "<" . delivery($id)->{key} . "\@example.com>",
	'the retried message keeps its Message-ID');

sql("SELECT tripl.create_destination('badauth', 'email', 'smtp://127.0.0.1:$tls->{port}', secret => 'tripl:wrong', "
	  . q{options => '{"from": "tripl@example.com", "to": "ops@example.com"}')});
$id = sql(q{SET tripl.mock_now = '2026-02-01 18:30+00'; SELECT tripl.test_destination('badauth')});
deliver_at('2026-02-01 18:30+00');
$d = delivery($id);
is("$d->{status} $d->{code}", 'dead 535', 'a refused login is final');
unlike($d->{error}, qr/wrong/, '... and the error does not show the password');

plan($tls, { hang => 'data' });
$id = sql(q{SET tripl.mock_now = '2026-02-01 18:40+00'; SELECT tripl.test_destination('mail')});
deliver_at('2026-02-01 18:40+00');
$d = delivery($id);
is($d->{status}, 'pending', 'a server that never answers: retried');
like($d->{error}, qr/timed out|timeout/i, '... after the delivery timeout: ' . $d->{error});
plan($tls, {});

# 4. SMTPS, and plain SMTP only when STARTTLS is turned off
sql("SELECT tripl.create_destination('mail_smtps', 'email', 'smtps://127.0.0.1:$smtps->{port}', "
	  . q{options => '{"from": "tripl@example.com", "to": "ops@example.com"}')});
$id = sql(q{SET tripl.mock_now = '2026-02-01 19:00+00'; SELECT tripl.test_destination('mail_smtps')});
deliver_at('2026-02-01 19:00+00');
is(delivery($id)->{status}, 'sent', 'SMTPS: sent');
@m = messages($smtps);
ok(@m == 1 && $m[0]{tls}, '... over TLS from the first byte');

sql("SELECT tripl.create_destination('mail_plain', 'email', 'smtp://127.0.0.1:$plain->{port}', "
	  . q{options => '{"from": "tripl@example.com", "to": "ops@example.com"}')});
$id = sql(q{SET tripl.mock_now = '2026-02-01 19:10+00'; SELECT tripl.test_destination('mail_plain')});
deliver_at('2026-02-01 19:10+00');
$d = delivery($id);
is($d->{status}, 'pending', 'a server without STARTTLS: not sent in clear text');
is(scalar(messages($plain)), 0, '... nothing reached it');
sql(q{SELECT tripl.alter_destination('mail_plain', options => '{"from": "tripl@example.com", "to": "ops@example.com", "starttls": false}')});
deliver_at('2026-02-01 19:30+00');
is(delivery($id)->{status}, 'sent', 'with starttls false: sent');
@m = messages($plain);
ok(@m == 1 && !$m[0]{tls}, '... in clear text');

# 5. The address guard at connection: a host name that resolves to loopback
sql("SELECT tripl.create_destination('mail_local', 'email', 'smtp://localhost:$plain->{port}', "
	  . q{options => '{"from": "tripl@example.com", "to": "ops@example.com", "starttls": false}')});
$id = sql(q{SET tripl.mock_now = '2026-02-01 19:40+00'; SELECT tripl.test_destination('mail_local')});
deliver_at('2026-02-01 19:40+00', 'SET tripl.allow_private_destinations = off; ');
$d = delivery($id);
is($d->{status}, 'dead', 'localhost is refused at connection');
like($d->{error}, qr/refused to connect to a loopback address/, '... by the guard: ' . $d->{error});
is(scalar(messages($plain)), 1, '... nothing reached the server');

kill 'TERM', @sinks;
waitpid($_, 0) foreach @sinks;
$node->stop;
done_testing();

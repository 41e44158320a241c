# TriplSink: start and drive test/lib/http_sink.py from TAP tests.
#
#   my $sink = TriplSink->start($dir);      # picks a free port
#   $sink->plan([{status => 503, count => 2}], {status => 200});
#   my @reqs = $sink->requests;             # recorded requests (hashes)
#   $sink->reset; $sink->stop; $sink->restart;
package TriplSink;

use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(usleep);

sub start
{
	my ($class, $dir, $port) = @_;
	my $self = bless { dir => $dir, port => $port // 0 }, $class;
	mkdir $dir unless -d $dir;
	$self->_launch;
	return $self;
}

sub _launch
{
	my ($self) = @_;
	my $src = $ENV{TRIPL_SRC} or die "TRIPL_SRC is not set";
	my $out = "$self->{dir}/sink.out";
	unlink $out;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', $out) or die;
		open(STDERR, '>>', "$self->{dir}/sink.err") or die;
		exec('python3', "$src/test/lib/http_sink.py", '--port', $self->{port},
			'--log', "$self->{dir}/sink.log") or die "exec: $!";
	}
	$self->{pid} = $pid;
	for (1 .. 200)
	{
		if (open(my $fh, '<', $out))
		{
			my $line = <$fh>;
			if (defined $line && $line =~ /^PORT (\d+)/)
			{
				$self->{port} = $1;
				return;
			}
		}
		usleep(50_000);
	}
	die "http sink did not start";
}

sub port { $_[0]->{port} }
sub url { my ($self, $path) = @_; "http://127.0.0.1:$self->{port}" . ($path // '/') }

sub plan
{
	my ($self, $steps, $default) = @_;
	my $body = { plan => $steps // [] };
	$body->{default} = $default if $default;
	my $r = HTTP::Tiny->new->post($self->url('/_control'),
		{ content => encode_json($body), headers => { 'Content-Type' => 'application/json' } });
	die "sink control failed: $r->{status}" unless $r->{success};
}

sub requests
{
	my ($self) = @_;
	my $r = HTTP::Tiny->new->get($self->url('/_requests'));
	die "sink query failed: $r->{status}" unless $r->{success};
	return @{ decode_json($r->{content}) };
}

sub reset
{
	my ($self) = @_;
	HTTP::Tiny->new->post($self->url('/_reset'));
}

sub header
{
	my ($req, $name) = @_;
	foreach my $k (keys %{ $req->{headers} })
	{
		return $req->{headers}{$k} if lc($k) eq lc($name);
	}
	return undef;
}

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	delete $self->{pid};
}

sub restart
{
	my ($self) = @_;
	$self->stop;
	$self->_launch;
}

sub DESTROY { $_[0]->stop }

1;

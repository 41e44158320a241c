# tripl.plot drawn for real: a metric with one clear spike and one clear drop
# in otherwise regular hourly data is collected and detected, plotted to SVG,
# and rendered by headless Chromium.  The PNG is decoded here (Compress::Zlib)
# and must show a chart: many colours, the spike colour (red) at the spike's
# time high up, the drop colour (blue) at the drop's time low down.  Also:
# escaping of the unit, "no data" for an empty window, and tripl.series's
# errors.  Chromium is required: without it the test fails.
use strict;
use warnings;
use Compress::Zlib ();
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $SPIKE = [ 0xd6, 0x27, 0x28 ];    # #d62728, PLOT_COLOR_SPIKE
my $DROP = [ 0x1f, 0x77, 0xb4 ];     # #1f77b4, PLOT_COLOR_DROP

my $node = PostgreSQL::Test::Cluster->new('plot');
$node->init;
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]) }

# Regular hourly visits (80..120 following the time of day) for three weeks;
# on the last day 08:00 gets 400 more (a spike) and 15:00 only 10 (a drop).
sql(q{
	CREATE EXTENSION tripl;
	CREATE TABLE visits (ts timestamptz NOT NULL);
	INSERT INTO visits
	SELECT h + i * interval '1 second'
	FROM generate_series('2026-03-01 00:00+00'::timestamptz, '2026-03-21 23:00+00', '1 hour') h,
	     generate_series(1, 100 + (20 * sin(extract(hour FROM h AT TIME ZONE 'UTC') * pi() / 12))::int) i
	WHERE h <> '2026-03-21 15:00+00';
	INSERT INTO visits SELECT '2026-03-21 15:10+00' FROM generate_series(1, 10);
	INSERT INTO visits SELECT '2026-03-21 08:20+00' FROM generate_series(1, 400);
	SELECT tripl.create_fact_table('visits', 'SELECT ts FROM visits', 'ts');
	SELECT tripl.create_metric('visits', 'fact', fact_table => 'visits', aggregation => 'count',
		unit => '<script>&"''');
});
is(sql(q{SET tripl.mock_now = '2026-03-22 00:10+00';
	SELECT count(*) FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-22 00:00+00')
	WHERE status = 'success'}), '1', 'the metric is collected');
is(sql(q{SET tripl.mock_now = '2026-03-22 00:10+00'; SELECT anomalies FROM tripl.detect()}), '2',
	'detection finds two anomalies');
is(sql(q{SELECT string_agg(to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') || ' ' || direction, ', ' ORDER BY bucket)
	FROM tripl.series('visits', '2026-03-21 00:00+00', '2026-03-22 00:00+00') WHERE is_anomaly}),
	'08:00 spike, 15:00 drop', 'the series has the spike at 08:00 and the drop at 15:00');

# The SVG
my $svg = sql(q{SELECT tripl.plot('visits', '2026-03-19 00:00+00', '2026-03-22 00:00+00')});
like($svg, qr/\A<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="900" height="320" viewBox="0 0 900 320"/,
	'tripl.plot returns an SVG of 900x320 with a viewBox');
like($svg, qr/<\/svg>\s*\z/, '... that ends with </svg>');
like($svg, qr/>visits \(&lt;script&gt;&amp;&quot;&#39;\)<\/text>/, 'the title names the metric and its escaped unit');
unlike($svg, qr/<script/, 'no <script> comes through');
like($svg, qr/2026-03-19 00:00 &#8211; 2026-03-22 00:00 UTC &#183; 1 spike, 1 drop/, 'the subtitle has the window');
like($svg, qr/fill="#d62728"/i, 'the spike colour is used');
like($svg, qr/fill="#1f77b4"/i, 'the drop colour is used');
like($svg, qr/<title>spike 2026-03-21 08:00 UTC: 517 \(expected/, 'the spike dot has a tooltip');
unlike($svg, qr/nan|inf/i, 'no nan or inf');

# The window reaches the end of the collected range (03-22 00:00): the
# forecast's next 72 / 4 = 18 buckets (03-22 00:00 to 17:00) are its tail,
# dashed and shaded in orange and named in the legend; the x axis reaches
# 03-22 17:00.  A window that ends before the collected range has none.
like($svg, qr/>forecast<\/text>/, 'the legend names the forecast tail');
like($svg, qr/stroke="#ff7f0e" stroke-width="1.5" stroke-dasharray="5 3"/, 'the tail is a dashed line');
like($svg, qr/fill="#ff7f0e" fill-opacity="0.2" stroke="none" d="M/, '... over a shaded band');
is(sql(q{SELECT count(*) FROM tripl.forecast('visits', 18) WHERE bucket = '2026-03-22 17:00+00'}), '1',
	'the forecast of 18 buckets ends at 03-22 17:00');
my $history = sql(q{SELECT tripl.plot('visits', '2026-03-19 00:00+00', '2026-03-21 00:00+00')});
unlike($history, qr/forecast|#ff7f0e/, 'a window before the end of the collected range has no tail');

my $empty = sql(q{SELECT tripl.plot('visits', '2026-01-01 00:00+00', '2026-01-02 00:00+00')});
like($empty, qr/\A<svg.*>no data<\/text>.*<\/svg>\s*\z/s, 'an empty window gives an SVG saying "no data"');

# Errors are tripl.series's own
foreach my $args (q{'no_such_metric', '2026-03-19', '2026-03-22'}, q{NULL, '2026-03-19', '2026-03-22'},
	q{'visits', NULL, '2026-03-22'}, q{'visits', '2026-03-22', '2026-03-19'})
{
	my (undef, undef, $perr) = $node->psql('postgres', "SELECT tripl.plot($args)");
	my (undef, undef, $serr) = $node->psql('postgres', "SELECT * FROM tripl.series($args)");
	$perr =~ s/^(?:LINE|\s).*\n?//mg;
	$serr =~ s/^(?:LINE|\s).*\n?//mg;
	ok($perr ne '' && $perr eq $serr, "tripl.plot($args) fails as tripl.series does: $perr");
}

# Render it in headless Chromium
my ($chromium) = grep { -x $_ } map { "$_/chromium" } split /:/, $ENV{PATH};
ok(defined $chromium, 'chromium is installed (make deps installs it)')
  or do { done_testing(); exit 1; };
my $dir = PostgreSQL::Test::Utils::tempdir();
my $svg_file = "$dir/plot.svg";
my $png_file = "$dir/plot.png";
open(my $fh, '>', $svg_file) or die "cannot write $svg_file: $!";
print $fh $svg;
close $fh;
my @cmd = ($chromium, '--headless', '--no-sandbox', '--disable-gpu', "--screenshot=$png_file",
	'--window-size=900,320', "file://$svg_file");
my ($out, $err) = ('', '');
{
	local $ENV{HOME} = $dir;
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
}
note("chromium: " . join(' ', @cmd));
ok(-s $png_file, 'chromium wrote a screenshot') or diag($err);
my $png = read_png($png_file);
ok($png, 'the screenshot is a PNG we can decode') or do { done_testing(); exit 1; };
is("$png->{width}x$png->{height}", '900x320', 'the screenshot is 900x320');

# The plot area, from the SVG's clip path; the x domain is the first bucket
# to the last of the forecast tail
my ($ax, $ay, $aw, $ah) =
  $svg =~ /<clipPath id="tripl-plot-area"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/;
ok(defined $ah, 'the plot area is in the SVG');
my $last = 71 + 18;    # hours from the first bucket (03-19 00:00) to the tail's last (03-22 17:00)
my %expect_x = (spike => $ax + (48 + 8) / $last * $aw, drop => $ax + (48 + 15) / $last * $aw);

my (%colours, $non_white);
my %found = (spike => [], drop => []);
for my $y (0 .. $png->{height} - 1)
{
	my $row = $png->{rows}[$y];
	for my $x (0 .. $png->{width} - 1)
	{
		my ($r, $g, $b) = unpack('C3', substr($row, $x * $png->{bpp}, 3));
		$colours{ ($r << 16) | ($g << 8) | $b } = 1;
		$non_white++ if $r < 250 || $g < 250 || $b < 250;
		next unless $y >= $ay - 6 && $y <= $ay + $ah + 6 && $x >= $ax && $x <= $ax + $aw + 6;
		push @{ $found{spike} }, [ $x, $y ] if near([ $r, $g, $b ], $SPIKE);
		push @{ $found{drop} }, [ $x, $y ] if near([ $r, $g, $b ], $DROP);
	}
}
cmp_ok(scalar(keys %colours), '>', 50, 'the picture is not blank: ' . scalar(keys %colours) . ' colours');
cmp_ok($non_white, '>', 5000, "... and $non_white non-white pixels");
foreach my $kind ('spike', 'drop')
{
	my @p = @{ $found{$kind} };
	cmp_ok(scalar(@p), '>=', 12, "$kind-coloured pixels in the plot area: " . scalar(@p));
	next unless @p;
	my ($mx, $my) = (0, 0);
	$mx += $_->[0] / @p for @p;
	$my += $_->[1] / @p for @p;
	$found{ $kind . '_y' } = $my;
	ok(abs($mx - $expect_x{$kind}) < 6, sprintf("... at the %s's time (x %.1f, expected %.1f)", $kind, $mx, $expect_x{$kind}));
}
ok(defined $found{spike_y} && defined $found{drop_y} && $found{spike_y} < $ay + $ah / 2
	  && $found{drop_y} > $ay + $ah * 0.8,
	sprintf('the spike is drawn high (y %.0f), the drop low (y %.0f)', $found{spike_y} // -1, $found{drop_y} // -1));

$node->stop;
done_testing();

# Is a colour within a few steps of another?
sub near
{
	my ($c, $want) = @_;
	return abs($c->[0] - $want->[0]) <= 8 && abs($c->[1] - $want->[1]) <= 8 && abs($c->[2] - $want->[2]) <= 8;
}

# Decode an 8-bit RGB or RGBA non-interlaced PNG: {width, height, bpp, rows}
sub read_png
{
	my ($file) = @_;
	open(my $in, '<:raw', $file) or return undef;
	local $/;
	my $data = <$in>;
	close $in;
	return undef unless defined $data && substr($data, 0, 8) eq "\x89PNG\r\n\x1a\n";
	my ($pos, $idat, %h) = (8, '');
	while ($pos + 8 <= length $data)
	{
		my ($len, $type) = unpack('N a4', substr($data, $pos, 8));
		my $body = substr($data, $pos + 8, $len);
		$pos += 12 + $len;
		@h{qw(width height depth ctype compression filter interlace)} = unpack('N N C C C C C', $body)
		  if $type eq 'IHDR';
		$idat .= $body if $type eq 'IDAT';
		last if $type eq 'IEND';
	}
	return undef unless ($h{depth} // 0) == 8 && ($h{ctype} == 2 || $h{ctype} == 6) && !$h{interlace};
	my $bpp = $h{ctype} == 6 ? 4 : 3;
	my $raw = Compress::Zlib::uncompress($idat);
	my $stride = $h{width} * $bpp;
	return undef unless defined $raw && length($raw) == $h{height} * ($stride + 1);
	my @prev = (0) x $stride;
	my @rows;
	for my $y (0 .. $h{height} - 1)
	{
		my $filter = ord(substr($raw, $y * ($stride + 1), 1));
		my @cur = unpack('C*', substr($raw, $y * ($stride + 1) + 1, $stride));
		for my $i (0 .. $stride - 1)
		{
			my $a = $i >= $bpp ? $cur[ $i - $bpp ] : 0;
			my $b = $prev[$i];
			my $c = $i >= $bpp ? $prev[ $i - $bpp ] : 0;
			my $add;
			if ($filter == 0) { next }
			elsif ($filter == 1) { $add = $a }
			elsif ($filter == 2) { $add = $b }
			elsif ($filter == 3) { $add = ($a + $b) >> 1 }
			elsif ($filter == 4)
			{
				my $p = $a + $b - $c;
				my ($pa, $pb, $pc) = (abs($p - $a), abs($p - $b), abs($p - $c));
				$add = ($pa <= $pb && $pa <= $pc) ? $a : ($pb <= $pc ? $b : $c);
			}
			else { return undef }
			$cur[$i] = ($cur[$i] + $add) & 0xff;
		}
		push @rows, pack('C*', @cur);
		@prev = @cur;
	}
	return { width => $h{width}, height => $h{height}, bpp => $bpp, rows => \@rows };
}

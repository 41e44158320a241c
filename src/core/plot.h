/*-------------------------------------------------------------------------
 *
 * plot.h
 *	  A metric's series drawn as one self-contained SVG (tripl.plot).
 *
 *	  The picture is PLOT_WIDTH x PLOT_HEIGHT with a viewBox, on a white
 *	  background, text in the generic "sans-serif" family; no fonts,
 *	  scripts, styles or images are referenced.  It holds:
 *
 *	  - the title (metric name, plus " (unit)" when a unit is set) and a
 *		subtitle with the window in the series' time zone (UTC unless
 *		one is given), each end with the zone's abbreviation there;
 *	  - the expected band (lower..upper) filled translucent grey, the
 *		expected line dashed grey, and the value line dark;  a missing
 *		value (NaN, or an infinity) breaks the line, it is never drawn as
 *		0, and a lone value between gaps is drawn as a dot;
 *	  - anomalies as dots on the value: spikes in PLOT_COLOR_SPIKE (red),
 *		drops in PLOT_COLOR_DROP (blue), each with a tooltip;
 *	  - y ticks on 1/2/5 x 10^k steps with compact labels (950, 1.2k,
 *		3.4M, 2B), x ticks on calendar steps of local time in the zone
 *		(seconds to years, labelled by time of day, day or month as the
 *		span needs: daily ticks on local midnights, monthly ones on
 *		local month starts; a local time a DST change skips has no tick);
 *	  - a forecast tail after the last bucket, when one is given: its
 *		expected value dashed and its band shaded in PLOT_COLOR_FORECAST,
 *		the x axis extended to its last bucket;
 *	  - a legend naming only what is drawn;
 *	  - "no data" in the middle when no value, expected value or bound is
 *		finite.
 *
 *	  Each colour of an anomaly kind appears in the SVG exactly when an
 *	  anomaly of that kind is drawn.  Text taken from the caller (title,
 *	  unit) is XML-escaped; it must be UTF-8 (invalid bytes become U+FFFD)
 *	  and every character outside ASCII is written as a character
 *	  reference, so the SVG itself is plain ASCII.
 *
 *	  Long series are thinned per pixel column (first, lowest, highest and
 *	  last point of each column), so spikes survive and the size of the SVG
 *	  depends on its width, not on the number of points (about 100 kB for
 *	  100 000 points).  Gaps narrower than a pixel column are not shown, and
 *	  anomaly dots that would cover each other (same 4 px cell and kind) are
 *	  drawn once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_PLOT_H
#define TRIPL_PLOT_H

#include "core.h"
#include "grid.h"

#define PLOT_WIDTH			900
#define PLOT_HEIGHT			320

/* Anomaly colours (documented in the legend of every plot that has them) */
#define PLOT_COLOR_SPIKE	"#d62728"	/* red */
#define PLOT_COLOR_DROP		"#1f77b4"	/* blue */
/* The forecast tail's line and band */
#define PLOT_COLOR_FORECAST	"#ff7f0e"	/* orange */

/* Direction of an anomaly */
#define PLOT_DIRECTION_NONE		0	/* unknown: judged from value vs expected */
#define PLOT_DIRECTION_UP		1	/* spike */
#define PLOT_DIRECTION_DOWN		(-1)	/* drop */

/* Most ticks plot_nice_ticks and plot_time_ticks ever return */
#define PLOT_MAX_TICKS		64

/*
 * A series to draw.  Arrays have n elements, buckets in ascending order;
 * a NULL array means "all missing" (or, for the anomaly arrays, "none").
 * NaN (or an infinity) in a double array means NULL.
 */
typedef struct PlotInput
{
	int			n;
	const int64_t *bucket;		/* bucket start, Unix microseconds */
	const double *value;
	const double *expected;
	const double *lower;		/* expected band */
	const double *upper;
	const bool *is_anomaly;
	const int  *direction;		/* PLOT_DIRECTION_* per bucket */
	const char *title;			/* metric name; NULL = "" */
	const char *unit;			/* NULL or "" = none */
	int64_t		window_from;	/* for the subtitle (and the x axis of an */
	int64_t		window_to;		/* empty series) */
	GridZone	zone;			/* the axis's time zone; zeroed: UTC */
	/* the zone's abbreviation at an instant ("EST"); NULL: "UTC" */
	void		(*zone_abbrev) (const void *arg, int64_t utc, char *buf, size_t len);
	/* the forecast tail: n_forecast buckets after the series, ascending */
	int			n_forecast;
	const int64_t *forecast_bucket;
	const double *forecast_expected;
	const double *forecast_lower;
	const double *forecast_upper;
} PlotInput;

/* Draw a series; returns a core_alloc'ed NUL-terminated SVG */
extern char *plot_svg(const PlotInput *in);

/*
 * Nice y ticks covering [lo, hi] in about "target" steps of 1, 2 or 5 times
 * a power of ten: the first tick is at or below lo, the last at or above
 * hi.  Returns the number of ticks (at most PLOT_MAX_TICKS, 0 for
 * non-finite input) and stores the step.
 */
extern int	plot_nice_ticks(double lo, double hi, int target, double *ticks, double *step);

/*
 * A compact label for a tick: 1200 -> "1.2k", 3400000 -> "3.4M", 0.25 ->
 * "0.25", with just the decimals that ticks "step" apart need.
 */
extern void plot_format_tick(double v, double step, char *buf, size_t len);

/*
 * Time ticks in [from, to] (Unix microseconds) on a calendar step chosen
 * for about "target" ticks; returns how many (at most PLOT_MAX_TICKS) and
 * writes each label (UTC) into labels[i] (PLOT_LABEL_LEN bytes each).
 */
#define PLOT_LABEL_LEN		32
extern int	plot_time_ticks(int64_t from, int64_t to, int target, int64_t *ticks,
							char (*labels)[PLOT_LABEL_LEN]);

/*
 * The same in a time zone: ticks on local calendar steps (each returned as
 * its instant, ascending), labels in local time.
 */
extern int	plot_time_ticks_in(int64_t from, int64_t to, int target, const GridZone *zone,
							   int64_t *ticks, char (*labels)[PLOT_LABEL_LEN]);

#endif							/* TRIPL_PLOT_H */

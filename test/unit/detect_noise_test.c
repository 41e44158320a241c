/*-------------------------------------------------------------------------
 *
 * detect_noise_test.c
 *	  Unit tests of the detector's noise model, burst test, shift tolerance,
 *	  incidents (src/core/detect_incident.c) and forecasts
 *	  (src/core/detect_forecast.c), against hand-computed expectations from
 *	  doc/detection.md, "The detector in detail" and "Forecasts".
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include "detect_core.h"

#define MINUTE	CORE_USECS_PER_MINUTE
#define HOUR	CORE_USECS_PER_HOUR
#define DAY		CORE_USECS_PER_DAY
/* 2024-01-01 00:00 UTC, a Monday */
#define T0		INT64_C(1704067200000000)

#include "detect_helpers.h"

/* Uniform in [0, 1) */
static double
uniform(uint64_t *state)
{
	return (double) (test_random(state) >> 11) / 9007199254740992.0;
}

/* Ascending insertion sort (the test's own, for hand-computed medians) */
static void
sort_doubles(double *x, int n)
{
	int			i,
				j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && x[j] < x[j - 1]; j--)
		{
			double		t = x[j];

			x[j] = x[j - 1];
			x[j - 1] = t;
		}
}

/* Median non-zero |v[k] - v[k-1]| by hand */
static double
hand_typical_step(const double *v, int n)
{
	double	   *steps = (double *) core_alloc(sizeof(double) * (size_t) n);
	int			count = 0;
	int			k;
	double		result;

	for (k = 1; k < n; k++)
		if (v[k] != v[k - 1])
			steps[count++] = fabs(v[k] - v[k - 1]);
	sort_doubles(steps, count);
	result = count % 2 ? steps[count / 2] : (steps[count / 2 - 1] + steps[count / 2]) / 2.0;
	core_free(steps);
	return result;
}

/* The incident of out whose first bucket is first; NULL when none */
static const DetectIncident *
find_incident(const DetectOutput *out, int64_t first)
{
	int			k;

	for (k = 0; k < out->n_incidents; k++)
		if (out->incidents[k].first == first)
			return &out->incidents[k];
	return NULL;
}

/*
 * An incident's extent: an hourly count of ~100 that doubles for exactly
 * five hours (600..604) is one incident whose first bucket is 600 and whose
 * last flagged bucket is 604; the gap of an hourly grid is 2 buckets, so it
 * is over (ended at 605) once 605 and 606 are judged without a flag, and
 * open while 606 is not judged yet.  A pass starting inside it carries it
 * (first = its first flag, known from the history) with the same extent.
 */
static void
test_incident_extent(void)
{
	int			n = 28 * 24;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * (size_t) n);
	DetectSettings s = no_settling();
	DetectOutput out;
	const DetectIncident *inc;
	char		err[128];
	uint64_t	rng = 23;
	int			i;

	for (i = 0; i < n; i++)
		v[i] = floor((i >= 600 && i < 605 ? 200.0 : 100.0) + 5.0 * test_normal(&rng) + 0.5);

	/* values up to 606: judged through 606, two quiet buckets after 604 */
	CHECK(detect_run(b, v, 607, HOUR, true, T0 + 590 * HOUR, T0 + 607 * HOUR, &s, &out, err, sizeof(err)),
		  "extent: runs");
	inc = find_incident(&out, T0 + 600 * HOUR);
	CHECK(inc != NULL && !inc->carried && inc->direction == 1, "extent: one spike incident from 600");
	CHECK(inc != NULL && inc->last == T0 + 604 * HOUR, "extent: its last flagged bucket is 604");
	CHECK(inc != NULL && inc->ended_at == T0 + 605 * HOUR, "extent: over, ended at 605");
	CHECK(count_flags(&out, 600, 607) == 1, "extent: reported once");
	detect_output_free(&out);

	/* values up to 605: 606 not judged yet, a flag there would continue it */
	CHECK(detect_run(b, v, 606, HOUR, true, T0 + 590 * HOUR, T0 + 606 * HOUR, &s, &out, err, sizeof(err)),
		  "extent: shorter series runs");
	inc = find_incident(&out, T0 + 600 * HOUR);
	CHECK(inc != NULL && inc->last == T0 + 604 * HOUR && inc->ended_at == DETECT_OPEN,
		  "extent: still open while the gap after its last flag is not judged");
	detect_output_free(&out);

	/* a later pass starting at 602 carries it */
	CHECK(detect_run(b, v, 610, HOUR, true, T0 + 602 * HOUR, T0 + 610 * HOUR, &s, &out, err, sizeof(err)),
		  "extent: later pass runs");
	inc = find_incident(&out, T0 + 600 * HOUR);
	CHECK(inc != NULL && inc->carried, "extent: the later pass carries the incident");
	CHECK(inc != NULL && inc->last == T0 + 604 * HOUR && inc->ended_at == T0 + 605 * HOUR,
		  "extent: carried with the same last bucket and end");
	CHECK(count_flags(&out, 602, 610) == 0, "extent: the later pass reports nothing new");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * A lasting condition is one incident: an hourly count of ~100 doubling
 * for 60 hours is flagged once, at its first hour; a pass that starts
 * inside the condition emits nothing for it and suppresses its range.
 */
static void
test_incident_once(void)
{
	int			n = 28 * 24;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * (size_t) n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	uint64_t	rng = 17;
	int			i;

	for (i = 0; i < n; i++)
		v[i] = floor((i >= 600 && i < 660 ? 200.0 : 100.0) + 10.0 * test_normal(&rng) + 0.5);
	CHECK(detect_run(b, v, n, HOUR, true, T0, T0 + (int64_t) n * HOUR, &s, &out, err, sizeof(err)),
		  "level shift runs");
	CHECK(out.rows[600].is_anomaly && out.rows[600].direction == 1, "the condition is reported at its first hour");
	CHECK(count_flags(&out, 600, 660) == 1, "one flag for 60 hours of the condition");
	detect_output_free(&out);

	CHECK(detect_run(b, v, n, HOUR, true, T0 + 603 * HOUR, T0 + (int64_t) n * HOUR, &s, &out, err, sizeof(err)),
		  "a pass starting inside the condition runs");
	CHECK(count_flags(&out, 603, 660) == 0, "an incident reported by an earlier pass is not reported again");
	CHECK(out.n_suppressed >= 1 && out.suppressed[0].from == T0 + 600 * HOUR,
		  "the incident is known to have begun at its first hour (its range is suppressed)");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * Offset scale: a temperature near 74 with noise of sd 1 has its floors
 * capped at one typical step (not 5 % of 74 = 3.7), so a 6-degree rise is
 * flagged.
 */
static void
test_offset_scale(void)
{
	int			n = 28 * 24;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * (size_t) n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	uint64_t	rng = 5;
	double		step;
	int			i;

	for (i = 0; i < n; i++)
		v[i] = 74.0 + sin(2.0 * M_PI * (i % 24) / 24.0) + test_normal(&rng) + (i >= 650 && i < 652 ? 6.0 : 0.0);
	step = hand_typical_step(v, n);
	CHECK(step > 0.5 && step < 2.0, "typical step of noise sd 1 is about 1");
	CHECK(detect_run(b, v, n, HOUR, false, T0 + 600 * HOUR, T0 + (int64_t) n * HOUR, &s, &out, err, sizeof(err)),
		  "temperature runs");
	CHECK(count_flags(&out, 650, 653) == 1, "the 6-degree rise is flagged");
	CHECK(count_flags(&out, 600, 650) + count_flags(&out, 653, n) == 0, "nothing else is flagged");
	CHECK(out.rows[640].effective_stddev < 3.0, "the spread is not 5 % of the level (3.7)");
	CHECK(out.rows[640].effective_stddev >= fmin(0.05 * 74.0, step) - 1e-12 ||
		  out.rows[640].effective_stddev >= out.rows[640].stddev, "floor: the typical step at most");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * Stepped series: a CPU share switching between 0.066 and 0.134 has a
 * floor of one typical step (0.068 by hand), so its steps are not flagged;
 * a runaway at 0.8 is, once.
 */
static void
test_stepped(void)
{
	int			n = 28 * 24;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * (size_t) n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	uint64_t	rng = 9;
	double		level = 0.066;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (uniform(&rng) < 0.08)
			level = level < 0.1 ? 0.134 : 0.066;
		v[i] = i >= 640 && i < 643 ? 0.8 : level;
	}
	CHECK_NEAR(hand_typical_step(v, 630), 0.068, 1e-12, "the typical step is one quantum");
	CHECK(detect_run(b, v, n, HOUR, false, T0 + 500 * HOUR, T0 + (int64_t) n * HOUR, &s, &out, err, sizeof(err)),
		  "stepped series runs");
	CHECK(count_flags(&out, 500, 640) == 0 && count_flags(&out, 644, n) <= 1, "steps are not anomalies");
	CHECK(count_flags(&out, 640, 643) == 1, "the runaway is one incident");
	for (i = 500; i < 640; i++)
		if (!isnan(out.rows[i].effective_stddev) && out.rows[i].effective_stddev < 0.068 - 1e-12)
			break;
	CHECK(i == 640, "every spread is at least one typical step");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/* P(X >= x) for X ~ Binomial(n, p), by the sum of the terms */
static double
hand_binomial_tail(int n, double p, int x)
{
	double		tail = 0.0;
	int			k,
				j;

	for (k = x; k <= n; k++)
	{
		double		c = 1.0;

		for (j = 1; j <= k; j++)
			c = c * (double) (n - k + j) / (double) j;
		tail += c * pow(p, k) * pow(1.0 - p, n - k);
	}
	return tail;
}

/*
 * Zero-typical series: a 5-minute count that is 0 except for a burst of
 * 10 in about 3 % of buckets is judged by the burst test; an hour in which
 * 11 of 12 buckets burst is flagged (kind burst) with the z of the
 * binomial tail, once.
 */
static void
test_zero_typical(void)
{
	int			n = 3 * 288;
	int64_t    *b = make_buckets(n, 5 * MINUTE);
	double	   *v = (double *) core_alloc(sizeof(double) * (size_t) n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	uint64_t	rng = 3;
	int			first = -1;
	int			active_before = 0;
	int			active_window = 0;
	int			i;

	for (i = 0; i < n; i++)
		v[i] = (i >= 700 && i < 712 && i != 703) || uniform(&rng) < 0.03 ? 10.0 : 0.0;
	CHECK(detect_run(b, v, n, 5 * MINUTE, true, T0, T0 + (int64_t) n * 5 * MINUTE, &s, &out, err, sizeof(err)),
		  "zero-typical count runs (no silent skip)");
	CHECK(!out.skipped_small, "a zero-typical series is not skipped");
	CHECK(count_flags(&out, 700, 712) == 1, "the storm is one incident");
	for (i = 690; i < 712; i++)
		if (out.rows[i].is_anomaly)
		{
			first = i;
			break;
		}
	CHECK(first >= 700 && out.rows[first].kind == DETECTOR_BURST, "flagged by the burst test");
	if (first >= 700)
	{
		double		p,
					z = 0.0,
					lo = 0.0,
					hi = 40.0;
		int			k;

		for (k = 0; k < first - 11; k++)
			active_before += v[k] != 0.0;
		for (k = first - 11; k <= first; k++)
			active_window += v[k] != 0.0;
		p = (active_before + 0.5) / (double) (first - 11 + 1);
		for (k = 0; k < 100; k++)
		{
			z = (lo + hi) / 2.0;
			if (0.5 * erfc(z / M_SQRT2) > hand_binomial_tail(12, p, active_window))
				lo = z;
			else
				hi = z;
		}
		CHECK_NEAR(out.rows[first].z_score, z, 1e-6, "z is the normal quantile of the binomial tail");
		CHECK(out.rows[first].z_score >= 4.0, "above sigma_threshold");
	}
	CHECK(count_flags(&out, 100, 690) <= 1, "single bursts are not anomalies");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/* Ramps are judged: a point ending a strictly rising run has a baseline */
static void
test_ramp_judged(void)
{
	int			n = 28 * 24;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * (size_t) n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	int			i;

	for (i = 0; i < n; i++)
		v[i] = 10.0 + (i % 24) * 0.5;	/* rises strictly for 23 hours a day */
	CHECK(detect_run(b, v, n, HOUR, false, T0 + 600 * HOUR, T0 + (int64_t) n * HOUR, &s, &out, err, sizeof(err)),
		  "ramp runs");
	CHECK(out.rows[610].scored && !isnan(out.rows[610].expected), "a ramp point is judged");
	CHECK_NEAR(out.rows[610].expected, v[610], 1e-9, "against the same hour of the earlier days");
	CHECK(count_flags(&out, 600, n) == 0, "a regular ramp is not an anomaly");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * Shift tolerance: a nightly job (3000 then 1500 rows at 02:00 and 02:05
 * over ~80 a bucket) running 15 minutes late is not an anomaly; the night
 * it does not run is.
 */
static void
test_shift_tolerance(void)
{
	int			n = 8 * 288;
	int64_t    *b = make_buckets(n, 5 * MINUTE);
	double	   *v = (double *) core_alloc(sizeof(double) * (size_t) n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	uint64_t	rng = 11;
	int			late = 6 * 288 + 24;	/* 02:00 of the seventh day */
	int			missed = 7 * 288 + 24;
	int			i;

	for (i = 0; i < n; i++)
	{
		int			at = i % 288;
		int			day_start = i - at;
		int			job = day_start + 24 + (day_start == late - 24 ? 3 : 0);

		v[i] = floor(80.0 + 9.0 * test_normal(&rng) + 0.5);
		if (day_start != missed - 24 && i == job)
			v[i] += 3000.0;
		if (day_start != missed - 24 && i == job + 1)
			v[i] += 1500.0;
	}
	CHECK(detect_run(b, v, n, 5 * MINUTE, true, T0 + 6 * 288 * 5 * MINUTE, T0 + (int64_t) n * 5 * MINUTE,
					 &s, &out, err, sizeof(err)), "batch job series runs");
	CHECK(count_flags(&out, late - 6, late + 10) == 0, "the job 15 minutes late is not an anomaly");
	CHECK(out.rows[missed].is_anomaly && out.rows[missed].direction == -1, "the missed job is a drop");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * Forecasts: a daily count repeating a weekly pattern at a constant level
 * is forecast as the same weekday a week earlier.  By hand: the factors of
 * the four partners are pattern / mean(pattern), but the first week's is
 * pattern / the mean of the days up to it; three equal factors make the
 * MAD 0, so the spread is their population sd x the level, floored at
 * max(5 % of expected, 1, sqrt(expected)); the band is expected -+ 4 of it.
 */
static void
test_forecast(void)
{
	const double pattern[7] = {100, 120, 140, 160, 180, 60, 40};
	int			n = 28;
	int64_t    *b = make_buckets(n, DAY);
	double		v[28];
	double		level = 0.0;
	DetectForecast fc;
	char		err[128];
	int			i,
				k;

	for (i = 0; i < n; i++)
		v[i] = pattern[i % 7];
	for (k = 0; k < 7; k++)
		level += pattern[k] / 7.0;
	CHECK(detect_forecast_default_horizon(DAY, NULL) == 7, "daily: one season is a week");
	CHECK(detect_forecast_default_horizon(HOUR, NULL) == 168, "hourly: one season is a week of hours");
	CHECK(detect_forecast_default_horizon(5 * DAY, NULL) == 14, "no phase period: the rolling window");
	CHECK(detect_forecast(b, v, n, DAY, true, 7, NULL, &fc, err, sizeof(err)), "forecast runs");
	CHECK(fc.n_rows == 7, "seven days");
	for (i = 0; i < fc.n_rows; i++)
	{
		double		e = pattern[i % 7];
		double		f[4],
					first_level = 0.0,
					mean = 0.0,
					sq = 0.0,
					spread;

		for (k = 0; k <= i; k++)
			first_level += pattern[k] / (double) (i + 1);
		f[0] = f[1] = f[2] = pattern[i] / level;
		f[3] = pattern[i] / first_level;
		for (k = 0; k < 4; k++)
			mean += f[k] / 4.0;
		for (k = 0; k < 4; k++)
			sq += (f[k] - mean) * (f[k] - mean) / 4.0;
		spread = fmax(sqrt(sq) * level, fmax(fmax(0.05 * e, 1.0), sqrt(e)));
		CHECK(fc.rows[i].bucket == T0 + (int64_t) (n + i) * DAY, "the buckets after the series");
		CHECK_NEAR(fc.rows[i].expected, e, 1e-9, "the same weekday");
		CHECK_NEAR(fc.rows[i].lower, fmax(e - 4.0 * spread, 0.0), 1e-9, "lower bound");
		CHECK_NEAR(fc.rows[i].upper, e + 4.0 * spread, 1e-9, "upper bound");
	}
	detect_forecast_free(&fc);
	CHECK(!detect_forecast(b, v, n, DAY, true, 0, NULL, &fc, err, sizeof(err)) &&
		  strstr(err, "horizon") != NULL, "horizon 0 is refused");
	CHECK(detect_forecast(b, v, 0, DAY, true, 3, NULL, &fc, err, sizeof(err)) && fc.n_rows == 0,
		  "an empty series forecasts nothing");
	detect_forecast_free(&fc);
	core_free(b);
}

/* Run every test */
int
main(void)
{
	test_incident_once();
	test_incident_extent();
	test_offset_scale();
	test_stepped();
	test_zero_typical();
	test_ramp_judged();
	test_shift_tolerance();
	test_forecast();
	return unit_done();
}

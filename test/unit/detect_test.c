/*-------------------------------------------------------------------------
 *
 * detect_test.c
 *	  Unit tests of the anomaly detector's pure core (src/core/detect_*.c),
 *	  against hand-computed expectations from doc/detection.md, "The detector in detail".
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include "detect_core.h"
#include "order.h"

#define HOUR	CORE_USECS_PER_HOUR
#define DAY		CORE_USECS_PER_DAY
#define WEEK	CORE_USECS_PER_WEEK
/* 2024-01-01 00:00 UTC, a Monday */
#define T0		INT64_C(1704067200000000)

#include "detect_helpers.h"

/* Poisson-like count: mean plus normal noise of variance mean, rounded */
static double
test_count(uint64_t *state, double mean)
{
	double		v = floor(mean + sqrt(mean) * test_normal(state) + 0.5);

	return v < 0.0 ? 0.0 : v;
}

/* Hourly mean with a daily wave and quieter weekends (series starts Monday) */
static double
seasonal_mean(int i, double level)
{
	double		m = level * (1.0 + 0.5 * sin(2.0 * M_PI * (i % 24 - 6) / 24.0));

	if ((i / 24) % 7 >= 5)
		m *= 0.7;
	return m;
}

/* Defaults, kind names */
static void
test_settings_and_names(void)
{
	DetectSettings s;

	detect_default_settings(&s);
	CHECK_NEAR(s.sigma_threshold, 4.0, 0, "defaults: sigma 4.0");
	CHECK_NEAR(s.min_expected_count, 50.0, 0, "defaults: min_expected_count 50");
	CHECK(s.baseline_window_buckets == 14 && s.min_history_buckets == 7,
		  "defaults: window 14, min history 7");
	CHECK(s.settling_minutes == 120, "defaults: settling 120 minutes");
	CHECK_STR(detector_kind_name(DETECTOR_PHASE), "phase", "kind name phase");
	CHECK_STR(detector_kind_name(DETECTOR_ROLLING), "rolling", "kind name rolling");
	CHECK_STR(detector_kind_name(DETECTOR_TREND), "trend", "kind name trend");
	CHECK_STR(detector_kind_name(DETECTOR_FRACTIONAL), "fractional", "kind name fractional");
	CHECK(detector_kind_name(DETECTOR_NONE) == NULL, "kind name none is NULL");
}

/* Median, MAD and the robust scale on small arrays */
static void
test_median_mad_robust(void)
{
	double		odd[] = {3, 1, 2};
	double		even[] = {4, 1, 3, 2};
	double		outlier[] = {1, 2, 3, 4, 100};
	double		even_mad[] = {1, 2, 4, 8};
	double		flat[] = {5, 5, 5, 5, 9};
	double		big[21];
	int			i;

	CHECK_NEAR(detect_median(odd, 3), 2.0, 0, "median of {3,1,2} = 2");
	CHECK_NEAR(detect_median(even, 4), 2.5, 0, "median of {4,1,3,2} = 2.5");
	CHECK_NEAR(odd[0], 3.0, 0, "detect_median leaves its input alone");
	CHECK_NEAR(detect_median(odd, 0), 0.0, 0, "median of nothing = 0");
	/* median 3, deviations {2,1,0,1,97} -> median 1 */
	CHECK_NEAR(detect_mad(outlier, 5), 1.0, 0, "MAD of {1,2,3,4,100} = 1");
	CHECK_NEAR(detect_robust_scale(outlier, 5), 1.4826, 1e-12, "robust of {1,2,3,4,100} = 1.4826");
	/* median 3, deviations {2,1,1,5} -> median (1 + 2) / 2 = 1.5 */
	CHECK_NEAR(detect_mad(even_mad, 4), 1.5, 0, "MAD of {1,2,4,8} = 1.5");
	CHECK_NEAR(detect_robust_scale(even_mad, 4), 1.4826 * 1.5, 1e-12, "robust of {1,2,4,8} = 2.2239");
	/* MAD 0 -> population stddev: mean 5.8, variance (4 * 0.64 + 10.24) / 5 = 2.56 */
	CHECK_NEAR(detect_mad(flat, 5), 0.0, 0, "MAD of {5,5,5,5,9} = 0");
	CHECK_NEAR(detect_robust_scale(flat, 5), 1.6, 1e-12, "robust falls back to the stddev 1.6");
	/* quickselect path: 0..20 shuffled, median 10, MAD 5 */
	for (i = 0; i < 21; i++)
		big[i] = (double) ((i * 8) % 21);
	CHECK_NEAR(detect_median(big, 21), 10.0, 0, "median of a shuffled 0..20 = 10");
	CHECK_NEAR(detect_mad(big, 21), 5.0, 0, "MAD of 0..20 = 5");
}

/* Phase periods per width, phase period per slot, level window, settling */
static void
test_periods_and_settling(void)
{
	int			p[2];
	int			c;

	c = detect_phase_periods(15 * CORE_USECS_PER_MINUTE, p);
	CHECK(c == 2 && p[0] == 672 && p[1] == 96, "15m: periods (672, 96)");
	c = detect_phase_periods(HOUR, p);
	CHECK(c == 2 && p[0] == 168 && p[1] == 24, "1h: periods (168, 24)");
	c = detect_phase_periods(6 * HOUR, p);
	CHECK(c == 2 && p[0] == 28 && p[1] == 4, "6h: periods (28, 4)");
	c = detect_phase_periods(DAY, p);
	CHECK(c == 1 && p[0] == 7, "1d: period (7)");
	c = detect_phase_periods(WEEK, p);
	CHECK(c == 0, "1w: no period");
	c = detect_phase_periods(CORE_USECS_PER_MINUTE, p);
	CHECK(c == 2 && p[0] == 10080 && p[1] == 1440, "1min: periods (10080, 1440)");
	c = detect_phase_periods(7 * HOUR, p);
	CHECK(c == 1 && p[0] == 24, "7h: only the week divides (24)");

	CHECK(detect_phase_period_for_slot(HOUR, 71) == 0, "1h slot 71: rolling (71/24 = 2)");
	CHECK(detect_phase_period_for_slot(HOUR, 72) == 24, "1h slot 72: period 24");
	CHECK(detect_phase_period_for_slot(HOUR, 503) == 24, "1h slot 503: period 24");
	CHECK(detect_phase_period_for_slot(HOUR, 504) == 168, "1h slot 504: period 168");
	CHECK(detect_phase_period_for_slot(DAY, 20) == 0, "1d slot 20: rolling");
	CHECK(detect_phase_period_for_slot(DAY, 21) == 7, "1d slot 21: period 7");
	CHECK(detect_phase_period_for_slot(WEEK, 1000) == 0, "1w: always rolling");

	CHECK(detect_level_window(HOUR, 168) == 24, "1h level window for 168 = 24");
	CHECK(detect_level_window(HOUR, 24) == 24, "1h level window for 24 = 24");
	CHECK(detect_level_window(6 * HOUR, 28) == 4, "6h level window for 28 = 4");
	CHECK(detect_level_window(DAY, 7) == 7, "1d level window for 7 = 7");

	CHECK(detect_settling_buckets(120, HOUR) == 2, "settling 120 min on 1h = 2 buckets");
	CHECK(detect_settling_buckets(120, DAY) == 1, "settling 120 min on 1d = 1 bucket");
	CHECK(detect_settling_buckets(120, 15 * CORE_USECS_PER_MINUTE) == 8, "settling 120 min on 15m = 8");
	CHECK(detect_settling_buckets(90, HOUR) == 2, "settling 90 min on 1h rounds up to 2");
	CHECK(detect_settling_buckets(0, HOUR) == 0, "settling 0 = 0 buckets");
}

/* Same-phase partners: same slot mod P, strictly earlier, newest first */
static void
test_partners(void)
{
	int64_t		contiguous[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	int64_t		gaps[7] = {0, 1, 3, 4, 6, 7, 9};
	int			out[10];
	int			c;

	c = detect_same_phase_partners(contiguous, 9, 9, 3, out, 10);
	CHECK(c == 3 && out[0] == 6 && out[1] == 3 && out[2] == 0,
		  "partners of slot 9, P = 3: indices 6, 3, 0");
	/* slot 10 in {0,1,3,4,6,7,9}: slots 7, 4, 1 at indices 5, 3, 1 */
	c = detect_same_phase_partners(gaps, 7, 10, 3, out, 10);
	CHECK(c == 3 && out[0] == 5 && out[1] == 3 && out[2] == 1,
		  "partners on a grid with gaps follow slots, not indices");
	/* only indices before 5: slots 4 and 1 */
	c = detect_same_phase_partners(gaps, 5, 10, 3, out, 10);
	CHECK(c == 2 && out[0] == 3 && out[1] == 1, "partners stop at the upper bound");
	/* slot 9 with P = 3 in the gap grid: slots 6, 3, 0 = indices 4, 2, 0 */
	c = detect_same_phase_partners(gaps, 6, 9, 3, out, 10);
	CHECK(c == 3 && out[0] == 4 && out[1] == 2 && out[2] == 0, "partners of slot 9 with gaps");
	/* slot 11 has phase 2 mod 3: slots 8, 5, 2 are all missing */
	c = detect_same_phase_partners(gaps, 7, 11, 3, out, 10);
	CHECK(c == 0, "no partner when every same-phase slot is a gap");
	c = detect_same_phase_partners(contiguous, 0, 9, 3, out, 10);
	CHECK(c == 0, "no partner before the first point");
}

/*
 * The level-adaptive phase expectation on a hand-built daily series (P = 7,
 * L = 7), 28 days of 100 except day 6 = 160, day 13 = 250, day 20 = 200.
 *
 * Day 27 (27 / 7 = 3 cycles) has partners 20, 13, 6.  Each factor is the
 * partner over the mean of its own trailing 7 days (six 100s and itself):
 *   day 6:  160 / (760 / 7) = 28/19 = 1.473684
 *   day 13: 250 / (850 / 7) = 35/17 = 2.058824
 *   day 20: 200 / (800 / 7) = 1.75
 * and the current level is the mean of days 20..26 = 800/7.  Day 13 was
 * judged anomalous, though (rolling: mean 104.615, stddev 15.988, z = 9.09,
 * flagged), so the robust level leaves it out of its own window and leaves
 * the same position (the same time of the cycle: day 20) out of the current
 * window: partner 13 contributes 250 * mean(21..26) / mean(7..12) = 250
 * instead of 35/17 * 800/7 = 235.29.  Days 6 (no baseline yet) and 20
 * (rolling z = 2.10) were not anomalous: 28/19 * 800/7 = 168.42 and
 * 1.75 * 800/7 = 200.  Median 200; deviations {31.58, 50, 0} -> MAD 31.58 =
 * 21/76 * 800/7 as before.  Scale = 1.4826 * 21/76 * 800/7 = 46.81895.
 * Floors: 5 % * 200 = 10, sqrt(200) = 14.14, absolute 1, so effective =
 * 46.81895; actual 100 gives z = -100 / 46.81895 = -2.13589 (no flag).
 *
 * Day 10 (10 / 7 = 1 cycle) is rolling: days 0..9 = nine 100s and 160,
 * mean 106, population variance (9 * 36 + 2916) / 10 = 324, stddev 18;
 * floors 3 % * 106 = 3.18, sqrt(106) = 10.3 -> effective 18,
 * z = (100 - 106) / 18 = -1/3.
 */
static void
test_level_adaptive_expected(void)
{
	int			n = 28;
	int64_t    *b = make_buckets(n, DAY);
	double		v[28];
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	double		scale = 1.4826 * (21.0 / 76.0) * (800.0 / 7.0);
	int			i;

	for (i = 0; i < n; i++)
		v[i] = 100.0;
	v[6] = 160.0;
	v[13] = 250.0;
	v[20] = 200.0;
	CHECK(detect_run(b, v, n, DAY, true, T0, T0 + n * DAY, &s, &out, err, sizeof(err)),
		  "hand series: detect_run succeeds");
	CHECK(out.n_rows == 28, "hand series: one row per day");
	CHECK(out.rows[27].kind == DETECTOR_PHASE, "day 27 uses the phase baseline");
	CHECK_NEAR(out.rows[27].expected, 200.0, 1e-9, "day 27 expected = 1.75 * 800/7 = 200");
	CHECK_NEAR(out.rows[27].stddev, scale, 1e-9, "day 27 raw scale = 1.4826 * MAD(factors) * level");
	CHECK_NEAR(out.rows[27].effective_stddev, scale, 1e-9, "day 27 effective = the raw scale");
	CHECK_NEAR(out.rows[27].z_score, -100.0 / scale, 1e-9, "day 27 z = -2.1359");
	CHECK(!out.rows[27].is_anomaly && out.rows[27].scored, "day 27 scored, not flagged");
	CHECK(out.rows[10].kind == DETECTOR_ROLLING, "day 10 uses the rolling baseline");
	CHECK_NEAR(out.rows[10].expected, 106.0, 1e-9, "day 10 expected = mean 106");
	CHECK_NEAR(out.rows[10].stddev, 18.0, 1e-9, "day 10 stddev = 18");
	CHECK_NEAR(out.rows[10].z_score, -1.0 / 3.0, 1e-9, "day 10 z = -1/3");
	CHECK(out.rows[6].kind == DETECTOR_NONE && isnan(out.rows[6].expected),
		  "day 6 has too little history (6 < 7 points): no baseline");
	CHECK(out.rows[7].kind == DETECTOR_ROLLING, "day 7 has the 7 points it needs");
	CHECK(count_flags(&out, 21, n) == 0, "hand series: nothing flagged on the phase days 21..27");
	CHECK(out.rows[13].is_anomaly && out.rows[13].kind == DETECTOR_ROLLING &&
		  !out.rows[20].is_anomaly, "hand series: day 13 is a rolling spike (z = 9.09), day 20 is not (2.10)");
	detect_output_free(&out);
	core_free(b);
}

/* Run a flat rolling series and return row `at` (the last one) */
static DetectRow
flat_row(double level, double last, bool count_shaped, double min_expected)
{
	int64_t    *b = make_buckets(15, DAY);
	double		v[15];
	DetectSettings s = no_settling();
	DetectOutput out;
	DetectRow	row;
	char		err[128];
	int			i;

	for (i = 0; i < 15; i++)
		v[i] = level;
	v[14] = last;
	s.min_expected_count = min_expected;
	memset(&row, 0, sizeof(row));
	if (detect_run(b, v, 15, DAY, count_shaped, T0, T0 + 15 * DAY, &s, &out, err, sizeof(err)))
	{
		row = out.rows[14];
		detect_output_free(&out);
	}
	core_free(b);
	return row;
}

/* The spread floors: absolute 1, sqrt(expected), 3 % / 5 %, fractional 4 % */
static void
test_floors(void)
{
	DetectRow	row;
	int64_t    *b;
	double		v[28];
	double		frac[10] = {0, 0, 0, 0, 0, 0, 0, 0, 2, 0};
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	int			i;

	/* expected 0.5: 3 % = 0.015, sqrt = 0.707, absolute 1 wins */
	row = flat_row(0.5, 0.5, true, 0.0);
	CHECK_NEAR(row.effective_stddev, 1.0, 1e-12, "count absolute floor 1");
	/* expected 400: 3 % = 12, sqrt = 20 wins */
	row = flat_row(400, 400, true, 50);
	CHECK_NEAR(row.effective_stddev, 20.0, 1e-12, "count sqrt(expected) floor 20");
	/* expected 10000: 3 % = 300 beats sqrt = 100 */
	row = flat_row(10000, 10000, true, 50);
	CHECK_NEAR(row.effective_stddev, 300.0, 1e-9, "rolling ratio floor 3 % = 300");
	CHECK_NEAR(row.stddev, 0.0, 0, "flat window: raw stddev 0");
	/* 10000 -> 11300: z = 1300 / 300 = 4.33, a spike */
	row = flat_row(10000, 11300, true, 50);
	CHECK(row.is_anomaly && row.direction == 1 && row.kind == DETECTOR_ROLLING,
		  "rolling spike of 4.33 effective stddevs is flagged");
	/* fractional 0.5: 3 % = 0.015 < 4 % of the median 0.5 = 0.02 */
	row = flat_row(0.5, 0.5, false, 50);
	CHECK_NEAR(row.effective_stddev, 0.02, 1e-12, "fractional floor 4 % of median |v|");
	CHECK(row.kind == DETECTOR_FRACTIONAL, "fractional rolling rows are kind fractional");

	/* phase floor 5 %: 28 flat days of 10000, factors all 1, MAD 0 -> scale 0 */
	b = make_buckets(28, DAY);
	for (i = 0; i < 28; i++)
		v[i] = 10000.0;
	CHECK(detect_run(b, v, 28, DAY, true, T0, T0 + 28 * DAY, &s, &out, err, sizeof(err)),
		  "flat daily series runs");
	CHECK(out.rows[27].kind == DETECTOR_PHASE, "flat daily: phase at day 27");
	CHECK_NEAR(out.rows[27].effective_stddev, 500.0, 1e-9, "phase ratio floor 5 % = 500");
	detect_output_free(&out);
	core_free(b);

	/*
	 * Fractional with median |v| = 0: the floor uses the maximum, 4 % * 2 =
	 * 0.08.  Point 8 (value 2) sees a window of zeros: expected 0 fails the
	 * 1e-6 gate, so it is reported but neither scored nor flagged.
	 */
	b = make_buckets(10, DAY);
	CHECK(detect_run(b, frac, 10, DAY, false, T0, T0 + 10 * DAY, &s, &out, err, sizeof(err)),
		  "mostly-zero fractional series runs");
	CHECK_NEAR(out.rows[8].effective_stddev, 0.08, 1e-12, "fractional floor falls back to 4 % of max");
	CHECK_NEAR(out.rows[8].expected, 0.0, 0, "expected 0 reported although gated");
	CHECK(!out.rows[8].is_anomaly && !out.rows[8].scored, "expected 0 fails the fractional gate");
	detect_output_free(&out);
	core_free(b);
}

/* Volume gate and silent skip */
static void
test_gate_and_silent_skip(void)
{
	DetectRow	row;
	int64_t    *b = make_buckets(20, HOUR);
	double		v[20];
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	int			i;

	/* expected 30 < 50: a jump to 60 (z = 30 / 5.48 = 5.5) is not flagged */
	row = flat_row(30, 60, true, 50);
	CHECK_NEAR(row.expected, 30.0, 1e-12, "gated row still reports expected");
	CHECK(row.z_score > 4.0, "gated row still reports its z");
	CHECK(!row.is_anomaly && !row.scored, "expected below min_expected_count: not flagged");
	row = flat_row(30, 60, true, 30);
	CHECK(row.is_anomaly && row.scored, "same jump with min_expected_count 30 is flagged");

	/* 2 * 20 = 40 < 50: silently skipped */
	for (i = 0; i < 20; i++)
		v[i] = i == 10 ? 20.0 : 3.0;
	CHECK(detect_run(b, v, 20, HOUR, true, T0, T0 + 20 * HOUR, &s, &out, err, sizeof(err)),
		  "tiny series runs");
	CHECK(out.skipped_small, "2 * max 40 < 50: silent skip");
	CHECK(out.n_rows == 20 && isnan(out.rows[15].expected) && count_flags(&out, 0, 20) == 0,
		  "skipped series: rows without baselines, nothing flagged");
	detect_output_free(&out);
	v[10] = 25.0;
	CHECK(detect_run(b, v, 20, HOUR, true, T0, T0 + 20 * HOUR, &s, &out, err, sizeof(err)),
		  "series with max 25 runs");
	CHECK(!out.skipped_small, "2 * max 50 is not < 50: no skip");
	detect_output_free(&out);
	v[10] = 20.0;
	CHECK(detect_run(b, v, 20, HOUR, false, T0, T0 + 20 * HOUR, &s, &out, err, sizeof(err)) &&
		  !out.skipped_small, "fractional series are never silently skipped");
	detect_output_free(&out);
	core_free(b);
}

/* Settling: hourly default withholds 2, daily 1, settling 0 none */
static void
test_settling(void)
{
	int64_t    *b = make_buckets(100, HOUR);
	double		v[100];
	DetectSettings s;
	DetectOutput out;
	char		err[128];
	int			i;

	for (i = 0; i < 100; i++)
		v[i] = 100.0;
	detect_default_settings(&s);
	CHECK(detect_run(b, v, 100, HOUR, true, T0, T0 + 100 * HOUR, &s, &out, err, sizeof(err)),
		  "hourly settling run");
	CHECK(out.emission_end == T0 + 98 * HOUR, "hourly: emission_end = bucket of the 2nd newest");
	CHECK(out.rows[98].withheld && out.rows[99].withheld && !out.rows[97].withheld,
		  "hourly default withholds exactly the 2 newest buckets");
	CHECK(!isnan(out.rows[99].expected) && !out.rows[99].scored,
		  "withheld buckets still carry a band but are not scored");
	detect_output_free(&out);

	CHECK(detect_run(b, v, 100, DAY, true, T0, T0 + 100 * DAY, &s, &out, err, sizeof(err)) == false,
		  "hourly buckets on a daily grid are refused");
	core_free(b);

	b = make_buckets(30, DAY);
	CHECK(detect_run(b, v, 30, DAY, true, T0, T0 + 30 * DAY, &s, &out, err, sizeof(err)),
		  "daily settling run");
	CHECK(out.emission_end == T0 + 29 * DAY && out.rows[29].withheld && !out.rows[28].withheld,
		  "daily default withholds exactly the newest bucket");
	detect_output_free(&out);

	s.settling_minutes = 0;
	CHECK(detect_run(b, v, 30, DAY, true, T0, T0 + 30 * DAY, &s, &out, err, sizeof(err)),
		  "daily run without settling");
	CHECK(out.emission_end == T0 + 30 * DAY && !out.rows[29].withheld,
		  "settling 0: emission_end = eval_end, nothing withheld");
	detect_output_free(&out);

	/* zero-fill reaches eval_end: 3 points up to a later eval_end give 5 rows */
	s.settling_minutes = 120;
	CHECK(detect_run(b, v, 3, HOUR * 24, true, T0, T0 + 5 * DAY, &s, &out, err, sizeof(err)),
		  "short daily run");
	CHECK(out.n_rows == 5 && out.rows[4].actual == 0.0 && out.rows[4].withheld,
		  "count series are zero-filled up to eval_end");
	detect_output_free(&out);

	/* more settling buckets than points: nothing can be emitted */
	core_free(b);
	b = make_buckets(2, HOUR);
	CHECK(detect_run(b, v, 2, HOUR, true, T0, T0 + 2 * HOUR, &s, &out, err, sizeof(err)),
		  "two hourly points run");
	CHECK(out.emission_end == T0 && out.rows[0].withheld && out.rows[1].withheld,
		  "settling >= points: everything withheld");
	detect_output_free(&out);
	core_free(b);
}

/* Build 5 weeks of hourly seasonal counts (level 1000) with fixed noise */
static void
seasonal_series(double *v, int n, uint64_t seed)
{
	uint64_t	rng = seed;
	int			i;

	for (i = 0; i < n; i++)
		v[i] = test_count(&rng, seasonal_mean(i, 1000.0));
}

/* A clean seasonal series flags nothing; a spike and a drop are flagged */
static void
test_seasonal_spike_drop(void)
{
	int			n = 840;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];

	seasonal_series(v, n, 7);
	CHECK(detect_run(b, v, n, HOUR, true, b[504], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "clean seasonal series runs");
	CHECK(count_flags(&out, 0, n) == 0, "clean seasonal Poisson-like series: no flags");
	CHECK(out.rows[700].kind == DETECTOR_PHASE && out.rows[700].scored,
		  "clean series: hour 700 scored on the weekly phase");
	CHECK(fabs(out.rows[700].expected - seasonal_mean(700, 1000.0)) < 0.1 * seasonal_mean(700, 1000.0),
		  "clean series: expected within 10 % of the true mean");
	detect_output_free(&out);

	v[700] = 3.0 * seasonal_mean(700, 1000.0);
	v[760] = 0.3 * seasonal_mean(760, 1000.0);
	CHECK(detect_run(b, v, n, HOUR, true, b[504], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "spike + drop series runs");
	CHECK(out.rows[700].is_anomaly && out.rows[700].direction == 1 &&
		  out.rows[700].kind == DETECTOR_PHASE, "x3 spike flagged as a phase spike");
	CHECK(out.rows[760].is_anomaly && out.rows[760].direction == -1 &&
		  out.rows[760].kind == DETECTOR_PHASE, "x0.3 drop flagged as a phase drop");
	CHECK(count_flags(&out, 0, n) == 2, "only the spike and the drop are flagged");
	CHECK(out.rows[700].z_score > 4.0 && out.rows[760].z_score < -4.0, "z signs follow the direction");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * The robust level ("exclude anomalies from training") on flat hourly series
 * of 1000 (hand-computable: every partner factor is 1, so expected = current
 * level; the spread is the 5 % floor).  Hours 72.. use the daily phase
 * (P = 24, L = 24); eval_start = T0, so everything is scored in time order.
 */
static void
flat_hourly(double *v, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		v[i] = 1000.0;
}

/*
 * A 5-hour outage (hours 90..94) inside the level window.  Before: hour 95
 * saw a current level of (19 * 1000 + 5 * 0) / 24 = 791.67, expected
 * 791.67, floor 5 % = 39.58, z = (1000 - 791.67) / 39.58 = 5.26: an echo,
 * and so on for 24 hours.  Now the five zeros were judged anomalous (each
 * flagged, the outage reported once at hour 90), so they are left out of
 * the level (5 of 24 <= half) and the same five positions are left out of
 * every partner's window: the level is 19000 / 19 = 1000, expected 1000,
 * z = 0.
 */
static void
test_robust_level_outage(void)
{
	int			n = 140;
	int64_t    *b = make_buckets(n, HOUR);
	double		v[140];
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	bool		all_exact = true;
	int			i;

	flat_hourly(v, n);
	for (i = 90; i < 95; i++)
		v[i] = 0.0;
	CHECK(detect_run(b, v, n, HOUR, true, T0, T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "robust level: outage series runs");
	CHECK(out.rows[90].is_anomaly && out.rows[90].direction == -1 && count_flags(&out, 90, 95) == 1,
		  "robust level: the 5-hour outage is one drop row at its first hour");
	for (i = 95; i < 119; i++)
		if (out.rows[i].expected != 1000.0 || out.rows[i].z_score != 0.0)
			all_exact = false;
	CHECK(all_exact,
		  "robust level: hours 95..118 expect exactly 1000 (the zeros are left out), z = 0");
	CHECK(out.rows[95].kind == DETECTOR_PHASE && out.rows[95].scored,
		  "robust level: hour 95 is a scored phase row");
	CHECK(count_flags(&out, 95, n) == 0, "robust level: no echo after the outage");
	CHECK(out.n_suppressed == 0, "robust level: an outage inside the window suppresses nothing");
	detect_output_free(&out);
	core_free(b);
}

/*
 * A spike of 10000 at hour 90 (z = 9000 / 50 = 180).  Before: hour 91 saw
 * a level of (23 * 1000 + 10000) / 24 = 1375, expected 1375, floor 68.75,
 * z = -375 / 68.75 = -5.45: a drop echo for 24 hours.  Now the spike is
 * left out: expected 23000 / 23 = 1000 and nothing else is flagged.
 */
static void
test_robust_level_spike(void)
{
	int			n = 140;
	int64_t    *b = make_buckets(n, HOUR);
	double		v[140];
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	bool		all_exact = true;
	int			i;

	flat_hourly(v, n);
	v[90] = 10000.0;
	CHECK(detect_run(b, v, n, HOUR, true, T0, T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "robust level: spike series runs");
	CHECK_NEAR(out.rows[90].expected, 1000.0, 1e-9, "robust level: the spike's own expected is 1000");
	CHECK_NEAR(out.rows[90].z_score, 180.0, 1e-9, "robust level: the spike's z = 9000 / 50 = 180");
	CHECK(out.rows[90].is_anomaly && out.rows[90].direction == 1,
		  "robust level: the spike is flagged");
	for (i = 91; i < 115; i++)
		if (out.rows[i].expected != 1000.0)
			all_exact = false;
	CHECK(all_exact, "robust level: the spike does not raise its successors' level (expected 1000)");
	CHECK(count_flags(&out, 0, n) == 1, "robust level: only the spike is flagged");
	detect_output_free(&out);
	core_free(b);
}

/*
 * The cap: anomalous points are left out only while they are at most half
 * of the level window.  Flat 1000, then 1600 from hour 90 on (+60 %).
 * Hour 90 + k for k <= 12 still sees at most 12 flagged hours among its 24:
 * they are left out, expected 1000, z = 600 / 50 = 12, flagged.  Hour 103
 * (k = 13) sees 13 flagged hours, more than half: the whole window is used,
 * level (11 * 1000 + 13 * 1600) / 24 = 1325, expected 1325, floor 66.25,
 * z = 275 / 66.25 = 4.15, still flagged; hour 104 (14 flagged, whole
 * window): level 1350, z = 250 / 67.5 = 3.70, not flagged: the shift is
 * absorbed after L / 2 + 2 hours.  Those per-bucket flags belong to the
 * trend path's run (silenced there), which reports the shift once, at hour
 * 90.
 */
static void
test_robust_level_cap(void)
{
	int			n = 200;
	int64_t    *b = make_buckets(n, HOUR);
	double		v[200];
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	bool		judged = true;
	int			i,
				trend_rows = 0,
				last_judged = -1;

	flat_hourly(v, n);
	for (i = 90; i < n; i++)
		v[i] = 1600.0;
	CHECK(detect_run(b, v, n, HOUR, true, T0, T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "robust level cap: step series runs");
	for (i = 91; i <= 102; i++)
		if (out.rows[i].expected != 1000.0 || !(out.rows[i].is_anomaly || out.rows[i].silenced))
			judged = false;
	CHECK(judged,
		  "robust level cap: hours 91..102 (<= 12 flagged in the window) expect 1000, judged anomalous");
	CHECK_NEAR(out.rows[103].expected, 1325.0, 1e-9,
			   "robust level cap: hour 103 (13 > 12 flagged) uses the whole window: 1325");
	CHECK_NEAR(out.rows[103].z_score, 275.0 / 66.25, 1e-9, "robust level cap: hour 103 z = 4.15");
	CHECK(out.rows[103].is_anomaly || out.rows[103].silenced,
		  "robust level cap: hour 103 is still judged anomalous");
	CHECK_NEAR(out.rows[104].expected, 1350.0, 1e-9, "robust level cap: hour 104 expects 1350");
	CHECK(!out.rows[104].is_anomaly && !out.rows[104].silenced,
		  "robust level cap: hour 104 (z = 3.70) is normal");
	for (i = 0; i < n; i++)
	{
		if (out.rows[i].is_anomaly && out.rows[i].kind == DETECTOR_TREND)
			trend_rows++;
		if (out.rows[i].is_anomaly || out.rows[i].silenced)
			last_judged = i;
	}
	CHECK(last_judged == 103, "robust level cap: no bucket after hour 103 is judged anomalous");
	CHECK(trend_rows == 1 && out.rows[90].kind == DETECTOR_TREND && out.rows[90].is_anomaly,
		  "robust level cap: the shift is one trend row, at the step");
	CHECK(count_flags(&out, 0, n) == 1, "robust level cap: and nothing else is flagged");
	detect_output_free(&out);
	core_free(b);
}

/* A run of zeros gives one row; before eval_start, none and a suppressed range */
static void
test_outage_collapse(void)
{
	int			n = 840;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	int			i,
				first = -1;

	seasonal_series(v, n, 11);
	for (i = 700; i < 712; i++)
		v[i] = 0.0;
	CHECK(detect_run(b, v, n, HOUR, true, b[504], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "outage series runs");
	CHECK(count_flags(&out, 700, 712) == 1, "a 12-hour outage yields exactly one flagged row");
	for (i = 700; i < 712; i++)
		if (out.rows[i].is_anomaly && first < 0)
			first = i;
	CHECK(first == 700 && out.rows[700].direction == -1, "the outage row is the first zero, a drop");
	CHECK(out.rows[705].silenced, "the other zeros are silenced");
	CHECK(out.n_suppressed == 0, "an outage inside the window suppresses nothing");
	detect_output_free(&out);

	/* the same outage with the window starting inside it */
	CHECK(detect_run(b, v, n, HOUR, true, b[705], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "outage before eval_start runs");
	CHECK(count_flags(&out, 700, 712) == 0, "an outage anchored before eval_start emits nothing");
	CHECK(out.n_suppressed == 1 && out.suppressed[0].from == b[700] &&
		  out.suppressed[0].to == b[711] + HOUR,
		  "and reports the suppressed range [run start, run end)");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * A sustained +60 % level change: one trend row, no per-bucket rows in the
 * run.  Hourly, a daily wave of +-amplitude on a level of 1000 that becomes
 * 1600 at hour 600, n hours in all.  The per-bucket path, whose robust level
 * leaves the flagged hours after the step out until they are more than half
 * of its 24-hour window, stops judging the new level anomalous within
 * L / 2 + a few hours; those flags belong to the trend run and are
 * silenced.  A strong multiplicative wave, and a series running a full week
 * past the step (where the one-period-earlier partner crosses the step),
 * still give a single row at the step: the run goes on while the trend
 * change keeps its direction and effect size, and the anchor is the point
 * that best splits the run's departures into before and after.
 */
static void
check_trend_shift(int n, double amplitude, const char *what)
{
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	char		label[160];
	uint64_t	rng = 3;
	int			i,
				trend_rows = 0,
				anchor = -1,
				others = 0,
				silenced = 0,
				last_judged = -1;

	for (i = 0; i < n; i++)
	{
		double		mean = (i >= 600 ? 1600.0 : 1000.0) *
			(1.0 + amplitude * sin(2.0 * M_PI * (i % 24 - 6) / 24.0));

		v[i] = test_count(&rng, mean);
	}
	snprintf(label, sizeof(label), "%s: level shift series runs", what);
	CHECK(detect_run(b, v, n, HOUR, true, b[504], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  label);
	for (i = 0; i < n; i++)
	{
		if (out.rows[i].silenced)
			silenced++;
		if (out.rows[i].silenced || (out.rows[i].is_anomaly && out.rows[i].kind != DETECTOR_TREND))
			last_judged = i;
		if (!out.rows[i].is_anomaly)
			continue;
		if (out.rows[i].kind == DETECTOR_TREND)
		{
			trend_rows++;
			anchor = i;
		}
		else
			others++;
	}
	snprintf(label, sizeof(label), "%s: a sustained +60 %% shift yields exactly one trend row", what);
	CHECK(trend_rows == 1, label);
	snprintf(label, sizeof(label), "%s: the trend row sits at the change (-6 h .. +12 h)", what);
	CHECK(anchor >= 594 && anchor < 612, label);
	snprintf(label, sizeof(label), "%s: the trend row is a spike", what);
	CHECK(anchor >= 0 && out.rows[anchor].direction == 1, label);
	snprintf(label, sizeof(label), "%s: its expected is the pre-shift level and its z the trend z",
			 what);
	CHECK(anchor >= 0 && out.rows[anchor].expected < 1300.0 && out.rows[anchor].z_score >= 4.0,
		  label);
	snprintf(label, sizeof(label), "%s: no per-bucket rows re-announce the shift", what);
	CHECK(others == 0, label);
	snprintf(label, sizeof(label), "%s: the per-bucket flags inside the run are silenced", what);
	CHECK(silenced > 0, label);
	snprintf(label, sizeof(label), "%s: the per-bucket path absorbs the shift within L / 2 + 4 hours", what);
	CHECK(last_judged >= 600 && last_judged <= 600 + 12 + 4, label);
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * The level change above: mild wave, then a strong wave a week past it; and
 * with the window starting after the step, where the run is owned by the
 * row an earlier pass emitted: nothing is emitted; the trend run itself
 * makes no suppressed range (doc/detection.md, step 8), only the incident
 * its flagged buckets began before the window may (step 11).
 */
static void
test_trend_shift(void)
{
	int			n = 720;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	uint64_t	rng = 3;
	int			i;

	check_trend_shift(720, 0.2, "mild wave");
	check_trend_shift(840, 0.5, "strong wave, a week past the step");

	for (i = 0; i < n; i++)
		v[i] = test_count(&rng, (i >= 600 ? 1600.0 : 1000.0) *
						  (1.0 + 0.2 * sin(2.0 * M_PI * (i % 24 - 6) / 24.0)));
	CHECK(detect_run(b, v, n, HOUR, true, b[606], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "owned trend run: series runs");
	CHECK(count_flags(&out, 0, n) == 0, "owned trend run: nothing is emitted after its anchor");
	CHECK(out.n_suppressed == 0 || (out.suppressed[0].from >= b[600] && out.suppressed[0].from < b[606]),
		  "owned trend run: a suppressed range only for the incident begun before the window");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/* Fractional series keep gaps, use slots, and flag a jump as fractional */
static void
test_fractional(void)
{
	int64_t		b[40];
	double		v[40];
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	int			n = 0,
				day;

	/* days 0..29 except 10 and 20; 0.5 everywhere, 0.8 on day 28 */
	for (day = 0; day < 30; day++)
	{
		if (day == 10 || day == 20)
			continue;
		b[n] = T0 + day * DAY;
		v[n] = day == 28 ? 0.8 : 0.5;
		n++;
	}
	CHECK(detect_run(b, v, n, DAY, false, T0, T0 + 30 * DAY, &s, &out, err, sizeof(err)),
		  "fractional series with gaps runs");
	CHECK(out.n_rows == 28, "fractional: one row per present point (gaps stay gaps)");
	CHECK(out.rows[9].bucket == T0 + 9 * DAY && out.rows[10].bucket == T0 + 11 * DAY,
		  "fractional: bucket after the gap is day 11");
	/*
	 * Day 28 is row 26 (two gaps before it); slot 28, partners days 21, 14,
	 * 7, 0 all 0.5 with levels 0.5: expected 0.5, MAD 0 and stddev 0, floor
	 * max(5 % * 0.5, 4 % * 0.5) = 0.025, z = 0.3 / 0.025 = 12.
	 */
	CHECK(out.rows[26].bucket == T0 + 28 * DAY, "fractional: row 26 is day 28");
	CHECK_NEAR(out.rows[26].expected, 0.5, 1e-12, "fractional: expected 0.5");
	CHECK_NEAR(out.rows[26].effective_stddev, 0.025, 1e-12, "fractional: floor 0.025");
	CHECK_NEAR(out.rows[26].z_score, 12.0, 1e-9, "fractional: z = 12");
	CHECK(out.rows[26].is_anomaly && out.rows[26].kind == DETECTOR_FRACTIONAL &&
		  out.rows[26].direction == 1, "fractional jump flagged as kind fractional");
	detect_output_free(&out);

	/* a strictly rising ramp is judged like any bucket, and is one incident */
	for (day = 0; day < 30; day++)
	{
		b[day] = T0 + day * DAY;
		v[day] = day < 25 ? 0.5 : 0.5 + 0.1 * (day - 24);
	}
	CHECK(detect_run(b, v, 30, DAY, false, T0, T0 + 30 * DAY, &s, &out, err, sizeof(err)),
		  "fractional ramp runs");
	/*
	 * Days 25..29 rise strictly from 0.5 (days 28 and 29 end 5-point
	 * monotonic runs): every one is judged, the ramp is flagged once.
	 */
	CHECK(!isnan(out.rows[29].expected) && out.rows[29].kind == DETECTOR_FRACTIONAL,
		  "fractional point ending a 5-point strict ramp is judged");
	CHECK(out.rows[28].kind == DETECTOR_FRACTIONAL, "so is the other 5-point end");
	CHECK(count_flags(&out, 25, 30) == 1, "the ramp is one incident");
	CHECK(out.rows[27].kind == DETECTOR_FRACTIONAL && !isnan(out.rows[27].expected),
		  "a 4-point ramp is still scored");
	detect_output_free(&out);

	/* signed: partners' median, no level factors */
	for (day = 0; day < 30; day++)
	{
		b[day] = T0 + day * DAY;
		v[day] = day == 28 ? -150.0 : -100.0;
	}
	CHECK(detect_run(b, v, 30, DAY, false, T0, T0 + 30 * DAY, &s, &out, err, sizeof(err)),
		  "signed fractional series runs");
	/* expected -100, floor max(5 % * 100, 4 % * 100) = 5, z = -50 / 5 = -10 */
	CHECK_NEAR(out.rows[28].expected, -100.0, 1e-12, "signed: expected = partners' median");
	CHECK_NEAR(out.rows[28].z_score, -10.0, 1e-9, "signed: z = -10");
	CHECK(out.rows[28].is_anomaly && out.rows[28].direction == -1, "signed: drop flagged");
	detect_output_free(&out);
}

/*
 * A noisy flat ratio series: 0.25 with 10 % normal noise (sd 0.025), hourly
 * or daily, scored where the phase rule has exactly three partners (hours
 * 504.. on the weekly period; days 21.. on the weekly period).  The MAD of
 * three factors can be close to 0; the phase scale of a fractional series
 * is at least the pooled spread of its recent phase residuals, so it stays
 * near the real spread of the prediction (about 1.3 * 0.025: the noise and
 * the uncertainty of a median of three).
 */
static void
noisy_ratio_series(double *v, int n, double noise, uint64_t seed)
{
	uint64_t	rng = seed;
	int			i;

	for (i = 0; i < n; i++)
		v[i] = 0.25 * (1.0 + noise * test_normal(&rng));
}

/*
 * The demo's false alarm, reproduced: the three weekly partners of hour 510
 * are exactly 0.25, so their factors (v / mean of the previous day) agree
 * closely and the MAD scale is tiny (0.007); before, the spread fell to
 * the 5 % ratio floor (0.0126) and a +25 % blip (a 2.5 sd noise excursion)
 * had z = 4.7, and hour 524 was flagged too.  Now the spread is 0.033, the
 * blip's z 1.8, and a real -75 % drop is still flagged (z = -7.2).
 */
static void
test_fractional_small_partners(void)
{
	int			n = 560;
	int64_t    *b = make_buckets(n, HOUR);
	int64_t    *days = make_buckets(30, DAY);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];

	noisy_ratio_series(v, n, 0.10, 17);
	v[510 - 168] = v[510 - 336] = v[510 - 504] = 0.25;
	v[510] = 0.25 * 1.25;
	v[530] = 0.25 * 0.25;
	CHECK(detect_phase_period_for_slot(HOUR, 510) == 168 && 510 / 168 == 3,
		  "small partners: hour 510 is judged on the weekly period, 3 partners");
	CHECK(detect_run(b, v, n, HOUR, false, b[504], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "small partners: noisy hourly ratio runs");
	CHECK(out.rows[510].kind == DETECTOR_FRACTIONAL && out.rows[510].scored,
		  "small partners: hour 510 is a scored fractional row");
	CHECK(out.rows[510].stddev >= 0.02,
		  "small partners: the raw spread reflects the 10 % noise (>= 0.02), not the MAD of 3");
	CHECK(fabs(out.rows[510].z_score) < 4.0 && !out.rows[510].is_anomaly,
		  "small partners: a +25 % blip at 10 % noise is not flagged (|z| < 4)");
	CHECK(out.rows[530].is_anomaly && out.rows[530].direction == -1 &&
		  out.rows[530].kind == DETECTOR_FRACTIONAL && out.rows[530].z_score <= -4.0,
		  "small partners: a real -75 % drop is still flagged");
	CHECK(count_flags(&out, 0, n) == 1, "small partners: and nothing else is flagged");
	detect_output_free(&out);

	/* the same with missing hours (a fractional series keeps its gaps) */
	v[100] = v[341] = v[509] = NAN;
	CHECK(detect_run(b, v, n, HOUR, false, b[504], T0 + n * HOUR, &s, &out, err, sizeof(err)) &&
		  out.n_rows == n - 3 && out.rows[507].bucket == b[510] && out.rows[527].bucket == b[530],
		  "small partners with gaps: runs, rows of the present hours only");
	CHECK(!out.rows[507].is_anomaly && fabs(out.rows[507].z_score) < 4.0 &&
		  out.rows[507].stddev >= 0.02,
		  "small partners with gaps: the +25 % blip is not flagged, the spread is pooled");
	CHECK(out.rows[527].is_anomaly && out.rows[527].direction == -1 && count_flags(&out, 0, n) == 1,
		  "small partners with gaps: only the -75 % drop is flagged");
	detect_output_free(&out);

	/*
	 * Daily, as production loads it: 21 days of history, 3 weekly partners.
	 * The pool holds only the residuals of days 7..20 here, so its spread
	 * is wider (about 1.4 sd): over seeds 1..30 the +25 % day never reaches
	 * |z| = 3 and the -75 % day is flagged in 27 (z about -4 to -8).
	 */
	noisy_ratio_series(v, 30, 0.10, 4);
	v[21] = 0.25 * 1.25;
	v[26] = 0.25 * 0.25;
	CHECK(detect_run(days, v, 30, DAY, false, T0 + 21 * DAY, T0 + 30 * DAY, &s, &out, err, sizeof(err)) &&
		  out.n_rows == 30, "small partners: noisy daily ratio runs");
	CHECK(detect_phase_period_for_slot(DAY, 21) == 7 && out.rows[21].kind == DETECTOR_FRACTIONAL &&
		  out.rows[21].scored, "small partners: day 21 is scored on the weekly period (3 partners)");
	CHECK(fabs(out.rows[21].z_score) < 4.0 && !out.rows[21].is_anomaly,
		  "small partners: a +25 % day at 10 % noise is not flagged");
	CHECK(out.rows[26].is_anomaly && out.rows[26].direction == -1,
		  "small partners: a -75 % day is flagged");
	CHECK(count_flags(&out, 0, 30) == 1, "small partners: nothing else on the daily series");
	detect_output_free(&out);
	core_free(v);
	core_free(days);
	core_free(b);
}

/*
 * The pool follows the time of day: 20 % noise from 00:00 to 11:00, 2 %
 * from 12:00 to 23:00 (a ratio's noise follows its denominator's volume).
 * A +25 % night blip is noise; a -40 % drop at 17:00 is far outside the
 * day's spread (z = -7.8).  A pool of the whole day (spread 0.030 for both)
 * would blunt the drop to z = -3.2 and flag a night excursion at 09:00
 * (z = 4.9); before the pool, four night hours were flagged.
 */
static void
test_fractional_pool_time_of_day(void)
{
	int			n = 560;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	uint64_t	rng = 29;
	int			night = 504 + 3;	/* 03:00 */
	int			day = 504 + 24 + 17;	/* 17:00 the next day */
	int			i;

	for (i = 0; i < n; i++)
		v[i] = 0.25 * (1.0 + (i % 24 < 12 ? 0.20 : 0.02) * test_normal(&rng));
	v[night] = 0.25 * 1.25;
	v[day] = 0.25 * 0.60;
	CHECK(detect_run(b, v, n, HOUR, false, b[504], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "time of day: ratio with quiet days and noisy nights runs");
	CHECK(!out.rows[night].is_anomaly && fabs(out.rows[night].z_score) < 4.0,
		  "time of day: a +25 % blip in the noisy night is not flagged");
	CHECK(out.rows[day].is_anomaly && out.rows[day].direction == -1 &&
		  out.rows[day].z_score <= -4.0,
		  "time of day: a -40 % drop in the quiet day is flagged");
	CHECK(out.rows[day].stddev < 0.4 * out.rows[night].stddev,
		  "time of day: the day's spread is pooled from the day, not the night");
	CHECK(count_flags(&out, 0, n) == 1, "time of day: nothing else is flagged");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/* NaN/Inf/empty/one point, bad input */
static void
test_edge_input(void)
{
	int64_t		b[5] = {T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR};
	double		v[5] = {100, NAN, 100, INFINITY, 100};
	int64_t		unsorted[3] = {T0, T0 + 2 * HOUR, T0 + HOUR};
	int64_t		duplicate[3] = {T0, T0 + HOUR, T0 + HOUR};
	int64_t		off_grid[2] = {T0, T0 + HOUR + 1};
	int64_t		weeks[2] = {T0, T0 + WEEK};
	int64_t		sunday_weeks[2] = {T0 - DAY, T0 + 6 * DAY};
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];

	CHECK(detect_run(NULL, NULL, 0, HOUR, true, T0, T0 + HOUR, &s, &out, err, sizeof(err)),
		  "empty input succeeds");
	CHECK(out.n_rows == 0 && out.rows == NULL && out.n_suppressed == 0, "empty input: no rows");
	detect_output_free(&out);

	CHECK(detect_run(b, v, 1, HOUR, false, T0, T0 + HOUR, &s, &out, err, sizeof(err)),
		  "one point succeeds");
	CHECK(out.n_rows == 1 && isnan(out.rows[0].expected) && !out.rows[0].is_anomaly,
		  "one point: one row, no baseline");
	detect_output_free(&out);

	CHECK(detect_run(b, v, 5, HOUR, true, T0, T0 + 5 * HOUR, &s, &out, err, sizeof(err)),
		  "NaN and Inf values succeed");
	CHECK(out.n_rows == 3 && out.rows[1].bucket == T0 + 2 * HOUR && out.rows[2].bucket == T0 + 4 * HOUR,
		  "count: NaN/Inf buckets are left out, not zero-filled");
	detect_output_free(&out);
	CHECK(detect_run(b, v, 5, HOUR, false, T0, T0 + 5 * HOUR, &s, &out, err, sizeof(err)) &&
		  out.n_rows == 3, "fractional: NaN/Inf points are skipped");
	detect_output_free(&out);

	v[0] = NAN;
	v[1] = 100;
	CHECK(detect_run(b + 0, v, 1, HOUR, true, T0, T0 + 3 * HOUR, &s, &out, err, sizeof(err)) &&
		  out.n_rows == 2 && out.rows[0].bucket == T0 + HOUR && out.rows[0].actual == 0.0,
		  "count: a leading NaN starts the zero-fill after it");
	detect_output_free(&out);
	v[0] = 100;
	v[1] = NAN;

	CHECK(!detect_run(unsorted, v, 3, HOUR, true, T0, T0 + 3 * HOUR, &s, &out, err, sizeof(err)),
		  "unsorted buckets are refused");
	CHECK_STR(err, "buckets are not in ascending order at position 3", "unsorted message");
	CHECK(out.n_rows == 0 && out.rows == NULL, "refused run leaves an empty output");
	CHECK(!detect_run(duplicate, v, 3, HOUR, true, T0, T0 + 3 * HOUR, &s, &out, err, sizeof(err)),
		  "duplicate buckets are refused");
	CHECK_STR(err, "duplicate bucket at position 3", "duplicate message");
	CHECK(!detect_run(off_grid, v, 2, HOUR, true, T0, T0 + 3 * HOUR, &s, &out, err, sizeof(err)),
		  "off-grid buckets are refused");
	CHECK(strlen(err) > 0 && err[strlen(err) - 1] != '.', "messages have no trailing period");
	CHECK(detect_run(weeks, v, 2, WEEK, true, T0, T0 + 2 * WEEK, &s, &out, err, sizeof(err)),
		  "Monday-anchored weeks are on the week grid");
	detect_output_free(&out);
	CHECK(!detect_run(sunday_weeks, v, 2, WEEK, true, T0, T0 + 2 * WEEK, &s, &out, err, sizeof(err)),
		  "Sunday-anchored weeks are refused");
	CHECK(!detect_run(b, v, 3, 0, true, T0, T0 + 3 * HOUR, &s, &out, err, sizeof(err)),
		  "width 0 is refused");
	CHECK(!detect_run(b, v, -1, HOUR, true, T0, T0 + 3 * HOUR, &s, &out, err, sizeof(err)),
		  "negative n is refused");
	CHECK(!detect_run(b, v, 3, HOUR, true, T0 + 3 * HOUR, T0, &s, &out, err, sizeof(err)),
		  "eval_start after eval_end is refused");
	s.settling_minutes = 1441;
	CHECK(!detect_run(b, v, 3, HOUR, true, T0, T0 + 3 * HOUR, &s, &out, err, sizeof(err)),
		  "settling above 1440 is refused");
	CHECK_STR(err, "settling_minutes must be between 0 and 1440", "settling message");
	s.settling_minutes = 0;
	s.min_history_buckets = 20;
	CHECK(!detect_run(b, v, 3, HOUR, true, T0, T0 + 3 * HOUR, &s, &out, err, sizeof(err)),
		  "min_history above the window is refused");
	CHECK(detect_run(b, v, 3, HOUR, true, T0, T0 + 3 * HOUR, NULL, &out, err, sizeof(err)),
		  "NULL settings mean the defaults");
	detect_output_free(&out);
	CHECK(!detect_run(b, v, 3, HOUR, true, T0, INT64_MAX, NULL, &out, err, sizeof(err)),
		  "a zero-fill to the end of time is refused, not attempted");
	CHECK(!detect_run(b, v, 3, HOUR, true, T0, T0 + 3 * HOUR, NULL, NULL, err, sizeof(err)),
		  "no output struct is refused");
	CHECK(!detect_run(b, v, 3, 0, true, T0, T0 + 3 * HOUR, NULL, &out, NULL, 0),
		  "a NULL errbuf is tolerated");
	detect_output_free(NULL);
}

/* 10 million daily points: works, memory linear, no O(n^2) */
static void
test_ten_million(void)
{
	int			n = 10000000;
	int64_t    *b = (int64_t *) core_alloc(sizeof(int64_t) * n);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s;
	DetectOutput out;
	char		err[128];
	uint64_t	rng = 99;
	int64_t		start = -INT64_C(2000000) * DAY;	/* about 3500 BC */
	int			i;

	for (i = 0; i < n; i++)
	{
		b[i] = start + (int64_t) i * DAY;
		v[i] = 500.0 + (double) (test_random(&rng) % 100) + ((i % 7) >= 5 ? -200.0 : 0.0);
	}
	v[n - 5] = 5000.0;
	detect_default_settings(&s);
	CHECK(detect_run(b, v, n, DAY, true, b[n - 30], b[n - 1] + DAY, &s, &out, err, sizeof(err)),
		  "10 million points run");
	CHECK(out.n_rows == n, "10 million rows");
	CHECK(out.rows[n - 5].is_anomaly && out.rows[n - 5].direction == 1,
		  "the spike near the end of 10 million points is flagged");
	detect_output_free(&out);
	core_free(b);
	core_free(v);
}

/* qsort order of doubles */
static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Median of x[0..n) by sorting a copy (mean of the middle two when even) */
static double
sorted_median(const double *x, int n)
{
	double	   *c = (double *) core_alloc(sizeof(double) * (size_t) n);
	double		m;

	memcpy(c, x, sizeof(double) * (size_t) n);
	qsort(c, (size_t) n, sizeof(double), compare_doubles);
	m = n % 2 == 1 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
	core_free(c);
	return m;
}

/*
 * The rank set's median and MAD of a window moved by small steps, by jumps
 * (forward and back) and resized, against sorting the window and its
 * absolute deviations; continuous values and heavily tied quantised ones
 */
static void
test_rank_set_window(void)
{
	enum
	{
		N = 3000
	};
	double	   *v = (double *) core_alloc(sizeof(double) * N);
	double	   *dev = (double *) core_alloc(sizeof(double) * N);
	uint64_t	rng = 7;
	int			kind;

	for (kind = 0; kind < 2; kind++)
	{
		OrderRankSet set;
		int			lo = 0,
					hi = 0,
					step,
					k;
		int			bad_median = 0,
					bad_mad = 0,
					checks = 0;

		for (k = 0; k < N; k++)
			v[k] = kind == 0 ? test_normal(&rng) * 3.0 + 1.0 :
				(double) (unit_rand(&rng) % 5) * 0.066;
		order_rank_set_init(&set, v, N);
		for (step = 0; step < 400; step++)
		{
			int			new_lo,
						new_hi,
						n,
						j;
			double		median,
						mad,
						want_median;

			if (step % 7 == 3)
				new_lo = (int) (unit_rand(&rng) % (N - 50));	/* a jump */
			else
				new_lo = lo + (int) (unit_rand(&rng) % 5);
			new_hi = new_lo + 1 + (int) (unit_rand(&rng) % 700);
			if (new_hi > N)
				new_hi = N;
			if (new_lo >= new_hi)
				new_lo = new_hi - 1;
			/* move the set: remove what left, add what came */
			for (j = lo; j < hi; j++)
				if (j < new_lo || j >= new_hi)
					order_rank_set_remove(&set, j);
			for (j = new_lo; j < new_hi; j++)
				if (j < lo || j >= hi)
					order_rank_set_add(&set, j);
			lo = new_lo;
			hi = new_hi;
			n = hi - lo;
			order_rank_set_median_mad(&set, &median, &mad);
			want_median = sorted_median(v + lo, n);
			for (j = 0; j < n; j++)
				dev[j] = fabs(v[lo + j] - want_median);
			checks++;
			if (set.count != n || median != want_median)
				bad_median++;
			if (mad != sorted_median(dev, n))
				bad_mad++;
		}
		CHECK(checks == 400 && bad_median == 0,
			  kind == 0 ? "rank set: window medians equal sorting (continuous)" :
			  "rank set: window medians equal sorting (tied, quantised)");
		CHECK(bad_mad == 0,
			  kind == 0 ? "rank set: window MADs equal sorting the deviations (continuous)" :
			  "rank set: window MADs equal sorting the deviations (tied, quantised)");
		order_rank_set_free(&set);
	}
	core_free(v);
	core_free(dev);
}

/*
 * The anomaly score: the logistic of doc/detection.md at hand-computed
 * points, its inverse, and on a run: every row's score is that of its z
 * (NaN exactly where z is), the flagged rows score at least 0.5
 */
static void
test_anomaly_score(void)
{
	int			n = 840;
	int64_t    *b = make_buckets(n, HOUR);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s = no_settling();
	DetectOutput out;
	char		err[128];
	int			i,
				bad = 0,
				with_z = 0;

	CHECK_NEAR(detect_score(4.0), 0.5, 1e-15, "score: |z| = 4 scores 0.5");
	CHECK_NEAR(detect_score(-6.0), 1.0 / (1.0 + exp(-3.0)), 1e-15, "score: z = -6 scores 1 / (1 + e^-3)");
	CHECK_NEAR(detect_score(0.0), 1.0 / (1.0 + exp(6.0)), 1e-15, "score: z = 0 scores 1 / (1 + e^6)");
	CHECK(isnan(detect_score(NAN)), "score: NaN z has no score");
	CHECK_NEAR(detect_sigma_for_score(0.5), 4.0, 1e-12, "score threshold 0.5 is sigma 4");
	CHECK_NEAR(detect_sigma_for_score(0.9), 4.0 + log(9.0) / 1.5, 1e-12,
			   "score threshold 0.9 is sigma 4 + ln 9 / 1.5");

	seasonal_series(v, n, 7);
	v[700] = 3.0 * seasonal_mean(700, 1000.0);
	CHECK(detect_run(b, v, n, HOUR, true, b[504], T0 + n * HOUR, &s, &out, err, sizeof(err)),
		  "score: seasonal series with a spike runs");
	for (i = 0; i < out.n_rows; i++)
	{
		const DetectRow *row = &out.rows[i];

		if (isnan(row->z_score) != isnan(row->score))
			bad++;
		else if (!isnan(row->z_score))
		{
			double		want = 1.0 / (1.0 + exp(-1.5 * (fabs(row->z_score) - 4.0)));

			with_z++;
			if (fabs(row->score - want) > 1e-12 || (row->is_anomaly && row->score < 0.5))
				bad++;
		}
	}
	CHECK(bad == 0 && with_z > 300, "score: every row's score is that of its z, flags score >= 0.5");
	CHECK(out.rows[700].is_anomaly && out.rows[700].score > 0.99, "score: the x3 spike scores above 0.99");
	detect_output_free(&out);
	core_free(v);
	core_free(b);
}

/*
 * A daily count with a weekly pattern and 8 % day-to-day noise (far above
 * sqrt(expected): ~2 % at 2 000 a day), judged over its last 28 days in the
 * way a detection pass loads it (21 days of history, then 30 evaluated): no
 * false flags over a few such series, and a -60 % day is still flagged.
 * The partners' MAD alone (a few weekly partners) gave spreads of a few % and
 * flagged plain noise; the pooled prediction error fits the real noise.
 */
static void
test_daily_count_noise(void)
{
	int			n = 51;
	int64_t    *b = make_buckets(n, DAY);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s;
	uint64_t	rng = 2024;
	int			series,
				flags = 0,
				found = 0;

	detect_default_settings(&s);
	for (series = 0; series < 40; series++)
	{
		double		weekly[7];
		DetectOutput out;
		char		err[128];
		int			i;

		for (i = 0; i < 7; i++)
			weekly[i] = i < 5 ? 0.9 + 0.2 * (double) (unit_rand(&rng) % 1000) / 1000.0 :
				0.5 + 0.3 * (double) (unit_rand(&rng) % 1000) / 1000.0;
		for (i = 0; i < n; i++)
			v[i] = floor(2000.0 * weekly[i % 7] * (1.0 + 0.08 * test_normal(&rng)) + 0.5);
		if (!detect_run(b, v, n, DAY, true, b[21], T0 + (int64_t) n * DAY, &s, &out, err, sizeof(err)))
			break;
		flags += count_flags(&out, 0, n);
		detect_output_free(&out);

		v[45] *= 0.4;
		if (!detect_run(b, v, n, DAY, true, b[21], T0 + (int64_t) n * DAY, &s, &out, err, sizeof(err)))
			break;
		if (out.rows[45].is_anomaly && out.rows[45].direction < 0)
			found++;
		detect_output_free(&out);
	}
	CHECK(series == 40, "daily counts with 8 % noise: 40 series run");
	CHECK(flags <= 1, "daily counts with 8 % noise: at most one flag over 40 x 29 judged days");
	CHECK(found >= 36, "daily counts with 8 % noise: a -60 % day is flagged in at least 36 of 40");
	if (flags > 1 || found < 36)
		printf("#   flags %d, found %d\n", flags, found);
	core_free(v);
	core_free(b);
}

/*
 * The same daily counts (weekly pattern: weekdays 0.9..1.1, weekends
 * 0.5..0.8; 8 % noise), with a -45 % holiday on a weekend day judged by the
 * pass after it (day 47 or 48 of 51, seven weekly partners).  A daily grid
 * pools the errors of all its weekdays; in units of the week's level a
 * weekend day was judged against the busier weekdays' noise (z about -2.6
 * for such a holiday).  Relative to a clearly lower expectation it is judged
 * against its own: flagged in at least 32 of 40 series, and the clean runs
 * still raise at most one flag (measured: 18 of 40 before, 36 after).
 */
static void
test_daily_weekend_holiday(void)
{
	int			n = 51;
	int64_t    *b = make_buckets(n, DAY);
	double	   *v = (double *) core_alloc(sizeof(double) * n);
	DetectSettings s;
	uint64_t	rng = 1717;
	int			series,
				flags = 0,
				found = 0;

	detect_default_settings(&s);
	for (series = 0; series < 40; series++)
	{
		double		weekly[7];
		DetectOutput out;
		char		err[128];
		int			day = 47 + series % 2;	/* a Saturday, a Sunday */
		int			i;

		for (i = 0; i < 7; i++)
			weekly[i] = i < 5 ? 0.9 + 0.2 * (double) (unit_rand(&rng) % 1000) / 1000.0 :
				0.5 + 0.3 * (double) (unit_rand(&rng) % 1000) / 1000.0;
		for (i = 0; i < n; i++)
			v[i] = floor(2000.0 * weekly[i % 7] * (1.0 + 0.06 * test_normal(&rng)) + 0.5);
		if (!detect_run(b, v, n, DAY, true, b[21], T0 + (int64_t) n * DAY, &s, &out, err, sizeof(err)))
			break;
		flags += count_flags(&out, 0, n);
		detect_output_free(&out);

		v[day] = floor(v[day] * 0.55 + 0.5);
		if (!detect_run(b, v, n, DAY, true, b[21], T0 + (int64_t) n * DAY, &s, &out, err, sizeof(err)))
			break;
		if (out.rows[day].is_anomaly && out.rows[day].direction < 0)
			found++;
		detect_output_free(&out);
	}
	CHECK(series == 40, "weekend holiday: 40 daily series run");
	CHECK(flags <= 1, "weekend holiday: at most one flag over 40 x 29 clean judged days");
	CHECK(found >= 32, "weekend holiday: a -45 % weekend day is flagged in at least 32 of 40");
	if (flags > 1 || found < 32)
		printf("#   flags %d, found %d\n", flags, found);
	core_free(v);
	core_free(b);
}

/* Run every detector test */
int
main(void)
{
	test_settings_and_names();
	test_median_mad_robust();
	test_rank_set_window();
	test_periods_and_settling();
	test_partners();
	test_level_adaptive_expected();
	test_floors();
	test_gate_and_silent_skip();
	test_settling();
	test_seasonal_spike_drop();
	test_anomaly_score();
	test_daily_count_noise();
	test_daily_weekend_holiday();
	test_outage_collapse();
	test_robust_level_outage();
	test_robust_level_spike();
	test_robust_level_cap();
	test_trend_shift();
	test_fractional();
	test_fractional_small_partners();
	test_fractional_pool_time_of_day();
	test_edge_input();
	test_ten_million();
	return unit_done();
}

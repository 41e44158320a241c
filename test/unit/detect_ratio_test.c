/*-------------------------------------------------------------------------
 *
 * detect_ratio_test.c
 *	  Unit tests of the ratio noise model (src/core/detect_ratio.c) and of
 *	  the detector judging a ratio series with its operands
 *	  (detect_run_operands), against hand-computed variances and seeded
 *	  binomial series (doc/detection.md, "Ratio metrics: noise from the
 *	  operands").
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include "detect_core.h"
#include "detect_ratio.h"

#define HOUR	CORE_USECS_PER_HOUR
/* 2024-01-01 00:00 UTC, a Monday */
#define T0		INT64_C(1704067200000000)

#include "detect_helpers.h"

/* Binomial(n, p) sample by n Bernoulli draws (n is small here) */
static double
binomial(uint64_t *state, int n, double p)
{
	int			k,
				hits = 0;

	for (k = 0; k < n; k++)
		if ((double) (test_random(state) >> 11) / 9007199254740992.0 < p)
			hits++;
	return (double) hits;
}

/*
 * An hourly conversion series of n buckets: views with a daily wave
 * between low and high, purchases Binomial(views, p x factor[i]) (factor
 * NULL: 1)
 */
static void
conversion_series(uint64_t *state, int n, int low, int high, double p, const double *factor,
				  double *num, double *den, double *ratio)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		double		wave = 0.5 + 0.5 * sin(2.0 * M_PI * (double) (i % 24) / 24.0);
		int			views = low + (int) ((double) (high - low) * wave);

		den[i] = (double) views;
		num[i] = binomial(state, views, p * (factor != NULL ? factor[i] : 1.0));
		ratio[i] = num[i] / den[i];
	}
}

int
main(void)
{
	uint64_t	state = UINT64_C(20261202);

	/* the variance family, and the spread of a point on either side */
	{
		DetectRatio *r = detect_ratio_new(24);
		int			i;

		for (i = 0; i < 24; i++)
		{
			r->num[i] = 10.0;
			r->den[i] = 100.0;
		}
		CHECK(detect_ratio_ready(r) && r->binomial, "numerators within their denominators: binomial");
		CHECK(isnan(detect_ratio_spread(r, 10, 0.1, 1, 4.0)), "no residuals yet: no spread");
		/* ten residuals of 0: phi clipped to 1 */
		for (i = 0; i < 10; i++)
			detect_ratio_note(r, i, 0.1, 0.1);
		CHECK(detect_ratio_phi(r, 10) == 1.0, "phi is never below 1 (counting noise is the least)");
		/*
		 * p 0.1 of 100 at sigma 4: asin(sqrt((10 + 3/8) / (100 + 3/4))) +- 4 /
		 * (2 sqrt(100)), back to ratios: 0.25082 above, 0.01233 below (by
		 * hand, python's math)
		 */
		CHECK(fabs(detect_ratio_spread(r, 10, 0.1, 1, 4.0) - 0.037704768511327987) < 1e-12,
			  "binomial spread above 0.1 of 100 at sigma 4: (0.25082 - 0.1) / 4");
		CHECK(fabs(detect_ratio_spread(r, 10, 0.1, -1, 4.0) - 0.021916967311904994) < 1e-12,
			  "below: (0.1 - 0.01233) / 4, narrower (the binomial is skewed)");
		CHECK(fabs(detect_ratio_spread(r, 10, 0.01, -1, 4.0) - 2.0 * 0.01 / 4.0) < 1e-15,
			  "a drop from 0.01 of 100 cannot reach 4 sigma: twice the distance to 0");
		CHECK(fabs(detect_ratio_spread(r, 10, 0.99, 1, 4.0) - 2.0 * 0.01 / 4.0) < 1e-12,
			  "nor a rise from 0.99 (twice the distance to 1)");
		CHECK(isnan(detect_ratio_spread(r, 10, 1.5, 1, 4.0)) && isnan(detect_ratio_spread(r, 10, NAN, 1, 4.0)),
			  "an expectation outside [0, 1] of a proportion, or none: no spread");
		r->num[3] = 150.0;
		CHECK(detect_ratio_ready(r) && !r->binomial, "a numerator above its denominator: Poisson");
		CHECK(fabs(detect_ratio_spread(r, 10, 1.5, 1, 4.0) - 0.13262748468430718) < 1e-12,
			  "Poisson spread above 1.5 of 100 at sigma 4: from sqrt((150 + 3/8) / 100) + 0.2");
		CHECK(fabs(detect_ratio_spread(r, 10, 1.5, -1, 4.0) - 0.11262748468430711) < 1e-12,
			  "below: from sqrt((150 + 3/8) / 100) - 0.2");
		r->den[12] = NAN;
		CHECK(isnan(detect_ratio_spread(r, 12, 1.5, 1, 4.0)), "a point without a denominator: no spread");
		r->den[12] = 0.5;
		CHECK(isnan(detect_ratio_spread(r, 12, 1.5, 1, 4.0)), "a denominator below 1: no spread");
		CHECK(isnan(detect_ratio_spread(r, 24, 1.5, 1, 4.0)) && isnan(detect_ratio_spread(r, -1, 1.5, 1, 4.0)),
			  "points outside the model: no spread");
		detect_ratio_free(r);
	}

	/* too few operands: the model is not used */
	{
		DetectRatio *r = detect_ratio_new(30);
		int			i;

		for (i = 0; i < 9; i++)
		{
			r->num[i] = 1.0;
			r->den[i] = 10.0;
		}
		CHECK(!detect_ratio_ready(r), "9 points with operands are too few");
		for (i = 9; i < 14; i++)
		{
			r->num[i] = 1.0;
			r->den[i] = 10.0;
		}
		CHECK(!detect_ratio_ready(r), "14 of 30 is less than half");
		r->num[14] = 1.0;
		r->den[14] = 10.0;
		CHECK(detect_ratio_ready(r), "15 of 30 is enough");
		detect_ratio_free(r);
		r = detect_ratio_new(0);
		CHECK(!detect_ratio_ready(r), "an empty series has no model");
		detect_ratio_free(r);
	}

	/* phi: from hand-placed residuals, their upper quartile over the chi-square's */
	{
		DetectRatio *r = detect_ratio_new(40);
		int			i;

		for (i = 0; i < 40; i++)
		{
			r->num[i] = 150.0;
			r->den[i] = 100.0;
		}
		CHECK(detect_ratio_ready(r) && !r->binomial, "a Poisson model of 40 points");
		/*
		 * expected 1, actual 1.21 of 100: (sqrt(121.375 / 100) - sqrt(100.375
		 * / 100)) x 2 sqrt(100) = 1.99660, squared 3.98641 (python's math)
		 */
		for (i = 0; i < 9; i++)
			detect_ratio_note(r, i, 1.21, 1.0);
		CHECK(isnan(detect_ratio_phi(r, 9)), "9 residuals are too few for phi");
		detect_ratio_note(r, 9, 0.81, 1.0);	/* -1.99585, squared 3.98340 */
		CHECK(fabs(detect_ratio_phi(r, 10) - 3.9864100706037386 / RATIO_PHI_CHI_SQUARE * 1.5) < 1e-9,
			  "phi of ten residuals: their upper quartile 3.98641 / 1.32330, x (1 + 5 / 10)");
		CHECK(isnan(detect_ratio_phi(r, 5)), "phi of a point sees only the residuals before it (5 of them)");
		/* thirty more of 0, eight of them then incidents */
		for (i = 10; i < 40; i++)
			detect_ratio_note(r, i, 1.0, 1.0);
		for (i = 10; i < 18; i++)
			detect_ratio_note(r, i, 9.0, 1.0);
		CHECK(fabs(detect_ratio_phi(r, 40) - 3.9864100706037386 / RATIO_PHI_CHI_SQUARE * (1.0 + 5.0 / 40.0)) < 1e-9,
			  "8 huge residuals among 40: the quartile is an ordinary one's (x 1 + 5 / 40)");
		detect_ratio_free(r);
	}

	/* phi learned from binomial noise is about 1, from doubled noise about 4 */
	{
		int			n = 600;
		DetectRatio *plain = detect_ratio_new(n);
		DetectRatio *wide = detect_ratio_new(n);
		double	   *actual = (double *) core_alloc(sizeof(double) * (size_t) n);
		int			i;
		double		phi_plain,
					phi_wide;

		for (i = 0; i < n; i++)
		{
			int			views = 50 + (int) (450.0 * (0.5 + 0.5 * sin((double) i / 4.0)));
			double		t = asin(sqrt(0.2)) + 2.0 * test_normal(&state) / (2.0 * sqrt((double) views));

			plain->num[i] = wide->num[i] = binomial(&state, views, 0.2);
			plain->den[i] = wide->den[i] = (double) views;
			actual[i] = sin(t) * sin(t);
		}
		CHECK(detect_ratio_ready(plain) && plain->binomial && detect_ratio_ready(wide),
			  "binomial draws: binomial model");
		for (i = 0; i < n; i++)
		{
			detect_ratio_note(plain, i, plain->num[i] / plain->den[i], 0.2);
			detect_ratio_note(wide, i, actual[i], 0.2);
		}
		phi_plain = detect_ratio_phi(plain, n);
		phi_wide = detect_ratio_phi(wide, n);
		CHECK(phi_plain >= 1.0 && phi_plain < 1.3, "binomial noise at volumes 50..500: phi about 1");
		CHECK(phi_wide > 3.0 && phi_wide < 5.2, "twice the binomial spread: phi about 4");
		detect_ratio_free(plain);
		detect_ratio_free(wide);
		core_free(actual);
	}

	/* runs: three buckets each 2.3 spreads low are one 3.4-spread drop */
	{
		DetectRatio *r = detect_ratio_new(30);
		double		spread,
					z;
		int			i;

		for (i = 0; i < 30; i++)
		{
			r->num[i] = 40.0;
			r->den[i] = 400.0;
		}
		CHECK(detect_ratio_ready(r) && r->binomial, "a binomial model of 400 a bucket");
		for (i = 0; i < 20; i++)
			detect_ratio_note(r, i, 0.1, 0.1);
		for (i = 20; i < 23; i++)
			r->num[i] = 28.0;	/* 0.07 against 0.1 */
		detect_ratio_note(r, 20, 0.07, 0.1);
		detect_ratio_note(r, 21, 0.07, 0.1);
		CHECK(detect_ratio_phi(r, 22) == 1.0, "phi 1 (two residuals of 22 are no quartile)");
		spread = detect_ratio_spread(r, 22, 0.1, -1, 4.0);
		CHECK(fabs(spread - 0.012984334128696502) < 1e-12, "its own spread below: 0.012984 (by hand)");
		z = detect_ratio_run_z(r, 22, 0.07, 0.1, spread, 4.0);
		/* 84 of 1200 against 0.1 on the stabilized scale, x 0.9 (by hand) */
		CHECK(fabs(z - -3.3594709519864145) < 1e-9, "the run of three: z -3.359 (own -2.310)");
		z = detect_ratio_run_z(r, 21, 0.07, 0.1, detect_ratio_spread(r, 21, 0.1, -1, 4.0), 4.0);
		CHECK(fabs(z - -2.7402159218028053) < 1e-9, "a run of two: z -2.740");
		r->num[21] = 44.0;
		z = detect_ratio_run_z(r, 22, 0.07, 0.1, spread, 4.0);
		CHECK(fabs(z - (0.07 - 0.1) / spread) < 1e-12, "a bucket the other way ends the run: own z");
		r->num[21] = 28.0;
		z = detect_ratio_run_z(r, 22, 0.095, 0.1, spread, 4.0);
		CHECK(fabs(z - (0.095 - 0.1) / spread) < 1e-12, "a bucket within one spread starts no run");
		for (i = 20; i < 23; i++)
		{
			r->den[i] = 20.0;
			r->num[i] = 1.0;
		}
		z = detect_ratio_run_z(r, 22, 0.05, 0.1, 0.02, 4.0);
		CHECK(fabs(z - (0.05 - 0.1) / 0.02) < 1e-12,
			  "a run expecting fewer than 20 events in all: own z");
		detect_ratio_free(r);
	}

	/* the detector: low volumes (20..200 views), pure binomial noise, nothing flagged */
	{
		int			n = 24 * 35;
		int64_t    *b = make_buckets(n, HOUR);
		double	   *num = (double *) core_alloc(sizeof(double) * (size_t) n);
		double	   *den = (double *) core_alloc(sizeof(double) * (size_t) n);
		double	   *ratio = (double *) core_alloc(sizeof(double) * (size_t) n);
		DetectSettings s = no_settling();
		DetectOutput out;
		char		err[256];
		double		quiet_band = 0.0,
					busy_band = 0.0;
		int			quiet = 0,
					busy = 0,
					flags = 0,
					seed;

		for (seed = 0; seed < 10; seed++)
		{
			int			i;

			conversion_series(&state, n, 20, 200, 0.08, NULL, num, den, ratio);
			CHECK(detect_run_operands(b, ratio, num, den, n, HOUR, false, b[24 * 21], b[n - 1] + HOUR,
									  &s, &out, err, sizeof(err)), "a low-volume conversion series runs");
			flags += count_flags(&out, 0, out.n_rows);
			for (i = 0; i < out.n_rows; i++)
			{
				int			k = (int) ((out.rows[i].bucket - T0) / HOUR);

				if (!out.rows[i].scored)
					continue;
				if (den[k] < 50.0)
				{
					quiet_band += out.rows[i].effective_stddev;
					quiet++;
				}
				else if (den[k] > 170.0)
				{
					busy_band += out.rows[i].effective_stddev;
					busy++;
				}
			}
			detect_output_free(&out);
		}
		CHECK(flags == 0, "ten low-volume series of noise (20..200 views): no flag");
		/* the binomial spread of 8 % of under 50 views is over twice that of over 170 */
		CHECK(quiet > 100 && busy > 100 && quiet_band / quiet > 1.8 * (busy_band / busy),
			  "the band of the quiet hours is about twice that of the busy ones");
		core_free(b);
		core_free(num);
		core_free(den);
		core_free(ratio);
	}

	/*
	 * The detector: high volume (2000..6000 views), a conversion drop of 40 %
	 * for two hours: the volume-scaled spread catches it, and the clean
	 * series stays quiet
	 */
	{
		int			n = 24 * 35;
		int			at = 24 * 28 + 14;
		int64_t    *b = make_buckets(n, HOUR);
		double	   *num = (double *) core_alloc(sizeof(double) * (size_t) n);
		double	   *den = (double *) core_alloc(sizeof(double) * (size_t) n);
		double	   *ratio = (double *) core_alloc(sizeof(double) * (size_t) n);
		double	   *factor = (double *) core_alloc(sizeof(double) * (size_t) n);
		DetectSettings s = no_settling();
		DetectOutput out;
		DetectOutput plain;
		char		err[256];
		int			i;

		for (i = 0; i < n; i++)
			factor[i] = (i == at || i == at + 1) ? 0.6 : 1.0;
		conversion_series(&state, n, 2000, 6000, 0.05, factor, num, den, ratio);
		CHECK(detect_run_operands(b, ratio, num, den, n, HOUR, false, b[24 * 21], b[n - 1] + HOUR,
								  &s, &out, err, sizeof(err)), "a high-volume conversion series runs");
		CHECK(count_flags(&out, at, at + 2) == 1, "a 40 % drop for two hours is flagged (once: one incident)");
		CHECK(out.rows[at].direction == -1, "... as a drop");
		CHECK(count_flags(&out, 0, at) == 0 && count_flags(&out, at + 2, n) == 0,
			  "and nothing else is");
		/* the same series without its operands: the fractional model alone */
		CHECK(detect_run(b, ratio, n, HOUR, false, b[24 * 21], b[n - 1] + HOUR, &s, &plain, err, sizeof(err)),
			  "the series without operands runs");
		CHECK(plain.rows[at].effective_stddev > out.rows[at].effective_stddev,
			  "the operands' band is narrower than the fractional model's there");
		detect_output_free(&plain);
		detect_output_free(&out);

		/* operands NULL, or too few of them: exactly detect_run */
		CHECK(detect_run_operands(b, ratio, NULL, NULL, n, HOUR, false, b[24 * 21], b[n - 1] + HOUR,
								  &s, &out, err, sizeof(err)) &&
			  detect_run(b, ratio, n, HOUR, false, b[24 * 21], b[n - 1] + HOUR, &s, &plain, err, sizeof(err)),
			  "both run");
		{
			bool		same = out.n_rows == plain.n_rows;

			for (i = 0; same && i < out.n_rows; i++)
				same = out.rows[i].is_anomaly == plain.rows[i].is_anomaly &&
					(out.rows[i].effective_stddev == plain.rows[i].effective_stddev ||
					 (isnan(out.rows[i].effective_stddev) && isnan(plain.rows[i].effective_stddev)));
			CHECK(same, "no operands: the same rows as detect_run");
		}
		detect_output_free(&plain);
		detect_output_free(&out);
		for (i = 0; i < n; i++)
			den[i] = i < 24 ? den[i] : NAN;
		CHECK(detect_run_operands(b, ratio, num, den, n, HOUR, false, b[24 * 21], b[n - 1] + HOUR,
								  &s, &out, err, sizeof(err)) &&
			  detect_run(b, ratio, n, HOUR, false, b[24 * 21], b[n - 1] + HOUR, &s, &plain, err, sizeof(err)),
			  "operands on the first day only: both run");
		CHECK(out.rows[at].effective_stddev == plain.rows[at].effective_stddev,
			  "too few operands: the fractional model");
		detect_output_free(&plain);
		detect_output_free(&out);
		/* a count series ignores operands */
		CHECK(detect_run_operands(b, num, num, den, n, HOUR, true, b[24 * 21], b[n - 1] + HOUR,
								  &s, &out, err, sizeof(err)) &&
			  detect_run(b, num, n, HOUR, true, b[24 * 21], b[n - 1] + HOUR, &s, &plain, err, sizeof(err)) &&
			  out.rows[at].effective_stddev == plain.rows[at].effective_stddev,
			  "a count series is judged as without operands");
		detect_output_free(&plain);
		detect_output_free(&out);
		core_free(b);
		core_free(num);
		core_free(den);
		core_free(ratio);
		core_free(factor);
	}
	return unit_done();
}

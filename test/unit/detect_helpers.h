/*-------------------------------------------------------------------------
 *
 * detect_helpers.h
 *	  What the detector's unit tests share (detect_test.c,
 *	  detect_noise_test.c): a seeded noise source, grids of buckets, default
 *	  settings without settling, counting flags.  Include after unit.h and
 *	  detect_core.h, with T0 defined.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DETECT_HELPERS_H
#define TRIPL_DETECT_HELPERS_H

/* splitmix64 step, the tests' deterministic noise source */
static uint64_t
test_random(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Standard normal sample (Box-Muller) */
static double
test_normal(uint64_t *state)
{
	double		u1 = ((double) (test_random(state) >> 11) + 1.0) / 9007199254740993.0;
	double		u2 = (double) (test_random(state) >> 11) / 9007199254740992.0;

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Buckets T0, T0 + width, ... */
static int64_t *
make_buckets(int n, int64_t width)
{
	int64_t    *b = (int64_t *) core_alloc(sizeof(int64_t) * (n > 0 ? n : 1));
	int			i;

	for (i = 0; i < n; i++)
		b[i] = T0 + (int64_t) i * width;
	return b;
}

/* Settings with the defaults but no settling */
static DetectSettings
no_settling(void)
{
	DetectSettings s;

	detect_default_settings(&s);
	s.settling_minutes = 0;
	return s;
}

/* Number of flagged rows in [from, to) (indices) */
static int
count_flags(const DetectOutput *out, int from, int to)
{
	int			count = 0;
	int			i;

	for (i = from; i < to && i < out->n_rows; i++)
		if (out->rows[i].is_anomaly)
			count++;
	return count;
}

#endif							/* TRIPL_DETECT_HELPERS_H */

/*
 * sketch_test.c
 *	  Unit tests of the quantile sketch (ddsketch.c) and the distinct-count
 *	  sketch (hll.c) against exact answers computed here: sorted arrays and
 *	  percentile_cont's interpolation for quantiles, known cardinalities for
 *	  distinct counts.
 */
#include <math.h>
#include <stdint.h>

#include "unit.h"
#include "ddsketch.h"
#include "hll.h"

/* xorshift64*: a seeded generator of uniform doubles in (0, 1) */
static uint64_t rng_state = 88172645463325252ULL;

static double
uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return ((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0) + 1e-18;
}

static double
normal(void)
{
	return sqrt(-2.0 * log(uniform())) * cos(2.0 * M_PI * uniform());
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* percentile_cont(q) of sorted values */
static double
percentile_cont(const double *sorted, int n, double q)
{
	double		pos = q * (n - 1);
	int			lo = (int) floor(pos);
	double		frac = pos - lo;

	if (lo + 1 >= n)
		return sorted[n - 1];
	return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

/* Every tested quantile within alpha (relative) of percentile_cont */
static void
check_quantiles(const char *what, double *vals, int n)
{
	static const double qs[] = {0.01, 0.5, 0.95, 0.999};
	DdSketch	s;
	double		worst = 0;
	char		label[200];
	int			i;

	dds_init(&s, 0.01);
	for (i = 0; i < n; i++)
		dds_add(&s, vals[i]);
	qsort(vals, n, sizeof(double), cmp_double);
	for (i = 0; i < 4; i++)
	{
		double		exact = percentile_cont(vals, n, qs[i]);
		double		est = dds_quantile(&s, qs[i]);
		double		rel = fabs(est - exact) / fabs(exact);

		if (rel > worst)
			worst = rel;
	}
	snprintf(label, sizeof(label), "%s: p1, p50, p95, p99.9 within 1%% of percentile_cont (worst %.4f%%)",
			 what, worst * 100);
	CHECK(worst <= 0.01, label);
	snprintf(label, sizeof(label), "%s: a few kB (%zu bytes)", what, dds_memory(&s));
	CHECK(dds_memory(&s) <= 24 * 1024, label);
	dds_free(&s);
}

static void
test_ddsketch(void)
{
	int			n = 200000;
	double	   *vals = malloc(sizeof(double) * n);
	DdSketch	s;
	DdSketch	parts[4];
	DdSketch	merged;
	DdSketch	copy;
	char	   *image;
	size_t		len;
	int			i;
	bool		same;

	/* skewed data */
	for (i = 0; i < n; i++)
		vals[i] = exp(3.0 + 1.5 * normal());	/* log-normal */
	check_quantiles("log-normal", vals, n);
	for (i = 0; i < n; i++)
		vals[i] = 2.0 / pow(uniform(), 1.0 / 1.2);	/* Pareto, alpha 1.2 */
	check_quantiles("Pareto", vals, n);
	for (i = 0; i < n; i++)
		vals[i] = -exp(2.0 + normal());	/* all negative */
	check_quantiles("negative log-normal", vals, n);
	for (i = 0; i < n; i++)
		vals[i] = (double) (1 + (i % 50));	/* integers with many ties */
	check_quantiles("ties (1..50)", vals, n);

	/* ties across a gap: the median interpolates between 5 and 7 */
	dds_init(&s, 0.01);
	for (i = 0; i < 1000; i++)
	{
		dds_add(&s, 5.0);
		dds_add(&s, 7.0);
	}
	CHECK_NEAR(dds_quantile(&s, 0.5), 6.0, 0.06, "median of 1000 x 5 and 1000 x 7 interpolates to 6");
	dds_free(&s);

	/* one value, empty, NaN, zeros */
	dds_init(&s, 0.01);
	CHECK(isnan(dds_quantile(&s, 0.5)), "an empty sketch has no quantile");
	dds_add(&s, 123.456);
	dds_add(&s, NAN);
	CHECK_NEAR(dds_quantile(&s, 0.95), 123.456, 0, "one value: every quantile is that value (NaN ignored)");
	dds_free(&s);
	dds_init(&s, 0.01);
	for (i = 0; i < 100; i++)
		dds_add(&s, i < 60 ? 0.0 : 10.0);
	CHECK_NEAR(dds_quantile(&s, 0.5), 0.0, 0, "zeros are counted exactly");
	CHECK_NEAR(dds_quantile(&s, 0.0), 0.0, 0, "q = 0 is the minimum");
	CHECK_NEAR(dds_quantile(&s, 1.0), 10.0, 0, "q = 1 is the maximum");
	dds_free(&s);

	/* merging four parts equals one sketch of everything */
	for (i = 0; i < n; i++)
		vals[i] = exp(1.0 + 2.0 * normal()) * (i % 7 == 0 ? -1 : 1);
	dds_init(&s, 0.01);
	dds_init(&merged, 0.01);
	for (i = 0; i < 4; i++)
		dds_init(&parts[i], 0.01);
	for (i = 0; i < n; i++)
	{
		dds_add(&s, vals[i]);
		dds_add(&parts[i % 4], vals[i]);
	}
	for (i = 0; i < 4; i++)
		dds_merge(&merged, &parts[i]);
	same = true;
	for (i = 0; i <= 100; i++)
		same = same && dds_quantile(&s, i / 100.0) == dds_quantile(&merged, i / 100.0);
	CHECK(same && merged.count == s.count, "merged parts give the same quantiles as one sketch");

	/* an image and back */
	dds_serialize(&merged, &image, &len);
	CHECK(dds_deserialize(&copy, image, len), "an image reads back");
	same = true;
	for (i = 0; i <= 100; i++)
		same = same && dds_quantile(&copy, i / 100.0) == dds_quantile(&merged, i / 100.0);
	CHECK(same, "... with the same quantiles");
	CHECK(!dds_deserialize(&s, image, len - 1), "a cut image is refused");
	image[0] ^= 0x55;
	CHECK(!dds_deserialize(&s, image, len), "a damaged image is refused");
	core_free(image);
	dds_free(&copy);
	dds_free(&merged);
	for (i = 0; i < 4; i++)
		dds_free(&parts[i]);
	dds_free(&s);

	/* values over 600 decades stay within DDS_MAX_BINS bins */
	dds_init(&s, 0.01);
	for (i = -300; i <= 300; i++)
		dds_add(&s, pow(10.0, i));
	CHECK(s.pos.nbins <= DDS_MAX_BINS && s.pos.collapsed, "600 decades fold the smallest magnitudes into one bin");
	CHECK_NEAR(dds_quantile(&s, 1.0), 1e300, 0, "... and the maximum stays exact");
	CHECK(fabs(dds_quantile(&s, 0.99) / 1e294 - 1) <= 0.01,
		  "... and quantiles in the top 17 decades (2048 bins) keep their guarantee");
	dds_free(&s);
	free(vals);
}

/* Distinct count of n values (each inserted twice) */
static double
hll_of(int64_t n, Hll *h)
{
	int64_t		i;

	hll_init(h);
	for (i = 0; i < n; i++)
	{
		hll_add_hash(h, hll_hash_bytes(&i, sizeof(i)));
		if (i % 3 == 0)
			hll_add_hash(h, hll_hash_bytes(&i, sizeof(i)));
	}
	return hll_count(h);
}

static void
test_hll(void)
{
	static const int64_t sizes[] = {1025, 2000, 5000, 20000, 100000, 1000000, 10000000};
	double		se = 1.04 / sqrt(HLL_M);
	Hll			h;
	Hll			a;
	Hll			b;
	Hll			copy;
	char	   *image;
	size_t		len;
	char		label[200];
	int			i;
	int64_t		v;

	CHECK_NEAR(hll_of(0, &h), 0, 0, "no values: 0");
	hll_free(&h);
	for (i = 1; i <= HLL_EXACT_MAX; i *= 4)
	{
		snprintf(label, sizeof(label), "%d distinct values: counted exactly", i);
		CHECK_NEAR(hll_of(i, &h), i, 0, label);
		hll_free(&h);
	}
	CHECK_NEAR(hll_of(HLL_EXACT_MAX, &h), HLL_EXACT_MAX, 0, "HLL_EXACT_MAX distinct values: exact");
	CHECK(hll_is_exact(&h), "... in the exact set");
	hll_free(&h);
	for (i = 0; i < (int) (sizeof(sizes) / sizeof(sizes[0])); i++)
	{
		double		est = hll_of(sizes[i], &h);
		double		rel = fabs(est - sizes[i]) / sizes[i];

		snprintf(label, sizeof(label), "%lld distinct values: %.0f, within 3 standard errors (%.3f%%)",
				 (long long) sizes[i], est, rel * 100);
		CHECK(rel <= 3 * se && !hll_is_exact(&h), label);
		hll_free(&h);
	}

	/* merging: two overlapping halves equal one sketch of the union */
	hll_of(300000, &h);
	hll_init(&a);
	hll_init(&b);
	for (v = 0; v < 300000; v++)
	{
		uint64_t	x = hll_hash_bytes(&v, sizeof(v));

		if (v < 200000)
			hll_add_hash(&a, x);
		if (v >= 100000)
			hll_add_hash(&b, x);
	}
	hll_merge(&a, &b);
	CHECK(hll_count(&a) == hll_count(&h), "overlapping halves merged count as the union");
	hll_free(&b);
	hll_free(&h);

	/* exact + exact beyond the threshold turns dense */
	hll_init(&b);
	hll_init(&copy);
	for (v = 0; v < 800; v++)
	{
		int64_t		w = v + 700;

		hll_add_hash(&b, hll_hash_bytes(&v, sizeof(v)));
		hll_add_hash(&copy, hll_hash_bytes(&w, sizeof(w)));
	}
	hll_merge(&b, &copy);
	CHECK(!hll_is_exact(&b) && fabs(hll_count(&b) - 1500) / 1500 <= 3 * se,
		  "two exact sets of 800 overlapping by 100 merge to about 1500");
	hll_free(&b);
	hll_free(&copy);

	/* images */
	hll_serialize(&a, &image, &len);
	CHECK(len == 4 + HLL_M && hll_deserialize(&copy, image, len) && hll_count(&copy) == hll_count(&a),
		  "a dense image reads back with the same count (16 kB)");
	CHECK(!hll_deserialize(&b, image, len - 1), "a cut dense image is refused");
	core_free(image);
	hll_free(&copy);
	hll_of(500, &b);
	hll_serialize(&b, &image, &len);
	CHECK(len == 4 + 8 * 500 && hll_deserialize(&copy, image, len) && hll_count(&copy) == 500,
		  "an exact image reads back exactly");
	image[0] ^= 0x55;
	CHECK(!hll_deserialize(&h, image, len), "a damaged image is refused");
	core_free(image);
	hll_free(&copy);
	hll_free(&b);
	hll_free(&a);
	hll_free(&h);
}

/* Distinct count of the integers first .. first + n - 1 (hll_hash_int) */
static double
hll_int_of(int64_t first, int64_t n, Hll *h)
{
	int64_t		i;

	for (i = first; i < first + n; i++)
	{
		hll_add(h, hll_hash_int((uint64_t) i));
		if (i % 5 == 0)
			hll_add(h, hll_hash_int((uint64_t) i));
	}
	return hll_count(h);
}

/* The integer hash: exact below the threshold, accurate beyond, mergeable */
static void
test_hll_int(void)
{
	static const int64_t sizes[] = {1025, 3000, 30000, 300000, 3000000, 10000000};
	double		se = 1.04 / sqrt(HLL_M);
	Hll			h;
	Hll			u;
	Hll			parts[32];
	char		label[200];
	int			i;
	int			ok;

	for (i = 1; i <= HLL_EXACT_MAX; i *= 2)
	{
		hll_init(&h);
		snprintf(label, sizeof(label), "integers: %d distinct values counted exactly", i);
		CHECK_NEAR(hll_int_of(-7, i, &h), i, 0, label);
		hll_free(&h);
	}
	hll_init(&h);
	CHECK_NEAR(hll_int_of(INT64_MAX - 2 * HLL_EXACT_MAX, HLL_EXACT_MAX, &h), HLL_EXACT_MAX, 0,
			   "integers: HLL_EXACT_MAX values near INT64_MAX counted exactly");
	CHECK(hll_is_exact(&h), "... in the exact set (2 * HLL_EXACT_MAX slots)");
	CHECK(hll_memory(&h) == sizeof(Hll) + 8 * 2 * HLL_EXACT_MAX, "... of 16 kB");
	hll_add(&h, hll_hash_int(0));
	CHECK(!hll_is_exact(&h) && hll_memory(&h) == sizeof(Hll) + HLL_M,
		  "one more value turns it dense, without growing the exact set first");
	hll_free(&h);
	for (i = 0; i < (int) (sizeof(sizes) / sizeof(sizes[0])); i++)
	{
		double		est;
		double		rel;

		hll_init(&h);
		est = hll_int_of(1, sizes[i], &h);
		rel = fabs(est - sizes[i]) / sizes[i];
		snprintf(label, sizeof(label), "integers: %lld distinct values: %.0f, within 3 standard errors (%.3f%%)",
				 (long long) sizes[i], est, rel * 100);
		CHECK(rel <= 3 * se && !hll_is_exact(&h), label);
		hll_free(&h);
	}

	/*
	 * 32 shards of 100 000 values (a stride, as hash distribution splits
	 * them), some parts exact and some dense: the merged sketch equals the
	 * sketch of all the values, register for register
	 */
	hll_init(&h);
	hll_int_of(0, 100000, &h);
	hll_init(&u);
	for (i = 0; i < 32; i++)
	{
		int64_t		v;
		int64_t		step = i < 16 ? 3200 : 32;	/* half the parts stay exact */

		hll_init(&parts[i]);
		for (v = i; v < 100000; v += step)
			hll_add(&parts[i], hll_hash_int((uint64_t) v));
	}
	for (i = 0; i < 16; i++)
	{
		int64_t		v;

		/* the values the exact parts skipped, in the dense parts */
		for (v = i; v < 100000; v++)
			if ((v - i) % 3200 != 0 && v % 32 == i)
				hll_add(&parts[16 + i], hll_hash_int((uint64_t) v));
	}
	ok = hll_is_exact(&parts[0]) && !hll_is_exact(&parts[31]);
	for (i = 31; i >= 0; i--)
		hll_merge(&u, &parts[i]);
	CHECK(ok && memcmp(u.registers, h.registers, HLL_M) == 0,
		  "32 parts, exact and dense, merge to the registers of one sketch of the union");
	for (i = 0; i < 32; i++)
		hll_free(&parts[i]);
	hll_free(&u);
	hll_free(&h);

	/* images of an integer column's exact set: the integers, not the hashes */
	{
		Hll			e;
		Hll			back;
		char	   *image;
		size_t		len;

		hll_init(&e);
		hll_int_of(1000, 1000, &e);
		hll_serialize(&e, &image, &len);
		CHECK(len < 4 + 2 * 1000, "an exact set of 1000 consecutive integers: an image of 2 bytes a value or less");
		CHECK(hll_deserialize(&back, image, len) && hll_is_exact(&back) && hll_count(&back) == 1000,
			  "... reads back exact");
		hll_add(&back, hll_hash_int(1999));
		hll_add(&back, hll_hash_int(2000));
		CHECK(hll_count(&back) == 1001, "... with the same hashes (one old value, one new)");
		hll_free(&back);
		CHECK(!hll_deserialize(&back, image, len - 1), "a cut integer image is refused");
		image[len - 1] = 0;		/* a gap of 0: a repeated integer */
		CHECK(!hll_deserialize(&back, image, len), "an integer image with a repeated value is refused");
		core_free(image);
		hll_free(&e);
		hll_init(&e);
		hll_add(&e, hll_hash_int(0));
		hll_add(&e, hll_hash_int(UINT64_MAX));
		hll_add(&e, hll_hash_int(UINT64_C(1) << 63));
		hll_serialize(&e, &image, &len);
		CHECK(hll_deserialize(&back, image, len) && hll_count(&back) == 3,
			  "the extreme integers read back (the image keeps whichever form is shorter)");
		hll_free(&back);
		core_free(image);
		hll_free(&e);
	}

	/* presized: the same answers */
	hll_init(&h);
	hll_reserve(&h, 100000);
	CHECK(hll_is_exact(&h) && hll_memory(&h) == sizeof(Hll) + 8 * 2 * HLL_EXACT_MAX,
		  "a reserve beyond the threshold makes room for the exact set only");
	CHECK_NEAR(hll_int_of(0, 700, &h), 700, 0, "a presized sketch counts exactly");
	hll_free(&h);
}

int
main(void)
{
	test_ddsketch();
	test_hll();
	test_hll_int();
	return unit_done();
}

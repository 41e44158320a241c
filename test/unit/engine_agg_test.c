/*
 * engine_agg_test.c
 *	  Unit tests for the engine's percentile, approx_percentile and
 *	  approx_distinct operands: exact percentiles against a brute-force
 *	  percentile_cont (sorting, ties, NaN last, NULLs, one-value buckets,
 *	  filters), the sketches' error bounds on skewed data, breakdowns with
 *	  'Other' folding, merging and serialization (results unchanged),
 *	  memory accounting (back to the empty state's size once freed cells
 *	  are gone), and bad specs.
 */
#include "unit.h"
#include "engine.h"

#define ERRLEN 256
#define NB 6					/* buckets of the grid */
#define WIDTH 100

/* A deterministic pseudo-random sequence (splitmix64) */
static uint64_t
next_rand(uint64_t *s)
{
	uint64_t	z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in (0, 1) */
static double
uniform(uint64_t *s)
{
	return ((double) (next_rand(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* float8's order with NaN last, for qsort */
static int
cmp_double(const void *pa, const void *pb)
{
	double		a = *(const double *) pa;
	double		b = *(const double *) pb;

	if (isnan(a))
		return isnan(b) ? 0 : 1;
	if (isnan(b))
		return -1;
	return (a > b) - (a < b);
}

/* percentile_cont(p) as PostgreSQL computes it, by sorting */
static double
brute_pct(const double *v, int n, double p)
{
	double	   *s;
	double		pos = p * (double) (n - 1);
	long		first = (long) floor(pos);
	long		second = (long) ceil(pos);
	double		r;

	if (n == 0)
		return NAN;
	s = malloc(sizeof(double) * (size_t) n);
	memcpy(s, v, sizeof(double) * (size_t) n);
	qsort(s, (size_t) n, sizeof(double), cmp_double);
	r = first == second ? s[first] : s[first] + ((pos - (double) first) * (s[second] - s[first]));
	free(s);
	return r;
}

/* Same value, NaN equal to NaN, bit for bit otherwise */
static bool
same(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* An operand */
static EngineOperand
mkop(EngineAgg agg, int filter, int arg, double p)
{
	EngineOperand o;

	memset(&o, 0, sizeof(o));
	o.agg = agg;
	o.filter = filter;
	o.measure = (agg == ENGINE_APPROX_DISTINCT || agg == ENGINE_COUNT_DISTINCT) ? -1 : arg;
	o.key = (agg == ENGINE_APPROX_DISTINCT || agg == ENGINE_COUNT_DISTINCT) ? arg : -1;
	o.percentile = p;
	return o;
}

/* A spec over NB buckets of WIDTH from 0, with one filter, measure, key and group */
static EngineSpec
mkspec(const EngineOperand *ops, int nops, const EngineBreakdown *bds, int nbds)
{
	EngineSpec	s;

	memset(&s, 0, sizeof(s));
	s.start = 0;
	s.width = WIDTH;
	s.nbuckets = NB;
	s.nfilters = 1;
	s.nmeasures = 1;
	s.nkeys = 1;
	s.ngroups = 1;
	s.nops = nops;
	s.ops = ops;
	s.nbreakdowns = nbds;
	s.breakdowns = bds;
	return s;
}

/* Add one row: ts, filter, measure (NULL when mnull), key, group */
static void
add(EngineState *st, int64_t ts, bool f, double m, bool mnull, EngineValue k, EngineValue g)
{
	EngineRow	row;
	char		err[ERRLEN];

	row.ts = ts;
	row.filters = &f;
	row.measures = &m;
	row.measure_null = &mnull;
	row.keys = &k;
	row.groups = &g;
	if (!engine_add(st, &row, err, sizeof(err)))
	{
		printf("# engine_add: %s\n", err);
		abort();
	}
}

/* A by-value value */
static EngineValue
ival(int64_t v)
{
	EngineValue r;

	memset(&r, 0, sizeof(r));
	r.byval = true;
	r.ival = v;
	return r;
}

/* A byte value */
static EngineValue
sval(const char *s)
{
	EngineValue r;

	memset(&r, 0, sizeof(r));
	r.data = s;
	r.len = (uint32_t) strlen(s);
	return r;
}

/*
 * Exact percentiles against sorting, per bucket: bucket 0 many ties,
 * bucket 1 one value, bucket 2 only NULLs (a gap), bucket 3 a NaN and
 * infinities, bucket 4 random values, bucket 5 filtered away (a gap for
 * the filtered operands).
 */
static void
test_percentile_exact(void)
{
	static const double ps[] = {0.01, 0.5, 0.95, 0.999};
	EngineOperand ops[8];
	EngineSpec	spec;
	EngineState *st;
	double		vals[NB][600];
	int			nv[NB];
	double		fvals[NB][600];
	int			nf[NB];
	char		err[ERRLEN];
	uint64_t	seed = 42;
	int			i;
	int			b;
	int			bad = 0;

	for (i = 0; i < 4; i++)
	{
		ops[i] = mkop(ENGINE_PERCENTILE, -1, 0, ps[i]);
		ops[4 + i] = mkop(ENGINE_PERCENTILE, 0, 0, ps[i]);
	}
	spec = mkspec(ops, 8, NULL, 0);
	spec.ngroups = 0;
	st = engine_create(&spec, err, sizeof(err));
	CHECK(st != NULL, "a spec of percentiles is accepted");
	memset(nv, 0, sizeof(nv));
	memset(nf, 0, sizeof(nf));
	for (b = 0; b < NB; b++)
	{
		int			n = b == 4 ? 577 : (b == 1 ? 1 : 40);

		for (i = 0; i < n; i++)
		{
			double		x;
			bool		isnull = false;
			bool		f = (i % 3 != 0) && b != 5;

			switch (b)
			{
				case 0:
					x = (double) (i % 4);	/* ties */
					break;
				case 1:
					x = 7.25;
					break;
				case 2:
					x = 0;
					isnull = true;
					break;
				case 3:
					x = i == 5 ? NAN : (i == 6 ? INFINITY : (i == 7 ? -INFINITY : i * 0.5));
					break;
				default:
					x = uniform(&seed) * 1000.0 - 300.0;
					break;
			}
			add(st, (int64_t) b * WIDTH + i % WIDTH, f, x, isnull, ival(i), ival(0));
			if (!isnull)
			{
				vals[b][nv[b]++] = x;
				if (f)
					fvals[b][nf[b]++] = x;
			}
		}
	}
	for (i = 0; i < 8; i++)
	{
		double		got[NB];

		engine_values(st, i, got);
		for (b = 0; b < NB; b++)
		{
			double		want = i < 4 ? brute_pct(vals[b], nv[b], ps[i % 4]) :
				brute_pct(fvals[b], nf[b], ps[i % 4]);

			if (!same(got[b], want))
			{
				printf("#   op %d bucket %d: got %.17g, want %.17g\n", i, b, got[b], want);
				bad++;
			}
		}
	}
	CHECK(bad == 0, "percentile equals a sorted percentile_cont per bucket: ties, one value, NULLs (gap), NaN last, infinities, filters");
	engine_free(st);
}

/* Pareto and log-normal data: approx_percentile within 1 % of exact */
static void
test_approx_percentile(void)
{
	static const double ps[] = {0.01, 0.5, 0.95, 0.999};
	EngineOperand ops[8];
	EngineSpec	spec;
	EngineState *st;
	char		err[ERRLEN];
	uint64_t	seed = 7;
	int			i;
	int			b;
	double		worst = 0;

	for (i = 0; i < 4; i++)
	{
		ops[i] = mkop(ENGINE_PERCENTILE, -1, 0, ps[i]);
		ops[4 + i] = mkop(ENGINE_APPROX_PERCENTILE, -1, 0, ps[i]);
	}
	spec = mkspec(ops, 8, NULL, 0);
	spec.ngroups = 0;
	st = engine_create(&spec, err, sizeof(err));
	for (b = 0; b < NB; b++)
	{
		for (i = 0; i < 5000; i++)
		{
			double		u = uniform(&seed);
			double		x;

			if (b % 2 == 0)
			{
				/* log-normal: exp(N(3, 1.5)) by Box-Muller */
				double		u2 = uniform(&seed);

				x = exp(3.0 + 1.5 * sqrt(-2.0 * log(u)) * cos(2 * M_PI * u2));
			}
			else
				x = 10.0 / pow(u, 1.0 / 1.2);	/* Pareto, alpha 1.2 */
			add(st, (int64_t) b * WIDTH + i % WIDTH, true, x, false, ival(i), ival(0));
		}
	}
	for (i = 0; i < 4; i++)
	{
		double		exact[NB];
		double		approx[NB];

		engine_values(st, i, exact);
		engine_values(st, 4 + i, approx);
		for (b = 0; b < NB; b++)
		{
			double		rel = fabs(approx[b] - exact[b]) / fabs(exact[b]);

			if (rel > worst)
				worst = rel;
		}
	}
	printf("# approx_percentile: worst relative error %.5f\n", worst);
	CHECK(worst <= 0.01, "approx_percentile is within 1 % of percentile_cont on log-normal and Pareto buckets");
	engine_free(st);
}

/* approx_distinct: exact while small, within 3 standard errors beyond */
static void
test_approx_distinct(void)
{
	static const int sizes[NB] = {1, 500, 1024, 5000, 100000, 400000};
	EngineOperand ops[2];
	EngineSpec	spec;
	EngineState *st;
	char		err[ERRLEN];
	double		got[NB];
	double		exact[NB];
	int			b;
	int			bad = 0;
	char		buf[32];

	ops[0] = mkop(ENGINE_APPROX_DISTINCT, -1, 0, 0);
	ops[1] = mkop(ENGINE_COUNT_DISTINCT, -1, 0, 0);
	spec = mkspec(ops, 2, NULL, 0);
	spec.ngroups = 0;
	st = engine_create(&spec, err, sizeof(err));
	for (b = 0; b < NB; b++)
	{
		int			i;

		for (i = 0; i < sizes[b] * 2; i++)
		{
			/* every value twice; text keys in odd buckets */
			int			v = i % sizes[b];

			if (b % 2 == 1)
			{
				snprintf(buf, sizeof(buf), "user-%d", v);
				add(st, (int64_t) b * WIDTH + i % WIDTH, true, 0, false, sval(buf), ival(0));
			}
			else
				add(st, (int64_t) b * WIDTH + i % WIDTH, true, 0, false, ival(v * 7919), ival(0));
		}
	}
	engine_values(st, 0, got);
	engine_values(st, 1, exact);
	for (b = 0; b < NB; b++)
	{
		if (sizes[b] <= 1024 && got[b] != exact[b])
			bad++;
		if (fabs(got[b] - exact[b]) > 3 * 0.0081 * exact[b])
			bad++;
		printf("# approx_distinct bucket %d: %g of %g\n", b, got[b], exact[b]);
	}
	CHECK(bad == 0, "approx_distinct: exact up to 1024 values, within 3 standard errors (0.81 %) above");
	engine_free(st);
}

/*
 * Breakdowns (with 'Other'), merging and serialization: two states that
 * each saw half of the rows, merged or sent through an image, give the
 * same values and rows as one state that saw them all; freeing cells
 * gives the memory back.
 */
static void
test_merge_breakdowns(void)
{
	EngineOperand ops[4];
	EngineBreakdown bds[2];
	EngineSpec	spec;
	EngineState *all;
	EngineState *half[2];
	EngineState *back;
	char		err[ERRLEN];
	char	   *img;
	size_t		len;
	uint64_t	seed = 99;
	int			i;
	int			o;
	int			bad = 0;
	size_t		empty;
	static const char *const groups[] = {"a", "b", "c", "d", "e"};

	ops[0] = mkop(ENGINE_PERCENTILE, -1, 0, 0.5);
	ops[1] = mkop(ENGINE_APPROX_PERCENTILE, 0, 0, 0.95);
	ops[2] = mkop(ENGINE_APPROX_DISTINCT, -1, 0, 0);
	ops[3] = mkop(ENGINE_COUNT, -1, -1, 0);
	memset(bds, 0, sizeof(bds));
	bds[0].group = 0;
	bds[0].nops = 1;
	bds[0].ops[0] = 0;
	bds[0].keep = 2;			/* two values and 'Other' */
	bds[1].group = 0;
	bds[1].nops = 2;
	bds[1].ops[0] = 2;			/* distinct keys per row */
	bds[1].ops[1] = 3;
	spec = mkspec(ops, 4, bds, 2);
	all = engine_create(&spec, err, sizeof(err));
	empty = engine_memory(all);
	half[0] = engine_create(&spec, err, sizeof(err));
	half[1] = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < 6000; i++)
	{
		int64_t		ts = (int64_t) (next_rand(&seed) % (NB * WIDTH));
		double		x = uniform(&seed) * 100;
		EngineValue k = ival((int64_t) (next_rand(&seed) % 3000));
		EngineValue g = sval(groups[next_rand(&seed) % 5]);
		bool		f = i % 4 != 0;
		bool		mnull = i % 11 == 0;

		add(all, ts, f, x, mnull, k, g);
		add(half[i % 2], ts, f, x, mnull, k, g);
	}
	CHECK(engine_merge(half[0], half[1], err, sizeof(err)), "states with the new operands merge");
	engine_serialize(half[0], &img, &len);
	back = engine_deserialize(&spec, img, len, err, sizeof(err));
	CHECK(back != NULL, "an image with the new operands reads back");
	core_free(img);
	for (o = 0; o < 4 && back != NULL; o++)
	{
		double		a[NB];
		double		m[NB];
		double		r[NB];
		int			b;

		engine_values(all, o, a);
		engine_values(half[0], o, m);
		engine_values(back, o, r);
		for (b = 0; b < NB; b++)
		{
			/* merged sketches are the same sketches; exact values the same values */
			bool		ok = o == 0 ? (a[b] == m[b] && a[b] == r[b]) :
				(fabs(a[b] - m[b]) <= 1e-9 * fabs(a[b]) && m[b] == r[b]);

			if (!ok)
			{
				printf("#   op %d bucket %d: %.17g %.17g %.17g\n", o, b, a[b], m[b], r[b]);
				bad++;
			}
		}
	}
	CHECK(bad == 0, "merged and deserialized states give the values of one state");
	for (o = 0; o < 2 && back != NULL; o++)
	{
		EngineBreakdownRow *ra;
		EngineBreakdownRow *rb;
		int			na = engine_breakdown_rows(all, o, &ra, err, sizeof(err));
		int			nb = engine_breakdown_rows(back, o, &rb, err, sizeof(err));
		int			nother = 0;

		bad = na != nb || na <= 0;
		for (i = 0; !bad && i < na; i++)
		{
			nother += ra[i].is_other;
			bad = ra[i].bucket != rb[i].bucket || ra[i].is_other != rb[i].is_other ||
				fabs(ra[i].v - rb[i].v) > 1e-9 * fabs(ra[i].v);
		}
		CHECK(!bad && (o == 1 || nother > 0), o == 0 ?
			  "percentile breakdown rows with 'Other' survive merge and image" :
			  "approx_distinct ratio breakdown rows survive merge and image");
		if (na > 0)
			core_free(ra);
		if (nb > 0)
			core_free(rb);
	}
	CHECK(engine_memory(all) > empty + 6000 / 2 * sizeof(double),
		  "percentile buffers and sketches are counted in the state's memory");
	engine_free(all);
	engine_free(half[0]);
	engine_free(half[1]);
	engine_free(back);
}

/* Specs the engine refuses */
static void
test_bad(void)
{
	EngineOperand ops[1];
	EngineSpec	spec;
	char		err[ERRLEN];

	ops[0] = mkop(ENGINE_PERCENTILE, -1, 0, 1.0);
	spec = mkspec(ops, 1, NULL, 0);
	CHECK(engine_create(&spec, err, sizeof(err)) == NULL && strstr(err, "percentile") != NULL,
		  "a percentile of 1 is refused");
	ops[0] = mkop(ENGINE_APPROX_PERCENTILE, -1, 0, NAN);
	CHECK(engine_create(&spec, err, sizeof(err)) == NULL, "a NaN percentile is refused");
	ops[0] = mkop(ENGINE_APPROX_DISTINCT, -1, 5, 0);
	CHECK(engine_create(&spec, err, sizeof(err)) == NULL && strstr(err, "key") != NULL,
		  "approx_distinct needs a key in range");
	ops[0] = mkop(ENGINE_PERCENTILE, -1, 0, 0.5);
	ops[0].measure = 3;
	CHECK(engine_create(&spec, err, sizeof(err)) == NULL && strstr(err, "measure") != NULL,
		  "percentile needs a measure in range");
}

/* Run every test */
int
main(void)
{
	test_percentile_exact();
	test_approx_percentile();
	test_approx_distinct();
	test_merge_breakdowns();
	test_bad();
	return unit_done();
}

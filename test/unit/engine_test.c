/*
 * engine_test.c
 *	  Unit tests for the aggregation engine: every aggregation with and
 *	  without filters on hand-built rows (expectations worked out in the
 *	  comments), gaps versus zeros, NULLs, float8 NaN ordering, exact
 *	  distinct counting (growth, crafted hash collisions), breakdowns with
 *	  ranking, presets and 'Other' folding, ratio composition, row caps,
 *	  merging, serialization, and bad specs and rows.
 */
#include "unit.h"
#include "engine.h"

#define ERRLEN 256

/* One test row; arrays sized for every spec used here */
typedef struct TRow
{
	int64_t		ts;
	bool		f[4];
	double		m[2];
	bool		mn[2];
	EngineValue k[2];
	EngineValue g[2];
} TRow;

/* A by-value key */
static EngineValue
vint(int64_t v)
{
	EngineValue r;

	memset(&r, 0, sizeof(r));
	r.byval = true;
	r.ival = v;
	return r;
}

/* A byte value (NULL pointer: SQL NULL) */
static EngineValue
vstr(const char *s)
{
	EngineValue r;

	memset(&r, 0, sizeof(r));
	if (s == NULL)
		r.isnull = true;
	else
	{
		r.data = s;
		r.len = (uint32_t) strlen(s);
	}
	return r;
}

/* SQL NULL */
static EngineValue
vnull(void)
{
	EngineValue r;

	memset(&r, 0, sizeof(r));
	r.isnull = true;
	return r;
}

/* Add a test row; returns engine_add's result, message into err */
static bool
add_row(EngineState *st, const TRow *r, char *err)
{
	EngineRow	row;

	row.ts = r->ts;
	row.filters = r->f;
	row.measures = r->m;
	row.measure_null = r->mn;
	row.keys = r->k;
	row.groups = r->g;
	err[0] = '\0';
	return engine_add(st, &row, err, ERRLEN);
}

/* A row: ts, f0, f1, m0 (m0null), k0, k1, g0 */
static TRow
mk(int64_t ts, int f0, int f1, double m0, bool m0null, EngineValue k0, EngineValue k1,
   EngineValue g0)
{
	TRow		r;

	memset(&r, 0, sizeof(r));
	r.ts = ts;
	r.f[0] = f0 != 0;
	r.f[1] = f1 != 0;
	r.m[0] = m0;
	r.mn[0] = m0null;
	r.k[0] = k0;
	r.k[1] = k1;
	r.g[0] = g0;
	return r;
}

/* Operand shorthand */
static EngineOperand
op(EngineAgg agg, int filter, int arg)
{
	EngineOperand o;

	o.agg = agg;
	o.filter = filter;
	o.measure = (agg == ENGINE_COUNT || agg == ENGINE_COUNT_DISTINCT) ? -1 : arg;
	o.key = agg == ENGINE_COUNT_DISTINCT ? arg : -1;
	return o;
}

/* Breakdown shorthand: single (op1 < 0) or ratio */
static EngineBreakdown
bd(int group, int op0, int op1, int keep)
{
	EngineBreakdown b;

	memset(&b, 0, sizeof(b));
	b.group = group;
	b.nops = op1 < 0 ? 1 : 2;
	b.ops[0] = op0;
	b.ops[1] = op1 < 0 ? 0 : op1;
	b.keep = keep;
	return b;
}

/* Exact equality of two series, NaN equal to NaN */
static int
same_series(const double *a, const double *b, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if (isnan(a[i]) && isnan(b[i]))
			continue;
		if (a[i] != b[i])
			return 0;
	}
	return 1;
}

/* Series equality with a relative tolerance */
static int
near_series(const double *a, const double *b, int n, double rel)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if (isnan(a[i]) || isnan(b[i]))
		{
			if (!(isnan(a[i]) && isnan(b[i])))
				return 0;
			continue;
		}
		if (fabs(a[i] - b[i]) > rel * fmax(1.0, fmax(fabs(a[i]), fabs(b[i]))))
			return 0;
	}
	return 1;
}

/* Check one operand's series against expectations */
static void
check_values(const EngineState *st, int o, const double *expect, int n, const char *what)
{
	double		got[16];
	int			i;
	int			ok;

	engine_values(st, o, got);
	ok = same_series(got, expect, n);
	unit_report(ok, __FILE__, __LINE__, what);
	if (!ok)
	{
		printf("#   got");
		for (i = 0; i < n; i++)
			printf(" %g", got[i]);
		printf("\n#   expected");
		for (i = 0; i < n; i++)
			printf(" %g", expect[i]);
		printf("\n");
	}
}

/* A breakdown's rows as "bucket:value=v ..." (NULL, <other>) */
static char *
rows_text(const EngineState *st, int b, char *buf, size_t len)
{
	EngineBreakdownRow *rows;
	char		err[ERRLEN];
	int			n = engine_breakdown_rows(st, b, &rows, err, sizeof(err));
	int			i;
	size_t		used = 0;

	buf[0] = '\0';
	if (n < 0)
	{
		snprintf(buf, len, "error: %s", err);
		return buf;
	}
	for (i = 0; i < n && used < len; i++)
	{
		char		val[64];

		if (rows[i].is_other)
			snprintf(val, sizeof(val), "<other>");
		else if (rows[i].value_null)
			snprintf(val, sizeof(val), "NULL");
		else
			snprintf(val, sizeof(val), "%.*s", (int) rows[i].value_len, rows[i].value);
		used += (size_t) snprintf(buf + used, len - used, "%s%d:%s=%g", i ? " " : "",
								  rows[i].bucket, val, rows[i].v);
	}
	core_free(rows);
	return buf;
}

/* Same breakdown rows in two states (values compared with a tolerance) */
static int
same_rows(const EngineState *a, const EngineState *b, int bdi)
{
	EngineBreakdownRow *ra;
	EngineBreakdownRow *rb;
	char		err[ERRLEN];
	int			na = engine_breakdown_rows(a, bdi, &ra, err, sizeof(err));
	int			nb = engine_breakdown_rows(b, bdi, &rb, err, sizeof(err));
	int			ok = na == nb && na >= 0;
	int			i;

	for (i = 0; ok && i < na; i++)
	{
		ok = ra[i].bucket == rb[i].bucket && ra[i].is_other == rb[i].is_other &&
			ra[i].value_null == rb[i].value_null && ra[i].value_len == rb[i].value_len &&
			(ra[i].value_len == 0 || memcmp(ra[i].value, rb[i].value, ra[i].value_len) == 0) &&
			fabs(ra[i].v - rb[i].v) <= 1e-9 * fmax(1.0, fabs(ra[i].v));
	}
	if (na >= 0)
		core_free(ra);
	if (nb >= 0)
		core_free(rb);
	return ok;
}

/*
 * Every aggregation with and without filters over hand-built rows.
 * Grid: start 1000, width 10, 4 buckets: [1000,1010) [1010,1020)
 * [1020,1030) [1030,1040).
 */
static void
test_basic(void)
{
	EngineOperand ops[14];
	EngineSpec	spec;
	EngineState *st;
	TRow		rows[12];
	char		err[ERRLEN];
	int			n = 0;
	int			i;
	bool		ok = true;
	double		nan = NAN;

	ops[0] = op(ENGINE_COUNT, -1, 0);
	ops[1] = op(ENGINE_COUNT, 0, 0);
	ops[2] = op(ENGINE_SUM, -1, 0);
	ops[3] = op(ENGINE_SUM, 0, 0);
	ops[4] = op(ENGINE_AVG, -1, 0);
	ops[5] = op(ENGINE_AVG, 1, 0);
	ops[6] = op(ENGINE_MIN, -1, 0);
	ops[7] = op(ENGINE_MAX, -1, 0);
	ops[8] = op(ENGINE_MIN, 1, 0);
	ops[9] = op(ENGINE_MAX, 1, 0);
	ops[10] = op(ENGINE_COUNT_DISTINCT, -1, 0);
	ops[11] = op(ENGINE_COUNT_DISTINCT, 0, 0);
	ops[12] = op(ENGINE_COUNT_DISTINCT, -1, 1);
	ops[13] = op(ENGINE_COUNT, 1, 0);

	memset(&spec, 0, sizeof(spec));
	spec.start = 1000;
	spec.width = 10;
	spec.nbuckets = 4;
	spec.nfilters = 2;
	spec.nmeasures = 1;
	spec.nkeys = 2;
	spec.nops = 14;
	spec.ops = ops;
	spec.max_rows = 100000;
	st = engine_create(&spec, err, sizeof(err));
	CHECK(st != NULL, "basic spec accepted");
	if (st == NULL)
		return;

	/*-
	 * bucket 0:
	 *   r1 ts 1000 f0 . m0 2    k0 1    k1 "a"
	 *   r2 ts 1005 .  f1 m0 NULL k0 1    k1 "b"
	 *   r3 ts 1009 f0 f1 m0 5    k0 2    k1 "a"
	 * bucket 1:
	 *   r4 ts 1010 .  .  m0 0    k0 NULL k1 NULL
	 *   r5 ts 1015 .  .  m0 0    k0 NULL k1 ""
	 * bucket 2: no rows
	 * bucket 3:
	 *   r6 ts 1039 f0 f1 m0 NULL k0 NULL k1 NULL
	 * outside the grid (ignored): ts 999, 1040, INT64_MIN, INT64_MAX
	 */
	rows[n++] = mk(1000, 1, 0, 2, false, vint(1), vstr("a"), vnull());
	rows[n++] = mk(1005, 0, 1, 0, true, vint(1), vstr("b"), vnull());
	rows[n++] = mk(999, 1, 1, 1e9, false, vint(77), vstr("zz"), vnull());
	rows[n++] = mk(1009, 1, 1, 5, false, vint(2), vstr("a"), vnull());
	rows[n++] = mk(1010, 0, 0, 0, false, vnull(), vnull(), vnull());
	rows[n++] = mk(1040, 1, 1, -1e9, false, vint(78), vstr("zz"), vnull());
	rows[n++] = mk(1015, 0, 0, 0, false, vnull(), vstr(""), vnull());
	rows[n++] = mk(INT64_MIN, 1, 1, 3, false, vint(79), vstr("q"), vnull());
	rows[n++] = mk(INT64_MAX, 1, 1, 3, false, vint(80), vstr("q"), vnull());
	rows[n++] = mk(1039, 1, 1, 0, true, vnull(), vnull(), vnull());
	for (i = 0; i < n; i++)
		ok = add_row(st, &rows[i], err) && ok;
	CHECK(ok, "rows added");

	{
		/* count: 3, 2, gap, 1 */
		double		e0[] = {3, 2, nan, 1};

		/* count f0: r1 r3; none; gap; r6 */
		double		e1[] = {2, nan, nan, 1};

		/* sum m0: 2+5; 0+0 is a stored 0; gap; only a NULL measure: gap */
		double		e2[] = {7, 0, nan, nan};

		/* sum m0 f0: r1 r3 = 7; no matched row; gap; r6 is NULL */
		double		e3[] = {7, nan, nan, nan};

		/* avg m0: 7/2 (the NULL of r2 is not counted); 0; gap; gap */
		double		e4[] = {3.5, 0, nan, nan};

		/* avg m0 f1: r2 NULL, r3 5 -> 5; no row; gap; NULL only */
		double		e5[] = {5, nan, nan, nan};

		/* min/max m0 */
		double		e6[] = {2, 0, nan, nan};
		double		e7[] = {5, 0, nan, nan};

		/* min/max m0 f1: only r3 has a non-NULL measure */
		double		e8[] = {5, nan, nan, nan};

		/*
		 * distinct k0: {1,2}; matched rows but every key NULL -> 0; gap;
		 * NULL -> 0
		 */
		double		e10[] = {2, 0, nan, 0};

		/* distinct k0 f0: {1,2}; no matched row -> gap; gap; r6 NULL -> 0 */
		double		e11[] = {2, nan, nan, 0};

		/* distinct k1 (bytes): {"a","b"}; {""} counts; gap; 0 */
		double		e12[] = {2, 1, nan, 0};

		/* count f1: r2 r3; gap; gap; r6 */
		double		e13[] = {2, nan, nan, 1};

		check_values(st, 0, e0, 4, "count: a bucket without rows is a gap");
		check_values(st, 1, e1, 4, "filtered count: 0 matching rows is a gap, not 0");
		check_values(st, 2, e2, 4, "sum: a sum of zeros is 0, NULL measures are skipped");
		check_values(st, 3, e3, 4, "filtered sum");
		check_values(st, 4, e4, 4, "avg ignores NULL measures");
		check_values(st, 5, e5, 4, "filtered avg");
		check_values(st, 6, e6, 4, "min");
		check_values(st, 7, e7, 4, "max");
		check_values(st, 8, e8, 4, "filtered min");
		check_values(st, 9, e8, 4, "filtered max");
		check_values(st, 10, e10, 4, "count_distinct: all-NULL keys give 0, no rows a gap");
		check_values(st, 11, e11, 4, "filtered count_distinct");
		check_values(st, 12, e12, 4, "count_distinct of byte keys (the empty string counts)");
		check_values(st, 13, e13, 4, "second filtered count");
	}
	CHECK(engine_nonempty_buckets(st) == 3, "three buckets have rows");
	CHECK(engine_memory(st) > 4 * 8, "memory is reported");
	{
		char	   *buf;
		size_t		len;
		EngineState *copy;
		int			o;
		bool		same = true;

		engine_serialize(st, &buf, &len);
		copy = engine_deserialize(&spec, buf, len, err, sizeof(err));
		for (o = 0; o < 14 && copy != NULL; o++)
		{
			double		v1[4];
			double		v2[4];

			engine_values(st, o, v1);
			engine_values(copy, o, v2);
			same = same && memcmp(v1, v2, sizeof(v1)) == 0;
		}
		CHECK(copy != NULL && same && engine_nonempty_buckets(copy) == 3,
			  "round trip of the basic state (empty-string key included)");
		engine_free(copy);
		core_free(buf);
	}
	{
		double		out[4] = {1, 1, 1, 1};

		engine_values(st, 99, out);
		CHECK(isnan(out[0]) && isnan(out[3]), "an unknown operand gives gaps");
	}
	engine_free(st);
}

/* float8 ordering: NaN above everything; infinities; signed zeros; Neumaier */
static void
test_floats(void)
{
	EngineOperand ops[4];
	EngineSpec	spec;
	EngineState *st;
	char		err[ERRLEN];
	double		out[8];
	bool		ok = true;
	int			i;

	/*-
	 * bucket 0: 3, NaN, 1        min 1 (NaN ignored), max NaN
	 * bucket 1: NaN, NaN         min NaN, max NaN
	 * bucket 2: NaN, 2           min 2
	 * bucket 3: inf, -inf, 1     min -inf, max inf, sum NaN
	 * bucket 4: 0.0, -0.0        min and max -0.0 (ties take the newer
	 *                            value, as float8smaller/larger do)
	 * bucket 5: -0.0             sum -0.0
	 * bucket 6: 1, 1e100, 1, -1e100   sum 2 exactly (a naive sum gives 0)
	 * bucket 7: inf, 5           sum inf
	 */
	static const double vals[8][4] = {
		{3, NAN, 1}, {NAN, NAN}, {NAN, 2}, {INFINITY, -INFINITY, 1},
		{0.0, -0.0}, {-0.0}, {1, 1e100, 1, -1e100}, {INFINITY, 5}
	};
	static const int nv[8] = {3, 2, 2, 3, 2, 1, 4, 2};

	ops[0] = op(ENGINE_MIN, -1, 0);
	ops[1] = op(ENGINE_MAX, -1, 0);
	ops[2] = op(ENGINE_SUM, -1, 0);
	ops[3] = op(ENGINE_AVG, -1, 0);
	memset(&spec, 0, sizeof(spec));
	spec.width = 1;
	spec.nbuckets = 8;
	spec.nmeasures = 1;
	spec.nops = 4;
	spec.ops = ops;
	st = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < 8; i++)
	{
		int			j;

		for (j = 0; j < nv[i]; j++)
		{
			TRow		r = mk(i, 0, 0, vals[i][j], false, vnull(), vnull(), vnull());

			ok = add_row(st, &r, err) && ok;
		}
	}
	CHECK(ok, "float rows added");
	engine_values(st, 0, out);
	CHECK(out[0] == 1 && isnan(out[1]) && out[2] == 2 && out[3] == -INFINITY,
		  "min ignores NaN unless every value is NaN");
	CHECK(out[4] == 0 && signbit(out[4]), "min of 0 and -0 is the newer -0");
	engine_values(st, 1, out);
	CHECK(isnan(out[0]) && isnan(out[1]) && isnan(out[2]) && out[3] == INFINITY,
		  "max of a set containing NaN is NaN");
	CHECK(out[4] == 0 && signbit(out[4]), "max of 0 and -0 is the newer -0");
	engine_values(st, 2, out);
	CHECK(isnan(out[3]), "inf + -inf is NaN");
	CHECK(out[5] == 0 && signbit(out[5]), "sum of a single -0 is -0");
	CHECK(out[6] == 2, "compensated sum: 1 + 1e100 + 1 - 1e100 = 2");
	CHECK(out[7] == INFINITY, "inf + 5 is inf");
	CHECK(isnan(out[0]) && isnan(out[1]), "a sum containing NaN is NaN");
	engine_values(st, 3, out);
	CHECK(out[6] == 0.5, "avg 2 / 4");
	engine_free(st);

	/* ten times 0.1 and a long alternating series */
	spec.nbuckets = 2;
	st = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < 10; i++)
	{
		TRow		r = mk(0, 0, 0, 0.1, false, vnull(), vnull(), vnull());

		add_row(st, &r, err);
	}
	for (i = 0; i < 100000; i++)
	{
		/* 50000 times 1e8 + 0.1 and 50000 times -1e8, alternating */
		TRow		r = mk(1, 0, 0, (i % 2 == 0) ? 1e8 + 0.1 : -1e8, false, vnull(), vnull(), vnull());

		add_row(st, &r, err);
	}
	engine_values(st, 2, out);
	CHECK_NEAR(out[0], 1.0, 1e-15, "ten times 0.1 is 1 within 1e-15");

	/*
	 * 1e8 + 0.1 is not exact in binary; the exact sum of the stored values
	 * is 50000 * ((1e8 + 0.1) - 1e8) computed exactly by Sterbenz.
	 */
	CHECK_NEAR(out[1], 50000 * ((1e8 + 0.1) - 1e8), 1e-12 * 5000, "compensated sum of a cancelling series");
	engine_free(st);
}


/* qsort order of uint64 */
static int
cmp_u64(const void *x, const void *y)
{
	uint64_t	a = *(const uint64_t *) x;
	uint64_t	b = *(const uint64_t *) y;

	return a < b ? -1 : (a > b ? 1 : 0);
}

/*
 * Two different strings "key-<i>" with the same engine hash, found by a
 * birthday search over 400 000 candidates (about 18 pairs expected).
 */
static bool
find_collision(char *a, char *b)
{
	int			n = 400000;
	uint64_t   *h = core_alloc(sizeof(uint64_t) * (size_t) n);
	int			i;
	bool		found = false;

	for (i = 0; i < n; i++)
	{
		char		s[32];
		int			len = snprintf(s, sizeof(s), "key-%d", i);

		h[i] = ((uint64_t) engine_hash_bytes(s, (uint32_t) len) << 32) | (uint32_t) i;
	}
	qsort(h, (size_t) n, sizeof(uint64_t), cmp_u64);
	for (i = 1; i < n && !found; i++)
	{
		if ((h[i] >> 32) == (h[i - 1] >> 32))
		{
			snprintf(a, 32, "key-%u", (unsigned) (h[i - 1] & 0xffffffffu));
			snprintf(b, 32, "key-%u", (unsigned) (h[i] & 0xffffffffu));
			found = true;
		}
	}
	core_free(h);
	return found;
}

/* Exact count_distinct: growth, extreme keys, crafted hash collisions */
static void
test_distinct(void)
{
	EngineOperand ops[3];
	EngineBreakdown bds[1];
	EngineSpec	spec;
	EngineState *st;
	char		err[ERRLEN];
	char		ca[32];
	char		cb[32];
	char		txt[512];
	double		out[3];
	bool		ok = true;
	bool		coll;
	int			i;

	ops[0] = op(ENGINE_COUNT_DISTINCT, -1, 0);
	ops[1] = op(ENGINE_COUNT_DISTINCT, -1, 1);
	ops[2] = op(ENGINE_COUNT, -1, 0);
	bds[0] = bd(0, 2, -1, 0);
	memset(&spec, 0, sizeof(spec));
	spec.width = 10;
	spec.nbuckets = 3;
	spec.nkeys = 2;
	spec.ngroups = 1;
	spec.nops = 3;
	spec.ops = ops;
	spec.nbreakdowns = 1;
	spec.breakdowns = bds;
	st = engine_create(&spec, err, sizeof(err));

	/*
	 * bucket 0: int keys 0..99999 each twice (reversed the second time),
	 * plus INT64_MIN, INT64_MAX, -1: 100003 distinct; byte keys "s<i>" for
	 * i < 50000, each twice: 50000 distinct
	 */
	for (i = 0; i < 100000; i++)
	{
		char		s[32];
		TRow		r;

		snprintf(s, sizeof(s), "s%d", i % 50000);
		r = mk(0, 0, 0, 0, false, vint(i), vstr(s), vstr("g"));
		ok = add_row(st, &r, err) && ok;
		r.k[0] = vint(99999 - i);
		ok = add_row(st, &r, err) && ok;
	}
	{
		int64_t		extremes[] = {INT64_MIN, INT64_MAX, -1, 0, INT64_MIN};

		for (i = 0; i < 5; i++)
		{
			TRow		r = mk(1, 0, 0, 0, false, vint(extremes[i]), vnull(), vstr("g"));

			ok = add_row(st, &r, err) && ok;
		}
	}

	/* bucket 1: two strings with equal hashes, each three times */
	coll = find_collision(ca, cb);
	CHECK(coll, "found two strings with the same 32-bit engine hash");
	if (coll)
	{
		CHECK(strcmp(ca, cb) != 0 &&
			  engine_hash_bytes(ca, (uint32_t) strlen(ca)) == engine_hash_bytes(cb, (uint32_t) strlen(cb)),
			  "the collision is real");
		for (i = 0; i < 6; i++)
		{
			const char *s = (i % 2) ? ca : cb;
			TRow		r = mk(10, 0, 0, 0, false, vnull(), vstr(s), vstr(s));

			ok = add_row(st, &r, err) && ok;
		}
	}
	/* bucket 2: "ab" + "c" versus "a" + "bc": same concatenation, different keys */
	{
		TRow		r = mk(20, 0, 0, 0, false, vnull(), vstr("abc"), vstr("x"));

		ok = add_row(st, &r, err) && ok;
		r.k[1] = vstr("ab");
		ok = add_row(st, &r, err) && ok;
		r.k[1] = vstr("abc");
		ok = add_row(st, &r, err) && ok;
		r.k[1].len = 2;			/* "ab" again, through a longer buffer */
		ok = add_row(st, &r, err) && ok;
	}
	CHECK(ok, "distinct rows added");
	engine_values(st, 0, out);
	CHECK(out[0] == 100003, "100003 distinct int keys after many doublings (0, -1 and extremes included)");
	CHECK(out[1] == 0 && out[2] == 0, "NULL int keys only: 0");
	engine_values(st, 1, out);
	CHECK(out[0] == 50000, "50000 distinct byte keys");
	CHECK(out[1] == 2, "colliding byte keys are two keys");
	CHECK(out[2] == 2, "byte keys compare by length and bytes");
	if (coll)
	{
		char		expect[128];

		/* the two colliding group values are two rows, 3 rows each */
		snprintf(expect, sizeof(expect), "1:%s=3 1:%s=3",
				 strcmp(ca, cb) < 0 ? ca : cb, strcmp(ca, cb) < 0 ? cb : ca);
		rows_text(st, 0, txt, sizeof(txt));
		CHECK(strstr(txt, expect) != NULL, "colliding group values are two groups");
	}
	engine_free(st);
}

/*
 * The breakdown fixture.  Grid: start 0, width 100, 3 buckets.
 *
 *	 row bucket group f0 f1 m0 k0 k1
 *	 R1  0      "9"   1  1  1  1  "x"
 *	 R2  0      "10"  .  1  2  2  "y"
 *	 R3  0      "a"   1  .  3  1  "x"
 *	 R4  0      NULL  .  .  4  3  "z"
 *	 R5  1      "9"   .  .  5  4  "x"
 *	 R6  1      "ab"  1  1  6  5  "w"
 *	 R7  1      NULL  1  .  7  5  "w"
 *	 R8  1      "10"  1  .  8  6  NULL
 *
 * Rows per value: "9" 2, "10" 2, NULL 2, "a" 1, "ab" 1; so the ranking
 * over every row is "10", "9" (byte order: "1" < "9"), NULL (after the
 * non-NULL values of the same count), "a", "ab" (a prefix first).
 */
static const char *const preset_vals[] = {"9", "zzz"};
static const uint32_t preset_lens[] = {1, 3};

/* The fixture's spec: 8 operands, 10 breakdown outputs on one column */
static void
build_breakdowns(EngineOperand *ops, EngineBreakdown *bds, EngineSpec *spec)
{
	ops[0] = op(ENGINE_COUNT, -1, 0);
	ops[1] = op(ENGINE_COUNT, 0, 0);
	ops[2] = op(ENGINE_COUNT_DISTINCT, -1, 0);
	ops[3] = op(ENGINE_SUM, -1, 0);
	ops[4] = op(ENGINE_MIN, -1, 0);
	ops[5] = op(ENGINE_MAX, -1, 0);
	ops[6] = op(ENGINE_COUNT, 1, 0);
	ops[7] = op(ENGINE_COUNT_DISTINCT, -1, 1);

	bds[0] = bd(0, 0, -1, 0);
	bds[1] = bd(0, 2, -1, 2);
	bds[2] = bd(0, 1, 6, 0);
	bds[3] = bd(0, 3, -1, 0);
	bds[3].use_preset = true;
	bds[3].npreset = 2;
	bds[3].preset = preset_vals;
	bds[3].preset_len = preset_lens;
	bds[3].preset_null = true;
	bds[4] = bd(0, 0, -1, 5);
	bds[4].nrank = 1;
	bds[4].rank_filters[0] = 1;
	bds[5] = bd(0, 7, -1, 1);
	bds[6] = bd(0, 4, -1, 1);
	bds[7] = bd(0, 5, -1, 1);
	bds[8] = bd(0, 0, -1, 3);
	bds[9] = bd(0, 0, -1, 4);

	memset(spec, 0, sizeof(*spec));
	spec->start = 0;
	spec->width = 100;
	spec->nbuckets = 3;
	spec->nfilters = 2;
	spec->nmeasures = 1;
	spec->nkeys = 2;
	spec->ngroups = 1;
	spec->nops = 8;
	spec->ops = ops;
	spec->nbreakdowns = 10;
	spec->breakdowns = bds;
	spec->max_rows = 1000;
}

/* The fixture's rows */
static int
breakdown_rows_fixture(TRow *rows)
{
	int			n = 0;

	rows[n++] = mk(0, 1, 1, 1, false, vint(1), vstr("x"), vstr("9"));
	rows[n++] = mk(10, 0, 1, 2, false, vint(2), vstr("y"), vstr("10"));
	rows[n++] = mk(20, 1, 0, 3, false, vint(1), vstr("x"), vstr("a"));
	rows[n++] = mk(30, 0, 0, 4, false, vint(3), vstr("z"), vnull());
	rows[n++] = mk(100, 0, 0, 5, false, vint(4), vstr("x"), vstr("9"));
	rows[n++] = mk(110, 1, 1, 6, false, vint(5), vstr("w"), vstr("ab"));
	rows[n++] = mk(120, 1, 0, 7, false, vint(5), vstr("w"), vnull());
	rows[n++] = mk(130, 1, 0, 8, false, vint(6), vnull(), vstr("10"));
	return n;
}

/* Check every breakdown of the fixture */
static void
check_breakdowns(const EngineState *st, const char *who)
{
	char		txt[1024];
	char		what[128];

#define BD_CHECK(b, expect, label) \
	do { \
		snprintf(what, sizeof(what), "%s: %s", who, label); \
		CHECK_STR(rows_text(st, b, txt, sizeof(txt)), expect, what); \
	} while (0)

	/* keep 0: one row per existing cell; bucket 2 has none */
	BD_CHECK(0, "0:10=1 0:9=1 0:a=1 0:NULL=1 1:10=1 1:9=1 1:ab=1 1:NULL=1",
			 "keep 0 gives every cell, values in byte order, NULL last");

	/*-
	 * distinct k0, keep 2: "10" and "9" kept.
	 * bucket 0: "10" {2}, "9" {1}, Other = "a" {1} u NULL {3} = 2
	 * bucket 1: "10" {6}, "9" {4}, Other = "ab" {5} u NULL {5} = 1
	 */
	BD_CHECK(1, "0:10=1 0:9=1 0:<other>=2 1:10=1 1:9=1 1:<other>=1",
			 "keep 2: 'Other' unites distinct sets (5 counted once)");

	/*-
	 * ratio count f0 / count f1, keep 0:
	 * 0 "9" 1/1; 0 "10" no f0 row: 0/1 = 0; 0 "a" 1/gap: skipped;
	 * 0 NULL gap/gap: skipped; 1 "9" gap/gap; 1 "ab" 1/1; 1 NULL and
	 * 1 "10" 1/gap: skipped
	 */
	BD_CHECK(2, "0:10=0 0:9=1 1:ab=1", "ratio composition");

	/*-
	 * sum m0, preset {"9","zzz"} and NULL: "zzz" does not occur.
	 * bucket 0: "9" 1, NULL 4, Other = "10" 2 + "a" 3 = 5
	 * bucket 1: "9" 5, NULL 7, Other = "ab" 6 + "10" 8 = 14
	 */
	BD_CHECK(3, "0:9=1 0:NULL=4 0:<other>=5 1:9=5 1:NULL=7 1:<other>=14",
			 "preset kept list with NULL");

	/*-
	 * count, keep 5 ranked by f1: counted rows "9" 1 (R1), "10" 1 (R2),
	 * "ab" 1 (R6); "a" and NULL have none, so they fold although keep is 5.
	 * bucket 0: "10" 1, "9" 1, Other = "a" + NULL = 2
	 * bucket 1: "10" 1, "9" 1, "ab" 1, Other = NULL 1
	 */
	BD_CHECK(4, "0:10=1 0:9=1 0:<other>=2 1:10=1 1:9=1 1:ab=1 1:<other>=1",
			 "ranking by a filter; unranked values fold");

	/*-
	 * distinct k1 (bytes), keep 1: "10" kept.
	 * bucket 0: "10" {"y"} 1; Other = {"x"} u {"x"} u {"z"} = 2
	 * bucket 1: "10" has a row whose key is NULL: 0; Other = {"x"} u
	 * {"w"} u {"w"} = 2
	 */
	BD_CHECK(5, "0:10=1 0:<other>=2 1:10=0 1:<other>=2",
			 "byte-key sets unite in 'Other'; all-NULL keys give 0");

	/* min and max, keep 1: Other of bucket 0 is {1,3,4}, of bucket 1 {5,6,7} */
	BD_CHECK(6, "0:10=2 0:<other>=1 1:10=8 1:<other>=5", "min combines in 'Other'");
	BD_CHECK(7, "0:10=2 0:<other>=4 1:10=8 1:<other>=7", "max combines in 'Other'");

	/* keep 3: "10", "9", NULL (count 2, after the non-NULL values of count 2) */
	BD_CHECK(8, "0:10=1 0:9=1 0:NULL=1 0:<other>=1 1:10=1 1:9=1 1:NULL=1 1:<other>=1",
			 "NULL ranks after non-NULL values of the same count");

	/* keep 4: "a" before "ab" */
	BD_CHECK(9, "0:10=1 0:9=1 0:a=1 0:NULL=1 1:10=1 1:9=1 1:NULL=1 1:<other>=1",
			 "ties: a prefix ranks first");
#undef BD_CHECK
}

/* Breakdowns: keep 0, ranking, presets, 'Other', composition */
static void
test_breakdowns(void)
{
	EngineOperand ops[8];
	EngineBreakdown bds[10];
	EngineSpec	spec;
	EngineState *st;
	TRow		rows[16];
	char		err[ERRLEN];
	char		txt[512];
	int			n;
	int			i;
	bool		ok = true;

	build_breakdowns(ops, bds, &spec);
	st = engine_create(&spec, err, sizeof(err));
	CHECK(st != NULL, "breakdown spec accepted");
	n = breakdown_rows_fixture(rows);
	for (i = 0; i < n; i++)
		ok = add_row(st, &rows[i], err) && ok;
	CHECK(ok, "breakdown rows added");
	check_breakdowns(st, "one state");

	/* the same rows in reverse order give the same results */
	engine_free(st);
	st = engine_create(&spec, err, sizeof(err));
	for (i = n - 1; i >= 0; i--)
		add_row(st, &rows[i], err);
	check_breakdowns(st, "reversed input");

	/* a breakdown index out of range */
	{
		EngineBreakdownRow *r = NULL;

		CHECK(engine_breakdown_rows(st, 10, &r, err, sizeof(err)) == -1 && r == NULL &&
			  strcmp(err, "no such breakdown") == 0, "unknown breakdown is an error");
	}
	engine_free(st);

	/* NULL with more rows than the others is kept first; NULL never ranks before its count */
	{
		EngineOperand o1[1];
		EngineBreakdown b1[2];
		TRow		r;

		o1[0] = op(ENGINE_COUNT, -1, 0);
		b1[0] = bd(0, 0, -1, 1);
		b1[1] = bd(0, 0, -1, 2);
		memset(&spec, 0, sizeof(spec));
		spec.width = 10;
		spec.nbuckets = 1;
		spec.ngroups = 1;
		spec.nops = 1;
		spec.ops = o1;
		spec.nbreakdowns = 2;
		spec.breakdowns = b1;
		st = engine_create(&spec, err, sizeof(err));
		/* NULL x3, "b" x1, byval 7 x1 (text "7"), "7" x1: "7" has 2 rows */
		r = mk(0, 0, 0, 0, false, vnull(), vnull(), vnull());
		add_row(st, &r, err);
		add_row(st, &r, err);
		add_row(st, &r, err);
		r.g[0] = vstr("b");
		add_row(st, &r, err);
		r.g[0] = vint(7);
		add_row(st, &r, err);
		r.g[0] = vstr("7");
		add_row(st, &r, err);
		CHECK_STR(rows_text(st, 0, txt, sizeof(txt)), "0:NULL=3 0:<other>=3",
				  "NULL with the most rows is kept");
		CHECK_STR(rows_text(st, 1, txt, sizeof(txt)), "0:7=2 0:NULL=3 0:<other>=1",
				  "a by-value group value is its decimal text");
		engine_free(st);
	}

	/* a real value "Other" is not the folded 'Other'; no measure_null array */
	{
		EngineOperand o3[2];
		EngineBreakdown b3[1];
		EngineRow	row;
		double		m = 2.5;
		EngineValue g;

		o3[0] = op(ENGINE_COUNT, -1, 0);
		o3[1] = op(ENGINE_SUM, -1, 0);
		b3[0] = bd(0, 1, -1, 1);
		memset(&spec, 0, sizeof(spec));
		spec.width = 10;
		spec.nbuckets = 1;
		spec.nmeasures = 1;
		spec.ngroups = 1;
		spec.nops = 2;
		spec.ops = o3;
		spec.nbreakdowns = 1;
		spec.breakdowns = b3;
		st = engine_create(&spec, err, sizeof(err));
		memset(&row, 0, sizeof(row));
		row.measures = &m;
		row.groups = &g;
		/* "Other" x2 (2.5 each), "x" x1: "Other" is kept, "x" folds */
		g = vstr("Other");
		engine_add(st, &row, err, sizeof(err));
		engine_add(st, &row, err, sizeof(err));
		g = vstr("x");
		engine_add(st, &row, err, sizeof(err));
		{
			EngineBreakdownRow *r;
			int			nr = engine_breakdown_rows(st, 0, &r, err, sizeof(err));

			CHECK(nr == 2 && !r[0].is_other && r[0].value_len == 5 &&
				  memcmp(r[0].value, "Other", 5) == 0 && r[0].v == 5 &&
				  r[1].is_other && r[1].v == 2.5 && strcmp(r[1].value, "Other") == 0,
				  "a value named Other stays apart from the folded 'Other'");
			if (nr >= 0)
				core_free(r);
		}
		{
			double		out[1];

			engine_values(st, 1, out);
			CHECK(out[0] == 7.5, "rows without a measure_null array have no NULL measures");
		}
		engine_free(st);
	}

	/* ratio rules with sums: zero denominator, NULL numerator, overflow */
	{
		EngineOperand o2[2];
		EngineBreakdown b2[1];
		TRow		r;
		const char *names[] = {"v1", "v2", "v3", "v4", "v5", "v6"};

		/*-
		 * v1: 1 / 0      skipped (zero denominator)
		 * v2: 3 / 2      1.5
		 * v3: NULL / 4   0 (a gap numerator counts as 0)
		 * v4: 1e308 / 1e-308  inf: skipped
		 * v5: NULL / NULL     skipped
		 * v6: 2 / NULL        skipped
		 */
		double		num[] = {1, 3, 0, 1e308, 0, 2};
		bool		numnull[] = {false, false, true, false, true, false};
		double		den[] = {0, 2, 4, 1e-308, 0, 0};
		bool		dennull[] = {false, false, false, false, true, true};

		o2[0] = op(ENGINE_SUM, -1, 0);
		o2[1] = op(ENGINE_SUM, -1, 1);
		b2[0] = bd(0, 0, 1, 0);
		memset(&spec, 0, sizeof(spec));
		spec.width = 10;
		spec.nbuckets = 1;
		spec.nmeasures = 2;
		spec.ngroups = 1;
		spec.nops = 2;
		spec.ops = o2;
		spec.nbreakdowns = 1;
		spec.breakdowns = b2;
		st = engine_create(&spec, err, sizeof(err));
		for (i = 0; i < 6; i++)
		{
			r = mk(0, 0, 0, num[i], numnull[i], vnull(), vnull(), vstr(names[i]));
			r.m[1] = den[i];
			r.mn[1] = dennull[i];
			add_row(st, &r, err);
		}
		CHECK_STR(rows_text(st, 0, txt, sizeof(txt)), "0:v2=1.5 0:v3=0",
				  "ratio: zero or missing denominators and non-finite results are skipped");
		engine_free(st);
	}
}

/* Row caps: main buckets, keep-0 breakdown cells at add time, folded rows */
static void
test_caps(void)
{
	EngineOperand ops[1];
	EngineBreakdown bds[2];
	EngineSpec	spec;
	EngineState *st;
	char		err[ERRLEN];
	TRow		r;
	int			i;
	bool		ok = true;
	EngineBreakdownRow *rows;

	ops[0] = op(ENGINE_COUNT, -1, 0);
	memset(&spec, 0, sizeof(spec));
	spec.width = 10;
	spec.nbuckets = 10;
	spec.nops = 1;
	spec.ops = ops;
	spec.max_rows = 3;
	st = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < 3; i++)
	{
		r = mk(i * 10, 0, 0, 0, false, vnull(), vnull(), vnull());
		ok = add_row(st, &r, err) && ok;
	}
	CHECK(ok, "three buckets fit a cap of 3");
	r = mk(5, 0, 0, 0, false, vnull(), vnull(), vnull());
	CHECK(add_row(st, &r, err), "more rows in an existing bucket fit");
	r = mk(95, 0, 0, 0, false, vnull(), vnull(), vnull());
	CHECK(!add_row(st, &r, err) && strstr(err, "row limit of 3") != NULL,
		  "a fourth bucket exceeds the cap");
	engine_free(st);

	/* breakdown keep 0: fails at add time once a 4th cell appears */
	bds[0] = bd(0, 0, -1, 0);
	spec.ngroups = 1;
	spec.nbreakdowns = 1;
	spec.breakdowns = bds;
	spec.skip_main = true;
	st = engine_create(&spec, err, sizeof(err));
	ok = true;
	for (i = 0; i < 3; i++)
	{
		char		v[16];

		snprintf(v, sizeof(v), "v%d", i);
		r = mk(0, 0, 0, 0, false, vnull(), vnull(), vstr(v));
		ok = add_row(st, &r, err) && ok;
	}
	CHECK(ok, "three cells fit");
	r = mk(10, 0, 0, 0, false, vnull(), vnull(), vstr("v0"));
	CHECK(!add_row(st, &r, err) && strcmp(err, "breakdown result exceeds the row limit of 3 rows") == 0,
		  "a fourth keep-0 cell fails at add time");
	engine_free(st);

	/* keep 1: adding is unbounded; the folded rows are capped */
	bds[0] = bd(0, 0, -1, 1);
	st = engine_create(&spec, err, sizeof(err));
	ok = true;
	for (i = 0; i < 20; i++)
	{
		char		v[16];

		snprintf(v, sizeof(v), "v%d", i % 10);
		r = mk((i / 10) * 10, 0, 0, 0, false, vnull(), vnull(), vstr(v));
		ok = add_row(st, &r, err) && ok;
	}
	CHECK(ok, "a folded breakdown accepts 20 cells");
	/* 2 buckets x ("v0" + Other) = 4 rows > 3 */
	CHECK(engine_breakdown_rows(st, 0, &rows, err, sizeof(err)) == -1 &&
		  strstr(err, "row limit") != NULL, "folded rows over the cap are an error");
	engine_free(st);
	spec.max_rows = 4;
	st = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < 20; i++)
	{
		char		v[16];

		snprintf(v, sizeof(v), "v%d", i % 10);
		r = mk((i / 10) * 10, 0, 0, 0, false, vnull(), vnull(), vstr(v));
		add_row(st, &r, err);
	}
	i = engine_breakdown_rows(st, 0, &rows, err, sizeof(err));
	CHECK(i == 4 && rows[1].is_other && rows[1].v == 9 && rows[0].v == 1, "exactly at the cap is fine");
	if (i >= 0)
		core_free(rows);
	CHECK(engine_nonempty_buckets(st) == 0, "no main values with skip_main");
	{
		double		out[10];

		engine_values(st, 0, out);
		CHECK(isnan(out[0]), "skip_main gives gaps");
	}
	engine_free(st);
}

/* Deterministic PRNG (xorshift64*) */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Strings for random keys (0..29) and group values (40..45) */
static const char *const rstr[46] = {
	"a0", "b1", "c2", "d3", "e4", "f0", "g1", "h2",
	"i3", "j4", "k0", "l1", "m2", "n3", "o4", "p0",
	"q1", "r2", "s3", "t4", "u0", "v1", "w2", "x3",
	"y4", "z0", "a1", "b2", "c3", "d4", "e0", "f1",
	"g2", "h3", "i4", "j0", "k1", "l2", "m3", "n4",
	"o0", "p1", "q2", "r3", "s4", "t0"
};

/* A random row for the merge, serialization and oracle tests */
static TRow
random_row(uint64_t *seed)
{
	TRow		r;
	uint64_t	x = rnd(seed);
	int			g = (int) (x % 7);

	memset(&r, 0, sizeof(r));
	r.ts = (int64_t) (rnd(seed) % 620) - 10;	/* some rows outside [0, 600) */
	r.f[0] = (x >> 8) % 3 == 0;
	r.f[1] = (x >> 12) % 2 == 0;
	r.m[0] = (double) ((int64_t) ((x >> 16) % 2001) - 1000) / 8.0;
	r.mn[0] = (x >> 28) % 10 == 0;
	r.m[1] = (double) ((x >> 32) % 50);
	r.mn[1] = (x >> 40) % 7 == 0;
	r.k[0] = ((x >> 44) % 9 == 0) ? vnull() : vint((int64_t) ((x >> 48) % 40) - 20);
	r.k[1] = ((x >> 54) % 9 == 0) ? vnull() : vstr(rstr[(x >> 56) % 30]);
	r.g[0] = g == 6 ? vnull() : vstr(rstr[40 + g]);
	r.g[1] = vint((int64_t) ((x >> 20) % 3));
	return r;
}

/* The random spec: every aggregation, breakdowns on two columns */
static void
random_spec(EngineOperand *ops, EngineBreakdown *bds, EngineSpec *spec)
{
	ops[0] = op(ENGINE_COUNT, -1, 0);
	ops[1] = op(ENGINE_COUNT, 0, 0);
	ops[2] = op(ENGINE_SUM, 1, 0);
	ops[3] = op(ENGINE_AVG, -1, 1);
	ops[4] = op(ENGINE_MIN, 0, 0);
	ops[5] = op(ENGINE_MAX, -1, 0);
	ops[6] = op(ENGINE_COUNT_DISTINCT, -1, 0);
	ops[7] = op(ENGINE_COUNT_DISTINCT, 1, 1);
	bds[0] = bd(0, 0, -1, 0);
	bds[1] = bd(0, 7, -1, 3);
	bds[2] = bd(0, 2, 1, 2);
	bds[2].nrank = 2;
	bds[2].rank_filters[0] = 0;
	bds[2].rank_filters[1] = 1;
	bds[3] = bd(1, 6, 0, 1);
	bds[4] = bd(0, 4, -1, 0);
	bds[4].use_preset = true;
	bds[4].npreset = 0;
	bds[4].preset_null = true;
	bds[5] = bd(0, 5, -1, 2);
	memset(spec, 0, sizeof(*spec));
	spec->start = 0;
	spec->width = 60;
	spec->nbuckets = 10;
	spec->nfilters = 2;
	spec->nmeasures = 2;
	spec->nkeys = 2;
	spec->ngroups = 2;
	spec->nops = 8;
	spec->ops = ops;
	spec->nbreakdowns = 6;
	spec->breakdowns = bds;
	spec->max_rows = 100000;
}

/* Brute-force main values of the random rows for one operand */
static void
oracle(const TRow *rows, int n, const EngineOperand *o, double *out)
{
	int			b;
	int			i;
	int			j;

	for (b = 0; b < 10; b++)
	{
		int64_t		matched = 0;
		int64_t		nn = 0;
		double		s = 0;
		double		ext = 0;
		int64_t		distinct = 0;

		for (i = 0; i < n; i++)
		{
			const TRow *r = &rows[i];
			bool		isnew = true;

			if (r->ts < b * 60 || r->ts >= (b + 1) * 60)
				continue;
			if (o->filter >= 0 && !r->f[o->filter])
				continue;
			matched++;
			if (o->agg == ENGINE_COUNT_DISTINCT)
			{
				const EngineValue *k = &r->k[o->key];

				if (k->isnull)
					continue;
				/* new unless an earlier matched row of the bucket has it */
				for (j = 0; j < i && isnew; j++)
				{
					const TRow *q = &rows[j];
					const EngineValue *kq = &q->k[o->key];

					if (q->ts < b * 60 || q->ts >= (b + 1) * 60)
						continue;
					if (o->filter >= 0 && !q->f[o->filter])
						continue;
					if (kq->isnull || kq->byval != k->byval)
						continue;
					if (k->byval ? kq->ival == k->ival :
						(kq->len == k->len && memcmp(kq->data, k->data, k->len) == 0))
						isnew = false;
				}
				distinct += isnew;
				continue;
			}
			if (o->agg == ENGINE_COUNT || r->mn[o->measure])
				continue;
			if (nn == 0 || (o->agg == ENGINE_MIN ? r->m[o->measure] < ext : r->m[o->measure] > ext))
				ext = r->m[o->measure];
			s += r->m[o->measure];
			nn++;
		}
		switch (o->agg)
		{
			case ENGINE_COUNT:
				out[b] = matched ? (double) matched : NAN;
				break;
			case ENGINE_SUM:
				out[b] = nn ? s : NAN;
				break;
			case ENGINE_AVG:
				out[b] = nn ? s / (double) nn : NAN;
				break;
			case ENGINE_MIN:
			case ENGINE_MAX:
				out[b] = nn ? ext : NAN;
				break;
			case ENGINE_COUNT_DISTINCT:
				out[b] = matched ? (double) distinct : NAN;
				break;
			default:
				/* percentiles and sketches: engine_agg_test.c */
				out[b] = NAN;
				break;
		}
	}
}

/* Merging and serialization give what one state gives; an oracle agrees */
static void
test_merge_serialize(void)
{
	EngineOperand ops[8];
	EngineBreakdown bds[6];
	EngineSpec	spec;
	EngineState *one;
	EngineState *a;
	EngineState *b;
	EngineState *c;
	EngineState *d;
	TRow	   *rows;
	char		err[ERRLEN];
	uint64_t	seed = 42;
	int			n = 3000;
	int			i;
	int			o;
	bool		ok = true;
	bool		same = true;
	bool		near = true;
	bool		orc = true;
	char	   *buf;
	size_t		len;
	char	   *buf2;
	size_t		len2;

	random_spec(ops, bds, &spec);
	rows = core_alloc(sizeof(TRow) * (size_t) n);
	for (i = 0; i < n; i++)
		rows[i] = random_row(&seed);

	one = engine_create(&spec, err, sizeof(err));
	a = engine_create(&spec, err, sizeof(err));
	b = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < n; i++)
	{
		ok = add_row(one, &rows[i], err) && ok;
		ok = add_row((rnd(&seed) % 3 == 0) ? a : b, &rows[i], err) && ok;
	}
	CHECK(ok, "random rows added");
	CHECK(engine_merge(a, b, err, sizeof(err)), "merge succeeds");
	engine_free(b);				/* merged byte keys and values must be copies */
	b = NULL;
	for (o = 0; o < 8; o++)
	{
		double		v1[10];
		double		v2[10];
		double		v3[10];

		engine_values(one, o, v1);
		engine_values(a, o, v2);
		oracle(rows, n, &ops[o], v3);
		if (ops[o].agg == ENGINE_SUM || ops[o].agg == ENGINE_AVG)
			near = near && near_series(v1, v2, 10, 1e-12);
		else
			same = same && same_series(v1, v2, 10);
		orc = orc && near_series(v1, v3, 10, 1e-12);
	}
	CHECK(same, "merged counts, min, max and distinct equal one state's exactly");
	CHECK(near, "merged sums and averages equal one state's within 1e-12");
	CHECK(orc, "one state agrees with a brute-force oracle");
	for (i = 0; i < 6; i++)
	{
		char		what[64];

		snprintf(what, sizeof(what), "merged breakdown %d equals one state's", i);
		CHECK(same_rows(one, a, i), what);
	}

	/* serialization round trip of the merged state */
	engine_serialize(a, &buf, &len);
	c = engine_deserialize(&spec, buf, len, err, sizeof(err));
	CHECK(c != NULL, "deserialize succeeds");
	same = true;
	for (o = 0; o < 8 && c; o++)
	{
		double		v1[10];
		double		v2[10];

		engine_values(a, o, v1);
		engine_values(c, o, v2);
		same = same && memcmp(v1, v2, sizeof(v1)) == 0;
	}
	CHECK(same, "round trip: values are bitwise equal");
	for (i = 0; i < 6 && c; i++)
	{
		char		what[64];

		snprintf(what, sizeof(what), "round trip: breakdown %d", i);
		CHECK(same_rows(a, c, i), what);
	}
	if (c)
	{
		engine_serialize(c, &buf2, &len2);
		CHECK(len2 == len, "re-serialized image has the same length");
		core_free(buf2);
	}

	/* merging a deserialized state into a fresh one */
	d = engine_create(&spec, err, sizeof(err));
	CHECK(c && engine_merge(d, c, err, sizeof(err)) && same_rows(d, one, 1) && same_rows(d, one, 3),
		  "a deserialized state merges");
	CHECK(!engine_merge(d, d, err, sizeof(err)), "merging a state into itself is refused");

	/* truncated images are rejected; flipped bytes never crash */
	ok = true;
	for (i = 0; i < (int) len; i += (i < 200 ? 1 : 97))
	{
		EngineState *t = engine_deserialize(&spec, buf, (size_t) i, err, sizeof(err));

		if (t != NULL)
		{
			ok = false;
			engine_free(t);
		}
	}
	CHECK(ok, "every truncated image is rejected");
	{
		char	   *copy = core_alloc(len);
		int			accepted = 0;

		for (i = 0; i < 3000; i++)
		{
			EngineState *t;
			size_t		pos = (size_t) (rnd(&seed) % len);

			memcpy(copy, buf, len);
			copy[pos] ^= (char) (1 + rnd(&seed) % 255);
			t = engine_deserialize(&spec, copy, len, err, sizeof(err));
			if (t != NULL)
			{
				EngineBreakdownRow *r;
				double		v[10];
				int			k;

				accepted++;
				for (k = 0; k < 8; k++)
					engine_values(t, k, v);
				for (k = 0; k < 6; k++)
					if (engine_breakdown_rows(t, k, &r, err, sizeof(err)) >= 0)
						core_free(r);
				engine_free(t);
			}
		}
		CHECK(accepted < 3000, "corrupted images: no crash, most rejected");
		core_free(copy);
	}

	/* a different spec */
	spec.width = 61;
	c = c ? (engine_free(c), NULL) : NULL;
	c = engine_deserialize(&spec, buf, len, err, sizeof(err));
	CHECK(c == NULL && strcmp(err, "serialized engine state does not match the spec") == 0,
		  "deserializing with another spec is refused");
	{
		EngineState *e = engine_create(&spec, err, sizeof(err));

		CHECK(!engine_merge(e, a, err, sizeof(err)) &&
			  strcmp(err, "cannot merge states of different specs") == 0,
			  "merging states of different specs is refused");
		engine_free(e);
	}
	spec.width = 60;
	c = engine_deserialize(&spec, "garbage!", 8, err, sizeof(err));
	CHECK(c == NULL && strcmp(err, "not a serialized engine state") == 0, "garbage is refused");

	core_free(buf);
	engine_free(one);
	engine_free(a);
	engine_free(b);
	engine_free(d);
	core_free(rows);
}

/* Empty grids, no operands, empty states */
static void
test_edges(void)
{
	EngineSpec	spec;
	EngineState *st;
	EngineState *st2;
	EngineOperand ops[1];
	EngineBreakdown bds[1];
	char		err[ERRLEN];
	TRow		r = mk(0, 1, 1, 1, false, vint(1), vstr("k"), vstr("g"));
	char	   *buf;
	size_t		len;
	EngineBreakdownRow *rows;

	memset(&spec, 0, sizeof(spec));
	spec.width = 10;
	st = engine_create(&spec, err, sizeof(err));
	CHECK(st != NULL, "0 buckets, 0 operands accepted");
	CHECK(add_row(st, &r, err), "a row on an empty grid is ignored");
	engine_serialize(st, &buf, &len);
	st2 = engine_deserialize(&spec, buf, len, err, sizeof(err));
	CHECK(st2 != NULL && engine_merge(st, st2, err, sizeof(err)), "empty state round trip and merge");
	core_free(buf);
	engine_free(st2);
	engine_free(st);

	ops[0] = op(ENGINE_COUNT_DISTINCT, -1, 0);
	bds[0] = bd(0, 0, -1, 2);
	spec.nkeys = 1;
	spec.ngroups = 1;
	spec.nops = 1;
	spec.ops = ops;
	spec.nbreakdowns = 1;
	spec.breakdowns = bds;
	st = engine_create(&spec, err, sizeof(err));
	CHECK(st != NULL && add_row(st, &r, err), "0 buckets with operands");
	CHECK(engine_breakdown_rows(st, 0, &rows, err, sizeof(err)) == 0, "no breakdown rows");
	core_free(rows);
	engine_free(st);

	spec.nbuckets = 2;
	st = engine_create(&spec, err, sizeof(err));
	CHECK(engine_breakdown_rows(st, 0, &rows, err, sizeof(err)) == 0, "a fresh state has no rows");
	core_free(rows);
	{
		double		out[2] = {0, 0};

		engine_values(st, 0, out);
		CHECK(isnan(out[0]) && isnan(out[1]), "a fresh state has gaps");
	}
	/* rows at the last microsecond and at the end of the grid */
	r.ts = 19;
	add_row(st, &r, err);
	r.ts = 20;
	add_row(st, &r, err);
	{
		double		out[2];

		engine_values(st, 0, out);
		CHECK(isnan(out[0]) && out[1] == 1, "buckets are half-open");
	}
	engine_free(st);
	engine_free(NULL);
	CHECK(engine_memory(NULL) == 0, "NULL state has no memory");

	/* a grid reaching the end of the time range */
	memset(&spec, 0, sizeof(spec));
	spec.start = INT64_MAX - 100;
	spec.width = 50;
	spec.nbuckets = 2;
	spec.nops = 1;
	ops[0] = op(ENGINE_COUNT, -1, 0);
	spec.ops = ops;
	st = engine_create(&spec, err, sizeof(err));
	r.ts = INT64_MAX - 1;
	CHECK(st != NULL && add_row(st, &r, err), "a grid near INT64_MAX");
	{
		double		out[2];

		engine_values(st, 0, out);
		CHECK(out[1] == 1, "a row near INT64_MAX lands in the last bucket");
	}
	engine_free(st);
}

/* Bad specs and rows are rejected with a message */
static void
test_bad(void)
{
	EngineOperand ops[2];
	EngineBreakdown bds[1];
	EngineSpec	spec;
	EngineSpec	s;
	EngineState *st;
	char		err[ERRLEN];
	EngineRow	row;
	EngineValue key;
	bool		f[1] = {true};

#define BAD(mutation, msg) \
	do { \
		s = spec; \
		ops[0] = op(ENGINE_COUNT_DISTINCT, 0, 0); \
		ops[1] = op(ENGINE_SUM, -1, 0); \
		bds[0] = bd(0, 0, 1, 0); \
		mutation; \
		err[0] = '\0'; \
		st = engine_create(&s, err, sizeof(err)); \
		CHECK(st == NULL && strcmp(err, msg) == 0, "rejected: " msg); \
		if (st == NULL && strcmp(err, msg) != 0) \
			printf("#   message: %s\n", err); \
		engine_free(st); \
	} while (0)

	memset(&spec, 0, sizeof(spec));
	spec.width = 10;
	spec.nbuckets = 2;
	spec.nfilters = 1;
	spec.nmeasures = 1;
	spec.nkeys = 1;
	spec.ngroups = 1;
	spec.nops = 2;
	spec.ops = ops;
	spec.nbreakdowns = 1;
	spec.breakdowns = bds;
	ops[0] = op(ENGINE_COUNT_DISTINCT, 0, 0);
	ops[1] = op(ENGINE_SUM, -1, 0);
	bds[0] = bd(0, 0, 1, 0);
	st = engine_create(&spec, err, sizeof(err));
	CHECK(st != NULL, "the base spec is fine");
	engine_free(st);

	CHECK(engine_create(NULL, err, sizeof(err)) == NULL && strcmp(err, "no spec") == 0, "rejected: no spec");
	BAD(s.nbuckets = -1, "negative bucket count -1");
	BAD(s.width = 0, "bucket width must be positive");
	BAD((s.start = INT64_MAX - 5, s.width = 10), "bucket grid out of range");
	BAD(s.nfilters = -2, "negative column count");
	BAD(s.nops = -1, "negative operand or breakdown count");
	BAD(s.nops = ENGINE_MAX_OPERANDS + 1, "too many operands (at most 4096)");
	BAD(s.ops = NULL, "operands are missing");
	BAD(s.max_rows = -1, "negative row cap");
	BAD(ops[0].agg = (EngineAgg) 9, "operand 0: unknown aggregation 9");
	BAD(ops[0].filter = 1, "operand 0: filter index 1 out of range");
	BAD(ops[0].filter = -2, "operand 0: filter index -2 out of range");
	BAD(ops[1].measure = 1, "operand 1: measure index 1 out of range");
	BAD(ops[1].measure = -1, "operand 1: measure index -1 out of range");
	BAD(ops[0].key = 3, "operand 0: key index 3 out of range");
	BAD(bds[0].group = 1, "breakdown 0: group index 1 out of range");
	BAD(bds[0].nops = 3, "breakdown 0: needs 1 or 2 operands, not 3");
	BAD(bds[0].ops[1] = 2, "breakdown 0: operand index 2 out of range");
	BAD(bds[0].keep = -1, "breakdown 0: negative keep");
	BAD(bds[0].nrank = 3, "breakdown 0: needs 0, 1 or 2 rank filters, not 3");
	BAD((bds[0].nrank = 1, bds[0].rank_filters[0] = 1), "breakdown 0: rank filter index 1 out of range");
	BAD((bds[0].use_preset = true, bds[0].npreset = 1), "breakdown 0: preset list is missing");
	BAD((bds[0].use_preset = true, bds[0].npreset = -1), "breakdown 0: negative preset count");
	BAD(s.breakdowns = NULL, "breakdowns are missing");
#undef BAD

	/* bad rows */
	ops[0] = op(ENGINE_COUNT_DISTINCT, 0, 0);
	ops[1] = op(ENGINE_SUM, -1, 0);
	bds[0] = bd(0, 0, 1, 0);
	st = engine_create(&spec, err, sizeof(err));
	memset(&row, 0, sizeof(row));
	CHECK(!engine_add(st, &row, err, sizeof(err)) && strcmp(err, "row is missing columns") == 0,
		  "a row without its arrays is refused");
	CHECK(!engine_add(NULL, &row, err, sizeof(err)), "no state is refused");
	memset(&key, 0, sizeof(key));
	key.len = 5;				/* bytes without data */
	{
		double		m = 1;
		EngineValue g = vstr("g");

		row.filters = f;
		row.measures = &m;
		row.keys = &key;
		row.groups = &g;
		CHECK(!engine_add(st, &row, err, sizeof(err)) && strcmp(err, "a key value has no data") == 0,
			  "a key without data is refused");
		key = vint(3);
		g.data = NULL;
		CHECK(!engine_add(st, &row, err, sizeof(err)) && strcmp(err, "a group value has no data") == 0,
			  "a group value without data is refused");
		g.len = 0;				/* NULL data with length 0 is the empty string */
		CHECK(engine_add(st, &row, err, sizeof(err)), "an empty group value without a pointer is fine");
	}
	engine_free(st);
}

/* Memory of 100 000 buckets x 8 operands is the accumulator array */
static void
test_memory(void)
{
	EngineOperand ops[8];
	EngineSpec	spec;
	EngineState *st;
	char		err[ERRLEN];
	size_t		m0;
	size_t		acc;
	int			i;

	ops[0] = op(ENGINE_COUNT, -1, 0);	/* 8 */
	ops[1] = op(ENGINE_COUNT, 0, 0);	/* 8 */
	ops[2] = op(ENGINE_SUM, 0, 0);	/* 24 */
	ops[3] = op(ENGINE_SUM, 1, 1);	/* 24 */
	ops[4] = op(ENGINE_AVG, -1, 0);	/* 24 */
	ops[5] = op(ENGINE_MIN, -1, 0);	/* 16 */
	ops[6] = op(ENGINE_MAX, -1, 0);	/* 16 */
	ops[7] = op(ENGINE_SUM, 1, 0);	/* 24 */
	memset(&spec, 0, sizeof(spec));
	spec.width = 60;
	spec.nbuckets = 100000;
	spec.nfilters = 2;
	spec.nmeasures = 2;
	spec.nops = 8;
	spec.ops = ops;
	st = engine_create(&spec, err, sizeof(err));
	m0 = engine_memory(st);
	/* 144 bytes of accumulators + 8 bytes of row count per bucket */
	acc = (size_t) 100000 * (144 + 8);
	CHECK(m0 >= acc && m0 < acc + 4096, "100 000 x 8 operands: the accumulator array plus < 4 kB");
	for (i = 0; i < 200000; i++)
	{
		TRow		r = mk((int64_t) i * 30, i % 2, i % 3, i, false, vnull(), vnull(), vnull());

		add_row(st, &r, err);
	}
	CHECK(engine_memory(st) == m0, "memory does not grow with rows (no distinct, no breakdown)");
	engine_free(st);
}

/* Exact constants for the threshold tests: integers scaled by 1/10 */
typedef struct ThrCase
{
	const long *exact;			/* constants, exact (tenths) */
	long		x;				/* the value, exact (tenths) */
	int			calls;
} ThrCase;

static int
thr_cmp(void *arg, int j)
{
	ThrCase    *c = arg;

	c->calls++;
	return (c->x > c->exact[j]) - (c->x < c->exact[j]);
}

/* Threshold ranks and the six comparisons against brute force */
static void
test_thresholds(void)
{
	/* 5 constants; the doubles of 20 and 21 are made equal (a tie) */
	static const long exact[] = {-15, 0, 20, 21, 70};
	double		dbl[] = {-1.5, 0.0, 2.0, 2.0, 7.0};
	static const EngineThresholdOp ops[] = {ENGINE_LT, ENGINE_LE, ENGINE_GT, ENGINE_GE, ENGINE_EQ, ENGINE_NE};
	ThrCase		c;
	bool		eq;
	int			lo;
	int			bad = 0;
	long		x;
	int			j;
	int			o;

	c.exact = exact;
	for (x = -30; x <= 90; x++)
	{
		/* the value's double: tenths, except that 20 and 21 round to 2.0 */
		double		dx = (x == 20 || x == 21) ? 2.0 : x / 10.0;

		c.x = x;
		c.calls = 0;
		lo = engine_threshold_rank(dbl, 5, dx, thr_cmp, &c, &eq);
		for (j = 0; j < 5; j++)
		{
			for (o = 0; o < 6; o++)
			{
				bool		want;

				switch (ops[o])
				{
					case ENGINE_LT: want = x < exact[j]; break;
					case ENGINE_LE: want = x <= exact[j]; break;
					case ENGINE_GT: want = x > exact[j]; break;
					case ENGINE_GE: want = x >= exact[j]; break;
					case ENGINE_EQ: want = x == exact[j]; break;
					default: want = x != exact[j]; break;
				}
				if (engine_threshold_holds(ops[o], j, lo, eq) != want)
					bad++;
			}
		}
		/* exact comparisons only where the doubles tie */
		if (c.calls > 0 && dx != -1.5 && dx != 0.0 && dx != 2.0 && dx != 7.0)
			bad++;
	}
	CHECK(bad == 0, "threshold ranks: every comparison with every constant as brute force, ties resolved exactly");
	lo = engine_threshold_rank(dbl, 5, NAN, thr_cmp, &c, &eq);
	CHECK(lo == 5 && !eq, "a NaN value is above every constant");
	lo = engine_threshold_rank(dbl, 0, 1.0, thr_cmp, &c, &eq);
	CHECK(lo == 0 && !eq, "no constants: rank 0");
	lo = engine_threshold_rank(dbl, 5, INFINITY, thr_cmp, &c, &eq);
	CHECK(lo == 5 && !eq, "+infinity is above every finite constant");
}

/* Run every test */
int
main(void)
{
	test_basic();
	test_floats();
	test_distinct();
	test_breakdowns();
	test_caps();
	test_merge_serialize();
	test_edges();
	test_bad();
	test_memory();
	test_thresholds();
	return unit_done();
}

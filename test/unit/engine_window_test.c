/*
 * engine_window_test.c
 *	  Unit tests for the engine's rolling values (engine_window_values):
 *	  every aggregation over windows of 1, 3 and 7 buckets against a
 *	  brute-force computation over the raw rows of buckets b-k+1 .. b
 *	  (integer and byte distinct keys, NULL measures, filters, empty
 *	  buckets and gaps, partial windows at the grid's start), the
 *	  window surviving a merge and a serialization round trip, and
 *	  per-bucket states kept between passes (engine_bucket_image/load),
 *	  and rolling breakdowns (every aggregation per group value, values
 *	  that appear and disappear within the window, NULL, 'Other', a
 *	  ratio) against the same brute force over each value's rows.
 */
#include "unit.h"
#include "engine.h"

#define ERRLEN 256
#define NB 40					/* buckets of the grid */
#define WIDTH 10
#define NROWS 3000

typedef struct Raw
{
	int64_t		ts;
	bool		f;
	double		m;
	bool		mnull;
	int64_t		ikey;
	char		bkey[8];
	int			grp;			/* breakdown value: -1 NULL, else "a".."d" */
} Raw;

static const char *const grp_names[] = {"a", "b", "c", "d"};

/* A deterministic pseudo-random sequence (splitmix64) */
static uint64_t
next_rand(uint64_t *s)
{
	uint64_t	z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static int
cmp_double(const void *pa, const void *pb)
{
	double		a = *(const double *) pa;
	double		b = *(const double *) pb;

	return (a > b) - (a < b);
}

/* The brute-force value of op over the rows of buckets lo..hi (NaN: gap) */
static double
brute(const Raw *rows, int n, EngineAgg agg, bool filtered, int lo, int hi, double p)
{
	double	   *vals = calloc(n + 1, sizeof(double));
	int64_t    *ikeys = calloc(n + 1, sizeof(int64_t));
	const char **bkeys = calloc(n + 1, sizeof(char *));
	int			nv = 0,
				nk = 0,
				nmatch = 0;
	double		r = NAN;
	int			i,
				j;

	for (i = 0; i < n; i++)
	{
		int			b = (int) (rows[i].ts / WIDTH);

		if (b < lo || b > hi || (filtered && !rows[i].f))
			continue;
		nmatch++;
		if (!rows[i].mnull)
			vals[nv++] = rows[i].m;
		if (agg == ENGINE_COUNT_DISTINCT)
		{
			bool		seen = false;

			for (j = 0; j < nk && !seen; j++)
				seen = (rows[i].ikey >= 0) ? ikeys[j] == rows[i].ikey :
					(bkeys[j] != NULL && strcmp(bkeys[j], rows[i].bkey) == 0);
			if (!seen)
			{
				ikeys[nk] = rows[i].ikey;
				bkeys[nk] = rows[i].ikey >= 0 ? NULL : rows[i].bkey;
				nk++;
			}
		}
	}
	switch (agg)
	{
		case ENGINE_COUNT:
			r = nmatch > 0 ? nmatch : NAN;
			break;
		case ENGINE_SUM:
		case ENGINE_AVG:
			if (nv > 0)
			{
				double		s = 0;

				for (i = 0; i < nv; i++)
					s += vals[i];
				r = agg == ENGINE_SUM ? s : s / nv;
			}
			break;
		case ENGINE_MIN:
		case ENGINE_MAX:
			for (i = 0; i < nv; i++)
				if (i == 0 || (agg == ENGINE_MIN ? vals[i] < r : vals[i] > r))
					r = vals[i];
			break;
		case ENGINE_PERCENTILE:
			if (nv > 0)
			{
				double		pos = p * (nv - 1);
				long		f = (long) floor(pos),
							c = (long) ceil(pos);

				qsort(vals, nv, sizeof(double), cmp_double);
				r = vals[f] + (pos - f) * (vals[c] - vals[f]);
			}
			break;
		case ENGINE_COUNT_DISTINCT:
			r = nmatch > 0 ? nk : NAN;
			break;
		default:
			break;
	}
	free(vals);
	free(ikeys);
	free(bkeys);
	return r;
}

/*
 * The brute-force value over the rows of one breakdown value: grp >= 0 a
 * value, -1 NULL, -2 'Other' (neither "a" nor "b")
 */
static double
brute_group(const Raw *rows, int n, int grp, EngineAgg agg, bool filtered, int lo, int hi)
{
	Raw		   *sub = calloc(n + 1, sizeof(Raw));
	int			m = 0;
	int			i;
	double		r;

	for (i = 0; i < n; i++)
		if (grp == -2 ? rows[i].grp != 0 && rows[i].grp != 1 : rows[i].grp == grp)
			sub[m++] = rows[i];
	r = brute(sub, m, agg, filtered, lo, hi, 0.9);
	free(sub);
	return r;
}

/* Does a breakdown row's value match brute force? */
static bool
close_enough(EngineAgg agg, double got, double want)
{
	if (isnan(want) || isnan(got))
		return isnan(want) && isnan(got);
	if (agg == ENGINE_APPROX_PERCENTILE)
		return fabs(got - want) <= 0.02 * fabs(want) + 1e-9;
	return fabs(got - want) <= 1e-9 * (fabs(want) + 1);
}

int
main(void)
{
	Raw		   *rows = calloc(NROWS, sizeof(Raw));
	uint64_t	seed = 42;
	EngineAgg	aggs[] = {ENGINE_COUNT, ENGINE_SUM, ENGINE_AVG, ENGINE_MIN, ENGINE_MAX,
	ENGINE_PERCENTILE, ENGINE_COUNT_DISTINCT, ENGINE_COUNT_DISTINCT, ENGINE_APPROX_DISTINCT,
	ENGINE_APPROX_PERCENTILE};
	int			naggs = (int) (sizeof(aggs) / sizeof(aggs[0]));
	int			windows[] = {1, 3, 7};
	EngineOperand ops[64];
	int			nops = 0;
	int			w,
				a,
				i,
				b;
	char		err[ERRLEN];
	EngineSpec	spec;
	EngineState *st;
	EngineState *halves[2];
	bool		ok = true;
	bool		ok_merge = true;
	bool		ok_image = true;
	double		out[NB],
				out2[NB];

	/* rows in buckets 0..NB-1, buckets 5, 6 and 20..22 empty */
	for (i = 0; i < NROWS; i++)
	{
		Raw		   *r = &rows[i];

		do
			r->ts = (int64_t) (next_rand(&seed) % (NB * WIDTH));
		while ((r->ts / WIDTH >= 5 && r->ts / WIDTH <= 6) || (r->ts / WIDTH >= 20 && r->ts / WIDTH <= 22));
		r->f = next_rand(&seed) % 3 != 0;
		r->mnull = next_rand(&seed) % 10 == 0;
		r->m = (double) (next_rand(&seed) % 100000) / 7.0;
		/* half the rows with integer keys among 200, half with byte keys */
		if (i % 2 == 0)
			r->ikey = (int64_t) (next_rand(&seed) % 200);
		else
		{
			r->ikey = -1;
			snprintf(r->bkey, sizeof(r->bkey), "u%d", (int) (next_rand(&seed) % 150));
		}
	}

	memset(ops, 0, sizeof(ops));
	for (w = 0; w < 3; w++)
		for (a = 0; a < naggs; a++)
		{
			EngineOperand *o = &ops[nops++];

			o->agg = aggs[a];
			o->filter = (a % 2 == 0) ? 0 : -1;
			o->measure = (aggs[a] == ENGINE_COUNT || aggs[a] == ENGINE_COUNT_DISTINCT ||
						  aggs[a] == ENGINE_APPROX_DISTINCT) ? -1 : 0;
			o->key = (aggs[a] == ENGINE_COUNT_DISTINCT || aggs[a] == ENGINE_APPROX_DISTINCT) ? 0 : -1;
			o->percentile = 0.9;
			o->window = windows[w];
		}
	memset(&spec, 0, sizeof(spec));
	spec.start = 0;
	spec.width = WIDTH;
	spec.nbuckets = NB;
	spec.nfilters = 1;
	spec.nmeasures = 1;
	spec.nkeys = 1;
	spec.nops = nops;
	spec.ops = ops;

	st = engine_create(&spec, err, ERRLEN);
	halves[0] = engine_create(&spec, err, ERRLEN);
	halves[1] = engine_create(&spec, err, ERRLEN);
	CHECK(st != NULL && halves[0] != NULL && halves[1] != NULL, "spec with windows accepted");
	for (i = 0; i < NROWS; i++)
	{
		EngineRow	row;
		EngineValue key;

		memset(&key, 0, sizeof(key));
		if (rows[i].ikey >= 0)
		{
			key.byval = true;
			key.ival = rows[i].ikey;
		}
		else
		{
			key.data = rows[i].bkey;
			key.len = (uint32_t) strlen(rows[i].bkey);
		}
		row.ts = rows[i].ts;
		row.filters = &rows[i].f;
		row.measures = &rows[i].m;
		row.measure_null = &rows[i].mnull;
		row.keys = &key;
		row.groups = NULL;
		ok &= engine_add(st, &row, err, ERRLEN);
		ok &= engine_add(halves[i % 2], &row, err, ERRLEN);
	}
	CHECK(ok, "rows added");

	for (i = 0; i < nops; i++)
	{
		EngineAgg	agg = ops[i].agg;

		engine_values(st, i, out);
		for (b = 0; b < NB; b++)
		{
			int			lo = b - ops[i].window + 1 < 0 ? 0 : b - ops[i].window + 1;
			double		want = brute(rows, NROWS, agg == ENGINE_APPROX_DISTINCT ? ENGINE_COUNT_DISTINCT :
									 agg == ENGINE_APPROX_PERCENTILE ? ENGINE_PERCENTILE : agg,
									 ops[i].filter == 0, lo, b, 0.9);
			bool		good;

			if (isnan(want) || isnan(out[b]))
				good = isnan(want) && isnan(out[b]);
			else if (agg == ENGINE_APPROX_PERCENTILE)
				good = fabs(out[b] - want) <= 0.02 * fabs(want) + 1e-9;
			else
				good = fabs(out[b] - want) <= 1e-9 * (fabs(want) + 1);
			if (!good)
			{
				printf("# op %d agg %d window %d bucket %d: got %.17g want %.17g\n",
					   i, (int) agg, ops[i].window, b, out[b], want);
				ok = false;
			}
		}
	}
	CHECK(ok, "rolling values equal brute force over buckets b-k+1..b (every aggregation, k = 1, 3, 7)");

	/* a window over the empty buckets 20..22 with k = 3: bucket 22 is a gap */
	engine_values(st, 2 * naggs, out);	/* count, filtered, k = 7 */
	engine_values(st, naggs, out2);	/* count, filtered, k = 3 */
	CHECK(isnan(out2[22]) && !isnan(out2[23]) && !isnan(out[22]),
		  "a window with no row is a gap; a longer one reaching rows is not");

	ok = engine_merge(halves[0], halves[1], err, ERRLEN);
	for (i = 0; i < nops && ok; i++)
	{
		engine_values(st, i, out);
		engine_values(halves[0], i, out2);
		for (b = 0; b < NB; b++)
			if (!((isnan(out[b]) && isnan(out2[b])) ||
				  fabs(out[b] - out2[b]) <= 1e-9 * (fabs(out[b]) + 1)))
				ok_merge = false;
	}
	CHECK(ok && ok_merge, "rolling values of merged halves equal one scan");

	{
		char	   *buf;
		size_t		len;
		EngineState *back;

		engine_serialize(st, &buf, &len);
		back = engine_deserialize(&spec, buf, len, err, ERRLEN);
		CHECK(back != NULL, "state with windows deserializes");
		for (i = 0; back != NULL && i < nops; i++)
		{
			engine_values(st, i, out);
			engine_values(back, i, out2);
			for (b = 0; b < NB; b++)
				if (!((isnan(out[b]) && isnan(out2[b])) || out[b] == out2[b]))
					ok_image = false;
		}
		CHECK(ok_image, "rolling values survive serialization");
		if (back)
			engine_free(back);
		core_free(buf);
	}

	/*
	 * Bucket states kept between passes: a state that saw only the rows of
	 * buckets SPLIT.. and loaded every operand's image of buckets 0..SPLIT-1
	 * gives the same values to the last bit; images merged into buckets that
	 * have rows (the odd rows' state, the even rows' images) too.
	 */
	{
		EngineState *inc = engine_create(&spec, err, ERRLEN);
		EngineState *odd = engine_create(&spec, err, ERRLEN);
		EngineState *even = engine_create(&spec, err, ERRLEN);
		bool		ok_load = inc != NULL && odd != NULL && even != NULL;
		bool		ok_same = true;
		char	   *buf;
		size_t		len;
		int			split = 25;

		for (i = 0; ok_load && i < NROWS; i++)
		{
			EngineRow	row;
			EngineValue key;

			memset(&key, 0, sizeof(key));
			if (rows[i].ikey >= 0)
			{
				key.byval = true;
				key.ival = rows[i].ikey;
			}
			else
			{
				key.data = rows[i].bkey;
				key.len = (uint32_t) strlen(rows[i].bkey);
			}
			row.ts = rows[i].ts;
			row.filters = &rows[i].f;
			row.measures = &rows[i].m;
			row.measure_null = &rows[i].mnull;
			row.keys = &key;
			row.groups = NULL;
			if (rows[i].ts / WIDTH >= split)
				ok_load &= engine_add(inc, &row, err, ERRLEN);
			ok_load &= engine_add(i % 2 ? odd : even, &row, err, ERRLEN);
		}
		for (i = 0; ok_load && i < nops; i++)
			for (b = 0; b < NB; b++)
			{
				if (b < split)
				{
					engine_bucket_image(st, i, b, &buf, &len);
					ok_load &= engine_bucket_load(inc, i, b, buf, len, err, ERRLEN);
					core_free(buf);
				}
				engine_bucket_image(even, i, b, &buf, &len);
				ok_load &= engine_bucket_load(odd, i, b, buf, len, err, ERRLEN);
				core_free(buf);
			}
		CHECK(ok_load, "bucket images load");
		for (i = 0; ok_load && i < nops; i++)
		{
			double		out3[NB];

			engine_values(st, i, out);
			engine_values(inc, i, out2);
			engine_values(odd, i, out3);
			for (b = 0; b < NB; b++)
			{
				if (!((isnan(out[b]) && isnan(out2[b])) || memcmp(&out[b], &out2[b], sizeof(double)) == 0))
					ok_same = false;
				if (!((isnan(out[b]) && isnan(out3[b])) || fabs(out[b] - out3[b]) <= 1e-9 * (fabs(out[b]) + 1)))
					ok_same = false;
			}
		}
		CHECK(ok_same, "rolling values from stored bucket states equal one scan (bit for bit; merged: within 1e-9)");

		/* a foreign, truncated or other-aggregation image is refused */
		engine_bucket_image(st, 0, 3, &buf, &len);
		CHECK(!engine_bucket_load(inc, 0, 3, buf, len - 1, err, ERRLEN) && strstr(err, "corrupt") != NULL,
			  "a truncated bucket image is refused");
		CHECK(!engine_bucket_load(inc, 1, 3, buf, len, err, ERRLEN) && strstr(err, "another aggregation") != NULL,
			  "an image of another aggregation is refused");
		CHECK(!engine_bucket_load(inc, 0, 3, "garbage", 7, err, ERRLEN) && strstr(err, "engine version") != NULL,
			  "a foreign image is refused");
		CHECK(!engine_bucket_load(inc, 0, NB, buf, len, err, ERRLEN), "a bucket outside the grid is refused");
		core_free(buf);
		engine_free(inc);
		engine_free(odd);
		engine_free(even);
	}

	/*
	 * Rolling breakdowns: per rolling operand one breakdown keeping every
	 * value and one keeping "a" and "b" (the rest, NULL included, folds
	 * into 'Other'), and a ratio of rolling sum / rolling count.  Value "d"
	 * has rows in buckets 10..11 and 30 only: it appears and disappears
	 * within windows.  Rows start at bucket window - 1.
	 */
	{
		EngineBreakdown bds[64];
		const char *preset[2] = {"a", "b"};
		uint32_t	preset_len[2] = {1, 1};
		int			nbd = 0;
		EngineSpec	bspec = spec;
		EngineState *bst;
		bool		ok_rows = true;
		bool		ok_count = true;
		bool		seen_d = false;
		uint64_t	gseed = 7;

		for (i = 0; i < NROWS; i++)
		{
			int			bk = (int) (rows[i].ts / WIDTH);
			int			g = (int) (next_rand(&gseed) % 5) - 1;

			if (g == 3 && !(bk == 10 || bk == 11 || bk == 30))
				g = 2;
			rows[i].grp = g;
		}
		memset(bds, 0, sizeof(bds));
		for (i = naggs; i < nops; i++)
		{
			bds[nbd].group = 0;
			bds[nbd].nops = 1;
			bds[nbd].ops[0] = i;
			nbd++;
			bds[nbd] = bds[nbd - 1];
			bds[nbd].use_preset = true;
			bds[nbd].npreset = 2;
			bds[nbd].preset = preset;
			bds[nbd].preset_len = preset_len;
			nbd++;
		}
		/* the ratio: sum (unfiltered) / count (filtered), both k = 7 */
		bds[nbd].group = 0;
		bds[nbd].nops = 2;
		bds[nbd].ops[0] = 2 * naggs + 1;
		bds[nbd].ops[1] = 2 * naggs;
		nbd++;
		bspec.ngroups = 1;
		bspec.nbreakdowns = nbd;
		bspec.breakdowns = bds;
		bst = engine_create(&bspec, err, ERRLEN);
		CHECK(bst != NULL, "rolling breakdowns accepted");
		for (i = 0; bst != NULL && i < NROWS; i++)
		{
			EngineRow	row;
			EngineValue key;
			EngineValue grp;

			memset(&key, 0, sizeof(key));
			memset(&grp, 0, sizeof(grp));
			if (rows[i].ikey >= 0)
			{
				key.byval = true;
				key.ival = rows[i].ikey;
			}
			else
			{
				key.data = rows[i].bkey;
				key.len = (uint32_t) strlen(rows[i].bkey);
			}
			if (rows[i].grp < 0)
				grp.isnull = true;
			else
			{
				grp.data = grp_names[rows[i].grp];
				grp.len = 1;
			}
			row.ts = rows[i].ts;
			row.filters = &rows[i].f;
			row.measures = &rows[i].m;
			row.measure_null = &rows[i].mnull;
			row.keys = &key;
			row.groups = &grp;
			ok_rows &= engine_add(bst, &row, err, ERRLEN);
		}
		CHECK(ok_rows, "rows with breakdown values added");
		for (i = 0; bst != NULL && i < nbd; i++)
		{
			EngineBreakdownRow *br = NULL;
			int			nr = engine_breakdown_rows(bst, i, &br, err, ERRLEN);
			const EngineOperand *o = &ops[bds[i].ops[0]];
			EngineAgg	agg = o->agg == ENGINE_APPROX_DISTINCT ? ENGINE_COUNT_DISTINCT :
				o->agg == ENGINE_APPROX_PERCENTILE ? ENGINE_PERCENTILE : o->agg;
			int			k = o->window;
			int			want_rows = 0;
			int			r;
			int			g;

			if (nr < 0)
			{
				printf("# breakdown %d: %s\n", i, err);
				ok_count = false;
				continue;
			}
			/* every expected row is there with its value */
			for (b = 0; b < NB; b++)
				for (g = -2; g < 4; g++)
				{
					double		want;

					if (bds[i].use_preset ? (g != -2 && g != 0 && g != 1) : g == -2)
						continue;
					want = brute_group(rows, NROWS, g, agg, o->filter == 0, b - k + 1 < 0 ? 0 : b - k + 1, b);
					if (bds[i].nops == 2)
					{
						double		den = brute_group(rows, NROWS, g, ENGINE_COUNT, true,
													  b - k + 1 < 0 ? 0 : b - k + 1, b);

						want = isnan(want) || isnan(den) ? NAN : want / den;
					}
					if (b < k - 1 || isnan(want))
						continue;
					want_rows++;
					seen_d |= (g == 3 && b == 30 + k - 1 && k > 1);
					for (r = 0; r < nr; r++)
						if (br[r].bucket == b &&
							(g == -2 ? br[r].is_other :
							 g == -1 ? br[r].value_null && !br[r].is_other :
							 (!br[r].value_null && !br[r].is_other &&
							  br[r].value_len == 1 && br[r].value[0] == grp_names[g][0])))
							break;
					if (r == nr || !close_enough(o->agg, br[r].v, want))
					{
						printf("# breakdown %d (op %d agg %d k %d) value %d bucket %d: got %.17g want %.17g\n",
							   i, bds[i].ops[0], (int) agg, k, g, b, r == nr ? NAN : br[r].v, want);
						ok_count = false;
					}
				}
			if (nr != want_rows)
			{
				printf("# breakdown %d: %d rows, want %d\n", i, nr, want_rows);
				ok_count = false;
			}
			core_free(br);
		}
		CHECK(ok_count && seen_d,
			  "rolling breakdown rows equal brute force per value over b-k+1..b (every aggregation, 'Other', NULL, a ratio; gaps not stored)");

		/*
		 * Breakdown cells kept between passes: a state that saw only the
		 * rows of buckets SPLIT.. and loaded the breakdowns' images of
		 * buckets 0..SPLIT-1 (those without 'Other') gives the same rows,
		 * bit for bit
		 */
		{
			EngineState *inc = engine_create(&bspec, err, ERRLEN);
			bool		ok_load = inc != NULL;
			bool		ok_same = true;
			int			split = 25;
			char	   *buf;
			size_t		len;

			for (i = 0; ok_load && i < NROWS; i++)
			{
				EngineRow	row;
				EngineValue key;
				EngineValue grp;

				if (rows[i].ts / WIDTH < split)
					continue;
				memset(&key, 0, sizeof(key));
				memset(&grp, 0, sizeof(grp));
				if (rows[i].ikey >= 0)
				{
					key.byval = true;
					key.ival = rows[i].ikey;
				}
				else
				{
					key.data = rows[i].bkey;
					key.len = (uint32_t) strlen(rows[i].bkey);
				}
				if (rows[i].grp < 0)
					grp.isnull = true;
				else
				{
					grp.data = grp_names[rows[i].grp];
					grp.len = 1;
				}
				row.ts = rows[i].ts;
				row.filters = &rows[i].f;
				row.measures = &rows[i].m;
				row.measure_null = &rows[i].mnull;
				row.keys = &key;
				row.groups = &grp;
				ok_load &= engine_add(inc, &row, err, ERRLEN);
			}
			for (i = 0; ok_load && i < nbd; i++)
			{
				if (bds[i].use_preset)
					continue;
				for (b = 0; b < split; b++)
				{
					engine_bucket_breakdown_image(bst, i, b, &buf, &len);
					ok_load &= engine_bucket_breakdown_load(inc, i, b, buf, len, err, ERRLEN);
					core_free(buf);
				}
			}
			CHECK(ok_load, "breakdown bucket images load");
			for (i = 0; ok_load && i < nbd; i++)
			{
				EngineBreakdownRow *r1 = NULL;
				EngineBreakdownRow *r2 = NULL;
				int			n1;
				int			n2;
				int			r;

				if (bds[i].use_preset)
					continue;
				n1 = engine_breakdown_rows(bst, i, &r1, err, ERRLEN);
				n2 = engine_breakdown_rows(inc, i, &r2, err, ERRLEN);
				if (n1 != n2 || n1 < 0)
					ok_same = false;
				for (r = 0; ok_same && r < n1; r++)
					if (r1[r].bucket != r2[r].bucket || r1[r].value_null != r2[r].value_null ||
						r1[r].value_len != r2[r].value_len ||
						(r1[r].value_len > 0 && memcmp(r1[r].value, r2[r].value, r1[r].value_len) != 0) ||
						memcmp(&r1[r].v, &r2[r].v, sizeof(double)) != 0)
					{
						printf("# breakdown %d row %d differs: %.17g %.17g\n", i, r, r1[r].v, r2[r].v);
						ok_same = false;
					}
				core_free(r1);
				core_free(r2);
			}
			CHECK(ok_same, "rolling breakdown rows from stored bucket cells equal one scan (bit for bit)");

			engine_bucket_breakdown_image(bst, 0, 3, &buf, &len);
			CHECK(!engine_bucket_breakdown_load(inc, 0, 3, buf, len - 1, err, ERRLEN) &&
				  strstr(err, "corrupt") != NULL, "a truncated breakdown image is refused");
			CHECK(!engine_bucket_breakdown_load(inc, 2, 3, buf, len, err, ERRLEN) &&
				  strstr(err, "another aggregation") != NULL, "a breakdown image of another aggregation is refused");
			CHECK(!engine_bucket_breakdown_load(inc, 0, NB, buf, len, err, ERRLEN),
				  "a breakdown image outside the grid is refused");
			core_free(buf);
			engine_bucket_image(bst, 0, 3, &buf, &len);
			CHECK(!engine_bucket_breakdown_load(inc, 0, 3, buf, len, err, ERRLEN) &&
				  strstr(err, "another breakdown") != NULL, "an operand image is no breakdown image");
			core_free(buf);
			if (inc)
				engine_free(inc);
		}

		/* the row limit counts the rows emitted */
		engine_free(bst);
		bspec.max_rows = 50;
		bst = engine_create(&bspec, err, ERRLEN);
		for (i = 0; bst != NULL && i < NROWS; i++)
		{
			EngineRow	row;
			EngineValue key;
			EngineValue grp;

			memset(&key, 0, sizeof(key));
			memset(&grp, 0, sizeof(grp));
			key.byval = true;
			key.ival = 1;
			grp.data = grp_names[rows[i].grp < 0 ? 0 : rows[i].grp];
			grp.len = 1;
			row.ts = rows[i].ts;
			row.filters = &rows[i].f;
			row.measures = &rows[i].m;
			row.measure_null = &rows[i].mnull;
			row.keys = &key;
			row.groups = &grp;
			(void) engine_add(bst, &row, err, ERRLEN);
		}
		{
			EngineBreakdownRow *br = NULL;

			CHECK(bst != NULL && engine_breakdown_rows(bst, 2 * naggs - 2, &br, err, ERRLEN) < 0 &&
				  strstr(err, "row limit") != NULL, "a rolling breakdown past the row limit is refused");
		}
		if (bst)
			engine_free(bst);
	}

	ops[0].window = -1;
	CHECK(engine_create(&spec, err, ERRLEN) == NULL && strstr(err, "window") != NULL,
		  "negative window refused");
	ops[0].window = 1;

	engine_free(st);
	engine_free(halves[0]);
	engine_free(halves[1]);
	free(rows);
	return unit_done();
}

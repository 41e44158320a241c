/*
 * engine_ship_test.c
 *	  Unit tests for shipping partial states with disjoint distinct counts
 *	  (engine_ship): rows split into "shards" by their key, each shard's
 *	  state shipped and read back, the images merged.  Distinct counts of
 *	  the disjoint key (main values, a breakdown keeping every value) must
 *	  equal brute-force counts; a breakdown folding values into 'Other'
 *	  (whose sets are united: the same key under two folded values counts
 *	  once) and a distinct count of another key must be exact too; the
 *	  shipped image carries no sets for the disjoint operand; a state that
 *	  is serialized (not shipped) and merged with another holding the same
 *	  keys stays exact.
 */
#include "unit.h"
#include "engine.h"

#define ERRLEN 256
#define NB 4					/* buckets */
#define WIDTH 100
#define NUSERS 300
#define NDEV 17
#define NSHARDS 3
#define NVAL 4

static const char *const vals[NVAL] = {"a", "b", "c", "d"};

/* One row: bucket, user (the disjoint key), device, group value index */
typedef struct Row
{
	int			b;
	int			user;
	int			dev;
	int			g;
} Row;

static EngineOperand
mkop(EngineAgg agg, int key, bool disjoint)
{
	EngineOperand o;

	memset(&o, 0, sizeof(o));
	o.agg = agg;
	o.filter = -1;
	o.measure = -1;
	o.key = key;
	o.disjoint = disjoint;
	return o;
}

static void
add(EngineState *st, const Row *r)
{
	EngineValue k[2];
	EngineValue g[2];
	EngineRow	row;
	char		dev[16];
	char		err[ERRLEN];

	memset(k, 0, sizeof(k));
	memset(g, 0, sizeof(g));
	k[0].byval = true;
	k[0].ival = r->user;
	snprintf(dev, sizeof(dev), "device-%d", r->dev);
	k[1].data = dev;
	k[1].len = (uint32_t) strlen(dev);
	g[0].data = g[1].data = vals[r->g];
	g[0].len = g[1].len = 1;
	memset(&row, 0, sizeof(row));
	row.ts = (int64_t) r->b * WIDTH + 1;
	row.keys = k;
	row.groups = g;
	if (!engine_add(st, &row, err, sizeof(err)))
	{
		printf("# engine_add: %s\n", err);
		abort();
	}
}

/* Brute force: distinct users of bucket b with a group value in mask (bit per value) */
static int
brute_users(const Row *rows, int n, int b, unsigned mask)
{
	bool		seen[NUSERS];
	int			c = 0;
	int			i;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++)
		if (rows[i].b == b && (mask & (1u << rows[i].g)) && !seen[rows[i].user])
		{
			seen[rows[i].user] = true;
			c++;
		}
	return c;
}

/* Same breakdown rows (bucket, value, composed value) in two states */
static bool
same_rows(const EngineState *a, const EngineState *b, int bd)
{
	EngineBreakdownRow *ra;
	EngineBreakdownRow *rb;
	char		err[ERRLEN];
	int			na = engine_breakdown_rows(a, bd, &ra, err, sizeof(err));
	int			nb = engine_breakdown_rows(b, bd, &rb, err, sizeof(err));
	bool		ok = na == nb && na > 0;
	int			i;

	for (i = 0; ok && i < na; i++)
		ok = ra[i].bucket == rb[i].bucket && ra[i].is_other == rb[i].is_other &&
			ra[i].value_len == rb[i].value_len &&
			(ra[i].is_other || memcmp(ra[i].value, rb[i].value, ra[i].value_len) == 0) &&
			ra[i].v == rb[i].v;
	core_free(ra);
	core_free(rb);
	return ok;
}

/*
 * The compact encoding keeps every accumulator bit for bit: sums, minima,
 * maxima of awkward doubles (NaN, -0.0, infinities, subnormals, 1e308),
 * percentile buffers, sketches, distinct counts of extreme integer keys.
 */
static void
test_compact_values(void)
{
	static const double xs[] = {0.0, -0.0, 1.5, -2.25, 1e308, -1e308, 4.9e-324, 0.1, 123456.789, 40.0};
	static const int64_t ks[] = {0, 1, -1, INT64_MIN, INT64_MAX, 1000, 1001, 50000, -50000};
	EngineOperand ops[8];
	EngineSpec	spec;
	EngineState *st;
	EngineState *back;
	char		err[ERRLEN];
	char	   *img;
	char	   *full;
	size_t		len;
	size_t		flen;
	size_t		cut;
	int			i;
	int			o;
	bool		ok = true;

	memset(ops, 0, sizeof(ops));
	for (o = 0; o < 8; o++)
	{
		ops[o].filter = -1;
		ops[o].measure = 0;
		ops[o].key = -1;
	}
	ops[0].agg = ENGINE_SUM;
	ops[1].agg = ENGINE_MIN;
	ops[2].agg = ENGINE_MAX;
	ops[3].agg = ENGINE_PERCENTILE;
	ops[3].percentile = 0.5;
	ops[4].agg = ENGINE_APPROX_PERCENTILE;
	ops[4].percentile = 0.9;
	ops[5].agg = ENGINE_APPROX_DISTINCT;
	ops[5].measure = -1;
	ops[5].key = 0;
	ops[6].agg = ENGINE_COUNT_DISTINCT;
	ops[6].measure = -1;
	ops[6].key = 0;
	ops[7].agg = ENGINE_APPROX_DISTINCT;	/* 40 text values in every bucket */
	ops[7].measure = -1;
	ops[7].key = 1;
	memset(&spec, 0, sizeof(spec));
	spec.width = WIDTH;
	spec.nbuckets = 50;
	spec.nmeasures = 1;
	spec.nkeys = 2;
	spec.nops = 8;
	spec.ops = ops;
	st = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < 3000; i++)
	{
		EngineValue k[2];
		EngineRow	row;
		double		m = i % 7 == 3 ? NAN : (i % 11 == 0 ? INFINITY : xs[i % 10] * (1 + i % 3));
		bool		mnull = i % 13 == 0;
		char		dev[16];

		memset(k, 0, sizeof(k));
		k[0].byval = true;
		k[0].ival = i < 200 ? ks[i % 9] : (int64_t) i * 7919;
		snprintf(dev, sizeof(dev), "dev-%d", (i / 20) % 40);
		k[1].data = dev;
		k[1].len = (uint32_t) strlen(dev);
		memset(&row, 0, sizeof(row));
		/* buckets 0, 2, 4, ... and 49: gaps between the non-empty ones */
		row.ts = (int64_t) (i % 3 == 0 ? 49 : 2 * (i % 20)) * WIDTH + i % WIDTH;
		row.measures = &m;
		row.measure_null = &mnull;
		row.keys = k;
		if (!engine_add(st, &row, err, sizeof(err)))
			ok = false;
	}
	engine_ship(st, &img, &len);
	engine_serialize(st, &full, &flen);
	printf("# shipped %zu bytes, serialized %zu bytes\n", len, flen);
	back = engine_deserialize(&spec, img, len, err, sizeof(err));
	ok = ok && back != NULL;
	for (o = 0; ok && o < 8; o++)
	{
		double		a[50];
		double		b[50];

		engine_values(st, o, a);
		engine_values(back, o, b);
		ok = memcmp(a, b, sizeof(a)) == 0;
	}
	CHECK(ok, "compact image: sums, min, max, percentiles, sketches and distinct counts read back bit for bit");
	if (back != NULL)
		engine_free(back);
	core_free(full);
	core_free(img);
	engine_free(st);

	/* the text sketch alone: 40 values' hashes in each of 21 buckets */
	spec.nops = 1;
	spec.ops = &ops[7];
	st = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < 3000; i++)
	{
		EngineValue k[2];
		EngineRow	row;
		char		dev[16];

		memset(k, 0, sizeof(k));
		k[0].byval = true;
		snprintf(dev, sizeof(dev), "dev-%d", (i / 20) % 40);
		k[1].data = dev;
		k[1].len = (uint32_t) strlen(dev);
		memset(&row, 0, sizeof(row));
		row.ts = (int64_t) (i % 3 == 0 ? 49 : 2 * (i % 20)) * WIDTH + i % WIDTH;
		row.keys = k;
		(void) engine_add(st, &row, err, sizeof(err));
	}
	engine_ship(st, &img, &len);
	engine_serialize(st, &full, &flen);
	printf("# text sketches: shipped %zu bytes, serialized %zu bytes\n", len, flen);
	CHECK(len * 4 < flen, "compact image: recurring sketch hashes are written once, then as ids (a quarter of the bytes)");
	back = engine_deserialize(&spec, img, len, err, sizeof(err));
	{
		double		a[50];
		double		b[50];

		engine_values(st, 0, a);
		if (back != NULL)
			engine_values(back, 0, b);
		CHECK(back != NULL && memcmp(a, b, sizeof(a)) == 0, "... and read back to the same counts");
	}
	if (back != NULL)
		engine_free(back);
	ok = true;
	for (cut = 0; ok && cut < len; cut++)
	{
		EngineState *t = engine_deserialize(&spec, img, cut, err, sizeof(err));

		ok = t == NULL;
		if (t != NULL)
			engine_free(t);
	}
	CHECK(ok, "... every cut of it is refused");
	core_free(full);
	core_free(img);
	engine_free(st);
}

int
main(void)
{
	EngineOperand ops[3];
	EngineBreakdown bds[2];
	EngineSpec	spec;
	Row			rows[4000];
	int			n = 0;
	uint64_t	seed = 7;
	EngineState *one;
	EngineState *shard[NSHARDS];
	EngineState *coord;
	EngineState *plain_ops;
	char		err[ERRLEN];
	size_t		shipped_len = 0;
	size_t		serial_len = 0;
	int			i;
	int			s;
	int			b;
	bool		ok;

	ops[0] = mkop(ENGINE_COUNT_DISTINCT, 0, true);	/* users: disjoint */
	ops[1] = mkop(ENGINE_COUNT_DISTINCT, 1, false); /* devices: shared */
	ops[2] = mkop(ENGINE_COUNT, -1, false);
	memset(bds, 0, sizeof(bds));
	bds[0].group = 0;			/* every value */
	bds[0].nops = 1;
	bds[0].ops[0] = 0;
	bds[1].group = 1;			/* keep 1: one value plus 'Other' */
	bds[1].nops = 1;
	bds[1].ops[0] = 0;
	bds[1].keep = 1;
	memset(&spec, 0, sizeof(spec));
	spec.width = WIDTH;
	spec.nbuckets = NB;
	spec.nkeys = 2;
	spec.ngroups = 2;
	spec.nops = 3;
	spec.ops = ops;
	spec.nbreakdowns = 2;
	spec.breakdowns = bds;

	/* users appear under several group values in one bucket; value 'a' most often */
	for (i = 0; i < 4000; i++)
	{
		uint64_t	r = unit_rand(&seed);

		rows[n].b = (int) (r % NB);
		rows[n].user = (int) ((r >> 8) % NUSERS);
		rows[n].dev = (int) ((r >> 20) % NDEV);
		rows[n].g = ((r >> 32) % 10) < 4 ? 0 : 1 + (int) ((r >> 40) % (NVAL - 1));
		n++;
	}

	one = engine_create(&spec, err, sizeof(err));
	coord = engine_create(&spec, err, sizeof(err));
	CHECK(one != NULL && coord != NULL, "a spec with a disjoint distinct count is accepted");
	for (s = 0; s < NSHARDS; s++)
		shard[s] = engine_create(&spec, err, sizeof(err));
	for (i = 0; i < n; i++)
	{
		add(one, &rows[i]);
		add(shard[rows[i].user % NSHARDS], &rows[i]);
	}

	/* each shard ships its state; the coordinator reads and merges them */
	ok = true;
	for (s = 0; s < NSHARDS; s++)
	{
		char	   *img;
		char	   *full;
		size_t		len;
		size_t		flen;
		EngineState *back;

		engine_ship(shard[s], &img, &len);
		engine_serialize(shard[s], &full, &flen);
		shipped_len += len;
		serial_len += flen;
		back = engine_deserialize(&spec, img, len, err, sizeof(err));
		ok = ok && back != NULL && engine_merge(coord, back, err, sizeof(err));
		if (back != NULL)
			engine_free(back);
		core_free(img);
		core_free(full);
	}
	CHECK(ok, "shipped states read back and merge");
	/* 300 users in 4 buckets: at least 8 bytes per user and bucket less */
	CHECK(shipped_len + 8 * 250 * NB < serial_len, "the shipped images carry no sets of users");

	/* main values against brute force */
	{
		double		v0[NB];
		double		v1[NB];
		double		o1[NB];

		engine_values(coord, 0, v0);
		engine_values(coord, 1, v1);
		engine_values(one, 1, o1);
		ok = true;
		for (b = 0; b < NB; b++)
			ok = ok && v0[b] == (double) brute_users(rows, n, b, (1u << NVAL) - 1);
		CHECK(ok, "distinct users per bucket: the shards' counts added equal the brute-force count");
		CHECK(memcmp(v1, o1, sizeof(v1)) == 0, "distinct devices (not disjoint) united from sets: exact");
	}

	/* the breakdown keeping every value: per (bucket, value) brute force */
	{
		EngineBreakdownRow *r;
		int			nr = engine_breakdown_rows(coord, 0, &r, err, sizeof(err));

		ok = nr == NB * NVAL;
		for (i = 0; ok && i < nr; i++)
			ok = !r[i].is_other && r[i].value_len == 1 &&
				r[i].v == (double) brute_users(rows, n, r[i].bucket, 1u << (r[i].value[0] - 'a'));
		CHECK(ok, "breakdown without folding: per-value counts added equal brute force");
		core_free(r);
	}

	/* the folding breakdown: 'Other' unites the sets of b, c, d */
	{
		EngineBreakdownRow *r;
		int			nr = engine_breakdown_rows(coord, 1, &r, err, sizeof(err));
		int			nother = 0;
		bool		overlap = false;

		ok = nr == NB * 2;
		for (i = 0; ok && i < nr; i++)
		{
			unsigned	mask = r[i].is_other ? 0xEu : 1u;
			int			sum = 0;
			int			k;

			if (r[i].is_other)
			{
				nother++;
				for (k = 1; k < NVAL; k++)
					sum += brute_users(rows, n, r[i].bucket, 1u << k);
				overlap = overlap || sum > brute_users(rows, n, r[i].bucket, mask);
			}
			else
				ok = r[i].value_len == 1 && r[i].value[0] == 'a';
			ok = ok && r[i].v == (double) brute_users(rows, n, r[i].bucket, mask);
		}
		CHECK(ok && nother == NB, "breakdown folding into 'Other': exact (sets shipped, united)");
		CHECK(overlap, "... where adding the folded values' counts would have been wrong");
		core_free(r);
		CHECK(same_rows(coord, one, 1) && same_rows(coord, one, 0), "merged breakdowns equal one state's");
	}

	/*
	 * Serialized (not shipped) states of rows split otherwise (two halves of
	 * one shard, the same users in both) merge exactly: sets are kept.
	 */
	{
		EngineState *h[2];
		EngineState *m = engine_create(&spec, err, sizeof(err));
		double		v[NB];
		double		o[NB];

		for (s = 0; s < 2; s++)
			h[s] = engine_create(&spec, err, sizeof(err));
		for (i = 0; i < n; i++)
			add(h[i % 2], &rows[i]);
		ok = true;
		for (s = 0; s < 2; s++)
		{
			char	   *img;
			size_t		len;
			EngineState *back;

			engine_serialize(h[s], &img, &len);
			back = engine_deserialize(&spec, img, len, err, sizeof(err));
			ok = ok && back != NULL && engine_merge(m, back, err, sizeof(err));
			if (back != NULL)
				engine_free(back);
			core_free(img);
			engine_free(h[s]);
		}
		engine_values(m, 0, v);
		engine_values(one, 0, o);
		CHECK(ok && memcmp(v, o, sizeof(v)) == 0, "serialized halves sharing users merge exactly");
		engine_free(m);
	}

	/*
	 * Without a disjoint operand, a shipped image holds the same state as a
	 * serialized one, in the compact encoding: smaller, read back to the
	 * same values and rows; every cut of it is refused.
	 */
	{
		char	   *a;
		char	   *c;
		size_t		la;
		size_t		lc;
		EngineState *ba;
		EngineState *bc;
		size_t		cut;

		ops[0].disjoint = false;
		plain_ops = engine_create(&spec, err, sizeof(err));
		for (i = 0; i < n; i++)
			add(plain_ops, &rows[i]);
		engine_ship(plain_ops, &a, &la);
		engine_serialize(plain_ops, &c, &lc);
		printf("# shipped %zu bytes, serialized %zu bytes\n", la, lc);
		CHECK(la * 3 < lc, "no disjoint operand: the shipped image is less than a third of the serialized one");
		ba = engine_deserialize(&spec, a, la, err, sizeof(err));
		bc = engine_deserialize(&spec, c, lc, err, sizeof(err));
		ok = ba != NULL && bc != NULL;
		for (i = 0; ok && i < 3; i++)
		{
			double		va[NB];
			double		vc[NB];

			engine_values(ba, i, va);
			engine_values(bc, i, vc);
			ok = memcmp(va, vc, sizeof(va)) == 0;
		}
		CHECK(ok && same_rows(ba, bc, 0) && same_rows(ba, bc, 1) && same_rows(ba, plain_ops, 1),
			  "... and reads back to the same values and breakdown rows");
		if (ba != NULL)
			engine_free(ba);
		if (bc != NULL)
			engine_free(bc);
		ok = true;
		for (cut = 0; ok && cut < la; cut++)
		{
			EngineState *t = engine_deserialize(&spec, a, cut, err, sizeof(err));

			ok = t == NULL;
			if (t != NULL)
				engine_free(t);
		}
		CHECK(ok, "... every cut of it is refused");
		core_free(a);
		core_free(c);
		engine_free(plain_ops);
	}

	/* a shipped image read against a spec without the disjoint mark is refused */
	{
		char	   *img;
		size_t		len;
		EngineState *back;

		engine_ship(shard[0], &img, &len);
		back = engine_deserialize(&spec, img, len, err, sizeof(err));
		CHECK(back == NULL, "a shipped image of another spec (disjoint mark differs) is refused");
		if (back != NULL)
			engine_free(back);
		core_free(img);
	}

	for (s = 0; s < NSHARDS; s++)
		engine_free(shard[s]);
	engine_free(one);
	engine_free(coord);
	test_compact_values();
	return unit_done();
}

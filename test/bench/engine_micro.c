/*-------------------------------------------------------------------------
 *
 * engine_micro.c
 *	  Micro-benchmark of the aggregation engine's pure core.
 *
 *	  Generates seeded synthetic rows, time-ordered, about 1 300 per bucket,
 *	  and times engine_add only (row generation happens outside the timed
 *	  loops, in blocks of 16 Ki rows).  The 8 operands: count, count f0,
 *	  sum(m0) f0, avg(m0), min(m0), max(m0), count_distinct(k0) on an int64
 *	  key drawn from 10 million users (so about 1 300 distinct keys per
 *	  bucket), sum(m1) f1.  Cases:
 *
 *	    main         the 8 operands per bucket
 *	    breakdown    plus a 4-value text column ("web", "ios", "android",
 *	                 "api") with two outputs: count (keep 0) and the ratio
 *	                 count f0 / count (keep 3)
 *	    bytekeys     main, with the distinct key as text ("u<n>")
 *	    grid100k     100 000 buckets x 8 operands without count_distinct
 *	                 (sum(m1) instead), 100 rows per bucket
 *	    exact        count_distinct alone of an int64 key drawn from 50 000
 *	                 users, about 33 000 rows per bucket (the bench's daily
 *	                 users: about 24 000 distinct a bucket)
 *	    approx       the same with approx_count_distinct
 *	    exact1k, approx1k  the same two with about 1 300 rows and 1 200
 *	                 distinct keys per bucket (a sketch's exact mode ends
 *	                 at 1 024 values)
 *
 *	  Prints CPU ns/row (thread CPU time, so other load on the machine
 *	  counts less) for a cold run and for warm runs (see bench()),
 *	  engine_memory(), and the time of producing every result (all
 *	  engine_values and engine_breakdown_rows calls).  Standalone: build
 *	  with
 *	    gcc -std=gnu99 -O2 -Isrc/core test/bench/engine_micro.c src/core/engine.c \
 *	        src/core/engine_image.c src/core/engine_result.c src/core/compose.c src/core/ddsketch.c \
 *	        src/core/hll.c src/core/order.c src/core/core.c \
 *	        -lm -o /tmp/engine_micro
 *	  Optional arguments: millions of rows per run (default 20), and the
 *	  name of a single case to run.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "engine.h"

#define BLOCK		16384
#define MINUTE		INT64_C(60000000)

/* core_alloc/core_free on top of calloc/free */
void *
core_alloc(size_t size)
{
	void	   *p = calloc(1, size ? size : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

/* Free core_alloc'ed memory */
void
core_free(void *ptr)
{
	free(ptr);
}

/* A block of generated rows */
typedef struct Block
{
	EngineRow	rows[BLOCK];
	int64_t		ts[BLOCK];
	bool		f[BLOCK][2];
	double		m[BLOCK][2];
	bool		mn[BLOCK][2];
	EngineValue k[BLOCK][1];
	EngineValue g[BLOCK][1];
	char		kbuf[BLOCK][16];
} Block;

static const char *const platforms[] = {"web", "ios", "android", "api"};

/* keys are drawn from 1 .. key_range */
static uint64_t key_range = 10000000;

/* xorshift64* */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* CPU time of this thread in seconds (robust on a busy machine) */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Fill a block with rows first .. first + n - 1 */
static void
gen_block(Block *b, int64_t first, int n, int64_t step, bool byte_keys, uint64_t *seed)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		uint64_t	x = rnd(seed);
		uint64_t	u = 1 + rnd(seed) % key_range;
		EngineRow  *r = &b->rows[i];

		b->ts[i] = (first + i) * step;
		b->f[i][0] = (x & 1023) < 307;	/* 30% */
		b->f[i][1] = ((x >> 10) & 1) != 0;	/* 50% */
		b->m[i][0] = (double) ((x >> 11) % 100000) / 100.0;
		b->m[i][1] = (double) ((x >> 28) % 1000);
		b->mn[i][0] = ((x >> 40) % 20) == 0;	/* 5% NULL */
		b->mn[i][1] = false;
		memset(&b->k[i][0], 0, sizeof(EngineValue));
		if (byte_keys)
		{
			int			len = snprintf(b->kbuf[i], sizeof(b->kbuf[i]), "u%llu", (unsigned long long) u);

			b->k[i][0].data = b->kbuf[i];
			b->k[i][0].len = (uint32_t) len;
		}
		else
		{
			b->k[i][0].byval = true;
			b->k[i][0].ival = (int64_t) u;
		}
		memset(&b->g[i][0], 0, sizeof(EngineValue));
		b->g[i][0].data = platforms[(x >> 48) & 3];
		b->g[i][0].len = (uint32_t) strlen(b->g[i][0].data);
		r->ts = b->ts[i];
		r->filters = b->f[i];
		r->measures = b->m[i];
		r->measure_null = b->mn[i];
		r->keys = b->k[i];
		r->groups = b->g[i];
	}
}

/* qsort order of doubles */
static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * Run one case: returns ns/row over the whole run; each block's ns/row is
 * appended to blocks[*nblocks]; *mem gets engine_memory, *fin the time of
 * producing the results.
 */
static double
run_case(const EngineSpec *spec, int64_t nrows, int64_t step, bool byte_keys,
		 size_t *mem, double *fin, Block *blk, double *blocks, int *nblocks)
{
	char		err[256];
	EngineState *st = engine_create(spec, err, sizeof(err));
	uint64_t	seed = 12345;
	int64_t		done = 0;
	double		t = 0;
	double		t0;
	double	   *out;
	int			o;
	int			b;

	if (st == NULL)
	{
		fprintf(stderr, "engine_create: %s\n", err);
		exit(1);
	}
	while (done < nrows)
	{
		int			n = (int) ((nrows - done) < BLOCK ? (nrows - done) : BLOCK);
		int			i;

		gen_block(blk, done, n, step, byte_keys, &seed);
		t0 = now();
		for (i = 0; i < n; i++)
		{
			if (!engine_add(st, &blk->rows[i], err, sizeof(err)))
			{
				fprintf(stderr, "engine_add: %s\n", err);
				exit(1);
			}
		}
		t0 = now() - t0;
		t += t0;
		blocks[(*nblocks)++] = t0 * 1e9 / (double) n;
		done += n;
	}
	*mem = engine_memory(st);

	/* results: every operand's series and every breakdown's rows */
	out = core_alloc(sizeof(double) * (size_t) (spec->nbuckets + 1));
	t0 = now();
	for (o = 0; o < spec->nops; o++)
		engine_values(st, o, out);
	for (b = 0; b < spec->nbreakdowns; b++)
	{
		EngineBreakdownRow *rows;

		if (engine_breakdown_rows(st, b, &rows, err, sizeof(err)) < 0)
		{
			fprintf(stderr, "engine_breakdown_rows: %s\n", err);
			exit(1);
		}
		core_free(rows);
	}
	*fin = now() - t0;
	core_free(out);
	engine_free(st);
	return t * 1e9 / (double) nrows;
}

/*
 * Run a case four times, printed (unless another case was asked for): the
 * first run's ns/row ("cold": memory the process has not used before comes
 * fresh from the kernel, page faults included; for the cases after the
 * first, much of it was used by an earlier case), the best of the three
 * later runs ("warm": the allocator reuses the memory the first run freed),
 * and the median ns/row of the warm runs' blocks of 16 Ki rows (robust
 * against other load on the machine).
 */
static void
bench(const char *name, const char *only, const EngineSpec *spec, int64_t nrows, int64_t step,
	  bool byte_keys, Block *blk)
{
	double		cold = 0;
	double		best = INFINITY;
	double		fin = 0;
	size_t		mem = 0;
	int			maxblocks = (int) ((nrows + BLOCK - 1) / BLOCK);
	double	   *blocks;
	int			nblocks = 0;
	int			i;

	if (only != NULL && strcmp(only, name) != 0)
		return;
	blocks = core_alloc(sizeof(double) * (size_t) (maxblocks * 4 + 1));
	for (i = 0; i < 4; i++)
	{
		double		f;
		int			before = nblocks;
		double		ns = run_case(spec, nrows, step, byte_keys, &mem, &f, blk, blocks, &nblocks);

		if (i == 0)
		{
			cold = ns;
			nblocks = before;	/* the cold run's blocks are not counted */
		}
		else if (ns < best)
		{
			best = ns;
			fin = f;
		}
	}
	qsort(blocks, (size_t) nblocks, sizeof(double), cmp_double);
	printf("%-10s %9lld rows %7d buckets  cold %6.1f  warm %6.1f  median %6.1f ns/row  "
		   "memory %8.2f MB (%6.0f B/bucket)  results %.2f ms\n",
		   name, (long long) nrows, spec->nbuckets, cold, best, blocks[nblocks / 2],
		   (double) mem / 1048576.0,
		   (double) mem / (double) (spec->nbuckets > 0 ? spec->nbuckets : 1), fin * 1e3);
	core_free(blocks);
}

/* Run the cases: [millions of rows] [case] */
int
main(int argc, char **argv)
{
	EngineOperand ops[8];
	EngineBreakdown bds[2];
	EngineSpec	spec;
	int64_t		nrows = 20 * INT64_C(1000000);
	int64_t		step = MINUTE / 1300;	/* ~1 300 rows per 1-minute bucket */
	Block	   *blk = core_alloc(sizeof(Block));
	int			i;
	const char *only = argc > 2 ? argv[2] : NULL;

	if (argc > 1)
		nrows = (int64_t) (atof(argv[1]) * 1e6);
	if (nrows < 1)
		nrows = 1;
#ifdef __GLIBC__
	/* keep freed memory in the process, so that later runs reuse it */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif

	ops[0].agg = ENGINE_COUNT;
	ops[0].filter = -1;
	ops[1].agg = ENGINE_COUNT;
	ops[1].filter = 0;
	ops[2].agg = ENGINE_SUM;
	ops[2].filter = 0;
	ops[3].agg = ENGINE_AVG;
	ops[3].filter = -1;
	ops[4].agg = ENGINE_MIN;
	ops[4].filter = -1;
	ops[5].agg = ENGINE_MAX;
	ops[5].filter = -1;
	ops[6].agg = ENGINE_COUNT_DISTINCT;
	ops[6].filter = -1;
	ops[7].agg = ENGINE_SUM;
	ops[7].filter = 1;
	for (i = 0; i < 8; i++)
	{
		ops[i].measure = 0;
		ops[i].key = -1;
	}
	ops[6].measure = -1;
	ops[6].key = 0;
	ops[7].measure = 1;

	memset(bds, 0, sizeof(bds));
	bds[0].group = 0;
	bds[0].nops = 1;
	bds[0].ops[0] = 0;
	bds[0].keep = 0;
	bds[1].group = 0;
	bds[1].nops = 2;
	bds[1].ops[0] = 1;
	bds[1].ops[1] = 0;
	bds[1].keep = 3;

	memset(&spec, 0, sizeof(spec));
	spec.start = 0;
	spec.width = MINUTE;
	spec.nbuckets = (int) ((nrows * step) / MINUTE + 1);
	spec.nfilters = 2;
	spec.nmeasures = 2;
	spec.nkeys = 1;
	spec.ngroups = 1;
	spec.nops = 8;
	spec.ops = ops;
	spec.max_rows = 1000000;

	printf("engine micro-benchmark: CPU time of engine_add only; seeded synthetic rows\n");
	bench("main", only, &spec, nrows, step, false, blk);
	spec.nbreakdowns = 2;
	spec.breakdowns = bds;
	bench("breakdown", only, &spec, nrows, step, false, blk);
	spec.nbreakdowns = 0;
	bench("bytekeys", only, &spec, nrows, step, true, blk);

	/* 100 000 buckets x 8 operands, no count_distinct */
	ops[6].agg = ENGINE_SUM;
	ops[6].measure = 1;
	ops[6].key = -1;
	spec.nbuckets = 100000;
	spec.nkeys = 0;
	bench("grid100k", only, &spec, 10 * INT64_C(1000000), MINUTE / 100, false, blk);

	/* one distinct count alone: exact set against the sketch */
	ops[0].agg = ENGINE_COUNT_DISTINCT;
	ops[0].filter = -1;
	ops[0].measure = -1;
	ops[0].key = 0;
	spec.nops = 1;
	spec.nkeys = 1;
	key_range = 50000;
	spec.nbuckets = (int) ((nrows * (MINUTE / 33000)) / MINUTE + 1);
	bench("exact", only, &spec, nrows, MINUTE / 33000, false, blk);
	ops[0].agg = ENGINE_APPROX_DISTINCT;
	bench("approx", only, &spec, nrows, MINUTE / 33000, false, blk);
	key_range = 10000000;
	spec.nbuckets = (int) ((nrows * step) / MINUTE + 1);
	ops[0].agg = ENGINE_COUNT_DISTINCT;
	bench("exact1k", only, &spec, nrows, step, false, blk);
	ops[0].agg = ENGINE_APPROX_DISTINCT;
	bench("approx1k", only, &spec, nrows, step, false, blk);

	core_free(blk);
	return 0;
}

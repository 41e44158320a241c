/*-------------------------------------------------------------------------
 *
 * engine_window.c
 *	  Operand values of the aggregation engine (engine_values, see
 *	  engine.h), rolling ones (engine_window_values) included: the value
 *	  at bucket b combines the per-bucket states of buckets b-k+1 .. b of
 *	  the grid (bucket INDICES, whatever their length in time: a calendar
 *	  grid's days of 23-25 hours work the same).  Buckets before the
 *	  grid's first are absent: the first k-1 buckets combine what the grid
 *	  holds.  The combination works on any per-bucket cells
 *	  (engine_window_cells): the main array's, or one breakdown value's
 *	  (engine_result.c rolls breakdown rows with it; a value without a
 *	  cell in a bucket has nothing there).
 *
 *	  What each kind costs, for n buckets and a window of k:
 *	  - count_distinct (exact): one pass over each bucket's set, keeping
 *	    per distinct key the last bucket it was seen in (a hash map) and
 *	    per bucket how many keys were last seen there; the value at b is
 *	    the number of keys last seen in b-k+1 .. b.  O(distinct keys of
 *	    each bucket) map operations plus O(n k) integer adds: a set is
 *	    never merged k times.
 *	  - count, sum, avg, min, max: the k per-bucket accumulators merged per
 *	    output bucket, O(n k) adds of a few bytes (sums keep their
 *	    compensation: no prefix differences, which would cancel).
 *	  - approx_distinct, approx_percentile: the k sketches merged per
 *	    output bucket (O(n k) merges of at most 16 kB / a few kB).
 *	  - percentile (exact): the k buffers merged per output bucket, then
 *	    selection: O(k × rows per bucket) per output bucket.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "engine_int.h"

/* One distinct key and the last bucket it was seen in */
typedef struct LastEnt
{
	uint64_t	key;			/* an integer key, or a byte key's hash */
	const char *p;				/* a byte key's bytes; NULL for an integer */
	uint32_t	len;
	int32_t		last;			/* last bucket + 1; 0: a free slot */
} LastEnt;

typedef struct LastMap
{
	LastEnt    *ents;
	uint32_t	count;
	int			log2;
} LastMap;

/* Grow the map to twice its size */
static void
lastmap_grow(LastMap *m)
{
	LastEnt    *old = m->ents;
	uint32_t	oldcap = old == NULL ? 0 : (UINT32_C(1) << m->log2);
	uint32_t	mask;
	uint32_t	i;

	m->log2 = old == NULL ? 10 : m->log2 + 1;
	mask = (UINT32_C(1) << m->log2) - 1;
	m->ents = core_alloc(sizeof(LastEnt) * ((size_t) mask + 1));
	for (i = 0; i < oldcap; i++)
	{
		uint32_t	j;

		if (old[i].last == 0)
			continue;
		for (j = slot_of(old[i].key, m->log2); m->ents[j].last != 0; j = (j + 1) & mask)
			;
		m->ents[j] = old[i];
	}
	if (old != NULL)
		core_free(old);
}

/*
 * Record that a key was seen in bucket b: E[] counts, per bucket, the keys
 * last seen there
 */
static void
lastmap_see(LastMap *m, uint64_t key, const char *p, uint32_t len, int b, int64_t *E)
{
	uint32_t	mask;
	uint32_t	j;

	if (m->ents == NULL || (uint64_t) (m->count + 1) * 2 > (UINT64_C(1) << m->log2))
		lastmap_grow(m);
	mask = (UINT32_C(1) << m->log2) - 1;
	for (j = slot_of(key, m->log2); m->ents[j].last != 0; j = (j + 1) & mask)
	{
		LastEnt    *e = &m->ents[j];

		if (e->key == key && (p == NULL ? e->p == NULL :
							  (e->p != NULL && e->len == len && memcmp(e->p, p, len) == 0)))
		{
			if (e->last - 1 != b)
			{
				E[e->last - 1]--;
				e->last = b + 1;
				E[b]++;
			}
			return;
		}
	}
	m->ents[j].key = key;
	m->ents[j].p = p;
	m->ents[j].len = len;
	m->ents[j].last = b + 1;
	m->count++;
	E[b]++;
}

/* Per-bucket values of an operand (NaN for a gap) into out[nbuckets] */
static void
engine_bucket_values(const EngineState *st, int op, double *out)
{
	int			b;
	int			s;
	const Slot *sl;

	if (st == NULL || out == NULL)
		return;
	if (st->main == NULL || op < 0 || op >= st->nops)
	{
		for (b = 0; b < st->nbuckets; b++)
			out[b] = NAN;
		return;
	}
	s = st->mlay.op_slot[op];
	sl = &st->mlay.slots[s];
	for (b = 0; b < st->nbuckets; b++)
		out[b] = engine_acc_value(sl, st->main + (size_t) b * st->mlay.cellsize + sl->off);
}

/* What one breakdown's values reuse, one after the other */
struct WindowScratch
{
	LastMap		m;
	int64_t    *E;
	int			ecap;
};

/* Free a scratch of engine_window_cells */
void
engine_window_scratch_free(WindowScratch *ws)
{
	if (ws == NULL)
		return;
	if (ws->m.ents != NULL)
		core_free(ws->m.ents);
	if (ws->E != NULL)
		core_free(ws->E);
	core_free(ws);
}

/*
 * Rolling exact distinct counts of one slot over cells[0 .. n) (see the
 * file's header); a NULL cell is a bucket without one.  The map and
 * counters live in *scratch (made at the first call) and are kept for the
 * next call: cleared, not freed (new memory costs a page fault per page;
 * a map much larger than its last use is freed instead, so that clearing
 * stays proportional).
 */
static void
window_distinct(const char *const *cells, int n, const Slot *sl, int k, double *out,
				WindowScratch **scratch)
{
	WindowScratch *ws;
	LastMap    *mp;
	int64_t    *E;
	int64_t		rows = 0;
	int			b;

	if (*scratch == NULL)
		*scratch = core_alloc(sizeof(WindowScratch));
	ws = *scratch;
	mp = &ws->m;
	if (ws->ecap < n + 1)
	{
		if (ws->E != NULL)
			core_free(ws->E);
		ws->ecap = n + 1;
		ws->E = core_alloc(sizeof(int64_t) * (size_t) ws->ecap);
	}
	else
		memset(ws->E, 0, sizeof(int64_t) * ((size_t) n + 1));
	E = ws->E;
	for (b = 0; b < n; b++)
	{
		const AccDistinct *d = cells[b] == NULL ? NULL : (const AccDistinct *) (cells[b] + sl->off);
		int64_t		active = 0;
		int			j;

		if (d != NULL)
		{
			if (d->iv.has_zero)
				lastmap_see(mp, 0, NULL, 0, b, E);
			if (d->iv.slots != NULL)
				for (j = 0; j < (1 << d->iv.log2); j++)
					if (d->iv.slots[j] != 0)
						lastmap_see(mp, d->iv.slots[j], NULL, 0, b, E);
			if (d->ib.slots != NULL)
				for (j = 0; j < (1 << d->ib.log2); j++)
					if (d->ib.slots[j].p != NULL)
						lastmap_see(mp, d->ib.slots[j].hash, d->ib.slots[j].p, d->ib.slots[j].len, b, E);
			rows += d->n;
		}
		if (b >= k && cells[b - k] != NULL)
			rows -= ((const AccDistinct *) (cells[b - k] + sl->off))->n;
		if (rows <= 0)
		{
			out[b] = NAN;
			continue;
		}
		for (j = b - k + 1 < 0 ? 0 : b - k + 1; j <= b; j++)
			active += E[j];
		out[b] = (double) active;
	}
	if (mp->ents != NULL && (uint64_t) mp->count * 8 < (UINT64_C(1) << mp->log2))
	{
		core_free(mp->ents);
		memset(mp, 0, sizeof(*mp));
	}
	else if (mp->ents != NULL)
	{
		memset(mp->ents, 0, sizeof(LastEnt) * ((size_t) 1 << mp->log2));
		mp->count = 0;
	}
}

/*
 * Rolling values of one slot over per-bucket cells (see engine_int.h):
 * out[b] combines the cells of buckets max(0, b-window+1) .. b; NaN when
 * none of them has a matching row.  Cells are cellsize bytes, laid out as
 * the slot says (the main array's, or a breakdown table's).
 */
void
engine_window_cells(const char *const *cells, int n, const Slot *sl, size_t cellsize, int window,
					double *out, WindowScratch **scratch)
{
	Layout		mini;
	Slot		minislot;
	char	   *tmp;
	char		errbuf[64];
	int			present = 0;	/* cells in the window of b */
	int			b;

	if (sl->kind == ENGINE_COUNT_DISTINCT)
	{
		window_distinct(cells, n, sl, window, out, scratch);
		return;
	}

	/* merge the window's cells of this one slot into a temporary cell */
	memset(&mini, 0, sizeof(mini));
	minislot = *sl;
	mini.slots = &minislot;
	mini.nslots = 1;
	tmp = core_alloc(cellsize);
	for (b = 0; b < n; b++)
	{
		int			j;

		present += cells[b] != NULL;
		if (b >= window && cells[b - window] != NULL)
			present--;
		if (present == 0)
		{
			out[b] = NAN;
			continue;
		}
		for (j = b - window + 1 < 0 ? 0 : b - window + 1; j <= b; j++)
			if (cells[j] != NULL)
				(void) engine_merge_cell(tmp, cells[j], &mini, NULL, NULL, errbuf, sizeof(errbuf));
		out[b] = engine_acc_value(sl, tmp + sl->off);
		engine_cell_free_sets(tmp, &mini, NULL);
		memset(tmp, 0, cellsize);
	}
	core_free(tmp);
}

/*
 * Rolling values of an operand into out[nbuckets]: the value at bucket b
 * combines buckets max(0, b-window+1) .. b (NaN when none has a matching
 * row).  window <= 1: the per-bucket values.
 */
void
engine_window_values(const EngineState *st, int op, int window, double *out)
{
	const char **cells;
	WindowScratch *scratch = NULL;
	size_t		cs;
	int			b;

	if (st == NULL || out == NULL)
		return;
	if (window <= 1 || st->main == NULL || op < 0 || op >= st->nops)
	{
		engine_bucket_values(st, op, out);
		return;
	}
	cs = st->mlay.cellsize;
	cells = core_alloc(sizeof(char *) * ((size_t) st->nbuckets + 1));
	for (b = 0; b < st->nbuckets; b++)
		cells[b] = st->main + (size_t) b * cs;
	engine_window_cells(cells, st->nbuckets, &st->mlay.slots[st->mlay.op_slot[op]], cs, window, out,
						&scratch);
	engine_window_scratch_free(scratch);
	core_free(cells);
}

/*
 * An operand's values into out[nbuckets] (NaN for a gap): rolling over
 * the operand's window, else per bucket (engine_result.c)
 */
void
engine_values(const EngineState *st, int op, double *out)
{
	if (st != NULL && op >= 0 && op < st->nops && st->ops[op].window > 1)
		engine_window_values(st, op, st->ops[op].window, out);
	else
		engine_bucket_values(st, op, out);
}

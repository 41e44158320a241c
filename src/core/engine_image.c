/*-------------------------------------------------------------------------
 *
 * engine_image.c
 *	  The aggregation engine's serialized image (see engine.h):
 *	  engine_serialize() and engine_deserialize(), and the image of one
 *	  operand at one bucket that rolling metrics keep between passes
 *	  (engine_bucket_image(), engine_bucket_load()).  The image is logical,
 *	  in native byte order (it is for parallel workers of the same server
 *	  and for the partial states of a distributed plan), guarded by a
 *	  fingerprint of the spec; reading checks every length and index.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* ---------------------------------------------------------------------
 * Serialization
 * ---------------------------------------------------------------------
 */

/* Append bytes */
static void
wr_bytes(Wr *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->len + n > w->cap)
	{
		size_t		cap = w->cap == 0 ? 256 : w->cap;
		char	   *buf;

		while (cap < w->len + n)
			cap *= 2;
		buf = core_alloc(cap);
		if (w->len > 0)
			memcpy(buf, w->buf, w->len);
		if (w->buf != NULL)
			core_free(w->buf);
		w->buf = buf;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* Append a uint32 */
static void
wr_u32(Wr *w, uint32_t v)
{
	wr_bytes(w, &v, sizeof(v));
}

/* Append a uint64 */
static void
wr_u64(Wr *w, uint64_t v)
{
	wr_bytes(w, &v, sizeof(v));
}

/* Append a set: has_zero, count, keys */
static void
wr_set(Wr *w, const ISet *s)
{
	uint32_t	cap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);
	uint32_t	i;

	wr_u32(w, s->has_zero ? 1 : 0);
	wr_u32(w, s->count);
	for (i = 0; i < cap; i++)
		if (s->slots[i] != 0)
			wr_u64(w, s->slots[i]);
}

/* Append a byte set: count, then each key's length and bytes */
static void
wr_bset(Wr *w, const BSet *s)
{
	uint32_t	cap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);
	uint32_t	i;

	wr_u32(w, s->count);
	for (i = 0; i < cap; i++)
	{
		if (s->slots[i].p == NULL)
			continue;
		wr_u32(w, s->slots[i].len);
		wr_bytes(w, s->slots[i].p, s->slots[i].len);
	}
}

/* Append a sketch image: its length, then its bytes (core_alloc'ed, freed) */
static void
wr_image(Wr *w, char *img, size_t len)
{
	wr_u32(w, (uint32_t) len);
	wr_bytes(w, img, len);
	core_free(img);
}

/* Append a cell's contents (ship: disjoint distinct sets as counts) */
static void
wr_cell(Wr *w, const char *cell, const Layout *lay, bool ship)
{
	int			i;

	wr_u64(w, (uint64_t) *(const int64_t *) cell);
	for (i = 0; i < lay->nslots; i++)
	{
		const Slot *sl = &lay->slots[i];
		const char *a = cell + sl->off;

		switch (sl->kind)
		{
			case ENGINE_COUNT:
				wr_bytes(w, a, sizeof(AccCount));
				break;
			case ENGINE_SUM:
			case ENGINE_AVG:
				wr_bytes(w, a, sizeof(AccSum));
				break;
			case ENGINE_MIN:
			case ENGINE_MAX:
				wr_bytes(w, a, sizeof(AccExt));
				break;
			case ENGINE_PERCENTILE:
				{
					const AccPct *p = (const AccPct *) a;

					wr_u64(w, (uint64_t) p->n);
					wr_bytes(w, p->v, sizeof(double) * (size_t) p->n);
				}
				break;
			case ENGINE_APPROX_PERCENTILE:
				{
					const AccDds *d = (const AccDds *) a;
					char	   *img = NULL;
					size_t		len = 0;

					if (d->s.count == 0)
						wr_u32(w, 0);
					else
					{
						dds_serialize(&d->s, &img, &len);
						wr_image(w, img, len);
					}
				}
				break;
			case ENGINE_APPROX_DISTINCT:
				{
					const AccHll *h = (const AccHll *) a;
					char	   *img = NULL;
					size_t		len = 0;

					wr_u64(w, (uint64_t) h->n);
					hll_serialize(&h->h, &img, &len);
					wr_image(w, img, len);
				}
				break;
			default:
				{
					const AccDistinct *d = (const AccDistinct *) a;

					wr_u64(w, (uint64_t) d->n);
					if (ship && sl->disjoint)
					{
						ISet		no_iv = {0};
						BSet		no_ib = {0};

						wr_u64(w, (uint64_t) (d->shipped + iset_size(&d->iv) + (int64_t) d->ib.count));
						wr_set(w, &no_iv);
						wr_bset(w, &no_ib);
						break;
					}
					wr_u64(w, (uint64_t) d->shipped);
					wr_set(w, &d->iv);
					wr_bset(w, &d->ib);
				}
				break;
		}
	}
}

/* Append a dictionary: n, null id, then each entry's length and bytes */
static void
wr_dict(Wr *w, const Dict *d)
{
	uint32_t	i;

	wr_u32(w, d->n);
	wr_u32(w, d->null_id);
	for (i = 0; i < d->n; i++)
	{
		if (i == d->null_id)
			continue;
		wr_u32(w, d->ent[i].len);
		wr_bytes(w, d->ent[i].p, d->ent[i].len);
	}
}

/* Serialize a state into a core_alloc'ed buffer (see engine_ship) */
static void
serialize(const EngineState *st, bool ship, char **buf, size_t *len)
{
	Wr			w;
	int			b;
	int			ti;

	memset(&w, 0, sizeof(w));
	if (buf == NULL || len == NULL)
		return;
	if (st == NULL)
	{
		*buf = core_alloc(1);
		*len = 0;
		return;
	}
	wr_u64(&w, ENGINE_MAGIC);
	wr_u32(&w, ENGINE_FORMAT);
	wr_u64(&w, st->fingerprint);
	if (!st->skip_main)
	{
		size_t		cs = st->mlay.cellsize;

		wr_u64(&w, (uint64_t) st->nonempty);
		for (b = 0; b < st->nbuckets; b++)
		{
			const char *cell = st->main + (size_t) b * cs;

			if (*(const int64_t *) cell == 0)
				continue;
			wr_u32(&w, (uint32_t) b);
			wr_cell(&w, cell, &st->mlay, ship);
		}
	}
	for (ti = 0; ti < st->ntables; ti++)
	{
		const GTable *t = &st->tables[ti];
		uint32_t	i;

		wr_dict(&w, &t->dict);
		if (t->dict.n > 0)
			wr_bytes(&w, t->rank, sizeof(int64_t) * (size_t) t->dict.n * (size_t) t->nbd);
		wr_u32(&w, t->ncells);
		for (i = 0; i < t->ncells; i++)
		{
			const CellHead *h = (const CellHead *) table_cellp(t, i);

			wr_u32(&w, h->vid);
			wr_u32(&w, (uint32_t) h->bucket);
			wr_cell(&w, (const char *) h, &t->lay, ship);
		}
	}
	if (w.buf == NULL)
		w.buf = core_alloc(1);
	*buf = w.buf;
	*len = w.len;
}

void
engine_serialize(const EngineState *st, char **buf, size_t *len)
{
	serialize(st, false, buf, len);
}

void
engine_ship(const EngineState *st, char **buf, size_t *len)
{
	serialize(st, true, buf, len);
}

/* Read bytes; false past the end */
static bool
rd_bytes(Rd *r, void *out, size_t n)
{
	if (r->left < n)
		return false;
	if (n > 0)
		memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

/* Read a uint32 */
static bool
rd_u32(Rd *r, uint32_t *v)
{
	return rd_bytes(r, v, sizeof(*v));
}

/* Read a uint64 */
static bool
rd_u64(Rd *r, uint64_t *v)
{
	return rd_bytes(r, v, sizeof(*v));
}

/* Read a set written by wr_set */
static bool
rd_set(EngineState *st, Rd *r, ISet *s)
{
	uint32_t	has_zero;
	uint32_t	count;
	uint32_t	i;

	if (!rd_u32(r, &has_zero) || !rd_u32(r, &count) || has_zero > 1)
		return false;
	if (has_zero && iset_add(s, 0, &st->mem) < 0)
		return false;
	if (r->left / sizeof(uint64_t) < count)
		return false;
	/* sized once: keys arrive in hash order, which growing tables cluster */
	iset_reserve(s, count, &st->mem);
	for (i = 0; i < count; i++)
	{
		uint64_t	k;

		if (!rd_u64(r, &k) || k == 0)
			return false;
		if (iset_add(s, k, &st->mem) < 0)
			return false;
	}
	return true;
}

/* Read a byte set written by wr_bset */
static bool
rd_bset(EngineState *st, Rd *r, BSet *s)
{
	uint32_t	count;
	uint32_t	i;

	if (!rd_u32(r, &count) || r->left / sizeof(uint32_t) < count)
		return false;
	bset_reserve(s, count, &st->mem);
	for (i = 0; i < count; i++)
	{
		uint32_t	len;

		if (!rd_u32(r, &len) || r->left < len)
			return false;
		if (bset_add(s, r->p, len, hash_bytes(r->p, len), &st->arena, &st->mem) < 0)
			return false;
		r->p += len;
		r->left -= len;
	}
	return true;
}

/* Read a cell written by wr_cell into an empty cell */
static bool
rd_cell(EngineState *st, Rd *r, char *cell, const Layout *lay)
{
	int			i;

	if (!rd_bytes(r, cell, sizeof(int64_t)))
		return false;
	for (i = 0; i < lay->nslots; i++)
	{
		const Slot *sl = &lay->slots[i];
		char	   *a = cell + sl->off;

		switch (sl->kind)
		{
			case ENGINE_COUNT:
				if (!rd_bytes(r, a, sizeof(AccCount)))
					return false;
				break;
			case ENGINE_SUM:
			case ENGINE_AVG:
				if (!rd_bytes(r, a, sizeof(AccSum)))
					return false;
				break;
			case ENGINE_MIN:
			case ENGINE_MAX:
				if (!rd_bytes(r, a, sizeof(AccExt)))
					return false;
				break;
			case ENGINE_PERCENTILE:
				{
					AccPct	   *p = (AccPct *) a;
					uint64_t	n;

					if (!rd_u64(r, &n) || n > (uint64_t) (r->left / sizeof(double)))
						return false;
					if (n > 0)
					{
						p->v = mem_alloc(&st->mem, sizeof(double) * (size_t) n);
						p->cap = p->n = (int64_t) n;
						if (!rd_bytes(r, p->v, sizeof(double) * (size_t) n))
							return false;
					}
				}
				break;
			case ENGINE_APPROX_PERCENTILE:
				{
					AccDds	   *d = (AccDds *) a;
					uint32_t	len;

					if (!rd_u32(r, &len) || r->left < len)
						return false;
					if (len > 0)
					{
						if (!dds_deserialize(&d->s, r->p, len) || d->s.count == 0)
							return false;
						st->mem += acc_dds_heap(&d->s);
					}
					r->p += len;
					r->left -= len;
				}
				break;
			case ENGINE_APPROX_DISTINCT:
				{
					AccHll	   *h = (AccHll *) a;
					uint64_t	n;
					uint32_t	len;

					if (!rd_u64(r, &n) || !rd_u32(r, &len) || r->left < len)
						return false;
					h->n = (int64_t) n;
					if (!hll_deserialize(&h->h, r->p, len))
						return false;
					st->mem += acc_hll_heap(&h->h);
					r->p += len;
					r->left -= len;
				}
				break;
			default:
				{
					AccDistinct *d = (AccDistinct *) a;
					uint64_t	n;
					uint64_t	shipped;

					if (!rd_u64(r, &n) || !rd_u64(r, &shipped) || shipped > n)
						return false;
					d->n = (int64_t) n;
					d->shipped = (int64_t) shipped;
					if (!rd_set(st, r, &d->iv) || !rd_bset(st, r, &d->ib))
						return false;
				}
				break;
		}
	}
	return true;
}

/* Read a dictionary written by wr_dict into an empty one */
static bool
rd_dict(EngineState *st, Rd *r, Dict *d)
{
	uint32_t	n;
	uint32_t	null_id;
	uint32_t	i;

	if (!rd_u32(r, &n) || !rd_u32(r, &null_id))
		return false;
	if (n >= MAX_IDS || (null_id != NO_ID && null_id >= n))
		return false;
	for (i = 0; i < n; i++)
	{
		uint32_t	id;
		uint32_t	len;

		if (i == null_id)
		{
			if (!dict_null(d, &st->mem, &id, NULL, 0))
				return false;
		}
		else
		{
			if (!rd_u32(r, &len) || r->left < len)
				return false;
			if (!dict_intern(d, &st->arena, &st->mem, r->p, len, &id, NULL, 0))
				return false;
			r->p += len;
			r->left -= len;
		}
		if (id != i)
			return false;
	}
	return true;
}

/* Fill a fresh state from a serialized image */
static bool
deserialize_into(EngineState *st, Rd *r, char *errbuf, size_t errlen)
{
	uint64_t	magic;
	uint32_t	format;
	uint64_t	fp;
	int			ti;

	if (!rd_u64(r, &magic) || magic != ENGINE_MAGIC ||
		!rd_u32(r, &format) || format != ENGINE_FORMAT)
		return core_errorf(errbuf, errlen, "not a serialized engine state");
	if (!rd_u64(r, &fp) || fp != st->fingerprint)
		return core_errorf(errbuf, errlen, "serialized engine state does not match the spec");
	if (!st->skip_main)
	{
		uint64_t	n;
		uint64_t	i;
		int64_t		prev = -1;

		if (!rd_u64(r, &n) || n > (uint64_t) st->nbuckets)
			return core_errorf(errbuf, errlen, "corrupt engine state");
		for (i = 0; i < n; i++)
		{
			uint32_t	b;
			char	   *cell;

			if (!rd_u32(r, &b) || (int64_t) b <= prev || b >= (uint32_t) st->nbuckets)
				return core_errorf(errbuf, errlen, "corrupt engine state");
			prev = b;
			cell = st->main + (size_t) b * st->mlay.cellsize;
			if (!rd_cell(st, r, cell, &st->mlay) || *(int64_t *) cell <= 0)
				return core_errorf(errbuf, errlen, "corrupt engine state");
		}
		st->nonempty = (int64_t) n;
	}
	for (ti = 0; ti < st->ntables; ti++)
	{
		GTable	   *t = &st->tables[ti];
		uint32_t	ncells;
		uint32_t	i;

		if (!rd_dict(st, r, &t->dict))
			return core_errorf(errbuf, errlen, "corrupt engine state");
		engine_table_values_reserve(st, t);
		if (t->dict.n > 0 &&
			!rd_bytes(r, t->rank, sizeof(int64_t) * (size_t) t->dict.n * (size_t) t->nbd))
			return core_errorf(errbuf, errlen, "corrupt engine state");
		if (!rd_u32(r, &ncells))
			return core_errorf(errbuf, errlen, "corrupt engine state");
		for (i = 0; i < ncells; i++)
		{
			uint32_t	vid;
			uint32_t	b;
			char	   *cell;

			if (!rd_u32(r, &vid) || !rd_u32(r, &b) ||
				vid >= t->dict.n || b >= (uint32_t) st->nbuckets)
				return core_errorf(errbuf, errlen, "corrupt engine state");
			cell = engine_table_cell(st, t, vid, (int) b, false, errbuf, errlen);
			if (cell == NULL)
				return false;
			if (((CellHead *) cell)->rows != 0)
				return core_errorf(errbuf, errlen, "corrupt engine state");
			if (!rd_cell(st, r, cell, &t->lay) || ((CellHead *) cell)->rows <= 0)
				return core_errorf(errbuf, errlen, "corrupt engine state");
		}
	}
	if (r->left != 0)
		return core_errorf(errbuf, errlen, "corrupt engine state");
	return true;
}

/* Rebuild a state from engine_serialize's image */
EngineState *
engine_deserialize(const EngineSpec *spec, const char *buf, size_t len,
				   char *errbuf, size_t errlen)
{
	EngineState *st;
	Rd			r;

	if (buf == NULL && len > 0)
	{
		core_errorf(errbuf, errlen, "no serialized engine state");
		return NULL;
	}
	st = engine_create(spec, errbuf, errlen);
	if (st == NULL)
		return NULL;
	r.p = buf;
	r.left = len;
	if (!deserialize_into(st, &r, errbuf, errlen))
	{
		engine_free(st);
		return NULL;
	}
	return st;
}

/* ---------------------------------------------------------------------
 * One operand's state at one bucket (rolling metrics keep these between
 * passes: see engine.h)
 * ---------------------------------------------------------------------
 */

/* A one-slot layout over a state's main cells, for operand op */
static bool
bucket_layout(const EngineState *st, int op, int b, Layout *mini, Slot *slot)
{
	if (st == NULL || st->main == NULL || op < 0 || op >= st->nops ||
		b < 0 || b >= st->nbuckets || st->mlay.op_slot[op] < 0)
		return false;
	memset(mini, 0, sizeof(*mini));
	*slot = st->mlay.slots[st->mlay.op_slot[op]];
	mini->slots = slot;
	mini->nslots = 1;
	mini->cellsize = st->mlay.cellsize;
	return true;
}

void
engine_bucket_image(const EngineState *st, int op, int b, char **buf, size_t *len)
{
	Wr			w;
	Layout		mini;
	Slot		slot;

	memset(&w, 0, sizeof(w));
	wr_u64(&w, ENGINE_MAGIC);
	wr_u32(&w, ENGINE_FORMAT);
	if (bucket_layout(st, op, b, &mini, &slot))
	{
		wr_u32(&w, (uint32_t) slot.kind);
		wr_cell(&w, st->main + (size_t) b * st->mlay.cellsize, &mini, false);
	}
	else
		wr_u32(&w, UINT32_MAX);
	*buf = w.buf;
	*len = w.len;
}

bool
engine_bucket_load(EngineState *st, int op, int b, const char *buf, size_t len,
				   char *errbuf, size_t errlen)
{
	Layout		mini;
	Slot		slot;
	Rd			r;
	uint64_t	magic;
	uint32_t	format;
	uint32_t	kind;
	char	   *tmp;
	char	   *cell;
	int64_t		before;
	int64_t		rows;
	bool		ok;
	bool		moved = false;

	if (!bucket_layout(st, op, b, &mini, &slot))
		return core_errorf(errbuf, errlen, "no such operand or bucket");
	r.p = buf;
	r.left = len;
	if (buf == NULL || !rd_u64(&r, &magic) || magic != ENGINE_MAGIC ||
		!rd_u32(&r, &format) || format != ENGINE_FORMAT)
		return core_errorf(errbuf, errlen, "not a bucket state of this engine version");
	if (!rd_u32(&r, &kind) || kind != (uint32_t) slot.kind)
		return core_errorf(errbuf, errlen, "bucket state of another aggregation");
	tmp = core_alloc(st->mlay.cellsize);
	ok = rd_cell(st, &r, tmp, &mini) && r.left == 0 && *(int64_t *) tmp >= 0;
	cell = st->main + (size_t) b * st->mlay.cellsize;
	before = *(int64_t *) cell;
	rows = *(int64_t *) tmp;
	if (ok && slot.kind == ENGINE_COUNT_DISTINCT)
	{
		AccDistinct *d = (AccDistinct *) (cell + slot.off);
		AccDistinct *t = (AccDistinct *) (tmp + slot.off);

		if (d->n == 0 && d->shipped == 0 && d->iv.log2 == 0 && !d->iv.has_zero && d->ib.log2 == 0)
		{
			/* an empty accumulator (a bucket not scanned): take the read one */
			*d = *t;
			memset(t, 0, sizeof(*t));
			*(int64_t *) tmp = 0;
			moved = true;
		}
		else
		{
			/* sized once, as in rd_set */
			iset_reserve(&d->iv, d->iv.count + t->iv.count, &st->mem);
			bset_reserve(&d->ib, d->ib.count + t->ib.count, &st->mem);
		}
	}
	if (!ok)
		core_errorf(errbuf, errlen, "corrupt bucket state");
	else if (!moved)
		ok = engine_merge_cell(cell, tmp, &mini, NULL, &st->mem, errbuf, errlen);
	engine_cell_free_sets(tmp, &mini, &st->mem);
	core_free(tmp);
	/* the bucket's row count: of the scan, or of the stored state */
	*(int64_t *) cell = before > rows ? before : rows;
	if (before == 0 && rows > 0)
		st->nonempty++;
	return ok;
}

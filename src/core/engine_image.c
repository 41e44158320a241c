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
 *	  Two encodings of the same fields, told apart by the format number:
 *	  fixed-width (engine_serialize: parallel workers of one server, where
 *	  writing and reading fast matters more than bytes) and compact
 *	  (engine_ship: a shard's state sent as text to a Citus coordinator,
 *	  where the bytes are the cost).  Compact: counts and ids as varints
 *	  (7 bits a byte), signed ones zigzag-coded; doubles as a byte telling
 *	  how many low bytes are 0 and the others (0.0 takes one byte, an
 *	  integer-valued double three); bucket numbers as gaps; exact sets of
 *	  by-value keys sorted, as varint gaps; byte keys deduplicated over the
 *	  whole image (a key's bytes are written once, later as its id).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corebuf.h"
#include "engine_int.h"

#define ENGINE_FORMAT_COMPACT	3	/* engine_ship's encoding */

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

/* A writer: fixed-width or compact, with the byte keys written so far */
typedef struct Wc
{
	Wr			w;
	bool		compact;
	Dict		keys;			/* compact: byte keys written, by id */
	Arena		arena;
	size_t		mem;
	uint64_t   *hkeys;			/* compact: sketch hashes written (0: free) */
	uint32_t   *hids;			/* ... their ids */
	uint32_t	nh;
	uint32_t	hcap;			/* a power of 2, or 0 */
} Wc;

/* The id of a sketch hash written before, or NO_ID */
static uint32_t
hash_id(const Wc *w, uint64_t h)
{
	uint32_t	i;

	if (w->hcap == 0)
		return NO_ID;
	for (i = (uint32_t) (h * HASH_MUL >> 32) & (w->hcap - 1); w->hkeys[i] != 0; i = (i + 1) & (w->hcap - 1))
		if (w->hkeys[i] == h)
			return w->hids[i];
	return NO_ID;
}

/* Give a new sketch hash (non-zero) the next id */
static void
hash_intern(Wc *w, uint64_t h)
{
	uint32_t	i;

	if ((w->nh + 1) * 2 > w->hcap)
	{
		uint32_t	cap = w->hcap == 0 ? 1024 : w->hcap * 2;
		uint64_t   *keys = core_alloc(sizeof(uint64_t) * cap);
		uint32_t   *ids = core_alloc(sizeof(uint32_t) * cap);
		uint32_t	j;

		for (j = 0; j < w->hcap; j++)
		{
			if (w->hkeys[j] == 0)
				continue;
			for (i = (uint32_t) (w->hkeys[j] * HASH_MUL >> 32) & (cap - 1); keys[i] != 0; i = (i + 1) & (cap - 1))
				;
			keys[i] = w->hkeys[j];
			ids[i] = w->hids[j];
		}
		core_free(w->hkeys);
		core_free(w->hids);
		w->hkeys = keys;
		w->hids = ids;
		w->hcap = cap;
	}
	for (i = (uint32_t) (h * HASH_MUL >> 32) & (w->hcap - 1); w->hkeys[i] != 0; i = (i + 1) & (w->hcap - 1))
		;
	w->hkeys[i] = h;
	w->hids[i] = w->nh++;
}

/* Append a varint */
static void
wr_varint(Wr *w, uint64_t v)
{
	char		b[10];

	wr_bytes(w, b, core_varint_put(b, v));
}

/* Append a uint32 (compact: a varint) */
static void
wr_u32(Wc *w, uint32_t v)
{
	if (w->compact)
		wr_varint(&w->w, v);
	else
		wr_bytes(&w->w, &v, sizeof(v));
}

/* Append a uint64 (compact: a varint) */
static void
wr_u64(Wc *w, uint64_t v)
{
	if (w->compact)
		wr_varint(&w->w, v);
	else
		wr_bytes(&w->w, &v, sizeof(v));
}

/* Append an int64 (compact: a zigzag varint) */
static void
wr_i64(Wc *w, int64_t v)
{
	if (w->compact)
		wr_varint(&w->w, ((uint64_t) v << 1) ^ (uint64_t) (v >> 63));
	else
		wr_bytes(&w->w, &v, sizeof(v));
}

/*
 * Append a double (compact: a byte t, the count of its low bytes that are
 * 0, then its 8 - t other bytes, lowest first; bit-exact)
 */
static void
wr_double(Wc *w, double d)
{
	uint64_t	bits;
	char		b[9];
	int			t = 0;
	int			i;

	if (!w->compact)
	{
		wr_bytes(&w->w, &d, sizeof(d));
		return;
	}
	memcpy(&bits, &d, sizeof(bits));
	while (t < 8 && ((bits >> (8 * t)) & 0xff) == 0)
		t++;
	b[0] = (char) t;
	for (i = t; i < 8; i++)
		b[1 + i - t] = (char) ((bits >> (8 * i)) & 0xff);
	wr_bytes(&w->w, b, (size_t) (1 + 8 - t));
}

/* Append a length and bytes */
static void
wr_str(Wc *w, const char *p, uint32_t len)
{
	wr_u32(w, len);
	wr_bytes(&w->w, p, len);
}

/* qsort order of uint64 */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * Append a set.  Fixed: has_zero, count, the non-zero keys.  Compact:
 * count * 2 + has_zero, then the non-zero keys ascending as varint gaps
 * (the first from 0).
 */
static void
wr_set(Wc *w, const ISet *s)
{
	uint32_t	cap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);
	uint32_t	i;

	if (w->compact)
	{
		uint64_t   *keys;
		uint32_t	k = 0;
		uint64_t	prev = 0;

		wr_varint(&w->w, (uint64_t) s->count * 2 + (s->has_zero ? 1 : 0));
		if (s->count == 0)
			return;
		keys = core_alloc(sizeof(uint64_t) * s->count);
		for (i = 0; i < cap; i++)
			if (s->slots[i] != 0)
				keys[k++] = s->slots[i];
		qsort(keys, k, sizeof(uint64_t), cmp_u64);
		for (i = 0; i < k; i++)
		{
			wr_varint(&w->w, keys[i] - prev);
			prev = keys[i];
		}
		core_free(keys);
		return;
	}
	wr_u32(w, s->has_zero ? 1 : 0);
	wr_u32(w, s->count);
	for (i = 0; i < cap; i++)
		if (s->slots[i] != 0)
			wr_u64(w, s->slots[i]);
}

/*
 * Append a byte set: count, then each key.  Fixed: its length and bytes.
 * Compact: 0, length and bytes the first time the image has the key, else
 * its id + 1 (ids in order of first appearance).
 */
static void
wr_bset(Wc *w, const BSet *s)
{
	uint32_t	cap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);
	uint32_t	i;

	wr_u32(w, s->count);
	for (i = 0; i < cap; i++)
	{
		const BEnt *e = &s->slots[i];

		if (e->p == NULL)
			continue;
		if (w->compact)
		{
			uint32_t	id = dict_find(&w->keys, e->p, e->len, e->hash);

			if (id != NO_ID)
			{
				wr_varint(&w->w, (uint64_t) id + 1);
				continue;
			}
			/* the ids stay below the key count, far below MAX_IDS */
			(void) dict_intern(&w->keys, &w->arena, &w->mem, e->p, e->len, &id, NULL, 0);
			wr_varint(&w->w, 0);
		}
		wr_str(w, e->p, e->len);
	}
}

/* Append a sketch image: its length, then its bytes (core_alloc'ed, freed) */
static void
wr_image(Wc *w, char *img, size_t len)
{
	wr_u32(w, (uint32_t) len);
	wr_bytes(&w->w, img, len);
	core_free(img);
}

/* Append a cell's contents (ship: disjoint distinct sets as counts) */
static void
wr_cell(Wc *w, const char *cell, const Layout *lay, bool ship)
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
				wr_i64(w, ((const AccCount *) a)->n);
				break;
			case ENGINE_SUM:
			case ENGINE_AVG:
				{
					const AccSum *s = (const AccSum *) a;

					wr_double(w, s->s);
					wr_double(w, s->c);
					wr_i64(w, s->n);
				}
				break;
			case ENGINE_MIN:
			case ENGINE_MAX:
				{
					const AccExt *e = (const AccExt *) a;

					wr_double(w, e->v);
					wr_i64(w, e->n);
				}
				break;
			case ENGINE_PERCENTILE:
				{
					const AccPct *p = (const AccPct *) a;
					int64_t		k;

					wr_u64(w, (uint64_t) p->n);
					if (!w->compact)
						wr_bytes(&w->w, p->v, sizeof(double) * (size_t) p->n);
					else
						for (k = 0; k < p->n; k++)
							wr_double(w, p->v[k]);
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
					if (w->compact && h->h.registers == NULL)
					{
						/*
						 * An exact sketch: its image (length + 1), or -- unless
						 * that is shorter by more than a byte a value, as the
						 * integers of a small column are -- 0, the count, and
						 * each hash as a reference:
						 * 0 and its 8 bytes the first time in the image, else
						 * its id + 1.
						 */
						size_t		refs = 0;
						uint32_t	k;

						for (k = 0; k < h->h.capacity; k++)
						{
							uint32_t	id;

							if (h->h.exact[k] == 0)
								continue;
							id = hash_id(w, h->h.exact[k]);
							refs += id == NO_ID ? 9 : core_varint_size((uint64_t) id + 1);
						}
						/*
						 * (A new hash costs one byte more than in the
						 * image; only hashes written as references can be
						 * referred to later.)
						 */
						if (refs <= len + h->h.nexact)
						{
							wr_varint(&w->w, 0);
							wr_varint(&w->w, h->h.nexact);
							for (k = 0; k < h->h.capacity; k++)
							{
								uint64_t	x = h->h.exact[k];
								uint32_t	id;

								if (x == 0)
									continue;
								id = hash_id(w, x);
								if (id != NO_ID)
									wr_varint(&w->w, (uint64_t) id + 1);
								else
								{
									wr_varint(&w->w, 0);
									wr_bytes(&w->w, &x, sizeof(x));
									hash_intern(w, x);
								}
							}
							core_free(img);
							break;
						}
						wr_varint(&w->w, (uint64_t) len + 1);
						wr_bytes(&w->w, img, len);
						core_free(img);
						break;
					}
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
wr_dict(Wc *w, const Dict *d)
{
	uint32_t	i;

	wr_u32(w, d->n);
	wr_u32(w, w->compact ? d->null_id + 1 : d->null_id);	/* NO_ID + 1 = 0 */
	for (i = 0; i < d->n; i++)
	{
		if (i == d->null_id)
			continue;
		wr_str(w, d->ent[i].p, d->ent[i].len);
	}
}

/* Serialize a state into a core_alloc'ed buffer (see engine_ship) */
/* Free a writer's working tables and hand its bytes over (never NULL) */
static void
wc_finish(Wc *w, char **buf, size_t *len)
{
	dict_free(&w->keys, &w->mem);
	arena_free(&w->arena, &w->mem);
	core_free(w->hkeys);
	core_free(w->hids);
	if (w->w.buf == NULL)
		w->w.buf = core_alloc(1);
	*buf = w->w.buf;
	*len = w->w.len;
}

/* Start a bucket image: the fixed-width form, as engine_serialize writes it */
static void
wc_begin_bucket(Wc *w)
{
	memset(w, 0, sizeof(*w));
	w->keys.null_id = NO_ID;
	wr_u64(w, ENGINE_MAGIC);
	wr_u32(w, ENGINE_FORMAT);
}

static void
serialize(const EngineState *st, bool ship, char **buf, size_t *len)
{
	Wc			w;
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
	w.compact = ship;
	w.keys.null_id = NO_ID;
	wr_bytes(&w.w, &(uint64_t) {ENGINE_MAGIC}, sizeof(uint64_t));
	wr_bytes(&w.w, &(uint32_t) {ship ? ENGINE_FORMAT_COMPACT : ENGINE_FORMAT}, sizeof(uint32_t));
	wr_bytes(&w.w, &st->fingerprint, sizeof(uint64_t));
	if (!st->skip_main)
	{
		size_t		cs = st->mlay.cellsize;
		int			prev = -1;

		wr_u64(&w, (uint64_t) st->nonempty);
		for (b = 0; b < st->nbuckets; b++)
		{
			const char *cell = st->main + (size_t) b * cs;

			if (*(const int64_t *) cell == 0)
				continue;
			/* compact: the gap from the previous bucket, less one */
			wr_u32(&w, (uint32_t) (w.compact ? b - prev - 1 : b));
			prev = b;
			wr_cell(&w, cell, &st->mlay, ship);
		}
	}
	for (ti = 0; ti < st->ntables; ti++)
	{
		const GTable *t = &st->tables[ti];
		uint32_t	i;

		wr_dict(&w, &t->dict);
		if (!w.compact && t->dict.n > 0)
			wr_bytes(&w.w, t->rank, sizeof(int64_t) * (size_t) t->dict.n * (size_t) t->nbd);
		else
			for (i = 0; i < t->dict.n * (uint32_t) t->nbd; i++)
				wr_i64(&w, t->rank[i]);
		wr_u32(&w, t->ncells);
		for (i = 0; i < t->ncells; i++)
		{
			const CellHead *h = (const CellHead *) table_cellp(t, i);

			wr_u32(&w, h->vid);
			wr_u32(&w, (uint32_t) h->bucket);
			wr_cell(&w, (const char *) h, &t->lay, ship);
		}
	}
	wc_finish(&w, buf, len);
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

/* A reader: fixed-width or compact, with the byte keys read so far */
typedef struct Rc
{
	Rd			r;
	bool		compact;
	BEnt	   *keys;			/* compact: by id, pointing into the image */
	uint32_t	nkeys;
	uint32_t	keycap;
	uint64_t   *hashes;			/* compact: sketch hashes by id */
	uint32_t	nhashes;
	uint32_t	hashcap;
} Rc;

/* A reader's table of n entries of size elem grown to twice its capacity
 * (first when empty); returns the new table */
static void *
grow_table(void *old, uint32_t *cap, uint32_t n, size_t elem, uint32_t first)
{
	uint32_t	newcap = *cap == 0 ? first : *cap * 2;
	void	   *t = core_alloc(elem * newcap);

	if (n > 0)
		memcpy(t, old, elem * n);
	core_free(old);
	*cap = newcap;
	return t;
}

/* Read a varint; false when cut or beyond 64 bits */
static bool
rd_varint(Rd *r, uint64_t *v)
{
	const char *p = r->p;

	if (!core_varint_get(&p, r->p + r->left, v))
		return false;
	r->left -= (size_t) (p - r->p);
	r->p = p;
	return true;
}

/* Read a uint32 */
static bool
rd_u32(Rc *r, uint32_t *v)
{
	uint64_t	x;

	if (!r->compact)
		return rd_bytes(&r->r, v, sizeof(*v));
	if (!rd_varint(&r->r, &x) || x > UINT32_MAX)
		return false;
	*v = (uint32_t) x;
	return true;
}

/* Read a uint64 */
static bool
rd_u64(Rc *r, uint64_t *v)
{
	if (!r->compact)
		return rd_bytes(&r->r, v, sizeof(*v));
	return rd_varint(&r->r, v);
}

/* Read an int64 */
static bool
rd_i64(Rc *r, int64_t *v)
{
	uint64_t	x;

	if (!r->compact)
		return rd_bytes(&r->r, v, sizeof(*v));
	if (!rd_varint(&r->r, &x))
		return false;
	*v = (int64_t) ((x >> 1) ^ (0 - (x & 1)));
	return true;
}

/* Read a double written by wr_double */
static bool
rd_double(Rc *r, double *d)
{
	unsigned char b[8];
	uint64_t	bits = 0;
	uint8_t		t;
	int			i;

	if (!r->compact)
		return rd_bytes(&r->r, d, sizeof(*d));
	if (!rd_bytes(&r->r, &t, 1) || t > 8 || !rd_bytes(&r->r, b, (size_t) (8 - t)))
		return false;
	for (i = 0; i < 8 - t; i++)
		bits |= (uint64_t) b[i] << (8 * (i + t));
	memcpy(d, &bits, sizeof(*d));
	return true;
}

/* Read a length and point at that many bytes (they stay in the image) */
static bool
rd_str(Rc *r, const char **p, uint32_t *len)
{
	if (!rd_u32(r, len) || r->r.left < *len)
		return false;
	*p = r->r.p;
	r->r.p += *len;
	r->r.left -= *len;
	return true;
}

/* Read a set written by wr_set */
static bool
rd_set(EngineState *st, Rc *r, ISet *s)
{
	uint32_t	has_zero;
	uint32_t	count;
	uint32_t	i;

	if (r->compact)
	{
		uint64_t	x;

		if (!rd_varint(&r->r, &x) || x / 2 > UINT32_MAX)
			return false;
		has_zero = (uint32_t) (x & 1);
		count = (uint32_t) (x / 2);
	}
	else if (!rd_u32(r, &has_zero) || !rd_u32(r, &count) || has_zero > 1)
		return false;
	if (has_zero && iset_add(s, 0, &st->mem) < 0)
		return false;
	/* at least a byte a key (compact), 8 (fixed) */
	if (r->r.left / (r->compact ? 1 : sizeof(uint64_t)) < count)
		return false;
	/* sized once: keys arrive in hash order, which growing tables cluster */
	if (count > 0)
		iset_reserve(s, count, &st->mem);
	if (r->compact)
	{
		uint64_t	k = 0;

		for (i = 0; i < count; i++)
		{
			uint64_t	gap;

			/* ascending, non-zero keys: every gap positive, no wrap */
			if (!rd_varint(&r->r, &gap) || gap == 0 || gap > UINT64_MAX - k)
				return false;
			k += gap;
			if (iset_add(s, k, &st->mem) < 0)
				return false;
		}
		return true;
	}
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
rd_bset(EngineState *st, Rc *r, BSet *s)
{
	uint32_t	count;
	uint32_t	i;

	if (!rd_u32(r, &count) || r->r.left / (r->compact ? 1 : sizeof(uint32_t)) < count)
		return false;
	bset_reserve(s, count, &st->mem);
	for (i = 0; i < count; i++)
	{
		const char *p;
		uint32_t	len;
		uint32_t	h;

		if (r->compact)
		{
			uint64_t	ref;

			if (!rd_varint(&r->r, &ref) || ref > r->nkeys)
				return false;
			if (ref > 0)
			{
				const BEnt *e = &r->keys[ref - 1];

				if (bset_add(s, e->p, e->len, e->hash, &st->arena, &st->mem) < 0)
					return false;
				continue;
			}
			if (!rd_str(r, &p, &len))
				return false;
			h = hash_bytes(p, len);
			if (r->nkeys == r->keycap)
				r->keys = grow_table(r->keys, &r->keycap, r->nkeys, sizeof(BEnt), 64);
			r->keys[r->nkeys].p = p;
			r->keys[r->nkeys].len = len;
			r->keys[r->nkeys].hash = h;
			r->nkeys++;
		}
		else
		{
			if (!rd_str(r, &p, &len))
				return false;
			h = hash_bytes(p, len);
		}
		if (bset_add(s, p, len, h, &st->arena, &st->mem) < 0)
			return false;
	}
	return true;
}

/* Read an exact sketch written as hash references (wr_cell) */
static bool
rd_hll_refs(Rc *r, Hll *h)
{
	uint64_t	n;
	uint64_t	k;

	if (!rd_varint(&r->r, &n) || n > HLL_EXACT_MAX || n > r->r.left)
		return false;
	for (k = 0; k < n; k++)
	{
		uint64_t	ref;
		uint64_t	x;

		if (!rd_varint(&r->r, &ref) || ref > r->nhashes)
			return false;
		if (ref > 0)
			x = r->hashes[ref - 1];
		else
		{
			if (!rd_bytes(&r->r, &x, sizeof(x)) || x == 0)
				return false;
			if (r->nhashes == r->hashcap)
				r->hashes = grow_table(r->hashes, &r->hashcap, r->nhashes, sizeof(uint64_t), 1024);
			r->hashes[r->nhashes++] = x;
		}
		hll_add_hash(h, x);
	}
	/* distinct hashes, still exact */
	return hll_is_exact(h) && (uint64_t) h->nexact == n;
}

/* Read a sketch image's length and point at it */
#define rd_image(r, p, len) rd_str((r), (p), (len))

/* Read a cell written by wr_cell into an empty cell */
static bool
rd_cell(EngineState *st, Rc *r, char *cell, const Layout *lay)
{
	int			i;
	uint64_t	rows;

	if (!rd_u64(r, &rows))
		return false;
	*(int64_t *) cell = (int64_t) rows;
	for (i = 0; i < lay->nslots; i++)
	{
		const Slot *sl = &lay->slots[i];
		char	   *a = cell + sl->off;

		switch (sl->kind)
		{
			case ENGINE_COUNT:
				if (!rd_i64(r, &((AccCount *) a)->n))
					return false;
				break;
			case ENGINE_SUM:
			case ENGINE_AVG:
				{
					AccSum	   *s = (AccSum *) a;

					if (!rd_double(r, &s->s) || !rd_double(r, &s->c) || !rd_i64(r, &s->n))
						return false;
				}
				break;
			case ENGINE_MIN:
			case ENGINE_MAX:
				{
					AccExt	   *e = (AccExt *) a;

					if (!rd_double(r, &e->v) || !rd_i64(r, &e->n))
						return false;
				}
				break;
			case ENGINE_PERCENTILE:
				{
					AccPct	   *p = (AccPct *) a;
					uint64_t	n;
					int64_t		k;

					/* at least a byte a value (compact), 8 (fixed) */
					if (!rd_u64(r, &n) ||
						n > (uint64_t) (r->r.left / (r->compact ? 1 : sizeof(double))))
						return false;
					if (n > 0)
					{
						p->v = mem_alloc(&st->mem, sizeof(double) * (size_t) n);
						p->cap = p->n = (int64_t) n;
						if (!r->compact)
						{
							if (!rd_bytes(&r->r, p->v, sizeof(double) * (size_t) n))
								return false;
						}
						else
							for (k = 0; k < p->n; k++)
								if (!rd_double(r, &p->v[k]))
									return false;
					}
				}
				break;
			case ENGINE_APPROX_PERCENTILE:
				{
					AccDds	   *d = (AccDds *) a;
					const char *img;
					uint32_t	len;

					if (!rd_image(r, &img, &len))
						return false;
					if (len > 0)
					{
						if (!dds_deserialize(&d->s, img, len) || d->s.count == 0)
							return false;
						st->mem += acc_dds_heap(&d->s);
					}
				}
				break;
			case ENGINE_APPROX_DISTINCT:
				{
					AccHll	   *h = (AccHll *) a;
					uint64_t	n;
					const char *img;
					uint32_t	len;

					if (!rd_u64(r, &n))
						return false;
					h->n = (int64_t) n;
					if (r->compact)
					{
						uint64_t	tag;

						if (!rd_varint(&r->r, &tag))
							return false;
						if (tag == 0)
						{
							if (!rd_hll_refs(r, &h->h))
								return false;
							st->mem += acc_hll_heap(&h->h);
							break;
						}
						if (tag - 1 > r->r.left)
							return false;
						img = r->r.p;
						len = (uint32_t) (tag - 1);
						r->r.p += len;
						r->r.left -= len;
					}
					else if (!rd_image(r, &img, &len))
						return false;
					if (!hll_deserialize(&h->h, img, len))
						return false;
					st->mem += acc_hll_heap(&h->h);
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
rd_dict(EngineState *st, Rc *r, Dict *d)
{
	uint32_t	n;
	uint32_t	null_id;
	uint32_t	i;

	if (!rd_u32(r, &n) || !rd_u32(r, &null_id))
		return false;
	if (r->compact)
		null_id -= 1;			/* 0 - 1 = NO_ID */
	if (n >= MAX_IDS || (null_id != NO_ID && null_id >= n))
		return false;
	for (i = 0; i < n; i++)
	{
		uint32_t	id;
		const char *p;
		uint32_t	len;

		if (i == null_id)
		{
			if (!dict_null(d, &st->mem, &id, NULL, 0))
				return false;
		}
		else
		{
			if (!rd_str(r, &p, &len))
				return false;
			if (!dict_intern(d, &st->arena, &st->mem, p, len, &id, NULL, 0))
				return false;
		}
		if (id != i)
			return false;
	}
	return true;
}

/* Fill a fresh state from a serialized image */
static bool
deserialize_into(EngineState *st, Rc *r, char *errbuf, size_t errlen)
{
	uint64_t	magic;
	uint32_t	format;
	uint64_t	fp;
	int			ti;

	if (!rd_bytes(&r->r, &magic, sizeof(magic)) || magic != ENGINE_MAGIC ||
		!rd_bytes(&r->r, &format, sizeof(format)) ||
		(format != ENGINE_FORMAT && format != ENGINE_FORMAT_COMPACT))
		return core_errorf(errbuf, errlen, "not a serialized engine state");
	r->compact = format == ENGINE_FORMAT_COMPACT;
	if (!rd_bytes(&r->r, &fp, sizeof(fp)) || fp != st->fingerprint)
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

			if (!rd_u32(r, &b))
				return core_errorf(errbuf, errlen, "corrupt engine state");
			/* compact: the gap from the previous bucket, less one */
			if (r->compact)
			{
				uint64_t	nb = (uint64_t) b + (uint64_t) (prev + 1);

				if (nb >= (uint64_t) st->nbuckets)
					return core_errorf(errbuf, errlen, "corrupt engine state");
				b = (uint32_t) nb;
			}
			if ((int64_t) b <= prev || b >= (uint32_t) st->nbuckets)
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
		if (!r->compact && t->dict.n > 0 &&
			!rd_bytes(&r->r, t->rank, sizeof(int64_t) * (size_t) t->dict.n * (size_t) t->nbd))
			return core_errorf(errbuf, errlen, "corrupt engine state");
		if (r->compact)
		{
			uint32_t	k;

			for (k = 0; k < t->dict.n * (uint32_t) t->nbd; k++)
				if (!rd_i64(r, &t->rank[k]))
					return core_errorf(errbuf, errlen, "corrupt engine state");
		}
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
	if (r->r.left != 0)
		return core_errorf(errbuf, errlen, "corrupt engine state");
	return true;
}

/* Rebuild a state from engine_serialize's image */
EngineState *
engine_deserialize(const EngineSpec *spec, const char *buf, size_t len,
				   char *errbuf, size_t errlen)
{
	EngineState *st;
	Rc			r;
	bool		ok;

	if (buf == NULL && len > 0)
	{
		core_errorf(errbuf, errlen, "no serialized engine state");
		return NULL;
	}
	st = engine_create(spec, errbuf, errlen);
	if (st == NULL)
		return NULL;
	memset(&r, 0, sizeof(r));
	r.r.p = buf;
	r.r.left = len;
	ok = deserialize_into(st, &r, errbuf, errlen);
	core_free(r.keys);
	core_free(r.hashes);
	if (!ok)
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

/* Has an accumulator seen no row? */
static bool
acc_empty(const Slot *sl, const char *a)
{
	switch (sl->kind)
	{
		case ENGINE_COUNT:
			return ((const AccCount *) a)->n == 0;
		case ENGINE_SUM:
		case ENGINE_AVG:
			return ((const AccSum *) a)->n == 0;
		case ENGINE_MIN:
		case ENGINE_MAX:
			return ((const AccExt *) a)->n == 0;
		case ENGINE_PERCENTILE:
			return ((const AccPct *) a)->n == 0;
		case ENGINE_APPROX_PERCENTILE:
			return ((const AccDds *) a)->s.count == 0;
		case ENGINE_APPROX_DISTINCT:
			return ((const AccHll *) a)->n == 0;
		default:
			{
				const AccDistinct *d = (const AccDistinct *) a;

				return d->n == 0 && d->shipped == 0 && d->iv.log2 == 0 && !d->iv.has_zero &&
					d->ib.log2 == 0;
			}
	}
}

void
engine_bucket_image(const EngineState *st, int op, int b, char **buf, size_t *len)
{
	Wc			w;
	Layout		mini;
	Slot		slot;

	wc_begin_bucket(&w);
	if (bucket_layout(st, op, b, &mini, &slot))
	{
		wr_u32(&w, (uint32_t) slot.kind);
		wr_cell(&w, st->main + (size_t) b * st->mlay.cellsize, &mini, false);
	}
	else
		wr_u32(&w, UINT32_MAX);
	wc_finish(&w, buf, len);
}

/* Start reading a bucket image (wc_begin_bucket's): false when it is not one */
static bool
rc_begin_bucket(Rc *r, const char *buf, size_t len)
{
	uint64_t	magic;
	uint32_t	format;

	memset(r, 0, sizeof(*r));
	r->r.p = buf;
	r->r.left = len;
	return buf != NULL && rd_u64(r, &magic) && magic == ENGINE_MAGIC &&
		rd_u32(r, &format) && format == ENGINE_FORMAT;
}

bool
engine_bucket_load(EngineState *st, int op, int b, const char *buf, size_t len,
				   char *errbuf, size_t errlen)
{
	Layout		mini;
	Slot		slot;
	Rc			r;
	uint32_t	kind;
	char	   *tmp;
	char	   *cell;
	int64_t		before;
	int64_t		rows;
	bool		ok;
	bool		moved = false;

	if (!bucket_layout(st, op, b, &mini, &slot))
		return core_errorf(errbuf, errlen, "no such operand or bucket");
	if (!rc_begin_bucket(&r, buf, len))
		return core_errorf(errbuf, errlen, "not a bucket state of this engine version");
	if (!rd_u32(&r, &kind) || kind != (uint32_t) slot.kind)
		return core_errorf(errbuf, errlen, "bucket state of another aggregation");
	tmp = core_alloc(st->mlay.cellsize);
	ok = rd_cell(st, &r, tmp, &mini) && r.r.left == 0 && *(int64_t *) tmp >= 0;
	core_free(r.keys);
	core_free(r.hashes);
	cell = st->main + (size_t) b * st->mlay.cellsize;
	before = *(int64_t *) cell;
	rows = *(int64_t *) tmp;
	if (ok && slot.kind == ENGINE_COUNT_DISTINCT)
	{
		AccDistinct *d = (AccDistinct *) (cell + slot.off);
		AccDistinct *t = (AccDistinct *) (tmp + slot.off);

		if (acc_empty(&slot, (const char *) d))
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

/* ---------------------------------------------------------------------
 * One breakdown's cells at one bucket (rolling metrics with breakdowns
 * keep these between passes: see engine.h)
 * ---------------------------------------------------------------------
 */

#define BREAKDOWN_IMAGE_TAG	UINT32_C(0x42524b44)	/* "BRKD" */

/* The slots of breakdown bd's operands in its table, as a layout */
static bool
breakdown_layout(const EngineState *st, int bd, int b, Layout *mini, Slot *slots)
{
	const EngineBreakdown *d;
	const GTable *t;
	int			j;

	if (st == NULL || bd < 0 || bd >= st->nbreakdowns || b < 0 || b >= st->nbuckets)
		return false;
	d = &st->bds[bd];
	t = &st->tables[st->bd_table[bd]];
	memset(mini, 0, sizeof(*mini));
	mini->slots = slots;
	for (j = 0; j < d->nops; j++)
	{
		int32_t		s = t->lay.op_slot[d->ops[j]];

		if (s < 0)
			return false;
		if (j == 0 || d->ops[1] != d->ops[0])
			slots[mini->nslots++] = t->lay.slots[s];
	}
	mini->cellsize = t->lay.cellsize;
	return true;
}

void
engine_bucket_breakdown_image(const EngineState *st, int bd, int b, char **buf, size_t *len)
{
	Wc			w;
	Layout		mini;
	Slot		slots[2];

	wc_begin_bucket(&w);
	if (breakdown_layout(st, bd, b, &mini, slots))
	{
		const GTable *t = &st->tables[st->bd_table[bd]];
		uint32_t	n = 0;
		uint32_t	i;
		int			j;

		wr_u32(&w, BREAKDOWN_IMAGE_TAG);
		wr_u32(&w, (uint32_t) mini.nslots);
		for (j = 0; j < mini.nslots; j++)
			wr_u32(&w, (uint32_t) slots[j].kind);
		for (i = 0; i < t->ncells; i++)
			n += ((const CellHead *) table_cellp(t, i))->bucket == b;
		wr_u32(&w, n);
		for (i = 0; i < t->ncells; i++)
		{
			const CellHead *h = (const CellHead *) table_cellp(t, i);
			bool		isnull = (h->vid == t->dict.null_id);

			if (h->bucket != b)
				continue;
			wr_u32(&w, isnull ? 1 : 0);
			if (!isnull)
			{
				wr_u32(&w, t->dict.ent[h->vid].len);
				wr_bytes(&w.w, t->dict.ent[h->vid].p, t->dict.ent[h->vid].len);
			}
			wr_cell(&w, (const char *) h, &mini, false);
		}
	}
	else
		wr_u32(&w, UINT32_MAX);
	wc_finish(&w, buf, len);
}

/*
 * Load a read cell into a table cell: only into accumulators that are
 * still empty (a slot shared with another breakdown of the same column and
 * operand was loaded by that one's image already); a set is moved
 */
static bool
breakdown_merge(EngineState *st, char *cell, char *tmp, const Layout *mini, char *errbuf, size_t errlen)
{
	Layout		sub;
	Slot		slots[2];
	int64_t		before = *(int64_t *) cell;
	int64_t		rows = *(int64_t *) tmp;
	bool		ok = true;
	int			j;

	memset(&sub, 0, sizeof(sub));
	sub.slots = slots;
	sub.cellsize = mini->cellsize;
	for (j = 0; j < mini->nslots; j++)
	{
		const Slot *sl = &mini->slots[j];

		if (!acc_empty(sl, cell + sl->off))
			continue;
		if (sl->kind == ENGINE_COUNT_DISTINCT)
		{
			AccDistinct *d = (AccDistinct *) (cell + sl->off);
			AccDistinct *s = (AccDistinct *) (tmp + sl->off);

			*d = *s;
			memset(s, 0, sizeof(*s));
			continue;
		}
		slots[sub.nslots++] = *sl;
	}
	if (sub.nslots > 0)
		ok = engine_merge_cell(cell, tmp, &sub, NULL, &st->mem, errbuf, errlen);
	engine_cell_free_sets(tmp, mini, &st->mem);
	/* the cell's row count: the larger of its own and the stored one */
	*(int64_t *) cell = before > rows ? before : rows;
	return ok;
}

bool
engine_bucket_breakdown_load(EngineState *st, int bd, int b, const char *buf, size_t len,
							 char *errbuf, size_t errlen)
{
	Layout		mini;
	Slot		slots[2];
	GTable	   *t;
	Rc			r;
	uint32_t	tag;
	uint32_t	nslots;
	uint32_t	n;
	uint32_t	i;
	char	   *tmp;
	bool		ok = true;
	int			j;

	if (!breakdown_layout(st, bd, b, &mini, slots))
		return core_errorf(errbuf, errlen, "no such breakdown or bucket");
	t = &st->tables[st->bd_table[bd]];
	if (!rc_begin_bucket(&r, buf, len))
		return core_errorf(errbuf, errlen, "not a bucket state of this engine version");
	if (!rd_u32(&r, &tag) || tag != BREAKDOWN_IMAGE_TAG || !rd_u32(&r, &nslots) ||
		nslots != (uint32_t) mini.nslots)
		return core_errorf(errbuf, errlen, "bucket state of another breakdown");
	for (j = 0; j < mini.nslots; j++)
	{
		uint32_t	kind;

		if (!rd_u32(&r, &kind) || kind != (uint32_t) slots[j].kind)
			return core_errorf(errbuf, errlen, "bucket state of another aggregation");
	}
	if (!rd_u32(&r, &n))
		return core_errorf(errbuf, errlen, "corrupt bucket state");
	tmp = core_alloc(t->lay.cellsize);
	for (i = 0; ok && i < n; i++)
	{
		uint32_t	isnull;
		uint32_t	vlen = 0;
		uint32_t	vid = 0;
		char	   *cell;

		if (!rd_u32(&r, &isnull) || isnull > 1 ||
			(!isnull && (!rd_u32(&r, &vlen) || vlen > r.r.left)))
		{
			ok = core_errorf(errbuf, errlen, "corrupt bucket state");
			break;
		}
		if (isnull)
			ok = dict_null(&t->dict, &st->mem, &vid, errbuf, errlen);
		else
		{
			vid = dict_find(&t->dict, r.r.p, vlen, hash_bytes(r.r.p, vlen));
			if (vid == NO_ID)
				ok = dict_intern(&t->dict, &st->arena, &st->mem, r.r.p, vlen, &vid, errbuf, errlen);
			r.r.p += vlen;
			r.r.left -= vlen;
		}
		if (!ok)
			break;
		if (t->dict.n > t->vcap)
			engine_table_values_reserve(st, t);
		memset(tmp, 0, t->lay.cellsize);
		if (!rd_cell(st, &r, tmp, &mini) || *(int64_t *) tmp < 0)
		{
			engine_cell_free_sets(tmp, &mini, &st->mem);
			ok = core_errorf(errbuf, errlen, "corrupt bucket state");
			break;
		}
		cell = engine_table_cell(st, t, vid, b, false, errbuf, errlen);
		if (cell == NULL)
		{
			engine_cell_free_sets(tmp, &mini, &st->mem);
			ok = false;
			break;
		}
		ok = breakdown_merge(st, cell, tmp, &mini, errbuf, errlen);
	}
	if (ok && r.r.left != 0)
		ok = core_errorf(errbuf, errlen, "corrupt bucket state");
	core_free(tmp);
	core_free(r.keys);
	core_free(r.hashes);
	return ok;
}

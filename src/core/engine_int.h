/*-------------------------------------------------------------------------
 *
 * engine_int.h
 *	  Internals of the aggregation engine shared by its files: engine.c
 *	  (states, rows, merging), engine_image.c (serialization) and
 *	  engine_result.c (values and breakdown rows).  Not part of the
 *	  interface (that is engine.h); the layout is described at the top of
 *	  engine.c.
 *
 *	  The containers (counted allocation, the arena, the byte hash, the
 *	  exact sets and the value dictionary) are static inline: they are on
 *	  the per-row path and must stay inlinable into engine_add().
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ENGINE_INT_H
#define TRIPL_ENGINE_INT_H

#include <stdlib.h>
#include <string.h>

#include "ddsketch.h"
#include "engine.h"
#include "hll.h"

#define ENGINE_MAGIC		UINT64_C(0x31474e454c505254)	/* "TRPLENG1" */
#define ENGINE_FORMAT		2

#define HASH_MUL			UINT64_C(0x9E3779B97F4A7C15)
#define NO_ID				UINT32_MAX
#define MAX_IDS				(UINT32_C(1) << 31)

#define CHUNK_SHIFT			8
#define CHUNK_CELLS			(1u << CHUNK_SHIFT)
#define CHUNK_MASK			(CHUNK_CELLS - 1)

#define SET_MIN_LOG2		3
#define SET_MAX_LOG2		31
#define TAB_MIN_LOG2		4

#define MAIN_BASE			8	/* int64 rows */
#define TABLE_BASE			16	/* int64 rows, uint32 value id, int32 bucket */

/* Accumulators */
typedef struct AccCount
{
	int64_t		n;
} AccCount;

typedef struct AccSum
{
	double		s;
	double		c;
	int64_t		n;
} AccSum;

typedef struct AccExt
{
	double		v;
	int64_t		n;
} AccExt;

typedef struct ISet
{
	uint64_t   *slots;			/* 1 << log2 slots, 0 = free; NULL when log2
								 * is 0 */
	uint32_t	count;			/* non-zero keys stored */
	uint8_t		log2;
	bool		has_zero;
} ISet;

typedef struct BEnt
{
	const char *p;				/* the bytes; NULL: a free slot */
	uint32_t	len;
	uint32_t	hash;
} BEnt;

typedef struct BSet
{
	BEnt	   *slots;			/* 1 << log2 slots; NULL when log2 is 0 */
	uint32_t	count;
	uint8_t		log2;
} BSet;

typedef struct AccDistinct
{
	int64_t		n;
	int64_t		shipped;		/* keys counted by shipped states (engine_ship),
								 * disjoint from the sets and from each other */
	ISet		iv;				/* by-value keys */
	BSet		ib;				/* byte keys */
} AccDistinct;

/* percentile: the bucket's non-NULL measures, in arrival order */
typedef struct AccPct
{
	int64_t		n;
	int64_t		cap;
	double	   *v;				/* cap doubles, or NULL */
} AccPct;

/* approx_percentile: a sketch, started on its first value (alpha 0: empty) */
typedef struct AccDds
{
	DdSketch	s;
} AccDds;

/* approx_distinct: matched rows and a sketch of the non-NULL keys */
typedef struct AccHll
{
	int64_t		n;
	Hll			h;
} AccHll;

/* The heap part of a quantile sketch (its growth is counted) */
static inline size_t
acc_dds_heap(const DdSketch *s)
{
	return sizeof(uint64_t) * (size_t) (s->pos.capacity + s->neg.capacity);
}

/* The heap part of a distinct-count sketch */
static inline size_t
acc_hll_heap(const Hll *h)
{
	return h->registers != NULL ? (size_t) HLL_M : sizeof(uint64_t) * (size_t) h->capacity;
}

/* Cell header of breakdown cells */
typedef struct CellHead
{
	int64_t		rows;
	uint32_t	vid;
	int32_t		bucket;
} CellHead;

/* An operand compiled into a cell layout */
typedef struct Slot
{
	int			kind;			/* EngineAgg */
	int			filter;
	int			arg;			/* measure or key index */
	uint32_t	off;
	double		p;				/* percentile kinds: the fraction */
	bool		disjoint;		/* count_distinct shipped as a count */
} Slot;

typedef struct Layout
{
	int			nslots;
	Slot	   *slots;
	int32_t    *op_slot;		/* per operand of the spec: slot index or -1 */
	size_t		cellsize;
	bool		has_distinct;	/* some slot is count_distinct (presizing) */
	bool		has_heap;		/* some slot owns memory (sets, buffers,
								 * sketches): cells must be freed */
} Layout;

/* Chunked byte storage; chunks never move */
typedef struct ArenaChunk
{
	struct ArenaChunk *next;
	size_t		size;
} ArenaChunk;

typedef struct Arena
{
	ArenaChunk *head;
	char	   *pos;
	size_t		left;
	size_t		total;
} Arena;

/* A byte dictionary: bytes -> dense id */
typedef struct DictEnt
{
	const char *p;
	uint32_t	len;
	uint32_t	hash;
} DictEnt;

typedef struct Dict
{
	DictEnt    *ent;
	uint32_t	n;
	uint32_t	entcap;
	uint32_t   *tab;			/* id + 1, 0 = free */
	uint32_t	tabcap;			/* power of two, or 0 */
	uint32_t	null_id;		/* id standing for NULL, or NO_ID */
} Dict;

/* Per value of a group table: the cell of the bucket it was last seen in */
typedef struct VCache
{
	int32_t		bucket;
	uint32_t	cell;			/* cell index + 1, 0 = none */
} VCache;

typedef struct RankSpec
{
	bool		used;
	int			n;
	int			f[2];
} RankSpec;

typedef struct GTable
{
	int			group;
	Layout		lay;
	int			nbd;
	int		   *bd;				/* breakdown indexes */
	RankSpec   *rk;				/* per breakdown of the table */
	bool		capped;			/* some breakdown keeps every value */
	Dict		dict;
	VCache	   *vc;				/* vcap entries */
	int64_t    *rank;			/* vcap * nbd counters */
	uint32_t	vcap;
	char	  **chunks;
	uint32_t	nchunks;
	uint32_t	chunkcap;
	uint32_t	ncells;
	uint32_t   *ctab;			/* cell index + 1, 0 = free */
	uint32_t	ctabcap;
	uint8_t		ctablog2;
} GTable;

struct EngineState
{
	/* the spec, copied */
	int64_t		start;
	int64_t		width;
	int64_t		end;
	int64_t    *bounds;			/* calendar grids (see EngineSpec), or NULL */
	int			nbuckets;
	int			nfilters;
	int			nmeasures;
	int			nkeys;
	int			ngroups;
	int			nops;
	EngineOperand *ops;
	int			nbreakdowns;
	EngineBreakdown *bds;
	int64_t		max_rows;
	bool		skip_main;
	uint64_t	fingerprint;

	bool		need_filters;
	bool		need_measures;
	bool		need_keys;
	bool		need_groups;
	bool	   *no_nulls;		/* nmeasures false values */

	size_t		mem;			/* bytes allocated */
	Arena		arena;			/* byte keys, group values, presets */

	Layout		mlay;
	char	   *main;			/* nbuckets * mlay.cellsize, or NULL */
	int64_t		nonempty;

	/* the current bucket */
	int64_t		cur_lo;
	int64_t		cur_hi;
	int			cur_b;

	int			ntables;
	GTable	   *tables;
	int		   *bd_table;		/* per breakdown: its table */
	int		   *bd_pos;			/* per breakdown: its position in the table */
};

/* Serialization buffer */
typedef struct Wr
{
	char	   *buf;
	size_t		len;
	size_t		cap;
} Wr;

typedef struct Rd
{
	const char *p;
	size_t		left;
} Rd;

typedef struct RankItem
{
	int64_t		n;
	const char *p;
	uint32_t	len;
	bool		isnull;
	uint32_t	id;
} RankItem;

/* Allocate zeroed memory, counting it */
static inline void *
mem_alloc(size_t *mem, size_t size)
{
	if (mem != NULL)
		*mem += size;
	return core_alloc(size);
}

/* Free memory allocated by mem_alloc */
static inline void
mem_free(size_t *mem, void *p, size_t size)
{
	if (p == NULL)
		return;
	if (mem != NULL)
		*mem -= size;
	core_free(p);
}

/* Copy bytes into the arena; the copy never moves */
static inline const char *
arena_copy(Arena *a, size_t *mem, const char *p, uint32_t len)
{
	const char *r;

	if (len == 0)
		return "";
	if (a->left < len)
	{
		size_t		sz = a->total;
		ArenaChunk *c;

		if (sz < 4096)
			sz = 4096;
		if (sz > ((size_t) 1 << 20))
			sz = (size_t) 1 << 20;
		if (sz < len)
			sz = len;
		c = mem_alloc(mem, sizeof(ArenaChunk) + sz);
		c->next = a->head;
		c->size = sizeof(ArenaChunk) + sz;
		a->head = c;
		a->pos = (char *) (c + 1);
		a->left = sz;
		a->total += sz;
	}
	memcpy(a->pos, p, len);
	r = a->pos;
	a->pos += len;
	a->left -= len;
	return r;
}

/* Free the arena's chunks */
static inline void
arena_free(Arena *a, size_t *mem)
{
	ArenaChunk *c = a->head;

	while (c != NULL)
	{
		ArenaChunk *next = c->next;

		mem_free(mem, c, c->size);
		c = next;
	}
	memset(a, 0, sizeof(*a));
}

/* Load 8 bytes from a possibly unaligned address */
static inline uint64_t
load64(const char *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Load 4 bytes from a possibly unaligned address */
static inline uint32_t
load32(const char *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Multiply two words, folding the 128-bit product (the "mum" mix) */
static inline uint64_t
mix_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	__uint128_t r = (__uint128_t) a * b;

	return (uint64_t) r ^ (uint64_t) (r >> 64);
#else
	uint64_t	r = a * b;
	uint64_t	hi = ((a >> 32) * (b >> 32)) + ((a >> 32) * (b & 0xffffffff) >> 32) +
		((a & 0xffffffff) * (b >> 32) >> 32);

	return r ^ hi;
#endif
}

#define HASH_S0		UINT64_C(0xa0761d6478bd642f)
#define HASH_S1		UINT64_C(0xe7037ed1a0b428db)
#define HASH_S2		UINT64_C(0x8ebc6af09c88c6e3)

/*
 * A 32-bit hash of bytes in the style of wyhash: the bytes are read as
 * words (short strings with two overlapping loads, never past the end),
 * mixed by 64x64->128 multiplications, the length included.
 */
static inline uint32_t
hash_bytes(const char *data, uint32_t len)
{
	uint64_t	seed = HASH_S0 ^ len;
	uint64_t	a;
	uint64_t	b;
	uint64_t	h;

	if (len <= 16)
	{
		if (len >= 8)
		{
			a = load64(data);
			b = load64(data + len - 8);
		}
		else if (len >= 4)
		{
			a = load32(data);
			b = load32(data + len - 4);
		}
		else if (len > 0)
		{
			const unsigned char *p = (const unsigned char *) data;

			a = ((uint64_t) p[0] << 16) | ((uint64_t) p[len >> 1] << 8) | p[len - 1];
			b = 0;
		}
		else
			a = b = 0;
	}
	else
	{
		const char *p = data;
		uint32_t	n = len;

		while (n > 16)
		{
			seed = mix_mul(load64(p) ^ HASH_S1, load64(p + 8) ^ seed);
			p += 16;
			n -= 16;
		}
		a = load64(data + len - 16);
		b = load64(data + len - 8);
	}
	h = mix_mul(a ^ HASH_S1, b ^ seed);
	h = mix_mul(h ^ HASH_S2, (uint64_t) len ^ HASH_S1);
	return (uint32_t) (h ^ (h >> 32));
}

/* Equality of two byte strings of the same length */
static inline bool
bytes_eq(const char *a, const char *b, uint32_t len)
{
	if (len > 16)
		return memcmp(a, b, len) == 0;
	if (len >= 8)
		return ((load64(a) ^ load64(b)) |
				(load64(a + len - 8) ^ load64(b + len - 8))) == 0;
	if (len >= 4)
		return ((load32(a) ^ load32(b)) |
				(load32(a + len - 4) ^ load32(b + len - 4))) == 0;
	if (len == 0)
		return true;
	return a[0] == b[0] && a[len >> 1] == b[len >> 1] && a[len - 1] == b[len - 1];
}

/* Slot of a 64-bit key in a table of 1 << log2 slots */
static inline uint32_t
slot_of(uint64_t key, int log2)
{
	key ^= key >> 32;
	return (uint32_t) ((key * HASH_MUL) >> (64 - log2));
}

/* ---------------------------------------------------------------------
 * Exact sets of uint64
 * ---------------------------------------------------------------------
 */

/* Number of distinct keys in a set */
static inline int64_t
iset_size(const ISet *s)
{
	return (int64_t) s->count + (s->has_zero ? 1 : 0);
}

/* Resize a set's table to 1 << log2 slots; false when that is too large */
static inline bool
iset_resize(ISet *s, int log2, size_t *mem)
{
	uint64_t   *slots;
	uint32_t	mask;
	uint32_t	i;
	uint32_t	oldcap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);

	if (log2 > SET_MAX_LOG2)
		return false;
	mask = (UINT32_C(1) << log2) - 1;
	slots = mem_alloc(mem, sizeof(uint64_t) * ((size_t) mask + 1));
	for (i = 0; i < oldcap; i++)
	{
		uint64_t	k = s->slots[i];
		uint32_t	j;

		if (k == 0)
			continue;
		j = slot_of(k, log2);
		while (slots[j] != 0)
			j = (j + 1) & mask;
		slots[j] = k;
	}
	mem_free(mem, s->slots, sizeof(uint64_t) * oldcap);
	s->slots = slots;
	s->log2 = (uint8_t) log2;
	return true;
}

/* Add a key; returns 1 when new, 0 when present, -1 when the set is full */
static inline int
iset_add(ISet *s, uint64_t key, size_t *mem)
{
	if (key == 0)
	{
		if (s->has_zero)
			return 0;
		s->has_zero = true;
		return 1;
	}
	if (s->log2 == 0 && !iset_resize(s, SET_MIN_LOG2, mem))
		return -1;
	for (;;)
	{
		uint32_t	mask = (UINT32_C(1) << s->log2) - 1;
		uint32_t	i = slot_of(key, s->log2);
		uint64_t   *slots = s->slots;

		for (;;)
		{
			uint64_t	v = slots[i];

			if (v == key)
				return 0;
			if (v == 0)
				break;
			i = (i + 1) & mask;
		}
		if (((uint64_t) s->count + 1) * 4 <= ((uint64_t) mask + 1) * 3)
		{
			slots[i] = key;
			s->count++;
			return 1;
		}
		if (!iset_resize(s, s->log2 + 1, mem))
			return -1;
	}
}

/* Smallest table size (log2) holding n keys */
static inline int
set_log2_for(uint32_t n)
{
	int			log2 = SET_MIN_LOG2;

	while (log2 < SET_MAX_LOG2 && ((uint64_t) n * 4 > ((uint64_t) 1 << log2) * 3))
		log2++;
	return log2;
}

/* Make room for n keys without doubling */
static inline void
iset_reserve(ISet *s, uint32_t n, size_t *mem)
{
	int			log2 = set_log2_for(n);

	if (log2 > s->log2)
		(void) iset_resize(s, log2, mem);
}

/* Add every key of src to dst */
static inline bool
iset_union(ISet *dst, const ISet *src, size_t *mem)
{
	uint32_t	cap = src->log2 == 0 ? 0 : (UINT32_C(1) << src->log2);
	uint32_t	i;

	if (src->has_zero && iset_add(dst, 0, mem) < 0)
		return false;
	for (i = 0; i < cap; i++)
	{
		uint64_t	k = src->slots[i];

		if (k == 0)
			continue;
		if (iset_add(dst, k, mem) < 0)
			return false;
	}
	return true;
}

/* Free a set's table */
static inline void
iset_free(ISet *s, size_t *mem)
{
	if (s->log2 != 0)
		mem_free(mem, s->slots, sizeof(uint64_t) * ((size_t) 1 << s->log2));
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------
 * Exact sets of byte strings
 * ---------------------------------------------------------------------
 */

/* Resize a byte set's table to 1 << log2 slots */
static inline void
bset_resize(BSet *s, int log2, size_t *mem)
{
	uint32_t	mask = (UINT32_C(1) << log2) - 1;
	BEnt	   *slots = mem_alloc(mem, sizeof(BEnt) * ((size_t) mask + 1));
	uint32_t	oldcap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);
	uint32_t	i;

	for (i = 0; i < oldcap; i++)
	{
		const BEnt *e = &s->slots[i];
		uint32_t	j;

		if (e->p == NULL)
			continue;
		j = e->hash & mask;
		while (slots[j].p != NULL)
			j = (j + 1) & mask;
		slots[j] = *e;
	}
	mem_free(mem, s->slots, sizeof(BEnt) * (size_t) oldcap);
	s->slots = slots;
	s->log2 = (uint8_t) log2;
}

/*
 * Add bytes with hash h: 1 when new, 0 when present, -1 when the set is
 * full.  New bytes are copied into arena, or referenced when arena is NULL.
 */
static inline int
bset_add(BSet *s, const char *p, uint32_t len, uint32_t h, Arena *arena, size_t *mem)
{
	if (s->log2 == 0)
		bset_resize(s, SET_MIN_LOG2, mem);
	for (;;)
	{
		uint32_t	mask = (UINT32_C(1) << s->log2) - 1;
		uint32_t	i = h & mask;
		BEnt	   *e;

		for (;;)
		{
			e = &s->slots[i];
			if (e->p == NULL)
				break;
			if (e->hash == h && e->len == len &&
				bytes_eq(e->p, p, len))
				return 0;
			i = (i + 1) & mask;
		}
		if (((uint64_t) s->count + 1) * 4 <= ((uint64_t) mask + 1) * 3)
		{
			if (arena != NULL)
				e->p = arena_copy(arena, mem, p, len);
			else
				e->p = len == 0 ? "" : p;
			e->len = len;
			e->hash = h;
			s->count++;
			return 1;
		}
		if (s->log2 >= SET_MAX_LOG2)
			return -1;
		bset_resize(s, s->log2 + 1, mem);
	}
}

/* Make room for n keys without doubling */
static inline void
bset_reserve(BSet *s, uint32_t n, size_t *mem)
{
	int			log2 = set_log2_for(n);

	if (log2 > s->log2)
		bset_resize(s, log2, mem);
}

/* Add every key of src to dst (copied into arena, or referenced when NULL) */
static inline bool
bset_union(BSet *dst, const BSet *src, Arena *arena, size_t *mem)
{
	uint32_t	cap = src->log2 == 0 ? 0 : (UINT32_C(1) << src->log2);
	uint32_t	i;

	for (i = 0; i < cap; i++)
	{
		const BEnt *e = &src->slots[i];

		if (e->p != NULL && bset_add(dst, e->p, e->len, e->hash, arena, mem) < 0)
			return false;
	}
	return true;
}

/* Free a byte set's table (the bytes belong to an arena) */
static inline void
bset_free(BSet *s, size_t *mem)
{
	if (s->log2 != 0)
		mem_free(mem, s->slots, sizeof(BEnt) * ((size_t) 1 << s->log2));
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------
 * Byte dictionaries
 * ---------------------------------------------------------------------
 */

/* Id of bytes with a known hash, or NO_ID */
static inline uint32_t
dict_find(const Dict *d, const char *p, uint32_t len, uint32_t h)
{
	uint32_t	mask;
	uint32_t	i;

	if (d->tabcap == 0)
		return NO_ID;
	mask = d->tabcap - 1;
	i = h & mask;
	for (;;)
	{
		uint32_t	e = d->tab[i];
		const DictEnt *ent;

		if (e == 0)
			return NO_ID;
		ent = &d->ent[e - 1];
		if (ent->hash == h && ent->len == len &&
			bytes_eq(ent->p, p, len))
			return e - 1;
		i = (i + 1) & mask;
	}
}

/* Make room for one more entry */
static inline bool
dict_reserve(Dict *d, size_t *mem, char *errbuf, size_t errlen)
{
	if (d->n + 1 >= MAX_IDS)
		return core_errorf(errbuf, errlen, "too many distinct values");
	if ((uint64_t) (d->n + 1) * 2 > d->tabcap)
	{
		uint32_t	cap = d->tabcap == 0 ? (UINT32_C(1) << TAB_MIN_LOG2) : d->tabcap * 2;
		uint32_t   *tab = mem_alloc(mem, sizeof(uint32_t) * (size_t) cap);
		uint32_t	i;

		for (i = 0; i < d->n; i++)
		{
			uint32_t	j;

			if (i == d->null_id)
				continue;
			j = d->ent[i].hash & (cap - 1);
			while (tab[j] != 0)
				j = (j + 1) & (cap - 1);
			tab[j] = i + 1;
		}
		mem_free(mem, d->tab, sizeof(uint32_t) * (size_t) d->tabcap);
		d->tab = tab;
		d->tabcap = cap;
	}
	if (d->n == d->entcap)
	{
		uint32_t	cap = d->entcap == 0 ? 16 : d->entcap * 2;
		DictEnt    *ent = mem_alloc(mem, sizeof(DictEnt) * (size_t) cap);

		if (d->n > 0)
			memcpy(ent, d->ent, sizeof(DictEnt) * (size_t) d->n);
		mem_free(mem, d->ent, sizeof(DictEnt) * (size_t) d->entcap);
		d->ent = ent;
		d->entcap = cap;
	}
	return true;
}

/* Id of bytes, adding them (copied into the arena) when new */
static inline bool
dict_intern(Dict *d, Arena *a, size_t *mem, const char *p, uint32_t len,
			uint32_t *id, char *errbuf, size_t errlen)
{
	uint32_t	h = hash_bytes(p, len);
	uint32_t	found = dict_find(d, p, len, h);
	uint32_t	mask;
	uint32_t	i;
	DictEnt    *ent;

	if (found != NO_ID)
	{
		*id = found;
		return true;
	}
	if (!dict_reserve(d, mem, errbuf, errlen))
		return false;
	mask = d->tabcap - 1;
	i = h & mask;
	while (d->tab[i] != 0)
		i = (i + 1) & mask;
	ent = &d->ent[d->n];
	ent->p = arena_copy(a, mem, p, len);
	ent->len = len;
	ent->hash = h;
	d->tab[i] = d->n + 1;
	*id = d->n++;
	return true;
}

/* Id of NULL, adding it when new */
static inline bool
dict_null(Dict *d, size_t *mem, uint32_t *id, char *errbuf, size_t errlen)
{
	if (d->null_id == NO_ID)
	{
		if (!dict_reserve(d, mem, errbuf, errlen))
			return false;
		memset(&d->ent[d->n], 0, sizeof(DictEnt));
		d->null_id = d->n++;
	}
	*id = d->null_id;
	return true;
}

/* Free a dictionary (its bytes belong to the arena) */
static inline void
dict_free(Dict *d, size_t *mem)
{
	mem_free(mem, d->ent, sizeof(DictEnt) * (size_t) d->entcap);
	mem_free(mem, d->tab, sizeof(uint32_t) * (size_t) d->tabcap);
	memset(d, 0, sizeof(*d));
	d->null_id = NO_ID;
}


/* ---------------------------------------------------------------------
 * Shared between the engine's files (defined in engine.c)
 * ---------------------------------------------------------------------
 */
/* Pointer to cell idx of a group table */
static inline char *
table_cellp(const GTable *t, uint32_t idx)
{
	return t->chunks[idx >> CHUNK_SHIFT] + (size_t) (idx & CHUNK_MASK) * t->lay.cellsize;
}

/* Key of a (value, bucket) pair in the cell table */
static inline uint64_t
cell_key(uint32_t vid, int32_t bucket)
{
	return ((uint64_t) vid << 32) | (uint32_t) bucket;
}

extern double engine_acc_value(const Slot *sl, const char *a);
extern void engine_cell_free_sets(char *cell, const Layout *lay, size_t *mem);
extern bool engine_merge_cell(char *dst, const char *src, const Layout *lay, Arena *arena,
							  size_t *mem, char *errbuf, size_t errlen);
extern void engine_table_values_reserve(EngineState *st, GTable *t);
extern char *engine_table_cell(EngineState *st, GTable *t, uint32_t vid, int bucket,
							   bool presize, char *errbuf, size_t errlen);
/*
 * Defined in engine_window.c: rolling values of one slot over per-bucket
 * cells; *scratch (NULL at first) keeps memory for the next call, freed
 * with engine_window_scratch_free
 */
typedef struct WindowScratch WindowScratch;
extern void engine_window_cells(const char *const *cells, int n, const Slot *sl, size_t cellsize,
								int window, double *out, WindowScratch **scratch);
extern void engine_window_scratch_free(WindowScratch *ws);

#endif							/* TRIPL_ENGINE_INT_H */

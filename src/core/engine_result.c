/*-------------------------------------------------------------------------
 *
 * engine_result.c
 *	  The aggregation engine's results (see engine.h): per-bucket values,
 *	  breakdown rows with ranking and folding into 'Other', and the rank of
 *	  a value among threshold constants.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "engine_int.h"


/* ---------------------------------------------------------------------
 * Results
 * ---------------------------------------------------------------------
 */

/* Per-bucket values of an operand (NaN for a gap) into out[nbuckets] */
void
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

/* Compose a breakdown value; false when the row is skipped */
static bool
compose(int nops, double num, double den, double *v)
{
	if (nops == 1)
	{
		if (isnan(num))
			return false;
		*v = num;
		return true;
	}
	return compose_ratio_value(num, den, v);
}

/* Byte order with shorter prefixes first (COLLATE "C") */
static int
bytes_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
	uint32_t	n = alen < blen ? alen : blen;
	int			c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Ranking order: count descending, then non-NULL values in byte order */
static int
rank_cmp(const void *pa, const void *pb)
{
	const RankItem *a = pa;
	const RankItem *b = pb;

	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	if (a->isnull != b->isnull)
		return a->isnull ? 1 : -1;
	if (a->isnull)
		return 0;
	return bytes_cmp(a->p, a->len, b->p, b->len);
}

/* Row order: bucket, values in byte order, NULL, then 'Other' */
static int
row_cmp(const void *pa, const void *pb)
{
	const EngineBreakdownRow *a = pa;
	const EngineBreakdownRow *b = pb;

	if (a->bucket != b->bucket)
		return a->bucket < b->bucket ? -1 : 1;
	if (a->is_other != b->is_other)
		return a->is_other ? 1 : -1;
	if (a->value_null != b->value_null)
		return a->value_null ? 1 : -1;
	if (a->is_other || a->value_null)
		return 0;
	return bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

/* Mark the values a breakdown keeps */
static void
kept_values(const EngineBreakdown *b, const GTable *t, int pos, bool *kept)
{
	uint32_t	n = t->dict.n;
	uint32_t	i;

	if (b->keep == 0 && !b->use_preset)
	{
		for (i = 0; i < n; i++)
			kept[i] = true;
	}
	else if (b->use_preset)
	{
		int			j;

		for (j = 0; j < b->npreset; j++)
		{
			uint32_t	id = dict_find(&t->dict, b->preset[j], b->preset_len[j],
									   hash_bytes(b->preset[j], b->preset_len[j]));

			if (id != NO_ID)
				kept[id] = true;
		}
		if (b->preset_null && t->dict.null_id != NO_ID)
			kept[t->dict.null_id] = true;
	}
	else
	{
		RankItem   *items = core_alloc(sizeof(RankItem) * ((size_t) n + 1));
		uint32_t	m = 0;

		for (i = 0; i < n; i++)
		{
			int64_t		c = t->rank[(size_t) i * (size_t) t->nbd + (size_t) pos];

			if (c <= 0)
				continue;
			items[m].n = c;
			items[m].isnull = (i == t->dict.null_id);
			items[m].p = t->dict.ent[i].p;
			items[m].len = t->dict.ent[i].len;
			items[m].id = i;
			m++;
		}
		qsort(items, m, sizeof(RankItem), rank_cmp);
		for (i = 0; i < m && (int64_t) i < (int64_t) b->keep; i++)
			kept[items[i].id] = true;
		core_free(items);
	}
}

/* Breakdown rows of one output */
int
engine_breakdown_rows(const EngineState *st, int breakdown, EngineBreakdownRow **rows,
					  char *errbuf, size_t errlen)
{
	const EngineBreakdown *b;
	const GTable *t;
	bool	   *kept;
	bool	   *has_other;
	char	   *other = NULL;
	Layout		mini;
	Slot		minislots[2];
	const Slot *sls[2];
	uint32_t	offs[2];
	int64_t		total = 0;
	int64_t		nother = 0;
	EngineBreakdownRow *out;
	int			k = 0;
	uint32_t	i;
	int			j;
	size_t		cs;

	if (rows == NULL)
	{
		core_errorf(errbuf, errlen, "no result pointer");
		return -1;
	}
	*rows = NULL;
	if (st == NULL || breakdown < 0 || breakdown >= st->nbreakdowns)
	{
		core_errorf(errbuf, errlen, "no such breakdown");
		return -1;
	}
	b = &st->bds[breakdown];
	t = &st->tables[st->bd_table[breakdown]];
	cs = t->lay.cellsize;

	memset(&mini, 0, sizeof(mini));
	mini.slots = minislots;
	for (j = 0; j < b->nops; j++)
	{
		const Slot *sl = &t->lay.slots[t->lay.op_slot[b->ops[j]]];

		sls[j] = sl;
		offs[j] = sl->off;
		if (j == 0 || b->ops[1] != b->ops[0])
			minislots[mini.nslots++] = *sl;
	}

	kept = core_alloc(sizeof(bool) * ((size_t) t->dict.n + 1));
	kept_values(b, t, st->bd_pos[breakdown], kept);
	has_other = core_alloc(sizeof(bool) * ((size_t) st->nbuckets + 1));
	for (i = 0; i < t->ncells; i++)
	{
		const CellHead *h = (const CellHead *) table_cellp(t, i);

		if (kept[h->vid])
			total++;
		else if (!has_other[h->bucket])
		{
			has_other[h->bucket] = true;
			nother++;
		}
	}
	total += nother;
	if (st->max_rows > 0 && total > st->max_rows)
	{
		core_free(kept);
		core_free(has_other);
		core_errorf(errbuf, errlen, "breakdown result exceeds the row limit of %lld rows",
			 (long long) st->max_rows);
		return -1;
	}
	if (total > INT32_MAX)
	{
		core_free(kept);
		core_free(has_other);
		core_errorf(errbuf, errlen, "too many breakdown rows");
		return -1;
	}

	/* fold the other values per bucket */
	if (nother > 0)
	{
		other = core_alloc(cs * (size_t) st->nbuckets);
		for (i = 0; i < t->ncells; i++)
		{
			const CellHead *h = (const CellHead *) table_cellp(t, i);

			if (kept[h->vid])
				continue;
			if (!engine_merge_cell(other + (size_t) h->bucket * cs, (const char *) h, &mini, NULL,
							NULL, errbuf, errlen))
			{
				total = -1;
				break;
			}
		}
	}

	out = NULL;
	if (total >= 0)
	{
		out = core_alloc(sizeof(EngineBreakdownRow) * (size_t) (total + 1));
		for (i = 0; i < t->ncells; i++)
		{
			const CellHead *h = (const CellHead *) table_cellp(t, i);
			double		num;
			double		den = NAN;
			EngineBreakdownRow *r = &out[k];

			if (!kept[h->vid])
				continue;
			num = engine_acc_value(sls[0], (const char *) h + offs[0]);
			if (b->nops > 1)
				den = engine_acc_value(sls[1], (const char *) h + offs[1]);
			if (!compose(b->nops, num, den, &r->v))
				continue;
			r->bucket = h->bucket;
			r->value_null = (h->vid == t->dict.null_id);
			r->value = r->value_null ? NULL : t->dict.ent[h->vid].p;
			r->value_len = r->value_null ? 0 : t->dict.ent[h->vid].len;
			r->is_other = false;
			k++;
		}
		for (j = 0; j < st->nbuckets && nother > 0; j++)
		{
			const char *cell;
			double		num;
			double		den = NAN;
			EngineBreakdownRow *r = &out[k];

			if (!has_other[j])
				continue;
			cell = other + (size_t) j * cs;
			num = engine_acc_value(sls[0], cell + offs[0]);
			if (b->nops > 1)
				den = engine_acc_value(sls[1], cell + offs[1]);
			if (!compose(b->nops, num, den, &r->v))
				continue;
			r->bucket = j;
			r->value_null = false;
			r->value = "Other";
			r->value_len = 5;
			r->is_other = true;
			k++;
		}
		qsort(out, (size_t) k, sizeof(EngineBreakdownRow), row_cmp);
	}

	if (other != NULL)
	{
		if (t->lay.has_heap)
			for (j = 0; j < st->nbuckets; j++)
				if (has_other[j])
					engine_cell_free_sets(other + (size_t) j * cs, &mini, NULL);
		core_free(other);
	}
	core_free(kept);
	core_free(has_other);
	if (total < 0)
	{
		if (out != NULL)
			core_free(out);
		return -1;
	}
	*rows = out;
	return k;
}
/*
 * A value's rank among sorted threshold constants (see engine.h): a binary
 * search on the doubles, the exact comparison only where doubles tie.
 */
int
engine_threshold_rank(const double *sorted, int n, double x,
					  EngineExactCmp cmp, void *arg, bool *eq)
{
	int			lo = 0;
	int			hi = n;

	*eq = false;
	if (isnan(x))
		return n;
	/* lo: the first constant whose double is >= x */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (sorted[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* doubles equal to x: their exact order decides */
	while (lo < n && sorted[lo] == x)
	{
		int			c = cmp(arg, lo);

		if (c > 0)
			lo++;
		else
		{
			*eq = (c == 0);
			break;
		}
	}
	return lo;
}

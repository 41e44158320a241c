/*-------------------------------------------------------------------------
 *
 * engine_result.c
 *	  The aggregation engine's results (see engine.h): breakdown rows with
 *	  ranking and folding into 'Other' (rolling ones over the window:
 *	  engine_window_cells), and the rank of a value among threshold
 *	  constants.  Operand values are engine_window.c's.
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

/*
 * total breakdown rows within the engine's row limit?  Else -1 with a
 * message.
 */
static int64_t
rows_within_limit(const EngineState *st, int64_t total, char *errbuf, size_t errlen)
{
	if (st->max_rows > 0 && total > st->max_rows)
	{
		core_errorf(errbuf, errlen, "breakdown result exceeds the row limit of %lld rows",
					(long long) st->max_rows);
		return -1;
	}
	if (total > INT32_MAX)
	{
		core_errorf(errbuf, errlen, "too many breakdown rows");
		return -1;
	}
	return total;
}

/*
 * The cells of the values not kept folded per bucket: nb cells of the
 * table's size (has_other says which hold one), in *other; false with a
 * message when a merge fails (*other is still to be freed)
 */
static bool
fold_other(const GTable *t, const bool *kept, const Layout *mini, int nb, char **other,
		   char *errbuf, size_t errlen)
{
	size_t		cs = t->lay.cellsize;
	uint32_t	i;

	*other = core_alloc(cs * (size_t) nb);
	for (i = 0; i < t->ncells; i++)
	{
		const CellHead *h = (const CellHead *) table_cellp(t, i);

		if (kept[h->vid])
			continue;
		if (!engine_merge_cell(*other + (size_t) h->bucket * cs, (const char *) h, mini, NULL,
							   NULL, errbuf, errlen))
			return false;
	}
	return true;
}

/* Free what fold_other made (NULL: nothing) */
static void
free_other(char *other, const GTable *t, const bool *has_other, const Layout *mini, int nb)
{
	int			j;

	if (other == NULL)
		return;
	if (t->lay.has_heap)
		for (j = 0; j < nb; j++)
			if (has_other[j])
				engine_cell_free_sets(other + (size_t) j * t->lay.cellsize, mini, NULL);
	core_free(other);
}

/*
 * Rows one value gets from a rolling breakdown: the buckets from `from` on
 * whose window b-window+1 .. b holds one of its cells (cellp[b] non-NULL
 * for lo <= b < hi)
 */
static int64_t
window_covered(const char *const *cellp, int lo, int hi, int window, int from)
{
	int64_t		n = 0;
	int			present = 0;
	int			b;

	for (b = lo; b < hi; b++)
	{
		present += cellp[b] != NULL;
		if (b - window >= lo && cellp[b - window] != NULL)
			present--;
		if (present > 0 && b >= from)
			n++;
	}
	return n;
}

/*
 * Append one value's rolling rows (cellp[lo .. hi) its cells per bucket)
 * to out at *k: each operand rolled over the window
 * (engine_window_cells), then composed
 */
static void
window_value_rows(const EngineBreakdown *b, const Slot *const *sls,
				  size_t cs, const char *const *cellp, int lo, int hi, int window, int from,
				  double *const *vals, bool value_null, const char *value, uint32_t value_len,
				  bool is_other, EngineBreakdownRow *out, int *k, WindowScratch **scratch)
{
	int			j;
	int			bb;

	for (j = 0; j < b->nops; j++)
		engine_window_cells(cellp + lo, hi - lo, sls[j], cs, window, vals[j] + lo, scratch);
	for (bb = lo > from ? lo : from; bb < hi; bb++)
	{
		EngineBreakdownRow *r = &out[*k];

		if (!compose(b->nops, vals[0][bb], b->nops > 1 ? vals[1][bb] : NAN, &r->v))
			continue;
		r->bucket = bb;
		r->value_null = value_null;
		r->value = value;
		r->value_len = value_len;
		r->is_other = is_other;
		(*k)++;
	}
}

/*
 * Point cellp at value v's cells (its table indexes idx[first .. last)),
 * and set [*lo, *hi) to the buckets its rolling rows may cover: from its
 * first cell to window - 1 buckets after its last, within the grid of nb.
 * False when v has no cell.
 */
static bool
value_cells(const GTable *t, const uint32_t *idx, uint32_t first, uint32_t last, int nb, int window,
			const char **cellp, int *lo, int *hi)
{
	uint32_t	i;

	*lo = nb;
	*hi = 0;
	for (i = first; i < last; i++)
	{
		const CellHead *h = (const CellHead *) table_cellp(t, idx[i]);

		cellp[h->bucket] = (const char *) h;
		*lo = h->bucket < *lo ? h->bucket : *lo;
		*hi = h->bucket + 1 > *hi ? h->bucket + 1 : *hi;
	}
	if (*lo >= *hi)
		return false;
	*hi = *hi + window - 1 < nb ? *hi + window - 1 : nb;
	return true;
}

/*
 * Breakdown rows of a rolling output (its operands' window > 1): the value
 * of v at bucket b combines v's cells of buckets b-window+1 .. b, and
 * 'Other' the per-bucket folds of the values not kept; a value without a
 * matching row in the whole window is a gap.  Rows start at bucket
 * window-1, the first whose whole window is in the grid.  The cells are
 * visited per value (a value's cells listed once), so the extra memory is
 * one value's at a time: its per-bucket pointers and, for an exact
 * distinct count, the map of its keys over the grid (engine_window_cells).
 */
static int
window_breakdown_rows(const EngineState *st, const EngineBreakdown *b, const GTable *t,
					  const bool *kept, const Layout *mini, const Slot *const *sls,
					  EngineBreakdownRow **rows, char *errbuf, size_t errlen)
{
	int			window = st->ops[b->ops[0]].window;
	int			from = window - 1;
	int			nb = st->nbuckets;
	uint32_t	nv = t->dict.n;
	size_t		cs = t->lay.cellsize;
	uint32_t   *start = core_alloc(sizeof(uint32_t) * ((size_t) nv + 2));
	uint32_t   *fill = core_alloc(sizeof(uint32_t) * ((size_t) nv + 1));
	uint32_t   *idx = core_alloc(sizeof(uint32_t) * ((size_t) t->ncells + 1));
	bool	   *has_other = core_alloc(sizeof(bool) * ((size_t) nb + 1));
	const char **cellp = core_alloc(sizeof(char *) * ((size_t) nb + 1));
	double	   *vals[2];
	char	   *other = NULL;
	bool		any_other = false;
	int64_t		total = 0;
	EngineBreakdownRow *out = NULL;
	WindowScratch *scratch = NULL;
	int			k = 0;
	uint32_t	i;
	uint32_t	v;
	int			j;

	vals[0] = core_alloc(sizeof(double) * ((size_t) nb + 1));
	vals[1] = core_alloc(sizeof(double) * ((size_t) nb + 1));

	/* the kept values' cells, listed per value; the buckets of 'Other' */
	for (i = 0; i < t->ncells; i++)
	{
		const CellHead *h = (const CellHead *) table_cellp(t, i);

		if (kept[h->vid])
			start[h->vid + 1]++;
		else
			any_other = has_other[h->bucket] = true;
	}
	for (v = 0; v < nv; v++)
		start[v + 1] += start[v];
	memcpy(fill, start, sizeof(uint32_t) * nv);
	for (i = 0; i < t->ncells; i++)
	{
		const CellHead *h = (const CellHead *) table_cellp(t, i);

		if (kept[h->vid])
			idx[fill[h->vid]++] = i;
	}

	/* count the rows first: the row limit applies to what is emitted */
	for (v = 0; v < nv; v++)
	{
		int			lo;
		int			hi;

		if (!value_cells(t, idx, start[v], start[v + 1], nb, window, cellp, &lo, &hi))
			continue;
		total += window_covered(cellp, lo, hi, window, from);
		memset(cellp + lo, 0, sizeof(char *) * (size_t) (hi - lo));
	}
	if (any_other)
	{
		for (j = 0; j < nb; j++)
			cellp[j] = has_other[j] ? (const char *) has_other : NULL;
		total += window_covered(cellp, 0, nb, window, from);
		memset(cellp, 0, sizeof(char *) * (size_t) nb);
	}
	total = rows_within_limit(st, total, errbuf, errlen);
	/* fold the other values per bucket */
	if (total >= 0 && any_other && !fold_other(t, kept, mini, nb, &other, errbuf, errlen))
		total = -1;

	if (total >= 0)
	{
		out = core_alloc(sizeof(EngineBreakdownRow) * (size_t) (total + 1));
		for (v = 0; v < nv; v++)
		{
			int			lo;
			int			hi;
			bool		isnull = (v == t->dict.null_id);

			if (!value_cells(t, idx, start[v], start[v + 1], nb, window, cellp, &lo, &hi))
				continue;
			window_value_rows(b, sls, cs, cellp, lo, hi, window, from, vals, isnull,
							  isnull ? NULL : t->dict.ent[v].p, isnull ? 0 : t->dict.ent[v].len,
							  false, out, &k, &scratch);
			memset(cellp + lo, 0, sizeof(char *) * (size_t) (hi - lo));
		}
		if (any_other)
		{
			for (j = 0; j < nb; j++)
				cellp[j] = has_other[j] ? other + (size_t) j * cs : NULL;
			window_value_rows(b, sls, cs, cellp, 0, nb, window, from, vals, false,
							  "Other", 5, true, out, &k, &scratch);
		}
		qsort(out, (size_t) k, sizeof(EngineBreakdownRow), row_cmp);
	}

	free_other(other, t, has_other, mini, nb);
	core_free(start);
	core_free(fill);
	core_free(idx);
	core_free(has_other);
	core_free(cellp);
	core_free(vals[0]);
	core_free(vals[1]);
	engine_window_scratch_free(scratch);
	if (total < 0)
	{
		if (out != NULL)
			core_free(out);
		return -1;
	}
	*rows = out;
	return k;
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
	if (st->ops[b->ops[0]].window > 1)
	{
		int			n = window_breakdown_rows(st, b, t, kept, &mini, sls, rows, errbuf, errlen);

		core_free(kept);
		return n;
	}
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
	total = rows_within_limit(st, total + nother, errbuf, errlen);
	/* fold the other values per bucket */
	if (total >= 0 && nother > 0 && !fold_other(t, kept, &mini, st->nbuckets, &other, errbuf, errlen))
		total = -1;

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

	free_other(other, t, has_other, &mini, st->nbuckets);
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

/*-------------------------------------------------------------------------
 *
 * engine_pg.c
 *	  The aggregation engine as a PostgreSQL aggregate (see engine_pg.h).
 *
 *	  tripl._engine_agg(config bytea, ts, filters..., measures..., keys...,
 *	  groups...) has one transition call per row instead of one per
 *	  aggregate, no hashing for the time dimension, specialised
 *	  accumulators, and exact distinct counts in compact hash sets.  Rows
 *	  still come from PostgreSQL's executor running the user's query, so
 *	  permissions, row-level security, indexes and partition pruning all
 *	  apply; the aggregate is parallel-safe, with combine, serialise and
 *	  deserialise functions, so parallel query can use more cores.
 *
 *	  tripl._engine_agg_rows(config bytea, ROW(ts, ...)) is the same engine
 *	  in a form Citus pushes down to the shards (a real state type,
 *	  tripl.engine_state, see "The distributable form" below).
 *
 *	  Argument types are read once, at the first row: timestamps
 *	  (timestamptz, timestamp, date); measures as int2/int4/int8/float4/
 *	  float8/numeric (numeric is decoded from its digits when the value is
 *	  exactly representable and the result is correctly rounded, so it
 *	  equals numeric::float8 to the last bit; otherwise the exact slow path
 *	  is taken); distinct keys as exact int64s (int2/int4/int8, date,
 *	  timestamp, timestamptz, bool) or bytes (text, varchar, bytea, uuid);
 *	  breakdown values as text bytes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "parser/parser.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/expandeddatum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "engine_pg.h"
#include "guc.h"
#include "tripl.h"

TRIPL_SQL_FUNCTION(tripl_engine_trans);
TRIPL_SQL_FUNCTION(tripl_engine_final);
TRIPL_SQL_FUNCTION(tripl_engine_combine);
TRIPL_SQL_FUNCTION(tripl_engine_serialize);
TRIPL_SQL_FUNCTION(tripl_engine_deserialize);
TRIPL_SQL_FUNCTION(tripl_engine_rows_trans);
TRIPL_SQL_FUNCTION(tripl_engine_rows_combine);
TRIPL_SQL_FUNCTION(tripl_engine_rows_final);
TRIPL_SQL_FUNCTION(tripl_engine_state_in);
TRIPL_SQL_FUNCTION(tripl_engine_state_out);

/* The C engine's memory limit in bytes (tripl.engine_memory_limit) */
size_t
engine_memory_limit_bytes(void)
{
	if (tripl_engine_memory_limit_kb >= 0)
		return (size_t) tripl_engine_memory_limit_kb * 1024;
	return get_hash_memory_limit();
}

/*
 * Refuse to grow an engine state past its memory limit (the state's copy of
 * tripl.engine_memory_limit: this runs per row)
 */
static void
check_engine_memory(const EngineState *engine, size_t limit)
{
	if (engine_memory(engine) > limit)
		ereport(ERROR,
				(errcode(ENGINE_MEMORY_ERRCODE),
				 errmsg("the C engine needs more than tripl.engine_memory_limit (%zu kB) for this query",
						limit / 1024),
				 errhint("Collection computes it on the SQL path instead; raise tripl.engine_memory_limit or work_mem to keep it in the engine.")));
}

#define CONFIG_MAGIC	0x7472706c	/* "trpl" */
#define ROLLING_MAGIC	0x726f6c6c	/* "roll": the rolling trailer */

/* Threshold filters on one measure: its sorted distinct constants */
typedef struct ThresholdGroup
{
	int			measure;
	int			n;
	double	   *dbl;			/* the constants as doubles, ascending */
	Datum	   *num;			/* the constants as numeric, same order */
	/* per row */
	bool		isnull;
	int			lo;
	bool		eq;
	/* for the exact comparison */
	Datum		x;
	Oid			type;
} ThresholdGroup;

/* One threshold filter: group g's value op constant j */
typedef struct ThresholdFilter
{
	int			group;
	int			j;
	EngineThresholdOp op;
} ThresholdFilter;

/* The transition state */
typedef struct EngineAggState
{
	EngineSpec	spec;
	EngineOperand *ops;
	EngineBreakdown *breakdowns;
	bytea	   *config;			/* the raw config, for serialisation */
	EngineState *engine;
	size_t		memory_limit;	/* engine_memory_limit_bytes(), read once */
	/* per-row scratch */
	bool		types_known;
	Oid			ts_type;
	Oid		   *measure_types;
	Oid		   *key_types;
	bool	   *filters;
	double	   *measures;
	bool	   *measure_null;
	EngineValue *keys;
	EngineValue *groups;
	/* where filters come from (see EngineFilterArg) */
	bool		filter_array;	/* the generic filters are one bool[] */
	int			ngeneric;		/* generic filters (arguments or elements) */
	int			nfargs;			/* argument slots of the filters */
	int		   *filter_src;		/* per filter: generic index, or -1 - the
								 * index into thr[] */
	bool	   *generic;		/* per row: the generic filters */
	Datum	   *measure_datums; /* per row */
	int			nthr;
	ThresholdFilter *thr;
	int			ntg;
	ThresholdGroup *tg;
	/* rolling states kept between passes (engine_config_rolling) */
	int			npreload;		/* stored bucket states merged in at the end
								 * (engine_set_preload) */
	int64		preload_token;
	bool		preloaded;
	int			emit_from;		/* first bucket whose states the result
								 * carries, or -1 */
} EngineAggState;

/*--------------------------------------------------------------------
 * Configuration
 *--------------------------------------------------------------------
 */

/* Append a 32-bit and a 64-bit integer */
static void
put_int32(StringInfo b, int32 v)
{
	appendBinaryStringInfo(b, (char *) &v, sizeof(v));
}

static void
put_int64(StringInfo b, int64 v)
{
	appendBinaryStringInfo(b, (char *) &v, sizeof(v));
}

/* Encode a spec and its filters' sources as the aggregate's configuration */
bytea *
engine_config(const EngineSpec *spec, const EngineFilterArg *fargs, bool filter_array)
{
	StringInfoData b;
	bytea	   *result;
	int			i;
	int			k;

	initStringInfo(&b);
	put_int32(&b, CONFIG_MAGIC);
	put_int64(&b, spec->start);
	put_int64(&b, spec->width);
	put_int32(&b, spec->nbuckets);
	put_int32(&b, spec->bounds != NULL ? 1 : 0);
	if (spec->bounds != NULL)
		appendBinaryStringInfo(&b, (const char *) spec->bounds, sizeof(int64) * (spec->nbuckets + 1));
	put_int32(&b, spec->nfilters);
	put_int32(&b, spec->nmeasures);
	put_int32(&b, spec->nkeys);
	put_int32(&b, spec->ngroups);
	put_int64(&b, spec->max_rows);
	put_int32(&b, spec->skip_main ? 1 : 0);
	put_int32(&b, spec->nops);
	for (i = 0; i < spec->nops; i++)
	{
		put_int32(&b, (int32) spec->ops[i].agg);
		put_int32(&b, spec->ops[i].filter);
		put_int32(&b, spec->ops[i].measure);
		put_int32(&b, spec->ops[i].key);
		appendBinaryStringInfo(&b, (const char *) &spec->ops[i].percentile, sizeof(double));
		put_int32(&b, spec->ops[i].window);
		put_int32(&b, spec->ops[i].disjoint ? 1 : 0);
	}
	put_int32(&b, spec->nbreakdowns);
	for (i = 0; i < spec->nbreakdowns; i++)
	{
		const EngineBreakdown *d = &spec->breakdowns[i];

		put_int32(&b, d->group);
		put_int32(&b, d->nops);
		put_int32(&b, d->ops[0]);
		put_int32(&b, d->ops[1]);
		put_int32(&b, d->keep);
		put_int32(&b, d->nrank);
		put_int32(&b, d->rank_filters[0]);
		put_int32(&b, d->rank_filters[1]);
		put_int32(&b, d->use_preset ? 1 : 0);
		put_int32(&b, d->preset_null ? 1 : 0);
		put_int32(&b, d->npreset);
		for (k = 0; k < d->npreset; k++)
		{
			put_int32(&b, (int32) d->preset_len[k]);
			appendBinaryStringInfo(&b, d->preset[k], d->preset_len[k]);
		}
	}
	put_int32(&b, filter_array ? 1 : 0);
	for (i = 0; i < spec->nfilters; i++)
	{
		const EngineFilterArg *f = &fargs[i];

		put_int32(&b, f->threshold ? 1 : 0);
		if (!f->threshold)
			continue;
		put_int32(&b, f->measure);
		put_int32(&b, (int32) f->op);
		put_int32(&b, (int32) strlen(f->constant));
		appendBinaryStringInfo(&b, f->constant, strlen(f->constant));
	}
	result = palloc(VARHDRSZ + b.len);
	SET_VARSIZE(result, VARHDRSZ + b.len);
	memcpy(VARDATA(result), b.data, b.len);
	pfree(b.data);
	return result;
}

/*
 * The stored per-bucket states the next rolling statement merges in before
 * its values are computed (see engine_config_rolling).  They stay in the
 * backend that runs the statement (its final function runs there, also
 * with parallel workers or Citus): they never travel as a parameter.
 */
static struct
{
	int64		token;
	int			n;
	const int  *ops;
	const int  *buckets;
	bytea	   *const *images;
}			preload;

/* Set (n > 0) or clear (n = 0) the stored states for the next statement */
void
engine_set_preload(int64 token, int n, const int *ops, const int *buckets, bytea *const *images)
{
	preload.token = token;
	preload.n = n;
	preload.ops = ops;
	preload.buckets = buckets;
	preload.images = images;
}

/*
 * A rolling slot's configuration: config, then how many stored bucket
 * states (engine_set_preload, under token) the final function merges in,
 * and the first bucket whose states the result carries (-1: none)
 */
bytea *
engine_config_rolling(bytea *config, int64 token, int npreload, int emit_from)
{
	StringInfoData b;
	bytea	   *result;

	initStringInfo(&b);
	appendBinaryStringInfo(&b, VARDATA(config), VARSIZE(config) - VARHDRSZ);
	put_int32(&b, ROLLING_MAGIC);
	put_int32(&b, emit_from);
	put_int64(&b, token);
	put_int32(&b, npreload);
	result = palloc(VARHDRSZ + b.len);
	SET_VARSIZE(result, VARHDRSZ + b.len);
	memcpy(VARDATA(result), b.data, b.len);
	pfree(b.data);
	return result;
}

/* A reading cursor over bytes */
typedef struct Cursor
{
	const char *p;
	const char *end;
} Cursor;

/* Read n bytes, erroring on a short buffer */
static const char *
take(Cursor *c, size_t n)
{
	const char *p = c->p;

	if ((size_t) (c->end - c->p) < n)
		elog(ERROR, "tripl engine: malformed configuration or result");
	c->p += n;
	return p;
}

static int32
get_int32(Cursor *c)
{
	int32		v;

	memcpy(&v, take(c, sizeof(v)), sizeof(v));
	return v;
}

static int64
get_int64(Cursor *c)
{
	int64		v;

	memcpy(&v, take(c, sizeof(v)), sizeof(v));
	return v;
}

/* Order numeric Datums (for sorting threshold constants) */
static int
numeric_datum_cmp(const void *a, const void *b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, *(const Datum *) a, *(const Datum *) b));
}

/*
 * The threshold filters of a configuration: per measure the sorted
 * distinct constants, per filter its group, constant and operator.
 */
static void
decode_thresholds(Cursor *c, EngineAggState *st)
{
	int			nf = st->spec.nfilters;
	int		   *measure = palloc0(sizeof(int) * (nf + 1));
	EngineThresholdOp *op = palloc0(sizeof(EngineThresholdOp) * (nf + 1));
	Datum	   *constant = palloc0(sizeof(Datum) * (nf + 1));
	int			i;
	int			g;

	st->filter_array = get_int32(c) != 0;
	st->filter_src = palloc0(sizeof(int) * (nf + 1));
	st->thr = palloc0(sizeof(ThresholdFilter) * (nf + 1));
	st->tg = palloc0(sizeof(ThresholdGroup) * (nf + 1));
	for (i = 0; i < nf; i++)
	{
		if (get_int32(c) == 0)
		{
			st->filter_src[i] = st->ngeneric++;
			continue;
		}
		measure[st->nthr] = get_int32(c);
		if (measure[st->nthr] < 0 || measure[st->nthr] >= st->spec.nmeasures)
			elog(ERROR, "tripl engine: bad threshold measure");
		op[st->nthr] = (EngineThresholdOp) get_int32(c);
		{
			int32		len = get_int32(c);
			char	   *text;

			if (len < 0)
				elog(ERROR, "tripl engine: malformed configuration or result");
			text = pnstrdup(take(c, len), len);
			constant[st->nthr] = DirectFunctionCall3(numeric_in, CStringGetDatum(text),
													 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		}
		st->filter_src[i] = -1 - st->nthr;
		st->nthr++;
	}
	st->nfargs = st->filter_array ? (st->ngeneric > 0 ? 1 : 0) : st->ngeneric;
	st->generic = palloc0(sizeof(bool) * (st->ngeneric + 1));

	/* one group per measure: its constants sorted, duplicates dropped */
	for (i = 0; i < st->nthr; i++)
	{
		ThresholdGroup *tg;
		int			k;

		for (g = 0; g < st->ntg && st->tg[g].measure != measure[i]; g++)
			;
		tg = &st->tg[g];
		if (g == st->ntg)
		{
			st->ntg++;
			tg->measure = measure[i];
			tg->num = palloc0(sizeof(Datum) * (st->nthr + 1));
			tg->dbl = palloc0(sizeof(double) * (st->nthr + 1));
		}
		for (k = 0; k < tg->n && numeric_datum_cmp(&tg->num[k], &constant[i]) != 0; k++)
			;
		if (k == tg->n)
			tg->num[tg->n++] = constant[i];
	}
	for (g = 0; g < st->ntg; g++)
	{
		ThresholdGroup *tg = &st->tg[g];
		int			k;

		qsort(tg->num, tg->n, sizeof(Datum), numeric_datum_cmp);
		for (k = 0; k < tg->n; k++)
		{
			tg->dbl[k] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, tg->num[k]));
			if (isnan(tg->dbl[k]))
				elog(ERROR, "tripl engine: a threshold constant is not a number");
		}
	}
	for (i = 0; i < st->nthr; i++)
	{
		ThresholdFilter *f = &st->thr[i];
		ThresholdGroup *tg;

		for (g = 0; st->tg[g].measure != measure[i]; g++)
			;
		tg = &st->tg[g];
		f->group = g;
		f->op = op[i];
		for (f->j = 0; numeric_datum_cmp(&tg->num[f->j], &constant[i]) != 0; f->j++)
			;
	}
}

/* Decode a configuration into a state (allocations in the current context) */
static void
decode_config(bytea *config, EngineAggState *st)
{
	Cursor		c;
	int			i;
	int			k;

	st->config = config;
	c.p = VARDATA_ANY(config);
	c.end = c.p + VARSIZE_ANY_EXHDR(config);
	if (get_int32(&c) != CONFIG_MAGIC)
		elog(ERROR, "tripl engine: not a configuration");
	st->spec.start = get_int64(&c);
	st->spec.width = get_int64(&c);
	st->spec.nbuckets = get_int32(&c);
	if (st->spec.nbuckets < 0 || st->spec.nbuckets > 10000000)
		elog(ERROR, "tripl engine: bad bucket count");
	if (get_int32(&c) != 0)
	{
		int64	   *bounds = palloc(sizeof(int64) * (st->spec.nbuckets + 1));

		for (i = 0; i <= st->spec.nbuckets; i++)
			bounds[i] = get_int64(&c);
		st->spec.bounds = bounds;
	}
	st->spec.nfilters = get_int32(&c);
	st->spec.nmeasures = get_int32(&c);
	st->spec.nkeys = get_int32(&c);
	st->spec.ngroups = get_int32(&c);
	st->spec.max_rows = get_int64(&c);
	st->spec.skip_main = get_int32(&c) != 0;
	st->spec.nops = get_int32(&c);
	if (st->spec.nops < 0 || st->spec.nops > ENGINE_MAX_OPERANDS)
		elog(ERROR, "tripl engine: bad operand count");
	st->ops = palloc0(sizeof(EngineOperand) * (st->spec.nops + 1));
	for (i = 0; i < st->spec.nops; i++)
	{
		st->ops[i].agg = (EngineAgg) get_int32(&c);
		st->ops[i].filter = get_int32(&c);
		st->ops[i].measure = get_int32(&c);
		st->ops[i].key = get_int32(&c);
		memcpy(&st->ops[i].percentile, take(&c, sizeof(double)), sizeof(double));
		st->ops[i].window = get_int32(&c);
		st->ops[i].disjoint = get_int32(&c) != 0;
	}
	st->spec.ops = st->ops;
	st->spec.nbreakdowns = get_int32(&c);
	if (st->spec.nbreakdowns < 0 || st->spec.nbreakdowns > ENGINE_MAX_BREAKDOWNS)
		elog(ERROR, "tripl engine: bad breakdown count");
	st->breakdowns = palloc0(sizeof(EngineBreakdown) * (st->spec.nbreakdowns + 1));
	for (i = 0; i < st->spec.nbreakdowns; i++)
	{
		EngineBreakdown *d = &st->breakdowns[i];
		const char **preset;
		uint32_t   *lens;

		d->group = get_int32(&c);
		d->nops = get_int32(&c);
		d->ops[0] = get_int32(&c);
		d->ops[1] = get_int32(&c);
		d->keep = get_int32(&c);
		d->nrank = get_int32(&c);
		d->rank_filters[0] = get_int32(&c);
		d->rank_filters[1] = get_int32(&c);
		d->use_preset = get_int32(&c) != 0;
		d->preset_null = get_int32(&c) != 0;
		d->npreset = get_int32(&c);
		if (d->npreset < 0 || d->npreset > 1000000)
			elog(ERROR, "tripl engine: bad preset count");
		preset = palloc0(sizeof(char *) * (d->npreset + 1));
		lens = palloc0(sizeof(uint32_t) * (d->npreset + 1));
		for (k = 0; k < d->npreset; k++)
		{
			lens[k] = (uint32_t) get_int32(&c);
			preset[k] = take(&c, lens[k]);
		}
		d->preset = preset;
		d->preset_len = lens;
	}
	st->spec.breakdowns = st->breakdowns;
	if (st->spec.nfilters < 0 || st->spec.nfilters > ENGINE_MAX_COLUMNS ||
		st->spec.nmeasures < 0 || st->spec.nmeasures > ENGINE_MAX_COLUMNS)
		elog(ERROR, "tripl engine: bad filter or measure count");
	decode_thresholds(&c, st);
	st->emit_from = -1;
	if (c.p < c.end)
	{
		if (get_int32(&c) != ROLLING_MAGIC)
			elog(ERROR, "tripl engine: malformed configuration or result");
		st->emit_from = get_int32(&c);
		st->preload_token = get_int64(&c);
		st->npreload = get_int32(&c);
		if (st->npreload < 0 || st->emit_from > st->spec.nbuckets)
			elog(ERROR, "tripl engine: malformed configuration or result");
		if (c.p != c.end)
			elog(ERROR, "tripl engine: malformed configuration or result");
	}
	st->measure_datums = palloc0(sizeof(Datum) * (st->spec.nmeasures + 1));
	st->filters = palloc0(sizeof(bool) * (st->spec.nfilters + 1));
	st->measures = palloc0(sizeof(double) * (st->spec.nmeasures + 1));
	st->measure_null = palloc0(sizeof(bool) * (st->spec.nmeasures + 1));
	st->keys = palloc0(sizeof(EngineValue) * (st->spec.nkeys + 1));
	st->groups = palloc0(sizeof(EngineValue) * (st->spec.ngroups + 1));
	st->measure_types = palloc0(sizeof(Oid) * (st->spec.nmeasures + 1));
	st->key_types = palloc0(sizeof(Oid) * (st->spec.nkeys + 1));
	st->memory_limit = engine_memory_limit_bytes();
}

/* Measures tripl passes to the engine without a cast */
bool
engine_measure_native(const char *native_type)
{
	return strcmp(native_type, "smallint") == 0 || strcmp(native_type, "integer") == 0 ||
		strcmp(native_type, "bigint") == 0 || strcmp(native_type, "real") == 0 ||
		strcmp(native_type, "double precision") == 0 || strcmp(native_type, "numeric") == 0;
}

/* Distinct keys the engine counts exactly (by value or by bytes) */
bool
engine_key_type_supported(const char *native_type)
{
	static const char *const ok[] = {
		"smallint", "integer", "bigint", "date", "timestamp without time zone",
		"timestamp with time zone", "boolean", "text", "character varying", "bytea", "uuid"
	};
	int			i;

	for (i = 0; i < (int) lengthof(ok); i++)
	{
		if (strcmp(native_type, ok[i]) == 0)
			return true;
	}
	return false;
}

/*--------------------------------------------------------------------
 * Reading arguments
 *--------------------------------------------------------------------
 */

/* Layout of numeric's on-disk format (numeric.c; stable, pg_upgrade-safe) */
#define NUM_SIGN_MASK		0xC000
#define NUM_NEG				0x4000
#define NUM_SHORT			0x8000
#define NUM_SPECIAL			0xC000
#define NUM_SHORT_SIGN_MASK	0x2000
#define NUM_SHORT_WSIGN		0x0040
#define NUM_SHORT_WMASK		0x003F

/* Powers of ten that doubles hold exactly */
static const double exact_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * numeric -> double, correctly rounded (equal to numeric::float8): from the
 * digits when the value is an integer below 2^53 times an exact power of
 * ten (one IEEE division or multiplication rounds correctly); otherwise via
 * numeric_float8.
 */
static double
numeric_to_double(Datum d)
{
	struct varlena *v = (struct varlena *) PG_DETOAST_DATUM_PACKED(d);
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(v);
	int			len = VARSIZE_ANY_EXHDR(v);
	uint16		header;
	int			weight;
	bool		negative;
	const int16 *digits;
	int			ndigits;
	uint64		mantissa = 0;
	int			exp10;
	int			i;
	double		r;

	if (len < 2)
		goto slow;
	memcpy(&header, p, sizeof(uint16));
	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
		goto slow;
	if ((header & NUM_SIGN_MASK) == NUM_SHORT)
	{
		negative = (header & NUM_SHORT_SIGN_MASK) != 0;
		weight = (header & NUM_SHORT_WSIGN) ? (int) (int16) (header | ~NUM_SHORT_WMASK)
			: (int) (header & NUM_SHORT_WMASK);
		digits = (const int16 *) (p + 2);
		ndigits = (len - 2) / 2;
	}
	else
	{
		int16		w;

		if (len < 4)
			goto slow;
		negative = (header & NUM_SIGN_MASK) == NUM_NEG;
		memcpy(&w, p + 2, sizeof(int16));
		weight = w;
		digits = (const int16 *) (p + 4);
		ndigits = (len - 4) / 2;
	}
	if (ndigits == 0)
		return 0.0;
	if (ndigits > 4)
		goto slow;
	for (i = 0; i < ndigits; i++)
	{
		int16		dig;

		memcpy(&dig, digits + i, sizeof(int16));
		mantissa = mantissa * 10000 + (uint64) dig;
	}
	if (mantissa >= (UINT64CONST(1) << 53))
		goto slow;
	exp10 = 4 * (weight - ndigits + 1);
	if (exp10 >= 0)
	{
		if (exp10 > 22)
			goto slow;
		r = (double) mantissa * exact_pow10[exp10];
		if (r >= 9007199254740992.0)
			goto slow;			/* the product itself might round */
	}
	else
	{
		if (-exp10 > 22)
			goto slow;
		r = (double) mantissa / exact_pow10[-exp10];
	}
	return negative ? -r : r;

slow:
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
}

/* A measure argument as a double */
static double
measure_value(Datum d, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return (double) DatumGetInt16(d);
		case INT4OID:
			return (double) DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case FLOAT4OID:
			return (double) DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case NUMERICOID:
			return numeric_to_double(d);
		default:
			elog(ERROR, "tripl engine: unsupported measure type %u", type);
	}
	return 0;					/* keep compiler quiet */
}

/* A key argument as an exact engine value */
static void
key_value(Datum d, Oid type, EngineValue *out)
{
	out->isnull = false;
	switch (type)
	{
		case INT2OID:
			out->byval = true;
			out->ival = DatumGetInt16(d);
			break;
		case INT4OID:
			out->byval = true;
			out->ival = DatumGetInt32(d);
			break;
		case INT8OID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			out->byval = true;
			out->ival = DatumGetInt64(d);
			break;
		case DATEOID:
			out->byval = true;
			out->ival = DatumGetDateADT(d);
			break;
		case BOOLOID:
			out->byval = true;
			out->ival = DatumGetBool(d) ? 1 : 0;
			break;
		case UUIDOID:
			out->byval = false;
			out->data = (const char *) DatumGetPointer(d);
			out->len = 16;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
			{
				struct varlena *v = (struct varlena *) PG_DETOAST_DATUM_PACKED(d);

				out->byval = false;
				out->data = VARDATA_ANY(v);
				out->len = VARSIZE_ANY_EXHDR(v);
				break;
			}
		default:
			elog(ERROR, "tripl engine: unsupported key type %u", type);
	}
}

/* A row's time as Unix microseconds; false when NULL or not finite */
static bool
row_time(Datum d, Oid type, int64 *out)
{
	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			{
				Timestamp t = DatumGetTimestamp(d);

				if (TIMESTAMP_NOT_FINITE(t))
					return false;
				*out = ts_to_unix(t);
				return true;
			}
		case DATEOID:
			{
				DateADT		dt = DatumGetDateADT(d);

				if (DATE_NOT_FINITE(dt))
					return false;
				*out = ts_to_unix((TimestampTz) dt * USECS_PER_DAY);
				return true;
			}
		default:
			elog(ERROR, "tripl engine: unsupported time type %u", type);
	}
	return false;				/* keep compiler quiet */
}

/*--------------------------------------------------------------------
 * Aggregate support functions
 *--------------------------------------------------------------------
 */

/* The aggregate's memory context, or an error outside an aggregate */
static MemoryContext
agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "tripl engine function called in a non-aggregate context");
	return cxt;
}

/* Create the engine for a state (in the aggregate context) */
static void
state_start_engine(EngineAggState *st)
{
	char		errbuf[256];

	st->engine = engine_create(&st->spec, errbuf, sizeof(errbuf));
	if (st->engine == NULL)
		elog(ERROR, "tripl engine: %s", errbuf);
}

/*
 * Check the argument types once: filters are booleans, and distinct keys
 * are compared byte by byte, which only deterministic collations allow.
 * types[] and colls[] are per column (time, filters, measures, keys,
 * groups); colls may be NULL when unknown.
 */
static void
check_arguments(EngineAggState *st, const Oid *types, const Oid *colls)
{
	int			i;

	for (i = 0; i < st->nfargs; i++)
	{
		if (types[1 + i] != (st->filter_array ? BOOLARRAYOID : BOOLOID))
			elog(ERROR, "tripl engine: filter %d is not a boolean", i + 1);
	}
	for (i = 0; i < st->ntg; i++)
	{
		Oid			type = st->measure_types[st->tg[i].measure];

		if (type != NUMERICOID && type != INT2OID && type != INT4OID && type != INT8OID)
			elog(ERROR, "tripl engine: a threshold filter's column is not numeric or integer");
	}
	for (i = 0; i < st->spec.ngroups; i++)
	{
		Oid			type = types[1 + st->nfargs + st->spec.nmeasures + st->spec.nkeys + i];

		if (type != TEXTOID && type != VARCHAROID)
			elog(ERROR, "tripl engine: breakdown value %d is not text", i + 1);
	}
	if (colls == NULL)
		return;
	for (i = 0; i < st->spec.nkeys; i++)
	{
		Oid			coll = colls[1 + st->nfargs + st->spec.nmeasures + i];

		if (OidIsValid(coll) && !get_collation_isdeterministic(coll))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the C engine cannot count distinct values under the nondeterministic collation \"%s\"",
							get_collation_name(coll)),
					 errhint("Such sources are collected by the SQL path.")));
	}
}

/* Read the column types (and check them) from per-column arrays, once */
static void
state_set_types(EngineAggState *st, const Oid *types, const Oid *colls)
{
	int			arg = 1 + st->nfargs;
	int			i;

	st->ts_type = types[0];
	for (i = 0; i < st->spec.nmeasures; i++)
		st->measure_types[i] = types[arg++];
	for (i = 0; i < st->spec.nkeys; i++)
		st->key_types[i] = types[arg++];
	check_arguments(st, types, colls);
	st->types_known = true;
}

/* The number of columns a configuration expects */
static int
state_ncolumns(const EngineAggState *st)
{
	return 1 + st->nfargs + st->spec.nmeasures + st->spec.nkeys + st->spec.ngroups;
}

/* The generic filters of a row from their bool[] argument (NULL: false) */
static void
read_filter_array(NullableDatum arg, EngineAggState *st)
{
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (arg.isnull)
		elog(ERROR, "tripl engine: the filter array is NULL");
	a = DatumGetArrayTypeP(arg.value);
	if (ARR_NDIM(a) != 1 || ARR_ELEMTYPE(a) != BOOLOID)
		elog(ERROR, "tripl engine: the filter array does not match the configuration");
	deconstruct_array(a, BOOLOID, 1, true, TYPALIGN_CHAR, &elems, &nulls, &n);
	if (n != st->ngeneric)
		elog(ERROR, "tripl engine: the filter array does not match the configuration");
	for (i = 0; i < n; i++)
		st->generic[i] = !nulls[i] && DatumGetBool(elems[i]);
}

/* Exact "x vs constant j" of a threshold group (where doubles tie) */
static int
threshold_exact_cmp(void *arg, int j)
{
	ThresholdGroup *tg = arg;
	Datum		x = tg->x;

	if (tg->type != NUMERICOID)
	{
		int64		v = tg->type == INT2OID ? DatumGetInt16(x) :
			tg->type == INT4OID ? DatumGetInt32(x) : DatumGetInt64(x);

		x = NumericGetDatum(int64_to_numeric(v));
	}
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, x, tg->num[j]));
}

/*
 * A row's filters: the generic ones as read, the thresholds from one rank
 * per measure (a NULL value fails every comparison, as in SQL).
 */
static void
threshold_filters(EngineAggState *st)
{
	int			i;

	for (i = 0; i < st->ntg; i++)
	{
		ThresholdGroup *tg = &st->tg[i];
		int			m = tg->measure;

		tg->isnull = st->measure_null[m];
		if (tg->isnull)
			continue;
		tg->x = st->measure_datums[m];
		tg->type = st->measure_types[m];
		tg->lo = engine_threshold_rank(tg->dbl, tg->n, st->measures[m], threshold_exact_cmp, tg, &tg->eq);
	}
	for (i = 0; i < st->spec.nfilters; i++)
	{
		int			src = st->filter_src[i];

		if (src >= 0)
			st->filters[i] = st->generic[src];
		else
		{
			const ThresholdFilter *f = &st->thr[-1 - src];
			const ThresholdGroup *tg = &st->tg[f->group];

			st->filters[i] = !tg->isnull && engine_threshold_holds(f->op, f->j, tg->lo, tg->eq);
		}
	}
}

/*
 * Add one row to a state: cols[] are its columns (time, filters, measures,
 * keys, groups); the engine grows in cxt.
 */
static void
state_add_row(EngineAggState *st, const NullableDatum *cols, MemoryContext cxt)
{
	MemoryContext old;
	EngineRow	row;
	int			arg;
	int			i;
	char		errbuf[256];

	if (cols[0].isnull || !row_time(cols[0].value, st->ts_type, &row.ts))
		return;
	arg = 1;
	if (!st->filter_array)
	{
		for (i = 0; i < st->ngeneric; i++, arg++)
			st->generic[i] = !cols[arg].isnull && DatumGetBool(cols[arg].value);
	}
	else if (st->ngeneric > 0)
	{
		read_filter_array(cols[arg], st);
		arg++;
	}
	for (i = 0; i < st->spec.nmeasures; i++, arg++)
	{
		st->measure_null[i] = cols[arg].isnull;
		st->measure_datums[i] = cols[arg].value;
		st->measures[i] = st->measure_null[i] ? 0.0 : measure_value(st->measure_datums[i], st->measure_types[i]);
	}
	if (st->nthr == 0)
		memcpy(st->filters, st->generic, sizeof(bool) * st->spec.nfilters);
	else
		threshold_filters(st);
	for (i = 0; i < st->spec.nkeys; i++, arg++)
	{
		if (cols[arg].isnull)
			st->keys[i].isnull = true;
		else
			key_value(cols[arg].value, st->key_types[i], &st->keys[i]);
	}
	for (i = 0; i < st->spec.ngroups; i++, arg++)
	{
		if (cols[arg].isnull)
			st->groups[i].isnull = true;
		else
		{
			struct varlena *v = (struct varlena *) PG_DETOAST_DATUM_PACKED(cols[arg].value);
			const char *data = VARDATA_ANY(v);
			int			len = VARSIZE_ANY_EXHDR(v);

			/* as left(value, 500): the first characters of a long text */
			if (len > TRIPL_BREAKDOWN_CHARS)
				len = pg_mbcharcliplen(data, len, TRIPL_BREAKDOWN_CHARS);
			st->groups[i].isnull = false;
			st->groups[i].byval = false;
			st->groups[i].data = data;
			st->groups[i].len = len;
		}
	}
	row.filters = st->filters;
	row.measures = st->measures;
	row.measure_null = st->measure_null;
	row.keys = st->keys;
	row.groups = st->groups;
	old = MemoryContextSwitchTo(cxt);
	if (!engine_add(st->engine, &row, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("collection query %s", errbuf),
				 errhint("Nothing of this chunk was written.  Lower tripl.chunk_buckets or set breakdown_values_limit.")));
	MemoryContextSwitchTo(old);
	check_engine_memory(st->engine, st->memory_limit);
}

/* A new state for a configuration (in cxt) */
static EngineAggState *
state_create(Datum config, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EngineAggState *st = palloc0(sizeof(EngineAggState));

	decode_config(DatumGetByteaPCopy(config), st);
	state_start_engine(st);
	MemoryContextSwitchTo(old);
	return st;
}

/* SQL: transition function, one call per row */
Datum
tripl_engine_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	EngineAggState *st = PG_ARGISNULL(0) ? NULL : (EngineAggState *) PG_GETARG_POINTER(0);

	if (st == NULL)
	{
		if (PG_ARGISNULL(1))
			elog(ERROR, "tripl engine: the configuration must not be NULL");
		st = state_create(PG_GETARG_DATUM(1), aggcxt);
		if (PG_NARGS() != 2 + state_ncolumns(st))
			elog(ERROR, "tripl engine: %d arguments do not match the configuration", PG_NARGS());
	}
	if (!st->types_known)
	{
		Aggref	   *aggref = AggGetAggref(fcinfo);
		int			n = PG_NARGS() - 2;
		Oid		   *types = palloc(sizeof(Oid) * n);
		Oid		   *colls = aggref ? palloc0(sizeof(Oid) * n) : NULL;
		int			i;

		for (i = 0; i < n; i++)
		{
			types[i] = get_fn_expr_argtype(fcinfo->flinfo, 2 + i);
			/* aggref->args has no state argument: config, then the columns */
			if (colls && 1 + i < list_length(aggref->args))
				colls[i] = exprCollation((Node *) ((TargetEntry *) list_nth(aggref->args, 1 + i))->expr);
		}
		state_set_types(st, types, colls);
	}
	state_add_row(st, &fcinfo->args[2], aggcxt);
	PG_RETURN_POINTER(st);
}

/* SQL: combine two partial states (parallel aggregation) */
Datum
tripl_engine_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	EngineAggState *a = PG_ARGISNULL(0) ? NULL : (EngineAggState *) PG_GETARG_POINTER(0);
	EngineAggState *b = PG_ARGISNULL(1) ? NULL : (EngineAggState *) PG_GETARG_POINTER(1);
	MemoryContext old;
	char		errbuf[256];

	if (a == NULL)
		PG_RETURN_POINTER(b);
	if (b == NULL)
		PG_RETURN_POINTER(a);
	old = MemoryContextSwitchTo(aggcxt);
	if (!engine_merge(a->engine, b->engine, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("collection query %s", errbuf)));
	MemoryContextSwitchTo(old);
	check_engine_memory(a->engine, a->memory_limit);
	PG_RETURN_POINTER(a);
}

/*
 * A state's flat image: its configuration, then the engine image (ship:
 * engine_ship's, for a shard's state sent to the Citus coordinator)
 */
static bytea *
state_flatten(const EngineAggState *st, bool ship)
{
	char	   *image;
	size_t		len;
	int32		clen = VARSIZE_ANY(st->config);
	bytea	   *out;
	char	   *p;

	if (ship)
		engine_ship(st->engine, &image, &len);
	else
		engine_serialize(st->engine, &image, &len);
	out = palloc_extended(VARHDRSZ + sizeof(int32) + clen + len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, VARHDRSZ + sizeof(int32) + clen + len);
	p = VARDATA(out);
	memcpy(p, &clen, sizeof(int32));
	memcpy(p + sizeof(int32), st->config, clen);
	memcpy(p + sizeof(int32) + clen, image, len);
	core_free(image);
	return out;
}

/* A state from its flat image (allocations in cxt) */
static EngineAggState *
state_from_flat(const char *p, size_t len, MemoryContext cxt)
{
	int32		clen;
	EngineAggState *st;
	MemoryContext old;
	char		errbuf[256];

	if (len < sizeof(int32))
		elog(ERROR, "tripl engine: malformed partial state");
	memcpy(&clen, p, sizeof(int32));
	if (clen < VARHDRSZ || (size_t) clen > len - sizeof(int32))
		elog(ERROR, "tripl engine: malformed partial state");
	old = MemoryContextSwitchTo(cxt);
	st = palloc0(sizeof(EngineAggState));
	{
		bytea	   *config = palloc(clen);

		memcpy(config, p + sizeof(int32), clen);
		if (VARSIZE_ANY(config) != (Size) clen)
			elog(ERROR, "tripl engine: malformed partial state");
		decode_config(config, st);
	}
	st->engine = engine_deserialize(&st->spec, p + sizeof(int32) + clen, len - sizeof(int32) - clen,
									errbuf, sizeof(errbuf));
	if (st->engine == NULL)
		elog(ERROR, "tripl engine: %s", errbuf);
	MemoryContextSwitchTo(old);
	return st;
}

/* SQL: serialise a partial state: its configuration, then the engine image */
Datum
tripl_engine_serialize(PG_FUNCTION_ARGS)
{
	EngineAggState *st = (EngineAggState *) PG_GETARG_POINTER(0);

	(void) agg_context(fcinfo);
	PG_RETURN_BYTEA_P(state_flatten(st, false));
}

/* SQL: deserialise a partial state */
Datum
tripl_engine_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	bytea	   *in = PG_GETARG_BYTEA_PP(0);

	PG_RETURN_POINTER(state_from_flat(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in), aggcxt));
}

/*
 * Are breakdown k's per-bucket cells kept between passes?  A rolling one
 * that folds nothing into 'Other' (folding ranks over the whole window).
 */
static bool
rolling_breakdown_kept(const EngineSpec *spec, int k)
{
	const EngineBreakdown *d = &spec->breakdowns[k];

	return spec->ops[d->ops[0]].window > 1 && d->keep == 0 && !d->use_preset;
}

/* Append a bucket state to keep (operand, bucket, length, bytes) and free it */
static void
put_image(StringInfo b, int32 op, int32 bucket, char *image, size_t len)
{
	put_int32(b, op);
	put_int32(b, bucket);
	put_int32(b, (int32) len);
	appendBinaryStringInfo(b, image, len);
	core_free(image);
}

/*
 * A state's result: per operand per bucket the value (NaN for a gap), then
 * per breakdown its rows, as bytea; a rolling slot's then the per-bucket
 * states to keep (operands', and breakdowns' as operand -1 - breakdown).
 */
static bytea *
state_result(EngineAggState *st)
{
	StringInfoData b;
	double	   *vals;
	int			i;
	int			k;
	char		errbuf[256];
	bytea	   *out;

	/* a rolling slot's stored bucket states, before the window is combined */
	if (!st->preloaded && st->npreload > 0)
	{
		if (preload.token != st->preload_token || preload.n != st->npreload)
			elog(ERROR, "tripl engine: the stored rolling states of this statement are not available");
		for (i = 0; i < st->npreload; i++)
		{
			int			op = preload.ops[i];
			bool		ok;

			/* op >= 0: an operand's state; -1 - bd: breakdown bd's cells */
			strlcpy(errbuf, "no such operand or breakdown", sizeof(errbuf));
			if (op >= 0)
				ok = op < st->spec.nops &&
					engine_bucket_load(st->engine, op, preload.buckets[i],
									   VARDATA_ANY(preload.images[i]), VARSIZE_ANY_EXHDR(preload.images[i]),
									   errbuf, sizeof(errbuf));
			else
				ok = -1 - op < st->spec.nbreakdowns &&
					engine_bucket_breakdown_load(st->engine, -1 - op, preload.buckets[i],
												 VARDATA_ANY(preload.images[i]),
												 VARSIZE_ANY_EXHDR(preload.images[i]),
												 errbuf, sizeof(errbuf));
			if (!ok)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("tripl engine: a stored rolling state cannot be used: %s", errbuf)));
		}
		st->preloaded = true;
		check_engine_memory(st->engine, st->memory_limit);
	}
	elog(DEBUG1, "tripl engine: %d buckets, %d operands, %d breakdowns, %zu bytes of state",
		 st->spec.nbuckets, st->spec.nops, st->spec.nbreakdowns, engine_memory(st->engine));
	initStringInfo(&b);
	put_int64(&b, engine_nonempty_buckets(st->engine));
	vals = palloc(sizeof(double) * (st->spec.nbuckets + 1));
	for (i = 0; i < st->spec.nops; i++)
	{
		engine_values(st->engine, i, vals);
		appendBinaryStringInfo(&b, (char *) vals, sizeof(double) * st->spec.nbuckets);
	}
	for (i = 0; i < st->spec.nbreakdowns; i++)
	{
		EngineBreakdownRow *rows = NULL;
		int			n = engine_breakdown_rows(st->engine, i, &rows, errbuf, sizeof(errbuf));

		if (n < 0)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a breakdown %s", errbuf),
					 errhint("Nothing of this chunk was written.  Lower tripl.chunk_buckets or set breakdown_values_limit.")));
		put_int32(&b, n);
		for (k = 0; k < n; k++)
		{
			put_int32(&b, rows[k].bucket);
			put_int32(&b, (rows[k].value_null ? 1 : 0) | (rows[k].is_other ? 2 : 0));
			put_int32(&b, (int32) (rows[k].value_null ? 0 : rows[k].value_len));
			if (!rows[k].value_null)
				appendBinaryStringInfo(&b, rows[k].value, rows[k].value_len);
			appendBinaryStringInfo(&b, (char *) &rows[k].v, sizeof(double));
		}
		if (rows)
			core_free(rows);
	}
	/* rolling: the per-bucket states to keep for the next pass */
	if (st->emit_from >= 0)
	{
		int			nkept = 0;	/* breakdowns whose cells are kept too */

		for (k = 0; k < st->spec.nbreakdowns; k++)
			nkept += rolling_breakdown_kept(&st->spec, k);
		put_int32(&b, (st->spec.nbuckets - st->emit_from) * (st->spec.nops + nkept));
		for (i = st->emit_from; i < st->spec.nbuckets; i++)
		{
			char	   *image;
			size_t		len;

			for (k = 0; k < st->spec.nops; k++)
			{
				engine_bucket_image(st->engine, k, i, &image, &len);
				put_image(&b, k, i, image, len);
			}
			/* a breakdown's cells, as operand -1 - breakdown */
			for (k = 0; k < st->spec.nbreakdowns; k++)
				if (rolling_breakdown_kept(&st->spec, k))
				{
					engine_bucket_breakdown_image(st->engine, k, i, &image, &len);
					put_image(&b, -1 - k, i, image, len);
				}
		}
	}
	out = palloc_extended(VARHDRSZ + b.len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, VARHDRSZ + b.len);
	memcpy(VARDATA(out), b.data, b.len);
	return out;
}

/*
 * The result of a configuration over no rows at all (a rolling slot whose
 * scan found none still combines its stored bucket states)
 */
bytea *
engine_config_result(bytea *config)
{
	EngineAggState *st = state_create(PointerGetDatum(config), CurrentMemoryContext);
	bytea	   *out = state_result(st);

	engine_free(st->engine);
	return out;
}

/* SQL: final function (see state_result) */
Datum
tripl_engine_final(PG_FUNCTION_ARGS)
{
	EngineAggState *st = PG_ARGISNULL(0) ? NULL : (EngineAggState *) PG_GETARG_POINTER(0);

	(void) agg_context(fcinfo);
	if (st == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(state_result(st));
}

/*--------------------------------------------------------------------
 * The distributable form: tripl._engine_agg_rows(config bytea, record)
 *
 * The same engine with a real state type, tripl.engine_state, so that
 * Citus pushes it down (it distributes a custom aggregate only when its
 * state type is not a pseudo-type, and ships partial states as text
 * through the type's output and input functions).  The columns come as
 * one ROW(ts, filters..., measures..., keys..., groups...): their types
 * and collations are read from the row's descriptor, as Citus calls the
 * transition function without fn_expr.  The state is an expanded object
 * in a child of the aggregate context, updated in place (no per-row
 * copying); PostgreSQL flattens it to the serialised image (configuration
 * and engine image) only when it must store or ship it.
 *--------------------------------------------------------------------
 */

/* The expanded form of tripl.engine_state */
typedef struct EngineExpanded
{
	ExpandedObjectHeader hdr;
	EngineAggState *st;
	bytea	   *flat;			/* the flat image while unchanged, or NULL */
	/* deforming the row argument */
	TupleDesc	rowdesc;
	Datum	   *rowvals;
	bool	   *rownulls;
	NullableDatum *rowcols;
} EngineExpanded;

static Size ee_get_flat_size(ExpandedObjectHeader *eohptr);
static void ee_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods ee_methods = {
	ee_get_flat_size,
	ee_flatten_into
};

/* The flat image's size (computed once while the state is unchanged) */
static Size
ee_get_flat_size(ExpandedObjectHeader *eohptr)
{
	EngineExpanded *ee = (EngineExpanded *) eohptr;

	if (ee->flat == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(ee->hdr.eoh_context);

		ee->flat = state_flatten(ee->st, false);
		MemoryContextSwitchTo(old);
	}
	return VARSIZE(ee->flat);
}

/* Write the flat image */
static void
ee_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	EngineExpanded *ee = (EngineExpanded *) eohptr;

	if (ee->flat == NULL || allocated_size != VARSIZE(ee->flat))
		elog(ERROR, "tripl engine: flattening a state of unknown size");
	memcpy(result, ee->flat, allocated_size);
}

/* A new, empty expanded state in its own child of parent */
static EngineExpanded *
ee_new(MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "tripl engine state", ALLOCSET_DEFAULT_SIZES);
	EngineExpanded *ee = MemoryContextAllocZero(cxt, sizeof(EngineExpanded));

	EOH_init_header(&ee->hdr, &ee_methods, cxt);
	return ee;
}

/* Is a datum one of our expanded states? */
static EngineExpanded *
ee_of(Datum d)
{
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods == &ee_methods)
			return (EngineExpanded *) eoh;
	}
	return NULL;
}

/* A read/write expanded copy of a state datum (flat or expanded), in aggcxt */
static EngineExpanded *
ee_copy(Datum d, MemoryContext aggcxt)
{
	EngineExpanded *ee = ee_new(aggcxt);
	bytea	   *flat = DatumGetByteaP(d);	/* flattens an expanded state */

	ee->st = state_from_flat(VARDATA(flat), VARSIZE(flat) - VARHDRSZ, ee->hdr.eoh_context);
	if ((Pointer) flat != DatumGetPointer(d))
		pfree(flat);
	return ee;
}

/*
 * The state to update: the argument itself when it is our read/write
 * expanded object living in the aggregate context, else a copy.
 */
static EngineExpanded *
ee_writable(Datum d, MemoryContext aggcxt)
{
	EngineExpanded *ee = ee_of(d);

	if (ee != NULL && VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)) &&
		MemoryContextGetParent(ee->hdr.eoh_context) == aggcxt)
	{
		if (ee->flat != NULL)
		{
			pfree(ee->flat);
			ee->flat = NULL;
		}
		return ee;
	}
	return ee_copy(d, aggcxt);
}

/* The state to read: the expanded object, or one decoded in cxt */
static EngineAggState *
ee_read(Datum d, MemoryContext cxt)
{
	EngineExpanded *ee = ee_of(d);
	bytea	   *flat;

	if (ee != NULL)
		return ee->st;
	flat = DatumGetByteaPP(d);
	return state_from_flat(VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat), cxt);
}

/* Read the row argument's descriptor (types, collations) once */
static void
ee_row_types(EngineExpanded *ee, HeapTupleHeader rec)
{
	EngineAggState *st = ee->st;
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec), HeapTupleHeaderGetTypMod(rec));
	MemoryContext old = MemoryContextSwitchTo(ee->hdr.eoh_context);
	int			n = desc->natts;
	Oid		   *types = palloc(sizeof(Oid) * (n + 1));
	Oid		   *colls = palloc(sizeof(Oid) * (n + 1));
	int			i;

	if (n != state_ncolumns(st))
	{
		ReleaseTupleDesc(desc);
		elog(ERROR, "tripl engine: %d columns do not match the configuration", n);
	}
	for (i = 0; i < n; i++)
	{
		types[i] = TupleDescAttr(desc, i)->atttypid;
		colls[i] = TupleDescAttr(desc, i)->attcollation;
	}
	ee->rowdesc = CreateTupleDescCopy(desc);
	ReleaseTupleDesc(desc);
	ee->rowvals = palloc(sizeof(Datum) * (n + 1));
	ee->rownulls = palloc(sizeof(bool) * (n + 1));
	ee->rowcols = palloc(sizeof(NullableDatum) * (n + 1));
	MemoryContextSwitchTo(old);
	if (!st->types_known)
		state_set_types(st, types, colls);
}

/* SQL: transition function of _engine_agg_rows, one call per row */
Datum
tripl_engine_rows_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	EngineExpanded *ee;
	HeapTupleHeader rec;
	HeapTupleData tup;
	int			i;

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1))
			elog(ERROR, "tripl engine: the configuration must not be NULL");
		ee = ee_new(aggcxt);
		ee->st = state_create(PG_GETARG_DATUM(1), ee->hdr.eoh_context);
	}
	else
		ee = ee_writable(PG_GETARG_DATUM(0), aggcxt);
	if (PG_ARGISNULL(2))
		elog(ERROR, "tripl engine: the row of columns must not be NULL");
	rec = PG_GETARG_HEAPTUPLEHEADER(2);
	if (ee->rowdesc == NULL)
		ee_row_types(ee, rec);
	if (HeapTupleHeaderGetNatts(rec) != ee->rowdesc->natts)
		elog(ERROR, "tripl engine: the row of columns changed shape");
	tup.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = rec;
	heap_deform_tuple(&tup, ee->rowdesc, ee->rowvals, ee->rownulls);
	for (i = 0; i < ee->rowdesc->natts; i++)
	{
		ee->rowcols[i].value = ee->rowvals[i];
		ee->rowcols[i].isnull = ee->rownulls[i];
	}
	state_add_row(ee->st, ee->rowcols, ee->hdr.eoh_context);
	PG_RETURN_DATUM(EOHPGetRWDatum(&ee->hdr));
}

/* SQL: combine two partial states (shards, parallel workers) */
Datum
tripl_engine_rows_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	EngineExpanded *a;
	EngineAggState *b;
	MemoryContext tmp;
	MemoryContext old;
	char		errbuf[256];

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(EOHPGetRWDatum(&ee_writable(PG_GETARG_DATUM(0), aggcxt)->hdr));
	}
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(EOHPGetRWDatum(&ee_copy(PG_GETARG_DATUM(1), aggcxt)->hdr));
	a = ee_writable(PG_GETARG_DATUM(0), aggcxt);
	tmp = AllocSetContextCreate(CurrentMemoryContext, "tripl engine partial state", ALLOCSET_DEFAULT_SIZES);
	b = ee_read(PG_GETARG_DATUM(1), tmp);
	old = MemoryContextSwitchTo(a->hdr.eoh_context);
	if (!engine_merge(a->st->engine, b->engine, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("collection query %s", errbuf)));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	check_engine_memory(a->st->engine, a->st->memory_limit);
	PG_RETURN_DATUM(EOHPGetRWDatum(&a->hdr));
}

/* SQL: final function of _engine_agg_rows (see state_result) */
Datum
tripl_engine_rows_final(PG_FUNCTION_ARGS)
{
	(void) agg_context(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(state_result(ee_read(PG_GETARG_DATUM(0), CurrentMemoryContext)));
}

/*
 * SQL: tripl.engine_state's text form: base64 of the flat image.  Citus
 * ships a shard's partial state in this form (worker_partial_agg's final
 * function outputs the expanded state the transition function built over
 * the shard's rows): its disjoint distinct counts go as counts
 * (engine_ship).  A flat state (stored, or the merge of parallel workers'
 * partial states) is shown as it is.
 */
Datum
tripl_engine_state_out(PG_FUNCTION_ARGS)
{
	EngineExpanded *ee = ee_of(PG_GETARG_DATUM(0));
	bytea	   *flat = ee != NULL ? state_flatten(ee->st, true) : PG_GETARG_BYTEA_PP(0);
	int			len = VARSIZE_ANY_EXHDR(flat);
	int			cap = pg_b64_enc_len(len) + 1;
	char	   *out = palloc_extended(cap, MCXT_ALLOC_HUGE);
	int			n = pg_b64_encode(VARDATA_ANY(flat), len, out, cap);

	if (n < 0)
		elog(ERROR, "tripl engine: could not encode a state");
	out[n] = '\0';
	PG_RETURN_CSTRING(out);
}

/*
 * SQL: tripl.engine_state from its text form.  Only the base64 is checked
 * here: every function reading a state decodes it with full checks
 * (state_from_flat), so decoding it here too would only double the
 * coordinator's work.
 */
Datum
tripl_engine_state_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	int			len = strlen(text);
	int			cap = pg_b64_dec_len(len);
	bytea	   *out = palloc_extended(VARHDRSZ + cap, MCXT_ALLOC_HUGE);
	int			n = pg_b64_decode(text, len, VARDATA(out), cap);

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type tripl.engine_state")));
	SET_VARSIZE(out, VARHDRSZ + n);
	PG_RETURN_BYTEA_P(out);
}

/* Decode a final result (NULL raw: no rows at all, every value a gap) */
void
engine_result_decode(bytea *raw, int nops, int nbuckets, int nbreakdowns, EngineResult *out)
{
	Cursor		c;
	int			i;
	int			k;

	out->nops = nops;
	out->nbuckets = nbuckets;
	out->nbreakdowns = nbreakdowns;
	out->values = palloc(sizeof(double) * ((size_t) nops * nbuckets + 1));
	out->nrows = palloc0(sizeof(int) * (nbreakdowns + 1));
	out->rows = palloc0(sizeof(EngineBreakdownRow *) * (nbreakdowns + 1));
	out->nimages = 0;
	if (raw == NULL)
	{
		for (i = 0; i < nops * nbuckets; i++)
			out->values[i] = NAN;
		return;
	}
	c.p = VARDATA_ANY(raw);
	c.end = c.p + VARSIZE_ANY_EXHDR(raw);
	(void) get_int64(&c);		/* buckets with rows */
	memcpy(out->values, take(&c, sizeof(double) * (size_t) nops * nbuckets), sizeof(double) * (size_t) nops * nbuckets);
	for (i = 0; i < nbreakdowns; i++)
	{
		int			n = get_int32(&c);

		out->nrows[i] = n;
		out->rows[i] = palloc0(sizeof(EngineBreakdownRow) * (n + 1));
		for (k = 0; k < n; k++)
		{
			EngineBreakdownRow *r = &out->rows[i][k];
			int32		flags;
			int32		len;

			r->bucket = get_int32(&c);
			flags = get_int32(&c);
			len = get_int32(&c);
			r->value_null = (flags & 1) != 0;
			r->is_other = (flags & 2) != 0;
			r->value_len = len;
			r->value = r->value_null ? NULL : pnstrdup(take(&c, len), len);
			memcpy(&r->v, take(&c, sizeof(double)), sizeof(double));
		}
	}
	out->nimages = 0;
	if (c.p < c.end)
	{
		int			n = get_int32(&c);

		if (n < 0)
			elog(ERROR, "tripl engine: malformed configuration or result");
		out->nimages = n;
		out->image_op = palloc0(sizeof(int) * (n + 1));
		out->image_bucket = palloc0(sizeof(int) * (n + 1));
		out->images = palloc0(sizeof(bytea *) * (n + 1));
		for (i = 0; i < n; i++)
		{
			int32		len;

			out->image_op[i] = get_int32(&c);
			out->image_bucket[i] = get_int32(&c);
			len = get_int32(&c);
			if (len < 0)
				elog(ERROR, "tripl engine: malformed configuration or result");
			out->images[i] = palloc(VARHDRSZ + len);
			SET_VARSIZE(out->images[i], VARHDRSZ + len);
			memcpy(VARDATA(out->images[i]), take(&c, len), len);
		}
	}
}

/* The raw parse trees of a statement, or NIL when it does not parse */
static List *parse_quietly(const char *sql);

/*
 * Is a filter one comparison of a column with a number ("amount > 10",
 * "10 <= amount", "qty <> -3")?  Then *column (the bare column name), *op
 * (column op constant) and *constant (as numeric text) are set.  The
 * filter is parsed as PostgreSQL parses it in the statement; anything
 * else (a qualified column or operator, a cast, a string, AND/OR, a parse
 * error) is not a threshold and stays an SQL expression.
 */
static List *
parse_quietly(const char *sql)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *raw = NIL;

	PG_TRY();
	{
		raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		raw = NIL;
	}
	PG_END_TRY();
	return raw;
}

bool
engine_threshold_filter(const char *filter, char **column, EngineThresholdOp *op, char **constant)
{
	List	   *raw = parse_quietly(psprintf("SELECT (%s)", filter));
	SelectStmt *sel;
	A_Expr	   *e;
	Node	   *lhs;
	Node	   *rhs;
	A_Const    *k;
	ColumnRef  *col;
	const char *name;
	bool		flip = false;
	static const char *const names[] = {"<", "<=", ">", ">=", "=", "<>", "!="};
	static const EngineThresholdOp ops[] = {ENGINE_LT, ENGINE_LE, ENGINE_GT, ENGINE_GE, ENGINE_EQ,
	ENGINE_NE, ENGINE_NE};
	static const EngineThresholdOp flipped[] = {ENGINE_GT, ENGINE_GE, ENGINE_LT, ENGINE_LE, ENGINE_EQ,
	ENGINE_NE, ENGINE_NE};
	int			i;

	if (list_length(raw) != 1 || !IsA(((RawStmt *) linitial(raw))->stmt, SelectStmt))
		return false;
	sel = (SelectStmt *) ((RawStmt *) linitial(raw))->stmt;
	if (sel->op != SETOP_NONE || sel->fromClause || sel->whereClause || sel->intoClause ||
		sel->groupClause || sel->havingClause || sel->withClause || sel->distinctClause ||
		sel->sortClause || sel->limitCount || sel->limitOffset || sel->valuesLists ||
		list_length(sel->targetList) != 1)
		return false;
	e = (A_Expr *) ((ResTarget *) linitial(sel->targetList))->val;
	if (e == NULL || !IsA(e, A_Expr) || e->kind != AEXPR_OP || list_length(e->name) != 1)
		return false;
	lhs = e->lexpr;
	rhs = e->rexpr;
	if (lhs && IsA(lhs, A_Const) && rhs && IsA(rhs, ColumnRef))
	{
		Node	   *t = lhs;

		lhs = rhs;
		rhs = t;
		flip = true;
	}
	if (lhs == NULL || !IsA(lhs, ColumnRef) || rhs == NULL || !IsA(rhs, A_Const))
		return false;
	col = (ColumnRef *) lhs;
	k = (A_Const *) rhs;
	if (list_length(col->fields) != 1 || !IsA(linitial(col->fields), String) || k->isnull)
		return false;
	name = strVal(linitial(e->name));
	for (i = 0; i < (int) lengthof(names); i++)
	{
		if (strcmp(name, names[i]) == 0)
			break;
	}
	if (i == (int) lengthof(names))
		return false;
	if (IsA(&k->val, Integer))
		*constant = psprintf("%d", intVal(&k->val));
	else if (IsA(&k->val, Float))
		*constant = pstrdup(castNode(Float, &k->val)->fval);
	else
		return false;
	*column = pstrdup(strVal(linitial(col->fields)));
	*op = flip ? flipped[i] : ops[i];
	return true;
}

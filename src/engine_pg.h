/*-------------------------------------------------------------------------
 *
 * engine_pg.h
 *	  The aggregation engine (engine.c) as a PostgreSQL aggregate:
 *	  tripl._engine_agg(config bytea, VARIADIC "any") computes every operand
 *	  (and breakdown) of a source over one scan, with the bucket as an array
 *	  index.  The configuration and the result travel as bytea.
 *	  tripl._engine_agg_rows(config bytea, record) is its distributable
 *	  form (state type tripl.engine_state), used when the database has Citus.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ENGINE_PG_H
#define TRIPL_ENGINE_PG_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "core/engine.h"

/* How a measure or key argument is read (decided from its column type) */
typedef enum EngineArgKind
{
	EARG_FLOAT8_CAST,			/* passed as (col)::float8 */
	EARG_NATIVE					/* passed as is; the aggregate reads its type */
} EngineArgKind;

/* The C engine's memory limit in bytes, and the error it raises past it */
extern size_t engine_memory_limit_bytes(void);
#define ENGINE_MEMORY_ERRCODE	ERRCODE_OUT_OF_MEMORY

/*
 * Where each engine filter comes from, per row: a boolean argument of the
 * statement (or an element of one bool[] argument, when the filters would
 * exceed PostgreSQL's 100 function arguments), or a threshold "column op
 * constant" on a measure the statement passes natively (numeric, smallint,
 * integer, bigint), decided in C without evaluating SQL.
 */
typedef struct EngineFilterArg
{
	bool		threshold;
	int			measure;		/* threshold: index into the measures */
	EngineThresholdOp op;		/* threshold: measure op constant */
	const char *constant;		/* threshold: the constant (numeric text) */
} EngineFilterArg;

/* At most this many arguments (FUNC_MAX_ARGS) */
#define ENGINE_MAX_ARGS		100

extern bytea *engine_config(const EngineSpec *spec, const EngineFilterArg *fargs,
							bool filter_array);
extern void engine_set_preload(int64 token, int n, const int *ops, const int *buckets,
							   bytea *const *images);
extern bytea *engine_config_rolling(bytea *config, int64 token, int npreload, int emit_from);
extern bytea *engine_config_result(bytea *config);
extern bool engine_threshold_filter(const char *filter, char **column,
									EngineThresholdOp *op, char **constant);
extern bool engine_key_type_supported(const char *native_type);
extern bool engine_measure_native(const char *native_type);

/* A decoded engine result */
typedef struct EngineResult
{
	int			nops;
	int			nbuckets;
	double	   *values;			/* nops * nbuckets, NaN = gap */
	int			nbreakdowns;
	int		   *nrows;			/* per breakdown */
	EngineBreakdownRow **rows;	/* per breakdown */
	/* rolling slots: the per-bucket states to keep (engine_config_rolling) */
	int			nimages;
	int		   *image_op;
	int		   *image_bucket;
	bytea	  **images;			/* engine_bucket_image's bytes */
} EngineResult;

extern void engine_result_decode(bytea *raw, int nops, int nbuckets, int nbreakdowns,
								 EngineResult *out);

#endif							/* TRIPL_ENGINE_PG_H */

/*-------------------------------------------------------------------------
 *
 * spiutil.c
 *	  SPI helpers for tripl's own SQL: catalog_execute() runs a catalog
 *	  statement as the extension owner under a fixed search_path (so
 *	  neither a caller's rights nor a caller's objects can change it), with
 *	  kept plans; reading result cells; the per-metric row lock.
 *
 *	  The caller must be connected to SPI.  Results are allocated in the
 *	  current memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "spiutil.h"

/* The role that owns the extension's tables (catalog writes run as it) */
Oid
tripl_catalog_owner(void)
{
	Oid			nsp = get_namespace_oid("tripl", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("metrics", nsp) : InvalidOid;
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"tripl\" is not installed in this database")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", rel);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Plans of catalog statements, kept for the life of the backend: tripl runs
 * the same few statements once per metric (thousands per tick), so parsing
 * and planning each time would dominate.  Keyed by the statement's text and
 * argument types; at most CATALOG_PLAN_CACHE_SIZE are kept, later ones run
 * unprepared.  PostgreSQL's plan cache revalidates them after DDL.
 */
#define CATALOG_PLAN_CACHE_SIZE 512
#define CATALOG_PLAN_MAX_ARGS	8

typedef struct CatalogPlanKey
{
	uint32		hash;			/* of the text */
	int			nargs;
	Oid			argtypes[CATALOG_PLAN_MAX_ARGS];
} CatalogPlanKey;

typedef struct CatalogPlan
{
	CatalogPlanKey key;
	char	   *sql;			/* in CacheMemoryContext */
	SPIPlanPtr	plan;
} CatalogPlan;

static HTAB *catalog_plans = NULL;

/* The kept plan of a statement, preparing it on first use; NULL if not kept */
static SPIPlanPtr
catalog_plan(const char *sql, int nargs, Oid *argtypes)
{
	CatalogPlanKey key;
	CatalogPlan *entry;
	bool		found;
	SPIPlanPtr	plan;

	if (nargs > CATALOG_PLAN_MAX_ARGS)
		return NULL;
	if (catalog_plans == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(CatalogPlanKey);
		ctl.entrysize = sizeof(CatalogPlan);
		ctl.hcxt = CacheMemoryContext;
		catalog_plans = hash_create("tripl catalog plans", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.hash = hash_bytes((const unsigned char *) sql, strlen(sql));
	key.nargs = nargs;
	if (nargs > 0)
		memcpy(key.argtypes, argtypes, sizeof(Oid) * nargs);
	entry = hash_search(catalog_plans, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return strcmp(entry->sql, sql) == 0 ? entry->plan : NULL;
	if (hash_get_num_entries(catalog_plans) >= CATALOG_PLAN_CACHE_SIZE)
		return NULL;
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "tripl catalog query failed to prepare: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		return NULL;
	entry = hash_search(catalog_plans, &key, HASH_ENTER, &found);
	entry->sql = MemoryContextStrdup(CacheMemoryContext, sql);
	entry->plan = plan;
	return plan;
}

/*
 * Run tripl's own SQL as the extension owner with search_path pg_catalog.
 * read_only only documents intent: every statement runs with a fresh
 * snapshot after a command-counter increment, so it sees what earlier
 * statements of the same transaction wrote (SPI's read_only mode would not).
 */
int
catalog_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
				const char *nulls, bool read_only, long tcount)
{
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
	int			ret;
	SPIPlanPtr	plan;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	SetUserIdAndSecContext(tripl_catalog_owner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	plan = catalog_plan(sql, nargs, argtypes);
	if (plan != NULL)
		ret = SPI_execute_plan(plan, values, nulls, false, tcount);
	else
		ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, false, tcount);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	AtEOXact_GUC(false, nestlevel);
	if (ret < 0)
		elog(ERROR, "tripl catalog query failed: %s", SPI_result_code_string(ret));
	return ret;
}

/*
 * Take turns with other transactions collecting or detecting a metric:
 * lock its row of tripl.metric_state until this transaction ends.  A row
 * lock, not an advisory lock, so a pass over thousands of metrics does not
 * fill the shared lock table (max_locks_per_transaction).
 */
void
metric_state_lock(Datum metric_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = metric_id;
	catalog_execute("SELECT 1 FROM tripl.metric_state WHERE metric_id = $1 FOR UPDATE",
					1, types, values, NULL, false, 0);
}

/* Text of a result cell (0-based column), NULL for SQL NULL */
const char *
spi_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1);
}

/* Is a result cell NULL? */
bool
spi_isnull(int row, int col)
{
	bool		isnull;

	(void) SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull);
	return isnull;
}

/* A bigint result cell (0 for NULL) */
int64
spi_int64(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* Parameter i of an SPI call: the text s, or SQL NULL when s is NULL */
void
spi_param_text(Datum *values, char *nulls, int i, const char *s)
{
	values[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
	nulls[i] = s ? ' ' : 'n';
}

/* A text[] result cell as a List of char * (NIL for NULL or empty) */
List *
spi_text_array(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull);
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elnulls;
	int			n;
	int			i;
	List	   *result = NIL;

	if (isnull)
		return NIL;
	arr = DatumGetArrayTypeP(d);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elnulls, &n);
	for (i = 0; i < n; i++)
	{
		if (!elnulls[i])
			result = lappend(result, TextDatumGetCString(elems[i]));
	}
	return result;
}

/* An int8[] of n Int64GetDatum elements (a query parameter of ids) */
ArrayType *
spi_int8_array(Datum *elems, int n)
{
	return construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/*
 * Whether tripl's table relname has the column (a column added by an update
 * script is missing while a new library runs on the old release's schema)
 */
bool
catalog_has_column(const char *relname, const char *column)
{
	Oid			nsp = get_namespace_oid("tripl", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, column) != InvalidAttrNumber;
}

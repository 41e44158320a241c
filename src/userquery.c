/*-------------------------------------------------------------------------
 *
 * userquery.c
 *	  Running user SQL the safe way: as a given role (never as the superuser
 *	  a worker runs as), read-only, under that definition's search_path,
 *	  with a time limit (tripl.query_timeout), inside SPI.
 *
 *	  Also column introspection: a query's output columns are learnt by
 *	  running it with LIMIT 0, which plans it and checks permissions as the
 *	  role without reading any row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "tripl.h"

static TimeoutId user_query_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t user_query_timed_out = false;

/* Timer handler: cancel the running query, remembering that we did it */
static void
user_query_timeout_handler(void)
{
	user_query_timed_out = true;
	InterruptPending = true;
	QueryCancelPending = true;
	SetLatch(MyLatch);
}

/* The search_path currently in effect, as text */
char *
current_search_path(void)
{
	return GetConfigOptionByName("search_path", NULL, false);
}

/* Error out when a definition's owner role no longer exists */
void
check_role_exists(Oid role, const char *what, const char *name)
{
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that owns %s \"%s\" no longer exists", what, name),
				 errhint("Drop and re-create the definition as an existing role.")));
}

/*
 * Switch to running user SQL: role, search_path, read-only, timer.
 * Must be paired with userquery_leave on success; on error the
 * (sub)transaction abort restores the role and settings, and the caller
 * must still call userquery_leave to stop the timer.
 */
void
userquery_enter(UserQueryState *st, Oid role, const char *search_path, int parallel_workers)
{
	GetUserIdAndSecContext(&st->save_userid, &st->save_sec_context);
	st->guc_nestlevel = NewGUCNestLevel();
	if (search_path != NULL)
		(void) set_config_option("search_path", search_path,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (parallel_workers >= 0)
	{
		char		buf[16];

		snprintf(buf, sizeof(buf), "%d", parallel_workers);
		(void) set_config_option("max_parallel_workers_per_gather", buf,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	SetUserIdAndSecContext(role, st->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	st->save_read_only = XactReadOnly;
	XactReadOnly = true;

	user_query_timed_out = false;
	if (tripl_query_timeout_ms > 0)
	{
		if (user_query_timeout == MAX_TIMEOUTS)
			user_query_timeout = RegisterTimeout(USER_TIMEOUT, user_query_timeout_handler);
		enable_timeout_after(user_query_timeout, tripl_query_timeout_ms);
	}
	st->active = true;
}

/* Leave user-SQL mode; safe to call twice and on the error path */
void
userquery_leave(UserQueryState *st)
{
	if (!st->active)
		return;
	st->active = false;
	if (user_query_timeout != MAX_TIMEOUTS)
		disable_timeout(user_query_timeout, false);
	XactReadOnly = st->save_read_only;
}

/* Restore role and settings after a successful run */
static void
userquery_restore(UserQueryState *st)
{
	SetUserIdAndSecContext(st->save_userid, st->save_sec_context);
	AtEOXact_GUC(true, st->guc_nestlevel);
}

/*
 * Execute one generated SELECT as role, read-only, with the time limit.
 * The caller is connected to SPI; results are in SPI_tuptable.  The SQL is
 * checked once more to be exactly one SELECT, whatever it was built from.
 */
int
userquery_execute(const char *sql, Oid role, const char *search_path,
				  int nargs, Oid *argtypes, Datum *values, const char *nulls,
				  long tcount)
{
	return userquery_execute_parallel(sql, role, search_path, -1, nargs, argtypes,
									  values, nulls, tcount);
}

/*
 * The same, with max_parallel_workers_per_gather set to parallel_workers
 * for the query (-1: the session's setting).
 */
int
userquery_execute_parallel(const char *sql, Oid role, const char *search_path,
						   int parallel_workers, int nargs, Oid *argtypes, Datum *values,
						   const char *nulls, long tcount)
{
	UserQueryState st;
	MemoryContext oldcxt = CurrentMemoryContext;
	int			ret = 0;

	sqlguard_generated(sql);

	memset(&st, 0, sizeof(st));
	userquery_enter(&st, role, search_path, parallel_workers);
	PG_TRY();
	{
		ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, true, tcount);
	}
	PG_CATCH();
	{
		bool		timed_out = user_query_timed_out;

		userquery_leave(&st);
		if (timed_out)
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			{
				FlushErrorState();
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("query ran longer than tripl.query_timeout (%d ms)",
								tripl_query_timeout_ms),
						 errhint("Add an index on the timestamp column, narrow the query, or raise tripl.query_timeout.")));
			}
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	userquery_leave(&st);
	userquery_restore(&st);

	if (ret < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	return ret;
}

/*
 * The output columns of a query, learnt by running it with LIMIT 0 as
 * role: it is planned and permission-checked, no row is read.
 */
List *
userquery_columns(const char *query, Oid role, const char *search_path)
{
	MemoryContext callercxt = CurrentMemoryContext;
	StringInfoData sql;
	List	   *result = NIL;
	TupleDesc	desc;
	int			i;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT * FROM ");
	append_user_query(&sql, query);
	appendStringInfoString(&sql, " LIMIT 0");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) userquery_execute(sql.data, role, search_path, 0, NULL, NULL, NULL, 0);
	desc = SPI_tuptable->tupdesc;

	MemoryContextSwitchTo(callercxt);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);
		UserColumn *col;

		if (attr->attisdropped)
			continue;
		col = palloc0(sizeof(UserColumn));
		col->name = pstrdup(NameStr(attr->attname));
		col->typid = attr->atttypid;
		col->typmod = attr->atttypmod;
		result = lappend(result, col);
	}
	SPI_finish();
	pfree(sql.data);
	return result;
}

/* Is the type (or its domain base) numeric? */
bool
type_is_numeric(Oid typid)
{
	char		category;
	bool		preferred;

	typid = getBaseType(typid);
	get_type_category_preferred(typid, &category, &preferred);
	return category == TYPCATEGORY_NUMERIC && typid != OIDOID &&
		typid != REGPROCOID && typid != REGCLASSOID && typid != REGTYPEOID;
}

/* tripl's column type classes: number | string | bool | timestamp */
const char *
type_class_of(Oid typid)
{
	Oid			base = getBaseType(typid);

	if (base == BOOLOID)
		return "bool";
	if (timestamp_type_of(base) != NULL)
		return "timestamp";
	if (type_is_numeric(base))
		return "number";
	return "string";
}

/* "timestamptz" | "timestamp" | "date" for time types, else NULL */
const char *
timestamp_type_of(Oid typid)
{
	switch (getBaseType(typid))
	{
		case TIMESTAMPTZOID:
			return "timestamptz";
		case TIMESTAMPOID:
			return "timestamp";
		case DATEOID:
			return "date";
		default:
			return NULL;
	}
}

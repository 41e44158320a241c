/*-------------------------------------------------------------------------
 *
 * userquery.c
 *	  Running user SQL the safe way: as the role that wrote it (never as the
 *	  session user, the extension owner or the superuser a worker runs as),
 *	  read-only, in a security-restricted operation, under that definition's
 *	  search_path, with that role's own settings (ALTER ROLE ... SET) and a
 *	  time limit (tripl.query_timeout, or the role's statement_timeout when
 *	  shorter), inside SPI.
 *
 *	  Nothing survives user SQL: every setting it changed (even with a
 *	  non-LOCAL set_config) is reverted when it ends, and functions whose
 *	  effect would outlive it (advisory locks, large objects, NOTIFY) are
 *	  refused while it runs.  PREPARE, LISTEN, DISCARD, temporary tables and
 *	  WITH HOLD cursors are refused by the security-restricted operation.
 *
 *	  Also column introspection: a query's output columns are learnt by
 *	  running it with LIMIT 0, which plans it and checks permissions as the
 *	  role without reading any row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_db_role_setting.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "aggsql.h"
#include "guc.h"
#include "sqlguard.h"
#include "tripl.h"
#include "userquery.h"

/* Citus's setting: do distributed SELECTs open transaction blocks on the nodes? */
#define CITUS_SELECT_BLOCK_GUC "citus.select_opens_transaction_block"

static TimeoutId user_query_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t user_query_timed_out = false;

/* Nesting depth of user SQL now running (the function guard is on when > 0) */
static int	user_sql_depth = 0;

/* The message of the error a user query over its time limit fails with */
#define TIME_LIMIT_MESSAGE	"query ran longer than its time limit"

static object_access_hook_type prev_object_access_hook = NULL;

/* Timer handler: cancel the running query, remembering that we did it */
static void
user_query_timeout_handler(void)
{
	user_query_timed_out = true;
	InterruptPending = true;
	QueryCancelPending = true;
	SetLatch(MyLatch);
}

/*
 * Functions whose effect would outlive the user SQL that calls them:
 * session and transaction advisory locks (a user could hold tripl's own
 * lock keys in the scheduler's session), large objects (created, written,
 * imported or exported as the server's OS user) and NOTIFY.  Returns what
 * to call them in the error, or NULL when the function is allowed.
 */
static const char *
refused_function_kind(Oid funcid)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	const char *name;
	const char *kind = NULL;

	if (funcid >= FirstGenbkiObjectId)
		return NULL;			/* only built-in functions are on the list */
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(tup))
		return NULL;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	name = NameStr(proc->proname);
	if (proc->pronamespace == PG_CATALOG_NAMESPACE)
	{
		if (strncmp(name, "pg_advisory_", 12) == 0 ||
			strncmp(name, "pg_try_advisory_", 16) == 0)
			kind = "advisory locks";
		else if (strncmp(name, "lo_", 3) == 0 ||
				 strcmp(name, "loread") == 0 || strcmp(name, "lowrite") == 0)
			kind = "large objects";
		else if (strcmp(name, "pg_notify") == 0)
			kind = "notifications";
	}
	ReleaseSysCache(tup);
	return kind;
}

/* Object access hook: refuse the functions above while user SQL runs */
static void
userquery_object_access(ObjectAccessType access, Oid classId, Oid objectId,
						int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (user_sql_depth > 0 && access == OAT_FUNCTION_EXECUTE)
	{
		const char *kind = refused_function_kind(objectId);

		if (kind != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("%s cannot be used in SQL that tripl runs: function %s is refused",
							kind, get_func_name(objectId)),
					 errdetail("Their effect would outlive the query.")));
	}
}

/* Install the function guard (from _PG_init) */
void
userquery_init(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = userquery_object_access;
}

/*
 * Is an error (its code and message) a user query's time limit, as opposed
 * to a cancel or the session's statement_timeout?  Told from the error
 * itself, so no state can go stale between errors.
 */
bool
userquery_is_time_limit(int sqlerrcode, const char *message)
{
	return sqlerrcode == ERRCODE_QUERY_CANCELED && message != NULL &&
		strncmp(message, TIME_LIMIT_MESSAGE, strlen(TIME_LIMIT_MESSAGE)) == 0;
}

/*
 * Apply a role's own settings (ALTER ROLE ... [IN DATABASE ...] SET) at
 * the current GUC nest level, the database-specific ones last so they win,
 * as a login of that role would have them.  role and session_authorization
 * cannot be set this way, and search_path is the definition's own; an
 * invalid stored value is skipped.  Returns the role's own
 * statement_timeout in ms (0 when it sets none).
 */
static int
apply_role_settings(Oid role)
{
	Relation	rel;
	int			role_timeout = 0;
	Oid			dbs[2] = {InvalidOid, MyDatabaseId};
	int			d;

	rel = table_open(DbRoleSettingRelationId, AccessShareLock);
	for (d = 0; d < 2; d++)
	{
		ScanKeyData keys[2];
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&keys[0], Anum_pg_db_role_setting_setdatabase,
					BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(dbs[d]));
		ScanKeyInit(&keys[1], Anum_pg_db_role_setting_setrole,
					BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(role));
		scan = systable_beginscan(rel, DbRoleSettingDatidRolidIndexId, true,
								  NULL, 2, keys);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		isnull;
			Datum		datum = heap_getattr(tup, Anum_pg_db_role_setting_setconfig,
											 RelationGetDescr(rel), &isnull);
			ArrayType  *a;
			Datum	   *items;
			int			n,
						i;

			if (isnull)
				continue;
			a = DatumGetArrayTypeP(datum);
			deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &items, NULL, &n);
			for (i = 0; i < n; i++)
			{
				char	   *item = TextDatumGetCString(items[i]);
				char	   *name;
				char	   *value;

				ParseLongOption(item, &name, &value);
				if (value != NULL &&
					pg_strcasecmp(name, "role") != 0 &&
					pg_strcasecmp(name, "session_authorization") != 0 &&
					pg_strcasecmp(name, "search_path") != 0)
				{
					if (set_config_option(name, value, PGC_SUSET, PGC_S_SESSION,
										  GUC_ACTION_SAVE, true, DEBUG1, false) > 0 &&
						pg_strcasecmp(name, "statement_timeout") == 0)
						role_timeout = StatementTimeout;
				}
				pfree(item);
			}
		}
		systable_endscan(scan);
	}
	table_close(rel, AccessShareLock);
	return role_timeout;
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
	int			timeout_ms;
	int			role_timeout;

	GetUserIdAndSecContext(&st->save_userid, &st->save_sec_context);
	st->guc_nestlevel = NewGUCNestLevel();
	role_timeout = apply_role_settings(role);

	/*
	 * On Citus, a distributed SELECT inside a (sub)transaction opens a
	 * transaction block on every node it reads, and a node that fails
	 * then fails the commit of the whole pass ("failure on connection
	 * marked as essential"), not just the one metric.  User SQL is
	 * read-only: its shard queries need no transaction block
	 * (doc/citus.md, "Node failures").
	 */
	if (GetConfigOption(CITUS_SELECT_BLOCK_GUC, true, false) != NULL)
		(void) set_config_option(CITUS_SELECT_BLOCK_GUC, "off",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
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
	/*
	 * The role's own statement_timeout, when shorter, applies too.  (The
	 * session's statement_timeout needs no timer here: it cancels the whole
	 * call, as it should.)
	 */
	timeout_ms = tripl_query_timeout_ms;
	if (role_timeout > 0 && (timeout_ms <= 0 || role_timeout < timeout_ms))
		timeout_ms = role_timeout;
	st->timeout_ms = timeout_ms;
	if (timeout_ms > 0)
	{
		if (user_query_timeout == MAX_TIMEOUTS)
			user_query_timeout = RegisterTimeout(USER_TIMEOUT, user_query_timeout_handler);
		enable_timeout_after(user_query_timeout, timeout_ms);
	}
	user_sql_depth++;
	st->active = true;
}

/* Leave user-SQL mode; safe to call twice and on the error path */
void
userquery_leave(UserQueryState *st)
{
	if (!st->active)
		return;
	st->active = false;
	if (user_sql_depth > 0)
		user_sql_depth--;
	if (user_query_timeout != MAX_TIMEOUTS)
		disable_timeout(user_query_timeout, false);
	XactReadOnly = st->save_read_only;
}

/*
 * Restore role and settings after a successful run.  Every setting changed
 * since userquery_enter is reverted, including a non-LOCAL set_config()
 * inside the user's query: abort semantics, not commit semantics.
 */
void
userquery_restore(UserQueryState *st)
{
	SetUserIdAndSecContext(st->save_userid, st->save_sec_context);
	AtEOXact_GUC(false, st->guc_nestlevel);
}

/* Fail the user query that ran past its time limit */
static void
raise_time_limit(int timeout_ms)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg(TIME_LIMIT_MESSAGE " (%d ms)", timeout_ms),
			 errdetail("The limit is tripl.query_timeout, or the statement_timeout of the role that owns the query when that is shorter."),
			 errhint("Add an index on the timestamp column, narrow the query, or raise tripl.query_timeout.")));
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
				raise_time_limit(st.timeout_ms);
			}
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	userquery_leave(&st);
	userquery_restore(&st);

	/*
	 * The timer fired as the query finished, before the cancel it asked for
	 * was processed: the query did run past its limit.  Fail it as such,
	 * rather than let that cancel surface later as if a user had asked.
	 */
	if (user_query_timed_out)
	{
		user_query_timed_out = false;
		QueryCancelPending = false;
		raise_time_limit(st.timeout_ms);
	}

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
	aggsql_append_user_query(&sql, query);
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

/*-------------------------------------------------------------------------
 *
 * tripl.h
 *	  Declarations shared by tripl's PostgreSQL-side modules: settings,
 *	  the clock, running user SQL, the SQL guard and catalog helpers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_H
#define TRIPL_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/*
 * Declare a SQL-callable function.  The extension is built with
 * -fvisibility=hidden; PostgreSQL 15's PG_FUNCTION_INFO_V1 exports only the
 * info record, so the function itself is declared exported first.
 */
#define TRIPL_SQL_FUNCTION(name) \
	extern PGDLLEXPORT Datum name(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(name)

/* Limits on user input */
#define TRIPL_MAX_QUERY_LENGTH		262144
#define TRIPL_MAX_FRAGMENT_LENGTH	32768
#define TRIPL_MAX_ROW_FILTERS		100
#define TRIPL_MAX_TEXT_LENGTH		10000
#define TRIPL_MAX_CHUNK_ROWS		100000
#define TRIPL_BREAKDOWN_CHARS		500 /* breakdown values keep this many characters */

/* Settings (tripl.c) */
extern int	tripl_query_timeout_ms;
extern int	tripl_chunk_buckets;

/* The one clock (tripl.c); is it tripl.mock_now? */
extern TimestampTz tripl_now(void);
extern bool tripl_now_is_mocked(void);

/* Unix-epoch microseconds <-> TimestampTz */
static inline int64
ts_to_unix(TimestampTz t)
{
	return (int64) t + INT64CONST(946684800000000);
}

static inline TimestampTz
unix_to_ts(int64 u)
{
	return (TimestampTz) (u - INT64CONST(946684800000000));
}

/* Owner of the extension's objects: catalog writes run as this role */
extern Oid	tripl_catalog_owner(void);

/* sqlguard.c: user SQL accepted only in safe shapes */
extern char *sqlguard_select(const char *query, const char *what);
extern char *sqlguard_fragment(const char *fragment, const char *what);
extern void sqlguard_generated(const char *sql);

/*
 * tripl.c: run fn(arg) in a subtransaction.  Returns NULL on success, else
 * the error (the subtransaction rolled back, the error state cleared; the
 * caller frees it with FreeErrorData or re-throws it).
 */
typedef void (*SubxactFn) (void *arg);
extern ErrorData *run_in_subxact_edata(SubxactFn fn, void *arg);

/* userquery.c: running user SQL read-only, as a role, with a timeout */
typedef struct UserColumn
{
	char	   *name;
	Oid			typid;
	int32		typmod;
} UserColumn;

typedef struct UserQueryState
{
	Oid			save_userid;
	int			save_sec_context;
	int			guc_nestlevel;
	bool		save_read_only;
	bool		active;
	int			timeout_ms;
} UserQueryState;

extern void userquery_init(void);
extern bool userquery_error_is_timeout(void);
extern void userquery_restore(UserQueryState *st);

extern void userquery_enter(UserQueryState *st, Oid role, const char *search_path,
							int parallel_workers);
extern void userquery_leave(UserQueryState *st);
extern int	userquery_execute(const char *sql, Oid role, const char *search_path,
							  int nargs, Oid *argtypes, Datum *values,
							  const char *nulls, long tcount);
extern int	userquery_execute_parallel(const char *sql, Oid role, const char *search_path,
									   int parallel_workers, int nargs, Oid *argtypes,
									   Datum *values, const char *nulls, long tcount);
extern List *userquery_columns(const char *query, Oid role, const char *search_path);
extern char *current_search_path(void);
extern const char *type_class_of(Oid typid);
extern bool type_is_numeric(Oid typid);
extern const char *timestamp_type_of(Oid typid);
extern void check_role_exists(Oid role, const char *what, const char *name);

/* argument and catalog helpers (catalog.c) */
extern bool valid_definition_name(const char *name);
extern void check_definition_name(const char *name, const char *what);
extern void check_text_length(const char *s, int max, const char *what);
extern char *fn_arg_text(FunctionCallInfo fcinfo, int i);
extern char *fn_required_text(FunctionCallInfo fcinfo, int i, const char *what);
extern List *fn_arg_name_list(FunctionCallInfo fcinfo, int i, const char *what);
extern bool list_has_string(List *l, const char *s);
extern char *join_names(List *names);
extern void refuse_drop_if_used(const char *users_sql, int64 id, const char *kind, const char *name,
								const char *users, const char *hint);

/* Wrap a user query as a sub-query in generated SQL (aggsql.c) */
extern void append_user_query(StringInfo buf, const char *query);

#endif							/* TRIPL_H */

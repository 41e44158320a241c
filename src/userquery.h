/*-------------------------------------------------------------------------
 *
 * userquery.h
 *	  Running user SQL read-only, as its owner role, with a timeout; the
 *	  columns and type classes of a user query (userquery.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_USERQUERY_H
#define TRIPL_USERQUERY_H

#include "postgres.h"

#include "nodes/pg_list.h"

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
extern bool userquery_is_time_limit(int sqlerrcode, const char *message);
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

#endif							/* TRIPL_USERQUERY_H */

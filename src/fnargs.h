/*-------------------------------------------------------------------------
 *
 * fnargs.h
 *	  Helpers of the SQL-callable definition functions: arguments, names,
 *	  text limits, refusing to drop what is in use (fnargs.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_FNARGS_H
#define TRIPL_FNARGS_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/pg_list.h"

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

#endif							/* TRIPL_FNARGS_H */

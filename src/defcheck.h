/*-------------------------------------------------------------------------
 *
 * defcheck.h
 *	  Checking what a definition function is given: user queries planned as
 *	  the caller, their columns, row filters and identifiers, arguments a
 *	  kind forbids (defcheck.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DEFCHECK_H
#define TRIPL_DEFCHECK_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/* A user query that passed the guard, with its introspected columns */
typedef struct CheckedQuery
{
	char	   *query;
	List	   *columns;		/* ColumnInfo * */
	List	   *ts_types;		/* const char * per column: time type or NULL */
} CheckedQuery;

/* Fact-table row filters that passed validation */
typedef struct CheckedFilters
{
	List	   *names;
	List	   *sqls;
} CheckedFilters;

/* Error context callback: arg says which part of a definition an error comes from */
extern void defcheck_context_callback(void *arg);

extern void defcheck_owner(Oid owner, const char *what, const char *name);
extern CheckedQuery *defcheck_query(const char *query, const char *what, const char *search_path);
extern void defcheck_identifiers(List *identifiers, CheckedQuery *cq, const char *where);
extern CheckedFilters *defcheck_row_filters(Jsonb *filters, CheckedQuery *cq, const char *ft_name, const char *search_path);
extern char *defcheck_columns_json(List *columns);
extern Datum defcheck_name_list_datum(List *names);
extern void defcheck_plan_as_caller(const char *sql, const char *search_path, int nparams);
extern const char *defcheck_time_column(CheckedQuery *cq, const char *column, const char *role, const char *where);
extern void defcheck_forbid(bool given, const char *arg, const char *why);
extern void defcheck_forbid_single_fact_args(bool given, const char *why);

#endif							/* TRIPL_DEFCHECK_H */

/*-------------------------------------------------------------------------
 *
 * sqlguard.h
 *	  User SQL accepted only in safe shapes: one plain SELECT, a boolean
 *	  fragment, and a check of generated SQL (sqlguard.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_SQLGUARD_H
#define TRIPL_SQLGUARD_H

#include "postgres.h"

extern char *sqlguard_select(const char *query, const char *what);
extern char *sqlguard_fragment(const char *fragment, const char *what);
extern void sqlguard_generated(const char *sql);

#endif							/* TRIPL_SQLGUARD_H */

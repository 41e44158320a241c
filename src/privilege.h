/*-------------------------------------------------------------------------
 *
 * privilege.h
 *	  The calling role's privileges over definitions and their values
 *	  (privilege.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_PRIVILEGE_H
#define TRIPL_PRIVILEGE_H

#include "postgres.h"

extern bool caller_is_admin(void);
extern bool caller_may_manage(Oid owner);
extern bool caller_may_read(Oid owner);
extern bool role_is_admin(Oid role);
extern bool role_may_read(Oid role, Oid owner);
extern void check_may_read(Oid owner, const char *metric);

#endif							/* TRIPL_PRIVILEGE_H */

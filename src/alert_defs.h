/*-------------------------------------------------------------------------
 *
 * alert_defs.h
 *	  Alerting definitions: destinations and rules (alert_defs.c); what
 *	  evaluation and tripl.test_destination() share of them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ALERT_DEFS_H
#define TRIPL_ALERT_DEFS_H

#include "postgres.h"

/* Refuse unless superuser or member of tripl_admin; what says what was refused */
extern void alert_require_admin(const char *what);

/* A destination's id, owner and type by name (an error if there is none) */
extern int64 alert_destination_id(const char *name, Oid *owner, char **type);

/* Refuse unless the current role owns the destination (or is tripl_admin) */
extern void alert_require_destination_owner(Oid owner, const char *name, const char *to);

#endif							/* TRIPL_ALERT_DEFS_H */

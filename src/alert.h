/*-------------------------------------------------------------------------
 *
 * alert.h
 *	  Alerting: destinations, rules, evaluating rules against signals into
 *	  the outbox (tripl.deliveries), digests (alert.c).  Sending is
 *	  deliver.h's.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ALERT_H
#define TRIPL_ALERT_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* What one alert evaluation did */
typedef struct AlertSummary
{
	int			rules;
	int			transitions;
	int			enqueued;		/* deliveries written to the outbox */
	int			buffered;		/* digest items written */
	int			flushed;		/* digest deliveries written */
} AlertSummary;

extern void alert_evaluate(TimestampTz now, AlertSummary *summary, List **events);
extern int	alert_flush_digests(TimestampTz now);

#endif							/* TRIPL_ALERT_H */

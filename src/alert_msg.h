/*-------------------------------------------------------------------------
 *
 * alert_msg.h
 *	  What alerting sends: message texts (templates, the built-in ones, the
 *	  lines of anomalies and resolutions) and the body of every destination
 *	  type (alert_msg.c).  Deciding what to send is alert.c's; sending is
 *	  deliver.c's.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ALERT_MSG_H
#define TRIPL_ALERT_MSG_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "core/template.h"

/* Most breakdown values an alert names as drivers of its change */
#define ALERT_MAX_DRIVERS	3

/*
 * A breakdown value that drove an anomaly's change, as
 * tripl.explain_anomaly computes it (doc/alerting.md, "Drivers")
 */
typedef struct AlertDriver
{
	char	   *column;
	char	   *value;
	double		actual;
	double		expected;
	double		share;			/* share_of_change */
} AlertDriver;

/*
 * One anomaly to be reported, or (resolved) one incident that closed: then
 * the numbers are the incident's peak, the anomaly with the largest |z|
 */
typedef struct AlertItem
{
	int64		metric_id;
	char	   *metric;
	char	   *unit;
	char	   *description;
	int			direction;		/* +1 spike, -1 drop */
	double		actual;
	double		expected;
	double		z;
	char	   *detector;
	int64		bucket;			/* Unix microseconds */
	char	   *timezone;		/* the metric's (NULL: UTC) */
	char		incident[37];
	bool		resolved;
	bool		followup;		/* a newer anomaly of an incident already notified */
	int64		opened_at;		/* when the incident opened, Unix microseconds */
	int64		closed_at;
	int			n_drivers;		/* top contributors of the change (anomalies only) */
	AlertDriver drivers[ALERT_MAX_DRIVERS];
} AlertItem;

/* A destination, as evaluation and payload building need it */
typedef struct AlertDestination
{
	int64		id;
	char	   *name;
	char	   *type;
	char	   *chat_id;
	char	   *schedule;
} AlertDestination;

/* What a message is */
typedef enum AlertMsgKind
{
	ALERT_MSG_ALERT,			/* a rule's anomalies */
	ALERT_MSG_RESOLUTION,		/* a rule's incident closed */
	ALERT_MSG_DIGEST,			/* a digest destination's buffer */
	ALERT_MSG_TEST				/* tripl.test_destination() */
} AlertMsgKind;

/* How a destination type escapes template values (and a test message) */
extern TemplateEscape alert_msg_escape(const char *type);

/* The message text: the rule's template (alerts only) or the built-in one */
extern char *alert_msg_render(const char *tmpl, const char *rule, const AlertDestination *d,
							  List *items, AlertMsgKind kind);

/*
 * The body sent to a destination (any type but pagerduty) for a message;
 * rule NULL for digests and tests
 */
extern char *alert_msg_payload(const AlertDestination *d, int64 rule_id, const char *rule,
							   const char *message, List *items, const char *key, AlertMsgKind kind);

/* A PagerDuty Events v2 trigger for one item, or the resolve of its incident */
extern char *alert_msg_pagerduty(const AlertItem *it, const char *message);

/*
 * What a jira delivery holds: {"action": open | comment | resolve, "ref",
 * "incident_id", "subject", "text"}; deliver.c makes the Jira requests of it
 */
extern char *alert_msg_jira(const AlertItem *it, const char *rule, const char *message,
							const char *action, const char *ref);

/* An item as the JSON object of webhook payloads and digest buffers */
extern char *alert_msg_item_json(const AlertItem *it);

/* Append "key": "string"-or-null */
extern void alert_msg_json_string(StringInfo buf, const char *key, const char *v);

#endif							/* TRIPL_ALERT_MSG_H */

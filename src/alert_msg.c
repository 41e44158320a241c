/*-------------------------------------------------------------------------
 *
 * alert_msg.c
 *	  What alerting sends (alert_msg.h): the message text of alerts,
 *	  resolutions, digests and tests, from the rule's template or the
 *	  built-in one, and the body of each destination type — the webhook's
 *	  JSON, Slack blocks, a Telegram message, PagerDuty Events v2, an
 *	  email's subject and parts, a Teams Adaptive Card.  doc/alerting.md,
 *	  "What is sent", shows every body.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgtime.h"

#include <math.h>

#include "commands/dbcommands.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "alert_msg.h"
#include "grid_pg.h"
#include "core/alert_core.h"
#include "core/mail.h"
#include "core/template.h"
#include "tripl.h"

#define PAGERDUTY_SUMMARY_BYTES	1000

/* Most anomaly blocks or rows in a Slack message or a Teams card */
#define MAX_SHOWN_ITEMS			45

/* Longest email subject before encoding, in bytes */
#define MAIL_SUBJECT_BYTES		200

/* A number for people: up to 6 significant digits */
static char *
fmt_number(double v)
{
	if (!isfinite(v))
		return pstrdup("n/a");
	if (fabs(v) >= 1e6 || (fabs(v) < 1e-3 && v != 0))
		return psprintf("%.4g", v);
	return psprintf("%.6g", v);
}

/*
 * A bucket start for people, in the metric's time zone with its
 * abbreviation: "2026-11-24 00:00 UTC", "2026-11-24 00:00 EST"
 */
static char *
fmt_bucket(int64 bucket, const char *zone)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	const char *abbrev = NULL;
	pg_tz	   *tz = (zone == NULL || grid_pg_is_utc(zone)) ? NULL : pg_tzset(zone);

	if (tz == NULL)
	{
		if (timestamp2tm(unix_to_ts(bucket), NULL, &tm, &fsec, NULL, NULL) != 0)
			return pstrdup("?");
		abbrev = "UTC";
	}
	else if (timestamp2tm(unix_to_ts(bucket), &tzoff, &tm, &fsec, &abbrev, tz) != 0)
		return pstrdup("?");
	return psprintf("%04d-%02d-%02d %02d:%02d %s", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, abbrev ? abbrev : zone);
}

/* A bucket start as ISO 8601 (for JSON) */
static char *
iso_bucket(int64 bucket)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(unix_to_ts(bucket), NULL, &tm, &fsec, NULL, NULL) != 0)
		return pstrdup("");
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The percent change of an item, or NaN when expected is 0 */
static double
item_percent(const AlertItem *it)
{
	double		abs_delta;
	double		pct;

	alert_deltas(it->actual, it->expected, &abs_delta, &pct);
	return pct;
}

/* A duration for people, "3h 10m" */
static char *
fmt_duration(int64 us)
{
	char		buf[64];

	alert_format_duration(us, buf, sizeof(buf));
	return pstrdup(buf);
}

/*
 * "; driven by country = DE: -91%, country = US: -5%" for an item with
 * drivers (a value's own change; "new" when it was expected at 0), else ""
 */
static char *
drivers_text(const AlertItem *it)
{
	StringInfoData b;
	int			k;

	if (it->resolved || it->n_drivers == 0)
		return "";
	initStringInfo(&b);
	appendStringInfoString(&b, "; driven by ");
	for (k = 0; k < it->n_drivers; k++)
	{
		const AlertDriver *dr = &it->drivers[k];
		double		abs_delta;
		double		pct;

		alert_deltas(dr->actual, dr->expected, &abs_delta, &pct);
		appendStringInfo(&b, "%s%s = %s: ", k > 0 ? ", " : "", dr->column, dr->value);
		if (isnan(pct))
			appendStringInfoString(&b, "new");
		else
			appendStringInfo(&b, "%+.0f%%", pct);
	}
	return b.data;
}

/*
 * One human line per item: an anomaly (with what drove it), or a
 * resolution with the incident's duration and peak
 */
static char *
item_line(const AlertItem *it, TemplateEscape esc)
{
	double		pct = item_percent(it);
	const char *unit_sep = (it->unit && it->unit[0]) ? " " : "";
	const char *unit = it->unit ? it->unit : "";
	char	   *change = isnan(pct) ? "" : psprintf(" (%+.1f%%)", pct);
	char	   *line;

	if (it->resolved)
		line = psprintf("%s %s resolved after %s: peak %s%s%s, expected %s%s at %s",
						it->metric, it->direction > 0 ? "spike" : "drop",
						fmt_duration(it->closed_at - it->opened_at),
						fmt_number(it->actual), unit_sep, unit, fmt_number(it->expected), change,
						fmt_bucket(it->bucket, it->timezone));
	else
		line = psprintf("%s %s: %s%s%s, expected %s%s at %s%s",
						it->metric, it->direction > 0 ? "spike" : "drop",
						fmt_number(it->actual), it->unit ? " " : "", unit,
						fmt_number(it->expected), change, fmt_bucket(it->bucket, it->timezone),
						drivers_text(it));
	return template_escape(line, esc);
}

/* Context for template lookups */
typedef struct AlertMessage
{
	const char *rule;
	const char *destination;
	List	   *items;			/* AlertItem * */
	TemplateEscape escape;
} AlertMessage;

/* "1 anomaly", "3 anomalies", "1 anomaly, 2 resolved", "1 resolved" */
static char *
summary_text(List *items)
{
	int			anomalies = 0;
	int			resolved = 0;
	ListCell   *lc;

	foreach(lc, items)
	{
		if (((AlertItem *) lfirst(lc))->resolved)
			resolved++;
		else
			anomalies++;
	}
	if (resolved == 0)
		return psprintf("%d %s", anomalies, anomalies == 1 ? "anomaly" : "anomalies");
	if (anomalies == 0)
		return psprintf("%d resolved", resolved);
	return psprintf("%d %s, %d resolved", anomalies, anomalies == 1 ? "anomaly" : "anomalies", resolved);
}

/* Lookup callback: the value of a placeholder */
static const char *
message_lookup(void *arg, const char *name)
{
	AlertMessage *mc = arg;
	AlertItem  *first = mc->items ? linitial(mc->items) : NULL;
	int			n = list_length(mc->items);
	double		abs_delta = NAN;
	double		pct = NAN;

	if (strcmp(name, "rule") == 0)
		return mc->rule;
	if (strcmp(name, "destination") == 0)
		return mc->destination;
	if (strcmp(name, "database") == 0)
		return get_database_name(MyDatabaseId);
	if (strcmp(name, "count") == 0)
		return psprintf("%d", n);
	if (strcmp(name, "summary") == 0)
		return summary_text(mc->items);
	if (strcmp(name, "items") == 0)
	{
		StringInfoData buf;
		ListCell   *lc;

		initStringInfo(&buf);
		foreach(lc, mc->items)
			appendStringInfo(&buf, "%s%s", buf.len ? "\n" : "",
							 item_line(lfirst(lc), TEMPLATE_ESCAPE_NONE));
		return buf.data;
	}
	if (first == NULL)
		return NULL;
	alert_deltas(first->actual, first->expected, &abs_delta, &pct);
	if (strcmp(name, "metric") == 0)
		return first->metric;
	if (strcmp(name, "direction") == 0)
		return first->direction > 0 ? "spike" : "drop";
	if (strcmp(name, "actual") == 0)
		return fmt_number(first->actual);
	if (strcmp(name, "expected") == 0)
		return fmt_number(first->expected);
	if (strcmp(name, "absolute_delta") == 0)
		return fmt_number(abs_delta);
	if (strcmp(name, "percent_delta") == 0)
		return isnan(pct) ? "n/a" : psprintf("%+.1f%%", pct);
	if (strcmp(name, "bucket") == 0)
		return fmt_bucket(first->bucket, first->timezone);
	if (strcmp(name, "z_score") == 0)
		return psprintf("%.1f", first->z);
	if (strcmp(name, "unit") == 0)
		return first->unit;
	if (strcmp(name, "detector") == 0)
		return first->detector;
	if (strcmp(name, "incident_id") == 0)
		return first->incident;
	if (strcmp(name, "description") == 0)
		return first->description;
	return NULL;
}

/* How a destination type escapes template values */
TemplateEscape
alert_msg_escape(const char *type)
{
	if (strcmp(type, "telegram") == 0)
		return TEMPLATE_ESCAPE_HTML;
	if (strcmp(type, "slack") == 0)
		return TEMPLATE_ESCAPE_SLACK;
	if (strcmp(type, "teams") == 0)
		return TEMPLATE_ESCAPE_MARKDOWN;
	return TEMPLATE_ESCAPE_NONE;
}

char *
alert_msg_render(const char *tmpl, const char *rule, const AlertDestination *d, List *items,
				 AlertMsgKind kind)
{
	AlertMessage mc;
	bool		telegram = strcmp(d->type, "telegram") == 0;

	mc.rule = rule;
	mc.destination = d->name;
	mc.items = items;
	mc.escape = alert_msg_escape(d->type);
	/* a resolution always has the built-in text */
	if (tmpl == NULL || kind != ALERT_MSG_ALERT)
	{
		if (kind == ALERT_MSG_DIGEST)
			tmpl = telegram ? "<b>tripl digest</b>: {{summary}}\n{{items}}" : "tripl digest: {{summary}}\n{{items}}";
		else if (kind == ALERT_MSG_RESOLUTION)
			tmpl = telegram ? "<b>tripl resolved {{rule}}</b>: {{items}}" : "tripl resolved {{rule}}: {{items}}";
		else
			tmpl = telegram ? "<b>tripl alert {{rule}}</b>: {{summary}}\n{{items}}" :
				"tripl alert {{rule}}: {{summary}}\n{{items}}";
	}
	return template_render(tmpl, message_lookup, &mc, mc.escape);
}

/* Append "key": number-or-null */
static void
json_number(StringInfo buf, const char *key, double v)
{
	appendStringInfo(buf, "\"%s\": ", key);
	if (isfinite(v))
		appendStringInfo(buf, "%.17g", v);
	else
		appendStringInfoString(buf, "null");
}

static void
json_string(StringInfo buf, const char *key, const char *v)
{
	appendStringInfo(buf, "\"%s\": ", key);
	if (v)
		escape_json(buf, v);
	else
		appendStringInfoString(buf, "null");
}

/* Append "key": "string"-or-null (for the builders of other files) */
void
alert_msg_json_string(StringInfo buf, const char *key, const char *v)
{
	json_string(buf, key, v);
}

/* An item as the webhook payload's JSON object (doc/alerting.md, "What is sent") */
char *
alert_msg_item_json(const AlertItem *it)
{
	StringInfoData b;
	double		abs_delta;
	double		pct;

	alert_deltas(it->actual, it->expected, &abs_delta, &pct);
	initStringInfo(&b);
	appendStringInfoString(&b, "{\"scope_type\": \"metric\", ");
	appendStringInfo(&b, "\"scope_ref\": \"" INT64_FORMAT "\", ", it->metric_id);
	json_string(&b, "scope_name", it->metric);
	appendStringInfo(&b, ", \"direction\": \"%s\", ", it->direction > 0 ? "spike" : "drop");
	json_number(&b, "actual_count", it->actual);
	appendStringInfoString(&b, ", ");
	json_number(&b, "expected_count", it->expected);
	appendStringInfoString(&b, ", ");
	json_number(&b, "absolute_delta", abs_delta);
	appendStringInfoString(&b, ", ");
	json_number(&b, "percent_delta", pct);
	appendStringInfoString(&b, ", ");
	json_string(&b, "bucket", iso_bucket(it->bucket));
	appendStringInfoString(&b, ", ");
	json_number(&b, "z_score", it->z);
	appendStringInfoString(&b, ", ");
	json_string(&b, "detector", it->detector);
	appendStringInfoString(&b, ", ");
	json_string(&b, "unit", it->unit);
	appendStringInfoString(&b, ", ");
	json_string(&b, "incident_id", it->incident);
	appendStringInfoString(&b, ", \"details_url\": null, \"monitoring_url\": null");
	if (!it->resolved && it->n_drivers > 0)
	{
		int			k;

		appendStringInfoString(&b, ", \"drivers\": [");
		for (k = 0; k < it->n_drivers; k++)
		{
			const AlertDriver *dr = &it->drivers[k];

			alert_deltas(dr->actual, dr->expected, &abs_delta, &pct);
			appendStringInfoString(&b, k > 0 ? ", {" : "{");
			json_string(&b, "column", dr->column);
			appendStringInfoString(&b, ", ");
			json_string(&b, "value", dr->value);
			appendStringInfoString(&b, ", ");
			json_number(&b, "actual", dr->actual);
			appendStringInfoString(&b, ", ");
			json_number(&b, "expected", dr->expected);
			appendStringInfoString(&b, ", ");
			json_number(&b, "percent_delta", pct);
			appendStringInfoString(&b, ", ");
			json_number(&b, "share_of_change", dr->share);
			appendStringInfoChar(&b, '}');
		}
		appendStringInfoChar(&b, ']');
	}
	if (it->resolved)
	{
		appendStringInfoString(&b, ", \"event\": \"resolved\", ");
		json_string(&b, "opened_at", iso_bucket(it->opened_at));
		appendStringInfoString(&b, ", ");
		json_string(&b, "closed_at", iso_bucket(it->closed_at));
		appendStringInfo(&b, ", \"duration_seconds\": " INT64_FORMAT,
						 (it->closed_at - it->opened_at) / USECS_PER_SEC);
	}
	appendStringInfoChar(&b, '}');
	return b.data;
}

/* A JSON string of HTML-escaped text */
static char *
html_text(const char *text)
{
	char	   *core = mail_html_escape(text);
	char	   *out = pstrdup(core);

	pfree(core);
	return out;
}

/* An email: {"subject", "text", "html"}, made into a message when sent (deliver.c) */
static char *
email_json(const char *message, List *items)
{
	StringInfoData b;
	StringInfoData h;
	/* the subject and the heading: the message's first line */
	const char *nl = message + strcspn(message, "\r\n");
	ListCell   *lc;

	initStringInfo(&h);
	appendStringInfo(&h, "<!DOCTYPE html>\n<html><body>\n<h3>%s</h3>\n",
					 html_text(pnstrdup(message, nl - message)));
	if (items != NIL)
	{
		appendStringInfoString(&h, "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n"
							   "<tr><th>metric</th><th>direction</th><th>actual</th><th>expected</th>"
							   "<th>change</th><th>bucket</th><th>status</th></tr>\n");
		foreach(lc, items)
		{
			AlertItem  *it = lfirst(lc);
			double		pct = item_percent(it);

			appendStringInfo(&h, "<tr><td>%s</td><td>%s</td><td>%s %s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
							 html_text(it->metric), it->direction > 0 ? "spike" : "drop",
							 fmt_number(it->actual), html_text(it->unit ? it->unit : ""),
							 fmt_number(it->expected), isnan(pct) ? "n/a" : psprintf("%+.1f%%", pct),
							 fmt_bucket(it->bucket, it->timezone),
							 it->resolved ? psprintf("resolved after %s (peak)",
													 fmt_duration(it->closed_at - it->opened_at)) : "open");
		}
		appendStringInfoString(&h, "</table>\n");
	}
	appendStringInfo(&h, "<pre>%s</pre>\n</body></html>\n", html_text(message));
	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	json_string(&b, "subject", psprintf("[tripl] %s", pnstrdup(message, nl - message)));
	appendStringInfoString(&b, ", ");
	json_string(&b, "text", message);
	appendStringInfoString(&b, ", ");
	json_string(&b, "html", h.data);
	appendStringInfoChar(&b, '}');
	return b.data;
}

/* A Teams TextBlock */
static void
teams_text(StringInfo b, const char *text, const char *extra)
{
	appendStringInfoString(b, "{\"type\": \"TextBlock\", ");
	json_string(b, "text", text);
	appendStringInfo(b, ", \"wrap\": true%s}", extra);
}

/*
 * A Teams message for a Workflows (or incoming-webhook) URL: one Adaptive
 * Card 1.5 with the title, the message and a table of the items; every
 * text is Markdown-escaped
 */
static char *
teams_json(const char *title, const char *message, List *items)
{
	StringInfoData b;
	ListCell   *lc;
	int			shown = 0;

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"type\": \"message\", \"attachments\": [{\"contentType\": "
						   "\"application/vnd.microsoft.card.adaptive\", \"contentUrl\": null, \"content\": "
						   "{\"$schema\": \"http://adaptivecards.io/schemas/adaptive-card.json\", "
						   "\"type\": \"AdaptiveCard\", \"version\": \"1.5\", \"msteams\": {\"width\": \"Full\"}, "
						   "\"body\": [");
	teams_text(&b, template_escape(title, TEMPLATE_ESCAPE_MARKDOWN), ", \"weight\": \"Bolder\", \"size\": \"Medium\"");
	appendStringInfoString(&b, ", ");
	teams_text(&b, message, "");
	if (items != NIL)
	{
		static const char *const heads[] = {"Metric", "Direction", "Actual", "Expected", "Change", "Bucket", "Status"};
		int			i;

		appendStringInfoString(&b, ", {\"type\": \"Table\", \"firstRowAsHeader\": true, \"columns\": [");
		for (i = 0; i < 7; i++)
			appendStringInfo(&b, "%s{\"width\": 1}", i ? ", " : "");
		appendStringInfoString(&b, "], \"rows\": [{\"type\": \"TableRow\", \"cells\": [");
		for (i = 0; i < 7; i++)
		{
			appendStringInfo(&b, "%s{\"type\": \"TableCell\", \"items\": [", i ? ", " : "");
			teams_text(&b, heads[i], ", \"weight\": \"Bolder\"");
			appendStringInfoString(&b, "]}");
		}
		appendStringInfoString(&b, "]}");
		foreach(lc, items)
		{
			AlertItem  *it = lfirst(lc);
			double		pct = item_percent(it);
			const char *cells[7];

			if (++shown > MAX_SHOWN_ITEMS)
				break;
			cells[0] = it->metric;
			cells[1] = it->direction > 0 ? "spike" : "drop";
			cells[2] = psprintf("%s %s", fmt_number(it->actual), it->unit ? it->unit : "");
			cells[3] = fmt_number(it->expected);
			cells[4] = isnan(pct) ? "n/a" : psprintf("%+.1f%%", pct);
			cells[5] = fmt_bucket(it->bucket, it->timezone);
			cells[6] = it->resolved ? psprintf("resolved after %s (peak)", fmt_duration(it->closed_at - it->opened_at)) :
				"open";
			appendStringInfoString(&b, ", {\"type\": \"TableRow\", \"cells\": [");
			for (i = 0; i < 7; i++)
			{
				appendStringInfo(&b, "%s{\"type\": \"TableCell\", \"items\": [", i ? ", " : "");
				teams_text(&b, template_escape(cells[i], TEMPLATE_ESCAPE_MARKDOWN), "");
				appendStringInfoString(&b, "]}");
			}
			appendStringInfoString(&b, "]}");
		}
		appendStringInfoString(&b, "]}");
	}
	appendStringInfoString(&b, "]}}]}");
	return b.data;
}

/* The title of a message: what it is and which rule */
static char *
message_title(const char *rule, AlertMsgKind kind)
{
	switch (kind)
	{
		case ALERT_MSG_ALERT:
			return psprintf("tripl alert %s", rule ? rule : "");
		case ALERT_MSG_RESOLUTION:
			return psprintf("tripl resolved %s", rule ? rule : "");
		case ALERT_MSG_DIGEST:
			return pstrdup("tripl digest");
		case ALERT_MSG_TEST:
			break;
	}
	return pstrdup("tripl test message");
}

char *
alert_msg_payload(const AlertDestination *d, int64 rule_id_, const char *rule, const char *message,
				  List *items, const char *key, AlertMsgKind kind)
{
	StringInfoData b;
	ListCell   *lc;
	char	   *db = get_database_name(MyDatabaseId);
	const char *event;

	initStringInfo(&b);
	if (strcmp(d->type, "slack") == 0)
	{
		int			shown = 0;

		appendStringInfoChar(&b, '{');
		json_string(&b, "text", message);
		appendStringInfoString(&b, ", \"blocks\": [{\"type\": \"section\", \"text\": {\"type\": \"mrkdwn\", ");
		json_string(&b, "text", kind == ALERT_MSG_DIGEST ? "*tripl digest*" :
					kind == ALERT_MSG_TEST ? "*tripl test message*" :
					psprintf("*tripl %s* %s", kind == ALERT_MSG_RESOLUTION ? "resolved" : "alert",
							 template_escape(rule, TEMPLATE_ESCAPE_SLACK)));
		appendStringInfoString(&b, "}}");
		foreach(lc, items)
		{
			if (++shown > MAX_SHOWN_ITEMS)
				break;
			appendStringInfoString(&b, ", {\"type\": \"section\", \"text\": {\"type\": \"mrkdwn\", ");
			json_string(&b, "text", item_line(lfirst(lc), TEMPLATE_ESCAPE_SLACK));
			appendStringInfoString(&b, "}}");
		}
		appendStringInfoString(&b, "]}");
		return b.data;
	}
	if (strcmp(d->type, "telegram") == 0)
	{
		appendStringInfoChar(&b, '{');
		json_string(&b, "chat_id", d->chat_id);
		appendStringInfoString(&b, ", ");
		json_string(&b, "text", message);
		appendStringInfoString(&b, ", \"parse_mode\": \"HTML\", \"disable_web_page_preview\": true}");
		return b.data;
	}
	if (strcmp(d->type, "teams") == 0)
		return teams_json(message_title(rule, kind), message, items);
	if (strcmp(d->type, "email") == 0)
		return email_json(message, items);
	event = kind == ALERT_MSG_DIGEST ? "tripl.digest" : kind == ALERT_MSG_RESOLUTION ? "tripl.resolved" :
		kind == ALERT_MSG_TEST ? "tripl.destination_test" : "tripl.alert";
	appendStringInfo(&b, "{\"event\": \"%s\", \"project\": {", event);
	json_string(&b, "name", db);
	appendStringInfoString(&b, ", ");
	json_string(&b, "slug", db);
	appendStringInfo(&b, "}, \"destination\": {\"id\": " INT64_FORMAT ", ", d->id);
	json_string(&b, "name", d->name);
	if (rule)
	{
		appendStringInfo(&b, "}, \"rule\": {\"id\": " INT64_FORMAT ", ", rule_id_);
		json_string(&b, "name", rule);
		appendStringInfoChar(&b, '}');
	}
	else
		appendStringInfoString(&b, "}, \"rule\": null");
	appendStringInfo(&b, ", \"scan\": null, \"matched_count\": %d, ", list_length(items));
	json_string(&b, "message", message);
	appendStringInfoString(&b, ", ");
	json_string(&b, "idempotency_key", key);
	appendStringInfoString(&b, ", \"items\": [");
	foreach(lc, items)
		appendStringInfo(&b, "%s%s", foreach_current_index(lc) ? ", " : "", alert_msg_item_json(lfirst(lc)));
	appendStringInfoString(&b, "]}");
	return b.data;
}
/*
 * A PagerDuty Events v2 trigger for one item, or for a resolved item the
 * resolve of its incident (routing_key added when sent)
 */
char *
alert_msg_pagerduty(const AlertItem *it, const char *message)
{
	StringInfoData b;
	char	   *summary;

	if (it->resolved)
	{
		initStringInfo(&b);
		appendStringInfoString(&b, "{\"event_action\": \"resolve\", ");
		json_string(&b, "dedup_key", it->incident);
		appendStringInfoChar(&b, '}');
		return b.data;
	}

	/* PagerDuty takes up to 1024 characters: cut on a character boundary */
	if (GetDatabaseEncoding() == PG_UTF8)
		summary = pnstrdup(message, alert_utf8_prefix(message, PAGERDUTY_SUMMARY_BYTES));
	else
		summary = pnstrdup(message, pg_mbcliplen(message, strlen(message), PAGERDUTY_SUMMARY_BYTES));

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"event_action\": \"trigger\", ");
	json_string(&b, "dedup_key", it->incident);
	appendStringInfoString(&b, ", \"payload\": {");
	json_string(&b, "summary", summary);
	appendStringInfoString(&b, ", ");
	json_string(&b, "source", get_database_name(MyDatabaseId));
	appendStringInfo(&b, ", \"severity\": \"%s\", ", fabs(it->z) >= 8 ? "critical" : "error");
	json_string(&b, "timestamp", iso_bucket(it->bucket));
	appendStringInfoString(&b, ", ");
	json_string(&b, "component", it->metric);
	appendStringInfoString(&b, ", \"group\": \"tripl\", ");
	json_string(&b, "class", it->detector);
	appendStringInfo(&b, ", \"custom_details\": %s}}", alert_msg_item_json(it));
	return b.data;
}

char *
alert_msg_jira(const AlertItem *it, const char *rule, const char *message, const char *action,
			   const char *ref)
{
	StringInfoData b;
	char	   *summary = psprintf("tripl: %s %s (rule %s)", it->metric, it->direction > 0 ? "spike" : "drop",
								   rule);

	/* a Jira summary is one line of at most 255 characters */
	if (GetDatabaseEncoding() == PG_UTF8)
		summary = pnstrdup(summary, alert_utf8_prefix(summary, 250));
	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	json_string(&b, "action", action);
	appendStringInfoString(&b, ", ");
	json_string(&b, "ref", ref);
	appendStringInfoString(&b, ", ");
	json_string(&b, "incident_id", it->incident);
	appendStringInfoString(&b, ", ");
	json_string(&b, "subject", summary);
	appendStringInfoString(&b, ", ");
	json_string(&b, "text", message);
	appendStringInfoChar(&b, '}');
	return b.data;
}

/*-------------------------------------------------------------------------
 *
 * alert_core.c
 *	  Rule matching, rule-state/cooldown transitions, delivery retry
 *	  backoff, Retry-After parsing and HTTP status classification.
 *
 *	  Everything here is a pure function of its arguments: callers pass
 *	  "now" and random numbers in.  The behaviour follows doc/alerting.md
 *	  ("Alert rules"); alert_core.h documents each decision.
 *
 *-------------------------------------------------------------------------
 */
#include "alert_core.h"
#include "grid.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Match a signal against a rule, reporting the first gate that failed */
AlertMatchResult
alert_rule_match(const AlertRule *rule, const AlertSignal *signal)
{
	double		delta;
	double		expected_size;

	if (!rule->all_metrics)
	{
		bool		found = false;
		int			i;

		if (rule->metric_ids != NULL)
		{
			for (i = 0; i < rule->n_metric_ids && !found; i++)
				found = (rule->metric_ids[i] == signal->metric_id);
		}
		if (!found)
			return ALERT_SKIP_METRIC;
	}

	if (signal->direction > 0 ? !rule->notify_on_spike :
		signal->direction < 0 ? !rule->notify_on_drop : true)
		return ALERT_SKIP_DIRECTION;

	if (!isfinite(signal->actual) || !isfinite(signal->expected))
		return ALERT_SKIP_VALUE;

	expected_size = fabs(signal->expected);
	delta = fabs(signal->actual - signal->expected);

	if (!(expected_size >= rule->min_expected))
		return ALERT_SKIP_MIN_EXPECTED;
	if (!(delta >= rule->min_absolute_delta))
		return ALERT_SKIP_ABSOLUTE_DELTA;
	if (signal->expected != 0.0)
	{
		if (!(delta / expected_size * 100.0 >= rule->min_percent_delta))
			return ALERT_SKIP_PERCENT_DELTA;
	}
	else if (!(delta > 0.0))
		return ALERT_SKIP_NO_CHANGE;
	return ALERT_MATCH;
}

/* Short lower-case name of a match result */
const char *
alert_match_result_name(AlertMatchResult r)
{
	switch (r)
	{
		case ALERT_MATCH:
			return "match";
		case ALERT_SKIP_METRIC:
			return "metric";
		case ALERT_SKIP_DIRECTION:
			return "direction";
		case ALERT_SKIP_VALUE:
			return "value";
		case ALERT_SKIP_MIN_EXPECTED:
			return "min_expected";
		case ALERT_SKIP_ABSOLUTE_DELTA:
			return "min_absolute_delta";
		case ALERT_SKIP_PERCENT_DELTA:
			return "min_percent_delta";
		case ALERT_SKIP_NO_CHANGE:
			return "no_change";
	}
	return "unknown";
}

/* Signed absolute and percent deltas; percent is NAN when expected == 0 */
void
alert_deltas(double actual, double expected, double *absolute_delta,
			 double *percent_delta)
{
	double		delta = actual - expected;

	*absolute_delta = delta;
	*percent_delta = (expected != 0.0) ? delta / fabs(expected) * 100.0 : NAN;
}

/* Has the cooldown elapsed at now since last_notified_at (none: yes)? */
bool
alert_cooldown_elapsed(int64_t last_notified_at, int64_t now,
					   int64_t cooldown_us)
{
	if (last_notified_at == ALERT_TIME_NONE || cooldown_us <= 0)
		return true;
	if (now < last_notified_at)
		return false;			/* clock went backwards: not yet */
	/* now - last_notified_at would overflow: certainly elapsed */
	if (last_notified_at < 0 && now > INT64_MAX + last_notified_at)
		return true;
	return now - last_notified_at >= cooldown_us;
}

/* Compute the next rule x metric state and whether to send */
void
alert_state_transition(const AlertRuleState *prev, const AlertEvaluation *ev,
					   AlertTransition *out)
{
	AlertRuleState st = *prev;
	bool		send = false;

	memset(out, 0, sizeof(*out));

	if (!prev->exists)
	{
		if (!ev->matched)
		{
			out->state = st;
			out->event = ALERT_STATE_NONE;
			return;
		}
		st.exists = true;
		st.active = true;
		st.opened_at = ev->now;
		st.closed_at = ALERT_TIME_NONE;
		st.last_notified_at = ALERT_TIME_NONE;
		st.last_anomaly_bucket = ev->anomaly_bucket;
		out->event = ALERT_STATE_CREATED;
		send = true;
	}
	else if (!prev->active)
	{
		if (!ev->matched)
		{
			out->state = st;
			out->event = ALERT_STATE_NONE;
			return;
		}
		st.active = true;
		st.opened_at = ev->now;
		st.closed_at = ALERT_TIME_NONE;
		if (prev->last_anomaly_bucket == ALERT_TIME_NONE ||
			ev->anomaly_bucket > prev->last_anomaly_bucket)
			st.last_anomaly_bucket = ev->anomaly_bucket;
		out->event = ALERT_STATE_REOPENED;
		send = ev->is_digest ||
			alert_cooldown_elapsed(prev->last_notified_at, ev->now, ev->cooldown_us);
	}
	else if (ev->matched)
	{
		bool		newer = (prev->last_anomaly_bucket == ALERT_TIME_NONE ||
							 ev->anomaly_bucket > prev->last_anomaly_bucket);

		if (newer)
			st.last_anomaly_bucket = ev->anomaly_bucket;
		out->event = ALERT_STATE_STILL_ACTIVE;
		if (prev->last_notified_at == ALERT_TIME_NONE)
			send = true;
		else
			send = newer &&
				(ev->is_digest ||
				 alert_cooldown_elapsed(prev->last_notified_at, ev->now, ev->cooldown_us));
	}
	else
	{
		st.active = false;
		st.closed_at = ev->now;
		out->event = ALERT_STATE_CLOSED;
		send = false;
	}

	out->state = st;
	if (ev->muted)
	{
		out->muted_send = send;
		out->send = false;
	}
	else
		out->send = send;
}

/* Record that a message for this state was sent at sent_at */
void
alert_state_mark_notified(AlertRuleState *state, int64_t sent_at)
{
	state->last_notified_at = sent_at;
}

/* Short lower-case name of a state event */
const char *
alert_state_event_name(AlertStateEvent e)
{
	switch (e)
	{
		case ALERT_STATE_NONE:
			return "none";
		case ALERT_STATE_CREATED:
			return "created";
		case ALERT_STATE_REOPENED:
			return "reopened";
		case ALERT_STATE_STILL_ACTIVE:
			return "still_active";
		case ALERT_STATE_CLOSED:
			return "closed";
	}
	return "unknown";
}

/* Exponential backoff with jitter, honouring Retry-After up to its cap */
int64_t
delivery_backoff_us(int attempt, int64_t base_us, int64_t cap_us,
					double random01, int64_t retry_after_us)
{
	int64_t		delay;
	int64_t		result;
	double		factor;
	double		scaled;
	int			i;

	if (attempt < 1)
		attempt = 1;
	if (base_us < 0)
		base_us = 0;
	if (cap_us < 0)
		cap_us = 0;

	/* min(cap, base * 2^(attempt-1)) without overflow */
	delay = base_us < cap_us ? base_us : cap_us;
	for (i = 1; i < attempt && i < 64 && delay < cap_us; i++)
		delay = (delay > cap_us / 2) ? cap_us : delay * 2;

	if (!(random01 >= 0.0))		/* also NaN */
		random01 = 0.0;
	if (random01 >= 1.0)
		random01 = 0.9999999999;
	factor = 1.0 + ALERT_BACKOFF_JITTER * (2.0 * random01 - 1.0);
	scaled = (double) delay * factor + 0.5;
	if (scaled >= 9223372036854775807.0)
		result = INT64_MAX;
	else
		result = (int64_t) scaled;

	if (retry_after_us >= 0)
	{
		int64_t		ra = retry_after_us < ALERT_RETRY_AFTER_CAP_US ?
			retry_after_us : ALERT_RETRY_AFTER_CAP_US;

		if (ra > result)
			result = ra;
	}
	return result;
}

/* Days in a month of the proleptic Gregorian calendar */
static int
ra_days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* ASCII lower-case */
static char
ra_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Skip spaces and tabs */
static const char *
ra_skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Read a run of letters into buf (lower-cased, at most 9); returns length */
static int
ra_read_word(const char **pp, char *buf)
{
	const char *p = *pp;
	int			n = 0;

	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
	{
		if (n < 10)
			buf[n] = ra_lower(*p);
		n++;
		p++;
	}
	buf[n < 10 ? n : 10] = '\0';
	*pp = p;
	return n;
}

/* Read min..max decimal digits; false if the count is outside that */
static bool
ra_read_digits(const char **pp, int min, int max, int *value)
{
	const char *p = *pp;
	int			n = 0;
	int			v = 0;

	while (*p >= '0' && *p <= '9')
	{
		if (n < max)
			v = v * 10 + (*p - '0');
		n++;
		p++;
	}
	if (n < min || n > max)
		return false;
	*value = v;
	*pp = p;
	return true;
}

/* Month number of a 3-letter lower-case name, or 0 */
static int
ra_month(const char *w)
{
	static const char *const names[12] = {
		"jan", "feb", "mar", "apr", "may", "jun",
		"jul", "aug", "sep", "oct", "nov", "dec"
	};
	int			i;

	for (i = 0; i < 12; i++)
		if (strcmp(w, names[i]) == 0)
			return i + 1;
	return 0;
}

/* Is w a weekday name, short ("sun") or long ("sunday")? */
static bool
ra_is_weekday(const char *w)
{
	static const char *const names[7][2] = {
		{"sun", "sunday"}, {"mon", "monday"}, {"tue", "tuesday"},
		{"wed", "wednesday"}, {"thu", "thursday"}, {"fri", "friday"},
		{"sat", "saturday"}
	};
	int			i;

	for (i = 0; i < 7; i++)
		if (strcmp(w, names[i][0]) == 0 || strcmp(w, names[i][1]) == 0)
			return true;
	return false;
}

/* Read "HH:MM:SS" */
static bool
ra_read_time(const char **pp, int *h, int *mi, int *s)
{
	const char *p = *pp;

	if (!ra_read_digits(&p, 1, 2, h) || *p++ != ':' ||
		!ra_read_digits(&p, 1, 2, mi) || *p++ != ':' ||
		!ra_read_digits(&p, 1, 2, s))
		return false;
	if (*h > 23 || *mi > 59 || *s > 60)
		return false;
	*pp = p;
	return true;
}

/* Read the "GMT" zone (also accepting "UTC"), any case */
static bool
ra_read_zone(const char **pp)
{
	char		w[11];

	if (ra_read_word(pp, w) != 3)
		return false;
	return strcmp(w, "gmt") == 0 || strcmp(w, "utc") == 0;
}

/*
 * Parse an HTTP-date (RFC 9110 5.6.7) into microseconds since the epoch.
 *   IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
 *   RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime:     Sun Nov  6 08:49:37 1994
 * The weekday must be a weekday name but is not cross-checked.
 */
static bool
ra_parse_http_date(const char *p, int64_t now_us, int64_t *out)
{
	char		w[11];
	int			day = 0,
				month = 0,
				year = 0,
				h = 0,
				mi = 0,
				s = 0;

	if (ra_read_word(&p, w) == 0 || !ra_is_weekday(w))
		return false;
	if (*p == ',')
	{
		p = ra_skip_blanks(p + 1);
		if (!ra_read_digits(&p, 1, 2, &day))
			return false;
		if (*p == '-')
		{
			/* RFC 850: dd-Mon-yy */
			p++;
			if (ra_read_word(&p, w) != 3 || (month = ra_month(w)) == 0 || *p++ != '-')
				return false;
			if (!ra_read_digits(&p, 4, 4, &year))
			{
				/* two-digit year: RFC 9110 says not more than 50 years ahead */
				int64_t		now_year;
				int			now_month;
				int			now_day;
				int64_t		y;

				grid_civil_from_days(grid_floor_div(now_us, CORE_USECS_PER_DAY),
									 &now_year, &now_month, &now_day);

				if (!ra_read_digits(&p, 2, 2, &year))
					return false;
				y = now_year - now_year % 100 + year;
				if (y > now_year + 50)
					y -= 100;
				if (y < 0 || y > 9999)
					return false;
				year = (int) y;
			}
		}
		else
		{
			/* IMF-fixdate: dd Mon yyyy */
			if (*p != ' ' && *p != '\t')
				return false;
			p = ra_skip_blanks(p);
			if (ra_read_word(&p, w) != 3 || (month = ra_month(w)) == 0)
				return false;
			if (*p != ' ' && *p != '\t')
				return false;
			p = ra_skip_blanks(p);
			if (!ra_read_digits(&p, 4, 4, &year))
				return false;
		}
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_time(&p, &h, &mi, &s))
			return false;
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_zone(&p))
			return false;
	}
	else
	{
		/* asctime: Mon dd HH:MM:SS yyyy, day possibly space-padded */
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (ra_read_word(&p, w) != 3 || (month = ra_month(w)) == 0)
			return false;
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_digits(&p, 1, 2, &day))
			return false;
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_time(&p, &h, &mi, &s))
			return false;
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_digits(&p, 4, 4, &year))
			return false;
	}
	p = ra_skip_blanks(p);
	if (*p != '\0')
		return false;
	if (day < 1 || day > ra_days_in_month(year, month))
		return false;

	*out = grid_days_from_civil(year, month, day) * CORE_USECS_PER_DAY +
		((int64_t) h * 3600 + mi * 60 + s) * CORE_USECS_PER_SEC;
	return true;
}

/* Delay requested by a Retry-After value, or -1 if unparseable */
int64_t
parse_retry_after(const char *value, int64_t now_us)
{
	const char *p = ra_skip_blanks(value);
	int64_t		date_us;

	if (*p >= '0' && *p <= '9')
	{
		/* delta-seconds = 1*DIGIT */
		int64_t		secs = 0;
		const int64_t max_secs = INT64_MAX / CORE_USECS_PER_SEC;

		while (*p >= '0' && *p <= '9')
		{
			if (secs <= max_secs)
				secs = secs * 10 + (*p - '0');
			p++;
		}
		p = ra_skip_blanks(p);
		if (*p != '\0')
			return -1;
		if (secs > max_secs)
			secs = max_secs;
		return secs * CORE_USECS_PER_SEC;
	}

	if (!ra_parse_http_date(p, now_us, &date_us))
		return -1;
	if (date_us <= now_us)
		return 0;
	if (now_us < 0 && date_us > INT64_MAX + now_us)
		return INT64_MAX;
	return date_us - now_us;
}

/* Classify an HTTP answer */
DeliveryOutcome
classify_http(long status, bool transport_error)
{
	if (transport_error || status <= 0)
		return DELIVERY_RETRY;
	if (status >= 200 && status <= 299)
		return DELIVERY_SENT;
	if (status == 408 || status == 429 || (status >= 500 && status <= 599))
		return DELIVERY_RETRY;
	return DELIVERY_PERMANENT;
}

/* Short lower-case name of a delivery outcome */
const char *
delivery_outcome_name(DeliveryOutcome o)
{
	switch (o)
	{
		case DELIVERY_SENT:
			return "sent";
		case DELIVERY_RETRY:
			return "retry";
		case DELIVERY_PERMANENT:
			return "permanent";
	}
	return "unknown";
}

/* Longest prefix of at most max_bytes that does not split a UTF-8 character */
size_t
alert_utf8_prefix(const char *s, size_t max_bytes)
{
	size_t		n;
	int			back;

	for (n = 0; n <= max_bytes; n++)
	{
		if (s[n] == '\0')
			return n;
	}
	/* s is longer than max_bytes: s[max_bytes] is the first byte cut off */
	n = max_bytes;
	for (back = 0; back < 3 && n > 0 && (((unsigned char) s[n]) & 0xC0) == 0x80; back++)
		n--;
	if ((((unsigned char) s[n]) & 0xC0) == 0x80)
		return max_bytes;		/* not UTF-8: cut where asked */
	return n;
}

/* One spelling of a secret (core_alloc'd bytes) */
typedef struct RedactForm
{
	char	   *s;
	size_t		len;
} RedactForm;

/* Up to this many spellings (see alert_redact_secret) */
#define REDACT_FORMS	13
/* forms[] holds the secret as written, 4 JSON and 2 percent spellings, then base64 */
#define REDACT_FIRST_BASE64	7

/* Append "\\u" and four lower-case hex digits of a UTF-16 unit at out + o */
static size_t
redact_u_escape(char *out, size_t o, uint32_t unit)
{
	const char *hex = "0123456789abcdef";
	int			shift;

	out[o++] = '\\';
	out[o++] = 'u';
	for (shift = 12; shift >= 0; shift -= 4)
		out[o++] = hex[(unit >> shift) & 0xF];
	return o;
}

/*
 * The secret JSON-escaped: '"' and '\\', and also '/' as "\/" (slash) and
 * characters past ASCII as "\u00e9" (unicode), as some encoders do
 */
static RedactForm
redact_json(const char *secret, bool slash, bool unicode)
{
	size_t		n = strlen(secret);
	char	   *out = core_alloc(n * 12 + 1);
	size_t		o = 0;
	const unsigned char *p = (const unsigned char *) secret;

	while (*p)
	{
		if (*p == '"' || *p == '\\' || (slash && *p == '/'))
		{
			out[o++] = '\\';
			out[o++] = (char) *p++;
		}
		else if (unicode && *p >= 0x80)
		{
			/* a UTF-8 character as one or two (surrogate) \u escapes */
			uint32_t	cp;
			int			extra;
			int			i;

			if ((*p & 0xE0) == 0xC0)
				cp = *p & 0x1F, extra = 1;
			else if ((*p & 0xF0) == 0xE0)
				cp = *p & 0x0F, extra = 2;
			else if ((*p & 0xF8) == 0xF0)
				cp = *p & 0x07, extra = 3;
			else
				cp = *p, extra = 0;
			p++;
			for (i = 0; i < extra && (*p & 0xC0) == 0x80; i++)
				cp = (cp << 6) | (*p++ & 0x3F);
			if (cp > 0x10FFFF)
				cp = 0xFFFD;
			if (cp >= 0x10000)
			{
				cp -= 0x10000;
				o = redact_u_escape(out, o, 0xD800 + (cp >> 10));
				o = redact_u_escape(out, o, 0xDC00 + (cp & 0x3FF));
			}
			else
				o = redact_u_escape(out, o, cp);
		}
		else
			out[o++] = (char) *p++;
	}
	out[o] = '\0';
	return (RedactForm) {out, o};
}

/* The secret percent-encoded (all but RFC 3986 unreserved characters) */
static RedactForm
redact_percent(const char *secret, bool upper)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t		n = strlen(secret);
	char	   *out = core_alloc(n * 3 + 1);
	size_t		o = 0;
	const unsigned char *p;

	for (p = (const unsigned char *) secret; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~')
			out[o++] = (char) *p;
		else
		{
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0xF];
		}
	}
	out[o] = '\0';
	return (RedactForm) {out, o};
}

/*
 * The secret base64-encoded as it reads when it starts `offset` bytes into
 * what was encoded (0, 1 or 2): the characters that also depend on the
 * bytes before it, and the padding, are left out
 */
static RedactForm
redact_base64(const char *secret, int offset, bool url)
{
	const char *alphabet = url ?
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" :
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t		n = strlen(secret) + offset;
	unsigned char *in = core_alloc(n + 3);
	char	   *out = core_alloc((n / 3 + 1) * 4 + 1);
	size_t		o = 0;
	size_t		i;
	size_t		skip = offset == 0 ? 0 : offset == 1 ? 2 : 3;
	size_t		keep;

	memcpy(in + offset, secret, n - offset);
	for (i = 0; i < n; i += 3)
	{
		uint32_t	v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];

		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	/* characters that carry real bits: ceil(8n / 6) */
	keep = (n * 8 + 5) / 6;
	core_free(in);
	if (keep <= skip)
	{
		out[0] = '\0';
		return (RedactForm) {out, 0};
	}
	memmove(out, out + skip, keep - skip);
	out[keep - skip] = '\0';
	return (RedactForm) {out, keep - skip};
}

/* A stretch of ALERT_REDACT_MIN_RUN bytes as one number */
static uint64_t
redact_gram(const char *p)
{
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < ALERT_REDACT_MIN_RUN; i++)
		v = (v << 8) | (unsigned char) p[i];
	return v;
}

/* Slot of a gram in an open-addressing set of `mask + 1` slots */
static size_t
redact_slot(const uint64_t *set, const bool *used, size_t mask, uint64_t g)
{
	size_t		h = (size_t) ((g * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & mask;

	while (used[h] && set[h] != g)
		h = (h + 1) & mask;
	return h;
}

char *
alert_redact_secret(const char *text, const char *secret)
{
	RedactForm	forms[REDACT_FORMS];
	int			nforms = 0;
	size_t		len = strlen(text);
	size_t		grams = 0;
	size_t		mask = 1;
	uint64_t   *set;
	bool	   *used;
	bool	   *covered;
	char	   *out;
	size_t		o = 0;
	size_t		i;
	size_t		j;
	int			f;

	out = core_alloc(len * 3 + 1);
	if (secret == NULL || secret[0] == '\0')
	{
		memcpy(out, text, len);
		return out;
	}
	forms[0].len = strlen(secret);
	forms[0].s = core_alloc(forms[0].len + 1);
	memcpy(forms[0].s, secret, forms[0].len);
	nforms = 1;
	forms[nforms++] = redact_json(secret, false, false);
	forms[nforms++] = redact_json(secret, true, false);
	forms[nforms++] = redact_json(secret, false, true);
	forms[nforms++] = redact_json(secret, true, true);
	forms[nforms++] = redact_percent(secret, true);
	forms[nforms++] = redact_percent(secret, false);
	for (i = 0; i < 3; i++)
	{
		forms[nforms++] = redact_base64(secret, (int) i, false);
		forms[nforms++] = redact_base64(secret, (int) i, true);
	}

	/* every stretch of ALERT_REDACT_MIN_RUN bytes of every spelling */
	for (f = 0; f < nforms; f++)
		if (forms[f].len >= ALERT_REDACT_MIN_RUN)
			grams += forms[f].len - ALERT_REDACT_MIN_RUN + 1;
	while (mask + 1 < grams * 2 + 2)
		mask = (mask << 1) | 1;
	set = core_alloc(sizeof(uint64_t) * (mask + 1));
	used = core_alloc(sizeof(bool) * (mask + 1));
	for (f = 0; f < nforms; f++)
	{
		for (j = 0; forms[f].len >= ALERT_REDACT_MIN_RUN && j + ALERT_REDACT_MIN_RUN <= forms[f].len; j++)
		{
			uint64_t	g = redact_gram(forms[f].s + j);
			size_t		h = redact_slot(set, used, mask, g);

			set[h] = g;
			used[h] = true;
		}
	}

	covered = core_alloc(len + 1);
	for (i = 0; i + ALERT_REDACT_MIN_RUN <= len; i++)
	{
		if (used[redact_slot(set, used, mask, redact_gram(text + i))])
			memset(covered + i, true, ALERT_REDACT_MIN_RUN);
	}
	/* a spelling shorter than that is looked for whole (base64 of a tiny secret is not: it matches too much) */
	for (f = 0; f < nforms; f++)
	{
		size_t		k = forms[f].len;

		if (k == 0 || k >= ALERT_REDACT_MIN_RUN || (f >= REDACT_FIRST_BASE64 && k < 4))
			continue;
		for (i = 0; i + k <= len; i++)
		{
			if (memcmp(text + i, forms[f].s, k) == 0)
				memset(covered + i, true, k);
		}
	}

	for (i = 0; i < len; i++)
	{
		if (!covered[i])
			out[o++] = text[i];
		else if (i == 0 || !covered[i - 1])
		{
			memcpy(out + o, "***", 3);
			o += 3;
		}
	}
	out[o] = '\0';
	for (f = 0; f < nforms; f++)
		core_free(forms[f].s);
	core_free(set);
	core_free(used);
	core_free(covered);
	return out;
}

/* A duration for people: "45s", "12m", "3h 10m", "2d 4h" */
void
alert_format_duration(int64_t us, char *out, size_t outlen)
{
	int64_t		s = us > 0 ? us / CORE_USECS_PER_SEC : 0;

	if (s < 60)
		snprintf(out, outlen, "%llds", (long long) s);
	else if (s < 3600)
		snprintf(out, outlen, "%lldm", (long long) (s / 60));
	else if (s < 86400)
		snprintf(out, outlen, "%lldh %lldm", (long long) (s / 3600), (long long) (s / 60 % 60));
	else
		snprintf(out, outlen, "%lldd %lldh", (long long) (s / 86400), (long long) (s / 3600 % 24));
}

/* What an SMTP transfer's end means (see alert_core.h) */
DeliveryOutcome
classify_smtp(long reply_code, bool transfer_ok)
{
	if (transfer_ok)
		return DELIVERY_SENT;
	if (reply_code >= 500 && reply_code <= 599)
		return DELIVERY_PERMANENT;
	return DELIVERY_RETRY;
}

/* The first string value of a field named name in a JSON text (see alert_core.h) */
bool
alert_json_first_string(const char *json, const char *name, char *out, size_t outlen)
{
	size_t		nlen = strlen(name);
	const char *p = json;

	if (json == NULL || outlen == 0)
		return false;
	while ((p = strchr(p, '"')) != NULL)
	{
		const char *q = p + 1;
		size_t		o = 0;

		if (strncmp(q, name, nlen) == 0 && q[nlen] == '"')
		{
			q += nlen + 1;
			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
				q++;
			if (*q == ':')
			{
				q++;
				while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
					q++;
				if (*q != '"')
				{
					p = q;
					continue;
				}
				for (q++; *q && *q != '"'; q++)
				{
					if (*q == '\\' || o + 1 >= outlen)
						return false;	/* an escape or too long: not a plain value */
					out[o++] = *q;
				}
				out[o] = '\0';
				return *q == '"';
			}
		}
		/* skip this string (it may be a value holding the name) */
		for (q = p + 1; *q && *q != '"'; q++)
			if (*q == '\\' && q[1])
				q++;
		if (*q == '\0')
			return false;
		p = q + 1;
	}
	return false;
}

/* Is key a Jira issue key: PROJECT-123 (see alert_core.h) */
bool
alert_jira_key_valid(const char *key)
{
	const char *p = key;

	if (!(*p >= 'A' && *p <= 'Z'))
		return false;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	if (*p++ != '-' || !(*p >= '0' && *p <= '9'))
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0' && p - key < 64;
}

/* Is id a tracker's internal id (see alert_core.h) */
bool
alert_tracker_id_valid(const char *id)
{
	const char *p;

	for (p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return p > id && p - id < 64;
}

/* Past blanks */
static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* Past a JSON value starting at p (NULL if it does not end); depth-limited */
static const char *
json_skip(const char *p, int depth)
{
	p = json_ws(p);
	if (depth > 64)
		return NULL;
	if (*p == '"')
	{
		for (p++; *p && *p != '"'; p++)
			if (*p == '\\' && p[1])
				p++;
		return *p == '"' ? p + 1 : NULL;
	}
	if (*p == '{' || *p == '[')
	{
		char		close = *p == '{' ? '}' : ']';

		p = json_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;)
		{
			if (close == '}')
			{
				p = json_skip(p, depth + 1);	/* the member's name */
				if (p == NULL)
					return NULL;
				p = json_ws(p);
				if (*p != ':')
					return NULL;
				p++;
			}
			p = json_skip(p, depth + 1);
			if (p == NULL)
				return NULL;
			p = json_ws(p);
			if (*p == ',')
			{
				p = json_ws(p + 1);
				continue;
			}
			return *p == close ? p + 1 : NULL;
		}
	}
	if (*p == '\0' || *p == ',' || *p == '}' || *p == ']' || *p == ':')
		return NULL;
	while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
		p++;
	return p;
}

/*
 * The value of the member called name of the object at obj (its own
 * members only, not nested ones), or NULL
 */
static const char *
json_member(const char *obj, const char *name)
{
	const char *p = json_ws(obj);
	size_t		nlen = strlen(name);

	if (*p != '{')
		return NULL;
	p = json_ws(p + 1);
	while (*p == '"')
	{
		const char *key = p + 1;
		const char *end = json_skip(p, 0);

		if (end == NULL)
			return NULL;
		p = json_ws(end);
		if (*p != ':')
			return NULL;
		p = json_ws(p + 1);
		if ((size_t) (end - 1 - key) == nlen && strncmp(key, name, nlen) == 0)
			return p;
		p = json_skip(p, 0);
		if (p == NULL)
			return NULL;
		p = json_ws(p);
		if (*p != ',')
			return NULL;
		p = json_ws(p + 1);
	}
	return NULL;
}

/* A plain JSON string value at p (no escapes) into out; false if it is not one or does not fit */
static bool
json_plain_string(const char *p, char *out, size_t outlen)
{
	size_t		o = 0;

	if (p == NULL || *p != '"')
		return false;
	for (p++; *p && *p != '"'; p++)
	{
		if (*p == '\\' || o + 1 >= outlen)
			return false;
		out[o++] = *p;
	}
	out[o] = '\0';
	return *p == '"';
}

/* A GraphQL answer: did it work (see alert_core.h) */
bool
alert_graphql_ok(const char *json, char *msg, size_t msglen, char *code, size_t codelen, bool *rate_limited)
{
	const char *errors;
	const char *p = json_ws(json ? json : "");

	*rate_limited = false;
	if (msglen > 0)
		msg[0] = '\0';
	if (codelen > 0)
		code[0] = '\0';
	if (*p != '{' || json_skip(p, 0) == NULL)
	{
		snprintf(msg, msglen, "the answer is not a JSON object");
		return false;
	}
	errors = json_member(p, "errors");
	if (errors != NULL && *errors == '[' && *json_ws(errors + 1) != ']')
	{
		const char *first = json_ws(errors + 1);
		const char *ext = json_member(first, "extensions");

		if (!json_plain_string(json_member(first, "message"), msg, msglen))
			snprintf(msg, msglen, "an error without a plain message");
		if (ext != NULL)
			json_plain_string(json_member(ext, "code"), code, codelen);
		*rate_limited = strcmp(code, "RATELIMITED") == 0;
		return false;
	}
	/* a mutation that did not happen: {"data": {"issueCreate": {"success": false}}} */
	{
		const char *data = json_member(p, "data");
		const char *m;

		if (data == NULL || *data != '{')
		{
			snprintf(msg, msglen, "the answer has no data");
			return false;
		}
		m = json_ws(data + 1);
		if (*m == '"')
		{
			const char *end = json_skip(m, 0);
			const char *v = end ? json_ws(end) : NULL;

			v = (v && *v == ':') ? json_ws(v + 1) : NULL;
			if (v && *v == '{')
			{
				const char *success = json_member(v, "success");

				if (success && strncmp(success, "false", 5) == 0)
				{
					snprintf(msg, msglen, "the mutation was not successful (\"success\": false)");
					return false;
				}
			}
		}
	}
	return true;
}

/* The id of a Jira transition by name (see alert_core.h) */
bool
alert_jira_transition_id(const char *json, const char *name, char *out, size_t outlen,
						 char *offered, size_t offeredlen)
{
	const char *list = json ? json_member(json, "transitions") : NULL;
	const char *p;
	size_t		used = 0;

	if (offeredlen > 0)
		offered[0] = '\0';
	if (list == NULL || *list != '[')
		return false;
	p = json_ws(list + 1);
	while (*p == '{')
	{
		char		tname[256];
		char		tid[64];
		const char *end = json_skip(p, 0);

		if (end == NULL)
			return false;
		if (json_plain_string(json_member(p, "name"), tname, sizeof(tname)) &&
			json_plain_string(json_member(p, "id"), tid, sizeof(tid)))
		{
			const char *a = tname;
			const char *b = name;

			while (*a && *b && tolower((unsigned char) *a) == tolower((unsigned char) *b))
				a++, b++;
			if (*a == '\0' && *b == '\0')
			{
				if (strlen(tid) >= outlen)
					return false;
				strcpy(out, tid);
				return true;
			}
			if (offeredlen > 0 && used + strlen(tname) + 3 < offeredlen)
			{
				used += snprintf(offered + used, offeredlen - used, "%s\"%s\"", used ? ", " : "", tname);
			}
		}
		p = json_ws(end);
		if (*p != ',')
			break;
		p = json_ws(p + 1);
	}
	return false;
}

/*
 * mail_test.c
 *	  Unit tests of core/mail.c (the email tripl sends): SMTP URLs,
 *	  addresses, RFC 2047 subjects, dates, the whole message; and the
 *	  SMTP outcome, durations, Markdown escaping and the reading of a
 *	  tracker's answer (issue keys) of the other cores.
 */
#include "unit.h"

#include "alert_core.h"
#include "mail.h"
#include "template.h"

/* Decode standard base64 (no line breaks); returns a calloc'd string */
static char *
b64_decode(const char *in, size_t n)
{
	static const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char	   *out = calloc(1, n + 1);
	size_t		o = 0;
	uint32_t	v = 0;
	int			bits = 0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		const char *p = strchr(alphabet, in[i]);

		if (in[i] == '=' || p == NULL)
			continue;
		v = (v << 6) | (uint32_t) (p - alphabet);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[o++] = (char) ((v >> bits) & 0xFF);
		}
	}
	return out;
}

/* The text of an RFC 2047 subject: every "=?UTF-8?B?...?=" decoded and joined */
static char *
decode_subject(const char *s)
{
	char	   *out = calloc(1, strlen(s) + 1);
	const char *p = s;

	while ((p = strstr(p, "=?UTF-8?B?")) != NULL)
	{
		const char *start = p + 10;
		const char *end = strstr(start, "?=");
		char	   *part = b64_decode(start, (size_t) (end - start));

		strcat(out, part);
		free(part);
		p = end + 2;
	}
	return out;
}

static void
test_url(void)
{
	char		host[300];
	char		err[256];
	int			port;
	bool		tls;

	CHECK(mail_url_check("smtp://mail.example.com:587", host, sizeof(host), &port, &tls, err, sizeof(err)) &&
		  strcmp(host, "mail.example.com") == 0 && port == 587 && !tls, "smtp:// with a port");
	CHECK(mail_url_check("smtps://mail.example.com", host, sizeof(host), &port, &tls, err, sizeof(err)) &&
		  port == 465 && tls, "smtps:// defaults to port 465, implicit TLS");
	CHECK(mail_url_check("smtp://mail.example.com/", host, sizeof(host), &port, &tls, err, sizeof(err)) && port == 25,
		  "smtp:// defaults to port 25, a lone / is fine");
	CHECK(mail_url_check("smtp://[2001:db8::1]:25", host, sizeof(host), &port, &tls, err, sizeof(err)) &&
		  strcmp(host, "2001:db8::1") == 0, "a bracketed IPv6 host");
	CHECK(!mail_url_check("https://mail.example.com", host, sizeof(host), &port, &tls, err, sizeof(err)),
		  "https:// is not an SMTP url");
	CHECK(!mail_url_check("smtp://mail.example.com/x", host, sizeof(host), &port, &tls, err, sizeof(err)),
		  "no path");
	CHECK(!mail_url_check("smtp://user:pw@mail.example.com", host, sizeof(host), &port, &tls, err, sizeof(err)),
		  "no user information");
	CHECK(!mail_url_check("smtp://mail.example.com:25\r\nRCPT", host, sizeof(host), &port, &tls, err, sizeof(err)),
		  "no control characters");
}

static void
test_address(void)
{
	char		err[256];

	CHECK(mail_address_check("ops@example.com", err, sizeof(err)), "a plain address");
	CHECK(mail_address_check("a.b+tag_x-y@sub.example.co", err, sizeof(err)), "dots, plus, underscore, hyphen");
	CHECK(!mail_address_check("ops@example.com\r\nBcc: x@evil.example", err, sizeof(err)), "no CR/LF");
	CHECK(!mail_address_check("Eve <eve@example.com>", err, sizeof(err)), "no display names or brackets");
	CHECK(!mail_address_check("a@b@c", err, sizeof(err)), "one @");
	CHECK(!mail_address_check("@example.com", err, sizeof(err)), "a local part");
	CHECK(!mail_address_check("ops@", err, sizeof(err)), "a domain");
	CHECK(!mail_address_check("ops@exa_mple.com", err, sizeof(err)), "a domain of letters, digits, - and .");
	CHECK(!mail_address_check("ops@.example.com", err, sizeof(err)), "no leading dot in the domain");
	CHECK(!mail_address_check("ops@example..com", err, sizeof(err)), "no empty label");
	CHECK(!mail_address_check("\"a,b\"@example.com", err, sizeof(err)), "no quotes or commas");
	CHECK(!mail_address_check("us\xc3\xa9r@example.com", err, sizeof(err)), "ASCII only");
}

static void
test_subject(void)
{
	char	   *s;
	char	   *d;
	char		longer[200];

	s = mail_subject("[tripl] 1 anomaly", 200);
	CHECK(strcmp(s, "[tripl] 1 anomaly") == 0, "short printable ASCII stays as it is");
	core_free(s);

	s = mail_subject("a\r\nBcc: evil@example.com", 200);
	CHECK(strstr(s, "\r\nBcc") == NULL && strncmp(s, "=?UTF-8?B?", 10) == 0, "CR/LF: encoded, not a new header");
	d = decode_subject(s);
	CHECK(strcmp(d, "a  Bcc: evil@example.com") == 0, "... CR and LF became spaces");
	free(d);
	core_free(s);

	s = mail_subject("caf\xc3\xa9 \xe2\x82\xac", 200);
	d = decode_subject(s);
	CHECK(strcmp(d, "caf\xc3\xa9 \xe2\x82\xac") == 0, "UTF-8 text round-trips through B encoding");
	free(d);
	core_free(s);

	s = mail_subject("x =?UTF-8?B?QQ==?= y", 200);
	CHECK(strncmp(s, "=?UTF-8?B?", 10) == 0, "text that looks like an encoded word is encoded itself");
	core_free(s);

	memset(longer, 0, sizeof(longer));
	for (int i = 0; i < 60; i++)
		strcat(longer, "\xc3\xa9");	/* 120 bytes of é */
	s = mail_subject(longer, 200);
	{
		const char *p = s;
		int			max = 0;
		int			cur = 0;

		for (; *p; p++)
		{
			if (*p == '\r')
			{
				max = cur > max ? cur : max;
				cur = 0;
				continue;
			}
			cur++;
		}
		max = cur > max ? cur : max;
		CHECK(max <= 76, "encoded words are folded onto lines of at most 76 characters");
	}
	d = decode_subject(s);
	CHECK(strcmp(d, longer) == 0, "... and decode to the whole text (no character split)");
	free(d);
	core_free(s);

	s = mail_subject(longer, 11);
	d = decode_subject(s);
	CHECK(strlen(d) == 10, "cut at max_bytes on a character boundary (11 -> 10 bytes)");
	free(d);
	core_free(s);
}

static void
test_date(void)
{
	char		buf[64];

	mail_date(INT64_C(1769947500) * 1000000, buf, sizeof(buf));
	CHECK(strcmp(buf, "Sun, 01 Feb 2026 12:05:00 +0000") == 0, "RFC 5322 date (2026-02-01 12:05 UTC, a Sunday)");
	mail_date(0, buf, sizeof(buf));
	CHECK(strcmp(buf, "Thu, 01 Jan 1970 00:00:00 +0000") == 0, "the epoch");
	mail_date(INT64_C(951782400) * 1000000, buf, sizeof(buf));
	CHECK(strcmp(buf, "Tue, 29 Feb 2000 00:00:00 +0000") == 0, "a leap day");
}

/* Count header lines named name (case-insensitive) before the blank line */
static int
header_count(const char *msg, const char *name)
{
	const char *end = strstr(msg, "\r\n\r\n");
	const char *p = msg;
	int			n = 0;
	size_t		len = strlen(name);

	while (p && p < end)
	{
		if (strncasecmp(p, name, len) == 0 && p[len] == ':')
			n++;
		p = strstr(p, "\r\n");
		if (p)
			p += 2;
	}
	return n;
}

static void
test_build(void)
{
	const char *to[2] = {"ops@example.com", "cto@example.org"};
	MailMessage m;
	char	   *msg;
	const char *p;
	bool		bare_lf = false;
	const char *part;
	char	   *text;

	m.from = "tripl@example.com";
	m.to = to;
	m.n_to = 2;
	m.subject = "drop\r\nBcc: evil@example.com";
	m.text = "line 1\nBcc: evil@example.com\r\n.\rlast";
	m.html = NULL;
	m.date_us = INT64_C(1769947500) * 1000000;
	m.key = "ca9249a6-d9ea-5cf0-96cf-fa7208f21da4\r\nX-Evil: 1";
	msg = mail_build(&m);

	for (p = msg; *p; p++)
		if (*p == '\n' && (p == msg || p[-1] != '\r'))
			bare_lf = true;
	CHECK(!bare_lf, "every line ends in CRLF");
	{
		const char *head = "Date: Sun, 01 Feb 2026 12:05:00 +0000\r\nFrom: <tripl@example.com>\r\n"
			"To: <ops@example.com>,\r\n <cto@example.org>\r\n";

		CHECK(strncmp(msg, head, strlen(head)) == 0, "Date, From, To (folded)");
	}
	CHECK(header_count(msg, "Bcc") == 0 && header_count(msg, "X-Evil") == 0, "nothing injected into the headers");
	CHECK(header_count(msg, "Subject") == 1 && header_count(msg, "Message-ID") == 1 &&
		  header_count(msg, "MIME-Version") == 1 && header_count(msg, "Content-Type") == 1,
		  "each header once");
	CHECK(strstr(msg, "Message-ID: <ca9249a6-d9ea-5cf0-96cf-fa7208f21da4X-Evil1@example.com>\r\n") != NULL,
		  "Message-ID: the key (letters, digits, '-') at the sender's domain");
	CHECK(strstr(msg, "Content-Type: multipart/alternative; boundary=\"=_tripl_ca9249a6-d9ea-5cf0-96cf-fa7208f21da4X-Evil1\"\r\n") != NULL,
		  "multipart/alternative with a boundary from the key");
	part = strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	CHECK(part != NULL, "a text/plain part in base64");
	if (part)
	{
		const char *b = strstr(part, "\r\n\r\n") + 4;
		const char *e = strstr(b, "\r\n--");
		char	   *joined = calloc(1, (size_t) (e - b) + 1);
		size_t		j = 0;

		for (p = b; p < e; p++)
			if (*p != '\r' && *p != '\n')
				joined[j++] = *p;
		text = b64_decode(joined, j);
		CHECK(strcmp(text, "line 1\r\nBcc: evil@example.com\r\n.\r\nlast") == 0,
			  "... the text with every line end made CRLF");
		free(text);
		free(joined);
	}
	CHECK(strstr(msg, "Content-Type: text/html; charset=UTF-8\r\n") != NULL, "a text/html part");
	CHECK(strstr(msg, "\r\n--=_tripl_ca9249a6-d9ea-5cf0-96cf-fa7208f21da4X-Evil1--\r\n") != NULL, "the closing boundary");
	core_free(msg);

	text = mail_html_escape("<b>a & \"b\"</b>\nnext");
	CHECK(strcmp(text, "&lt;b&gt;a &amp; &quot;b&quot;&lt;/b&gt;<br>\nnext") == 0, "HTML escaping, line ends as <br>");
	core_free(text);
}

static void
test_others(void)
{
	char		buf[64];
	char	   *s;

	CHECK(classify_smtp(250, true) == DELIVERY_SENT, "SMTP: accepted is sent");
	CHECK(classify_smtp(550, false) == DELIVERY_PERMANENT, "SMTP 550: permanent");
	CHECK(classify_smtp(535, false) == DELIVERY_PERMANENT, "SMTP 535 (login refused): permanent");
	CHECK(classify_smtp(451, false) == DELIVERY_RETRY, "SMTP 451: retried");
	CHECK(classify_smtp(0, false) == DELIVERY_RETRY, "no reply (timeout, refused, TLS): retried");

	alert_format_duration(45 * INT64_C(1000000), buf, sizeof(buf));
	CHECK(strcmp(buf, "45s") == 0, "45s");
	alert_format_duration(12 * 60 * INT64_C(1000000) + 5, buf, sizeof(buf));
	CHECK(strcmp(buf, "12m") == 0, "12m");
	alert_format_duration((3 * 3600 + 600) * INT64_C(1000000), buf, sizeof(buf));
	CHECK(strcmp(buf, "3h 10m") == 0, "3h 10m");
	alert_format_duration((2 * 86400 + 4 * 3600 + 59) * INT64_C(1000000), buf, sizeof(buf));
	CHECK(strcmp(buf, "2d 4h") == 0, "2d 4h");
	alert_format_duration(-5, buf, sizeof(buf));
	CHECK(strcmp(buf, "0s") == 0, "a negative duration is 0s");

	s = template_escape("a*b_[x](http://e.com) #1 `c` <d> !e | f\\g", TEMPLATE_ESCAPE_MARKDOWN);
	CHECK(strcmp(s, "a\\*b\\_\\[x\\]\\(http://e.com\\) \\#1 \\`c\\` \\<d\\> \\!e \\| f\\\\g") == 0,
		  "Markdown: every special character gets a backslash");
	core_free(s);
}

static void
test_tracker(void)
{
	char		key[64];

	CHECK(alert_json_first_string("{\"id\": \"10001\", \"key\": \"OPS-12\", \"self\": \"x\"}", "key", key, sizeof(key)) &&
		  strcmp(key, "OPS-12") == 0, "the key of a Jira create answer");
	CHECK(alert_json_first_string("{\"expand\": \"key\", \"issues\": [{\"id\": \"1\", \"key\": \"OPS-3\"}]}", "key", key,
								  sizeof(key)) && strcmp(key, "OPS-3") == 0, "a value that reads \"key\" is skipped");
	CHECK(!alert_json_first_string("{\"issues\": [], \"isLast\": true}", "key", key, sizeof(key)), "no issue: none");
	CHECK(!alert_json_first_string("{\"key\": \"OPS\\\"-1\"}", "key", key, sizeof(key)), "an escaped value is refused");
	CHECK(!alert_json_first_string("{\"key\": 12}", "key", key, sizeof(key)), "a number is not a string");
	CHECK(alert_jira_key_valid("OPS-12") && alert_jira_key_valid("A1_B-7"), "issue keys");
	CHECK(!alert_jira_key_valid("ops-1") && !alert_jira_key_valid("OPS-") && !alert_jira_key_valid("OPS-1/../x") &&
		  !alert_jira_key_valid("-1") && !alert_jira_key_valid("OPS1"), "not issue keys (they go into a URL path)");
}

int
main(void)
{
	test_tracker();
	test_url();
	test_address();
	test_subject();
	test_date();
	test_build();
	test_others();
	return unit_done();
}

/*-------------------------------------------------------------------------
 *
 * mail.c
 *	  The email a destination of type email sends, built without
 *	  PostgreSQL (mail.h): SMTP URLs and addresses checked, the subject as
 *	  RFC 2047 encoded words, the body as MIME multipart/alternative in
 *	  base64, every line ending in CRLF.  Headers are made only of checked
 *	  addresses, the idempotency key and encoded text, so no text can
 *	  start a header of its own or end the message (doc/alerting.md,
 *	  "Email").
 *
 *-------------------------------------------------------------------------
 */
#include "mail.h"
#include "corebuf.h"
#include "grid.h"
#include "netguard.h"

#include <stdio.h>
#include <string.h>

static const char b64_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Append the base64 of n bytes (no line breaks) */
static void
mail_base64(CoreBuf *b, const unsigned char *in, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i += 3)
	{
		uint32_t	v = (uint32_t) in[i] << 16;
		char		q[4];

		if (i + 1 < n)
			v |= (uint32_t) in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		q[0] = b64_alphabet[(v >> 18) & 63];
		q[1] = b64_alphabet[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64_alphabet[v & 63] : '=';
		corebuf_append(b, q, 4);
	}
}

bool
mail_url_check(const char *url, char *host_out, size_t host_len, int *port_out,
			   bool *implicit_tls, char *errbuf, size_t errlen)
{
	size_t		skip;
	const char *rest;
	char	   *as_http;
	bool		ok;
	const char *path;

	if (strncmp(url, "smtp://", 7) == 0)
	{
		skip = 7;
		*implicit_tls = false;
	}
	else if (strncmp(url, "smtps://", 8) == 0)
	{
		skip = 8;
		*implicit_tls = true;
	}
	else
		return core_errorf(errbuf, errlen, "an email destination's url must start with smtp:// or smtps://");
	rest = url + skip;
	/* the host part as url_check() reads it, behind an http scheme */
	as_http = core_alloc(strlen(rest) + 8);
	memcpy(as_http, "http://", 7);
	memcpy(as_http + 7, rest, strlen(rest) + 1);
	ok = url_check(as_http, host_out, host_len, port_out, errbuf, errlen);
	core_free(as_http);
	if (!ok)
		return false;
	path = strpbrk(rest, "/?#");
	if (path != NULL && strcmp(path, "/") != 0)
		return core_errorf(errbuf, errlen, "an SMTP url has no path, query or fragment");
	{
		/* no port written: SMTP's, not http's */
		size_t		alen = path ? (size_t) (path - rest) : strlen(rest);
		const char *colon = NULL;
		const char *q;

		for (q = rest; q < rest + alen; q++)
		{
			if (*q == ']')
				colon = NULL;
			else if (*q == ':')
				colon = q;
		}
		if (rest[0] == '[' && colon != NULL && colon < (const char *) memchr(rest, ']', alen))
			colon = NULL;
		if (colon == NULL)
			*port_out = *implicit_tls ? 465 : 25;
	}
	return true;
}

bool
mail_address_check(const char *address, char *errbuf, size_t errlen)
{
	const char *at = strchr(address, '@');
	const char *p;
	size_t		len = strlen(address);

	if (len == 0 || len > MAIL_MAX_ADDRESS)
		return core_errorf(errbuf, errlen, "an email address has 1 to %d bytes", MAIL_MAX_ADDRESS);
	for (p = address; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c <= 0x20 || c >= 0x7f || strchr("\"<>()[],;:\\", c) != NULL)
			return core_errorf(errbuf, errlen,
							   "invalid character (byte 0x%02x at position %d) in an email address: only printable ASCII without blanks, quotes, brackets, commas, semicolons, colons or backslashes",
							   c, (int) (p - address) + 1);
	}
	if (at == NULL || at == address || strchr(at + 1, '@') != NULL || at[1] == '\0')
		return core_errorf(errbuf, errlen, "email address \"%.60s\" must be local-part@domain", address);
	for (p = at + 1; *p; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			  *p == '-' || *p == '.'))
			return core_errorf(errbuf, errlen, "invalid domain in email address \"%.60s\"", address);
	}
	if (at[1] == '.' || p[-1] == '.' || strstr(at, "..") != NULL)
		return core_errorf(errbuf, errlen, "invalid domain in email address \"%.60s\"", address);
	return true;
}

/* Length of the UTF-8 character starting with byte c (1 for others) */
static size_t
mail_utf8_len(unsigned char c)
{
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 1;
}

char *
mail_subject(const char *text, size_t max_bytes)
{
	size_t		n = strlen(text);
	char	   *clean;
	size_t		i;
	bool		plain = true;
	CoreBuf		b = {0};

	/* control characters (CR and LF among them) become spaces */
	if (n > max_bytes)
	{
		n = max_bytes;
		while (n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80)
			n--;
	}
	clean = core_alloc(n + 1);
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) text[i];

		clean[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
		if (c >= 0x7f || c < 0x20)
			plain = false;
	}
	clean[n] = '\0';
	if (plain && n <= 70 && strstr(clean, "=?") == NULL)
		return clean;

	/* encoded words of at most 45 bytes of text (60 of base64, 72 in all) */
	i = 0;
	while (i < n || i == 0)
	{
		size_t		take = 0;

		while (i + take < n)
		{
			size_t		k = mail_utf8_len((unsigned char) clean[i + take]);

			if (take + k > 45)
				break;
			take += k;
		}
		if (take == 0 && i < n)
			take = 1;
		if (i > 0)
			corebuf_puts(&b, "\r\n ");
		corebuf_puts(&b, "=?UTF-8?B?");
		mail_base64(&b, (const unsigned char *) clean + i, take);
		corebuf_puts(&b, "?=");
		i += take;
		if (n == 0)
			break;
	}
	core_free(clean);
	return b.data;
}

void
mail_date(int64_t unix_us, char *out, size_t outlen)
{
	static const char *const days[7] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t		day = grid_floor_div(unix_us, CORE_USECS_PER_DAY);
	int64_t		secs = (unix_us - day * CORE_USECS_PER_DAY) / CORE_USECS_PER_SEC;
	int64_t		year;
	int			month;
	int			mday;
	int64_t		wd = day % 7;

	if (wd < 0)
		wd += 7;
	grid_civil_from_days(day, &year, &month, &mday);
	snprintf(out, outlen, "%s, %02d %s %04lld %02d:%02d:%02d +0000", days[wd], mday,
			 months[month - 1], (long long) year, (int) (secs / 3600), (int) (secs / 60 % 60),
			 (int) (secs % 60));
}

char *
mail_html_escape(const char *text)
{
	CoreBuf		b = {0};
	const char *p;

	corebuf_puts(&b, "");
	for (p = text; *p; p++)
	{
		switch (*p)
		{
			case '&':
				corebuf_puts(&b, "&amp;");
				break;
			case '<':
				corebuf_puts(&b, "&lt;");
				break;
			case '>':
				corebuf_puts(&b, "&gt;");
				break;
			case '"':
				corebuf_puts(&b, "&quot;");
				break;
			case '\'':
				corebuf_puts(&b, "&#39;");
				break;
			case '\r':
				if (p[1] == '\n')
					p++;
				corebuf_puts(&b, "<br>\n");
				break;
			case '\n':
				corebuf_puts(&b, "<br>\n");
				break;
			default:
				corebuf_append(&b, p, 1);
		}
	}
	return b.data;
}

/* Append a body part: its headers, then the text (line ends made CRLF) in base64 */
static void
mail_part(CoreBuf *b, const char *boundary, const char *type, const char *text)
{
	CoreBuf		crlf = {0};
	CoreBuf		enc = {0};
	const char *p;
	size_t		i;

	corebuf_puts(&crlf, "");
	for (p = text; *p; p++)
	{
		if (*p == '\r' || *p == '\n')
		{
			if (*p == '\r' && p[1] == '\n')
				p++;
			corebuf_append(&crlf, "\r\n", 2);
		}
		else
			corebuf_append(&crlf, p, 1);
	}
	corebuf_puts(&enc, "");
	mail_base64(&enc, (const unsigned char *) crlf.data, crlf.len);
	corebuf_printf(b, "--%s\r\nContent-Type: %s; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
				   boundary, type);
	for (i = 0; i < enc.len; i += 76)
	{
		corebuf_append(b, enc.data + i, enc.len - i < 76 ? enc.len - i : 76);
		corebuf_puts(b, "\r\n");
	}
	corebuf_free(&crlf);
	corebuf_free(&enc);
}

char *
mail_build(const MailMessage *m)
{
	CoreBuf		b = {0};
	char		date[64];
	char	   *subject = mail_subject(m->subject, 900);
	const char *domain = strchr(m->from, '@');
	char	   *html = NULL;
	char		boundary[128];
	char		key[65];
	size_t		k = 0;
	const char *p;
	int			i;

	/* the key goes into headers: only letters, digits and '-' of it */
	for (p = m->key; *p && k < sizeof(key) - 1; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-')
			key[k++] = *p;
	}
	key[k] = '\0';
	mail_date(m->date_us, date, sizeof(date));
	snprintf(boundary, sizeof(boundary), "=_tripl_%s", key);
	corebuf_printf(&b, "Date: %s\r\n", date);
	corebuf_printf(&b, "From: <%s>\r\n", m->from);
	corebuf_puts(&b, "To: ");
	for (i = 0; i < m->n_to; i++)
		corebuf_printf(&b, "%s<%s>", i == 0 ? "" : ",\r\n ", m->to[i]);
	corebuf_puts(&b, "\r\n");
	corebuf_printf(&b, "Subject: %s\r\n", subject);
	corebuf_printf(&b, "Message-ID: <%s@%s>\r\n", key, domain ? domain + 1 : "tripl.invalid");
	corebuf_puts(&b, "MIME-Version: 1.0\r\n");
	corebuf_puts(&b, "Auto-Submitted: auto-generated\r\n");
	corebuf_printf(&b, "X-Tripl-Idempotency-Key: %s\r\n", key);
	corebuf_printf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
	mail_part(&b, boundary, "text/plain", m->text);
	if (m->html == NULL)
	{
		char	   *escaped = mail_html_escape(m->text);
		CoreBuf		h = {0};

		corebuf_printf(&h, "<!DOCTYPE html>\n<html><body><div style=\"font-family: monospace\">%s</div></body></html>\n",
					   escaped);
		core_free(escaped);
		html = h.data;
	}
	mail_part(&b, boundary, "text/html", m->html ? m->html : html);
	corebuf_printf(&b, "--%s--\r\n", boundary);
	if (html)
		core_free(html);
	core_free(subject);
	return b.data;
}

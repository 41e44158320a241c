/*-------------------------------------------------------------------------
 *
 * template.c
 *	  Checking and rendering of "{{placeholder}}" message templates.
 *
 *	  Both template_check() and template_render() walk the template with
 *	  the same scanner (template_scan_placeholder), so what the check
 *	  accepts is exactly what the renderer substitutes.  See template.h for
 *	  the language.
 *
 *-------------------------------------------------------------------------
 */
#include "corebuf.h"
#include "template.h"

#include <stdio.h>
#include <string.h>

/* Outcome of scanning a "{{" */
typedef enum TemplateScan
{
	TSCAN_PLACEHOLDER,			/* a well-formed placeholder */
	TSCAN_LITERAL_BRACES,		/* "{{{{", a literal "{{" */
	TSCAN_UNTERMINATED,			/* no "}}" follows */
	TSCAN_EMPTY,				/* "{{ }}" */
	TSCAN_INVALID				/* the text between the braces is no name */
} TemplateScan;

/* Growable output buffer on core_alloc */
typedef CoreBuf TemplateBuf;

/* Append a value with the requested escaping */
static void
tbuf_append_escaped(TemplateBuf *b, const char *s, TemplateEscape escape)
{
	const char *run = s;
	const char *p;

	if (escape == TEMPLATE_ESCAPE_NONE)
	{
		corebuf_append(b, s, strlen(s));
		return;
	}
	for (p = s; *p != '\0'; p++)
	{
		unsigned char c = (unsigned char) *p;
		const char *rep = NULL;
		char		hex[8];

		if (escape == TEMPLATE_ESCAPE_HTML || escape == TEMPLATE_ESCAPE_SLACK)
		{
			switch (c)
			{
				case '&':
					rep = "&amp;";
					break;
				case '<':
					rep = "&lt;";
					break;
				case '>':
					rep = "&gt;";
					break;
				case '"':
					if (escape == TEMPLATE_ESCAPE_HTML)
						rep = "&quot;";
					break;
				default:
					break;
			}
		}
		else if (escape == TEMPLATE_ESCAPE_MARKDOWN)
		{
			if (c != '\0' && strchr("\\`*_[]()#~<>!|", c) != NULL)
			{
				hex[0] = '\\';
				hex[1] = (char) c;
				hex[2] = '\0';
				rep = hex;
			}
		}
		else
		{
			switch (c)
			{
				case '"':
					rep = "\\\"";
					break;
				case '\\':
					rep = "\\\\";
					break;
				case '\b':
					rep = "\\b";
					break;
				case '\f':
					rep = "\\f";
					break;
				case '\n':
					rep = "\\n";
					break;
				case '\r':
					rep = "\\r";
					break;
				case '\t':
					rep = "\\t";
					break;
				default:
					if (c < 0x20)
					{
						snprintf(hex, sizeof(hex), "\\u%04x", c);
						rep = hex;
					}
					break;
			}
		}
		if (rep != NULL)
		{
			corebuf_append(b, run, (size_t) (p - run));
			corebuf_append(b, rep, strlen(rep));
			run = p + 1;
		}
	}
	corebuf_append(b, run, (size_t) (p - run));
}

/* Is c a blank allowed around a placeholder name? */
static bool
template_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* First occurrence of the pair cc at or after p, or NULL */
static const char *
template_find_pair(const char *p, char c)
{
	for (; *p != '\0'; p++)
	{
		if (p[0] == c && p[1] == c)
			return p;
	}
	return NULL;
}

/* Cached position of the next "}}", so that scanning stays linear */
typedef struct TemplateCloser
{
	const char *close;			/* last "}}" found, or NULL */
	bool		none_left;		/* no "}}" at all after some point */
} TemplateCloser;

/* Can c start a placeholder name? */
static bool
template_is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Can c continue a placeholder name? */
static bool
template_is_name_char(char c)
{
	return template_is_name_start(c) || (c >= '0' && c <= '9') || c == '.';
}

/*
 * Scan the "{{" at s.  On TSCAN_PLACEHOLDER, *name and *name_len delimit the
 * name; on TSCAN_INVALID they delimit the whole text between the braces.
 * *next is where scanning continues after the construct (for
 * placeholders, literal braces and invalid placeholders).
 */
static TemplateScan
template_scan_placeholder(const char *s, TemplateCloser *closer,
						  const char **name, size_t *name_len,
						  const char **next)
{
	const char *close;
	const char *a;
	const char *p;

	if (s[2] == '{' && s[3] == '{')
	{
		*next = s + 4;
		return TSCAN_LITERAL_BRACES;
	}
	if (closer->none_left)
		return TSCAN_UNTERMINATED;
	close = closer->close;
	if (close == NULL || close < s + 2)
	{
		close = template_find_pair(s + 2, '}');
		if (close == NULL)
		{
			closer->none_left = true;
			return TSCAN_UNTERMINATED;
		}
		closer->close = close;
	}
	*next = close + 2;
	*name = s + 2;
	*name_len = (size_t) (close - (s + 2));

	a = s + 2;
	while (a < close && template_is_blank(*a))
		a++;
	if (a == close)
		return TSCAN_EMPTY;
	if (!template_is_name_start(*a))
		return TSCAN_INVALID;
	p = a;
	while (p < close && template_is_name_char(*p) && p - a <= TEMPLATE_MAX_NAME)
		p++;
	if (p - a > TEMPLATE_MAX_NAME)
		return TSCAN_INVALID;
	*name = a;
	*name_len = (size_t) (p - a);
	while (p < close && template_is_blank(*p))
		p++;
	if (p != close)
	{
		*name = s + 2;
		*name_len = (size_t) (close - (s + 2));
		return TSCAN_INVALID;
	}
	return TSCAN_PLACEHOLDER;
}

/* 1-based character (UTF-8 code point) position of byte offset off */
static size_t
template_char_position(const char *tmpl, size_t off)
{
	size_t		pos = 1;
	size_t		i;

	for (i = 0; i < off; i++)
	{
		if ((((unsigned char) tmpl[i]) & 0xC0) != 0x80)
			pos++;
	}
	return pos;
}

/* Validate a template against the allowed placeholder names */
bool
template_check(const char *tmpl, const char *const *allowed, int n_allowed,
			   char *errbuf, size_t errlen)
{
	const char *p = tmpl;
	TemplateCloser closer = {NULL, false};

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	while ((p = template_find_pair(p, '{')) != NULL)
	{
		const char *name = NULL;
		size_t		name_len = 0;
		const char *next = NULL;
		size_t		pos;
		int			shown;
		int			i;
		bool		known;

		switch (template_scan_placeholder(p, &closer, &name, &name_len, &next))
		{
			case TSCAN_LITERAL_BRACES:
				p = next;
				continue;
			case TSCAN_UNTERMINATED:
				pos = template_char_position(tmpl, (size_t) (p - tmpl));
				return core_errorf(errbuf, errlen,
									  "unterminated placeholder at position %zu", pos);
			case TSCAN_EMPTY:
				pos = template_char_position(tmpl, (size_t) (p - tmpl));
				return core_errorf(errbuf, errlen,
									  "empty placeholder at position %zu", pos);
			case TSCAN_INVALID:
				pos = template_char_position(tmpl, (size_t) (p - tmpl));
				/* show the text between the braces without its blanks */
				while (name_len > 0 && template_is_blank(*name))
				{
					name++;
					name_len--;
				}
				while (name_len > 0 && template_is_blank(name[name_len - 1]))
					name_len--;
				shown = name_len > 40 ? 40 : (int) name_len;
				return core_errorf(errbuf, errlen,
									  "invalid placeholder \"%.*s%s\" at position %zu",
									  shown, name, name_len > 40 ? "..." : "", pos);
			case TSCAN_PLACEHOLDER:
				break;
		}
		if (allowed != NULL)
		{
			known = false;
			for (i = 0; i < n_allowed && !known; i++)
			{
				if (allowed[i] != NULL && strlen(allowed[i]) == name_len &&
					memcmp(allowed[i], name, name_len) == 0)
					known = true;
			}
			if (!known)
			{
				pos = template_char_position(tmpl, (size_t) (p - tmpl));
				return core_errorf(errbuf, errlen,
									  "unknown placeholder \"%.*s\" at position %zu",
									  (int) name_len, name, pos);
			}
		}
		p = next;
	}
	return true;
}

/* Render a template, substituting values from lookup */
char *
template_render(const char *tmpl, TemplateLookup lookup, void *ctx,
				TemplateEscape escape)
{
	TemplateBuf b;
	const char *p = tmpl;
	const char *open;
	TemplateCloser closer = {NULL, false};

	memset(&b, 0, sizeof(b));
	corebuf_reserve(&b, strlen(tmpl) + 64);
	b.data[0] = '\0';

	while ((open = template_find_pair(p, '{')) != NULL)
	{
		const char *name = NULL;
		size_t		name_len = 0;
		const char *next = NULL;
		char		namebuf[TEMPLATE_MAX_NAME + 1];
		const char *value;

		corebuf_append(&b, p, (size_t) (open - p));
		switch (template_scan_placeholder(open, &closer, &name, &name_len, &next))
		{
			case TSCAN_LITERAL_BRACES:
				corebuf_append(&b, "{{", 2);
				p = next;
				break;
			case TSCAN_PLACEHOLDER:
				memcpy(namebuf, name, name_len);
				namebuf[name_len] = '\0';
				value = lookup != NULL ? lookup(ctx, namebuf) : NULL;
				if (value != NULL)
					tbuf_append_escaped(&b, value, escape);
				p = next;
				break;
			default:
				/* malformed: keep the braces as text and go on after them */
				corebuf_append(&b, "{{", 2);
				p = open + 2;
				break;
		}
	}
	corebuf_append(&b, p, strlen(p));
	return b.data;
}

/* Escape one value */
char *
template_escape(const char *value, TemplateEscape escape)
{
	TemplateBuf b;

	memset(&b, 0, sizeof(b));
	corebuf_reserve(&b, strlen(value) + 16);
	b.data[0] = '\0';
	tbuf_append_escaped(&b, value, escape);
	return b.data;
}

/*-------------------------------------------------------------------------
 *
 * template.h
 *	  The "{{placeholder}}" language of alert message templates.
 *
 *	  A placeholder is "{{", optional blanks (spaces or tabs), a name,
 *	  optional blanks, "}}".  A name is a letter or "_" followed by
 *	  letters, digits, "_" or "." (at most TEMPLATE_MAX_NAME bytes), and
 *	  must be one of the names the caller allows.  Everything outside
 *	  placeholders is copied as is.
 *
 *	  Literal braces: "{{{{" stands for a literal "{{" (the only escape).
 *	  Any other "{{" must begin a valid placeholder; template_check()
 *	  rejects it.  Single braces and "}}" outside a placeholder are
 *	  ordinary text, so JSON such as {"n": {{count}}} needs no escaping.
 *	  (A consequence: a single literal "{" cannot directly precede a
 *	  placeholder, because "{{{" would start a placeholder named "{...";
 *	  put a space between them.)
 *
 *	  Error positions are 1-based character (UTF-8 code point) positions
 *	  of the opening "{{", e.g. "unknown placeholder "foo" at position 12".
 *
 *	  Rendering is lenient: malformed "{{" sequences are copied verbatim
 *	  (templates are checked when they are stored, so this only matters
 *	  for templates that bypassed the check), and a placeholder whose
 *	  lookup returns NULL renders as the empty string.  Escaping applies
 *	  to the substituted values only, never to the template's own text
 *	  (so a telegram_html template may contain tags).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_TEMPLATE_H
#define TRIPL_TEMPLATE_H

#include "core.h"

/* Longest placeholder name, in bytes */
#define TEMPLATE_MAX_NAME	64

typedef enum TemplateEscape
{
	TEMPLATE_ESCAPE_NONE,		/* values copied as is */
	TEMPLATE_ESCAPE_HTML,		/* & < > " become &amp; &lt; &gt; &quot; */
	TEMPLATE_ESCAPE_SLACK,		/* Slack mrkdwn: only & < > become &amp; &lt;
								 * &gt; (Slack decodes no other entity) */
	TEMPLATE_ESCAPE_JSON,		/* content of a JSON string: \" \\ \n \u0001 ... */
	TEMPLATE_ESCAPE_MARKDOWN	/* Markdown (Teams cards): \ ` * _ [ ] ( ) # ~ < > ! |
								 * get a backslash before them */
} TemplateEscape;

/* Returns the value of a placeholder (or NULL for empty); must not fail */
typedef const char *(*TemplateLookup) (void *ctx, const char *name);

/*
 * Validate a template.  allowed/n_allowed lists the names that may be
 * used (compared case-sensitively); allowed == NULL checks syntax only.
 */
extern bool template_check(const char *tmpl, const char *const *allowed,
						   int n_allowed, char *errbuf, size_t errlen);

/* Render a template; returns a core_alloc'ed NUL-terminated string */
extern char *template_render(const char *tmpl, TemplateLookup lookup,
							 void *ctx, TemplateEscape escape);

/* Escape one value; returns a core_alloc'ed NUL-terminated string */
extern char *template_escape(const char *value, TemplateEscape escape);

#endif							/* TRIPL_TEMPLATE_H */

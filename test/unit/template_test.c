/*-------------------------------------------------------------------------
 *
 * template_test.c
 *	  Unit tests for the "{{placeholder}}" template language.
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include <time.h>

#include "template.h"

static const char *const allowed[] = {
	"metric_name", "actual", "expected", "percent_delta", "direction",
	"rule.name", "_private", "empty", "nasty",
};
static const int n_allowed = (int) (sizeof(allowed) / sizeof(allowed[0]));

/* Lookup callback backed by a fixed table; counts its calls in ctx */
static const char *
lookup_fixed(void *ctx, const char *name)
{
	static const char *const table[][2] = {
		{"metric_name", "Signups"},
		{"actual", "130"},
		{"expected", "100"},
		{"percent_delta", "30.0"},
		{"direction", "up"},
		{"rule.name", "R&D <alerts>"},
		{"_private", "p"},
		{"empty", ""},
		{"nasty", "a\"b\\c\nd\te\x01" "f</b>&amp;"},
	};
	size_t		i;

	if (ctx != NULL)
		(*(int *) ctx)++;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i][0], name) == 0)
			return table[i][1];
	return NULL;
}

/* Replace control characters in a test description (keeps TAP lines whole) */
static void
sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20)
			*s = '?';
}

typedef struct CheckCase
{
	const char *tmpl;
	const char *error;			/* NULL: valid */
} CheckCase;

static const CheckCase check_cases[] = {
	{"", NULL},
	{"plain text, no placeholders", NULL},
	{"{{metric_name}}", NULL},
	{"{{ metric_name }}", NULL},
	{"{{\tmetric_name\t}}", NULL},
	{"{{   metric_name}}", NULL},
	{"{{rule.name}} {{_private}}", NULL},
	{"{\"n\": {{actual}}}", NULL},
	{"{ {{actual}} }", NULL},
	{"single { and } and }} are text", NULL},
	{"{{{{ literal", NULL},
	{"{{{{actual}}", NULL},
	{"a{{{{b}}c", NULL},
	{"{{{{{{{{", NULL},
	{"x {{actual}}{{expected}}", NULL},
	{"{{foo}}", "unknown placeholder \"foo\" at position 1"},
	{"Metric is {{ foo }}", "unknown placeholder \"foo\" at position 11"},
	{"0123456789a{{foo}}", "unknown placeholder \"foo\" at position 12"},
	{"{{Metric_name}}", "unknown placeholder \"Metric_name\" at position 1"},
	{"ab{{metric_name", "unterminated placeholder at position 3"},
	{"ab{{", "unterminated placeholder at position 3"},
	{"{{actual}} and {{", "unterminated placeholder at position 16"},
	{"{{}}", "empty placeholder at position 1"},
	{"x{{  }}", "empty placeholder at position 2"},
	{"{{a b}}", "invalid placeholder \"a b\" at position 1"},
	{"{{ a b }}", "invalid placeholder \"a b\" at position 1"},
	{"{{1abc}}", "invalid placeholder \"1abc\" at position 1"},
	{"{{metric-name}}", "invalid placeholder \"metric-name\" at position 1"},
	{"{{{actual}}", "invalid placeholder \"{actual\" at position 1"},
	{"{{{{{actual}}", NULL},
	{"{{ actual {{ expected }}", "invalid placeholder \"actual {{ expected\" at position 1"},
	{"{{\nactual}}", "invalid placeholder \"\nactual\" at position 1"},
	{"h\xc3\xa9llo {{foo}}", "unknown placeholder \"foo\" at position 7"},
	{"\xe2\x82\xac\xe2\x82\xac{{", "unterminated placeholder at position 3"},
	{"{{actual}}{{foo}}", "unknown placeholder \"foo\" at position 11"},
	{"{{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}",
	"invalid placeholder \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" at position 1"},
};

typedef struct RenderCase
{
	const char *tmpl;
	TemplateEscape escape;
	const char *expect;
} RenderCase;

static const RenderCase render_cases[] = {
	{"", TEMPLATE_ESCAPE_NONE, ""},
	{"no placeholders", TEMPLATE_ESCAPE_NONE, "no placeholders"},
	{"{{metric_name}} is {{direction}} {{ percent_delta }}%", TEMPLATE_ESCAPE_NONE, "Signups is up 30.0%"},
	{"{{actual}}/{{expected}}", TEMPLATE_ESCAPE_NONE, "130/100"},
	{"{{actual}}{{actual}}", TEMPLATE_ESCAPE_NONE, "130130"},
	{"[{{empty}}]", TEMPLATE_ESCAPE_NONE, "[]"},
	{"[{{unknown}}]", TEMPLATE_ESCAPE_NONE, "[]"},
	{"{{{{ literal }}", TEMPLATE_ESCAPE_NONE, "{{ literal }}"},
	{"{{{{actual}}", TEMPLATE_ESCAPE_NONE, "{{actual}}"},
	{"{{{{{{{{", TEMPLATE_ESCAPE_NONE, "{{{{"},
	{"{\"n\": {{actual}}}", TEMPLATE_ESCAPE_JSON, "{\"n\": 130}"},
	{"<b>{{rule.name}}</b>", TEMPLATE_ESCAPE_HTML, "<b>R&amp;D &lt;alerts&gt;</b>"},
	{"<b>{{rule.name}}</b>", TEMPLATE_ESCAPE_NONE, "<b>R&D <alerts></b>"},
	{"{{nasty}}", TEMPLATE_ESCAPE_HTML, "a&quot;b\\c\nd\te\x01" "f&lt;/b&gt;&amp;amp;"},
	{"\"{{nasty}}\"", TEMPLATE_ESCAPE_JSON, "\"a\\\"b\\\\c\\nd\\te\\u0001f</b>&amp;\""},
	{"{{nasty}}", TEMPLATE_ESCAPE_NONE, "a\"b\\c\nd\te\x01" "f</b>&amp;"},
	{"text \"quoted\" & <kept>", TEMPLATE_ESCAPE_HTML, "text \"quoted\" & <kept>"},
	{"<b>{{rule.name}}</b>", TEMPLATE_ESCAPE_SLACK, "<b>R&amp;D &lt;alerts&gt;</b>"},
	{"{{nasty}}", TEMPLATE_ESCAPE_SLACK, "a\"b\\c\nd\te\x01" "f&lt;/b&gt;&amp;amp;"},
	{"ab{{metric_name", TEMPLATE_ESCAPE_NONE, "ab{{metric_name"},
	{"{{a b}} {{actual}}", TEMPLATE_ESCAPE_NONE, "{{a b}} 130"},
	{"{{}}x", TEMPLATE_ESCAPE_NONE, "{{}}x"},
	{"{{{actual}}", TEMPLATE_ESCAPE_NONE, "{{{actual}}"},
	{"{{{{{actual}}", TEMPLATE_ESCAPE_NONE, "{{{actual}}"},
	{"h\xc3\xa9 {{metric_name}}", TEMPLATE_ESCAPE_NONE, "h\xc3\xa9 Signups"},
};

/* Every check case gives the expected verdict and message */
static void
test_check(void)
{
	size_t		i;

	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++)
	{
		const CheckCase *c = &check_cases[i];
		char		err[256];
		char		what[300];
		bool		ok;

		err[0] = 'X';
		err[1] = '\0';
		ok = template_check(c->tmpl, allowed, n_allowed, err, sizeof(err));
		snprintf(what, sizeof(what), "check %zu \"%.60s\" %s", i, c->tmpl,
				 c->error ? "rejected" : "accepted");
		sanitize(what);
		CHECK(ok == (c->error == NULL), what);
		if (c->error != NULL)
		{
			snprintf(what, sizeof(what), "check %zu message", i);
			CHECK_STR(err, c->error, what);
		}
		else
		{
			snprintf(what, sizeof(what), "check %zu leaves an empty message", i);
			CHECK_STR(err, "", what);
		}
	}
}

/* Allowed-list corner cases */
static void
test_allowed_lists(void)
{
	char		err[128];
	static const char *const with_null[] = {NULL, "actual"};

	CHECK(template_check("{{anything}} {{at.all}}", NULL, 0, err, sizeof(err)),
		  "allowed == NULL checks syntax only");
	CHECK(!template_check("{{a b}}", NULL, 0, err, sizeof(err)),
		  "syntax errors still found without an allowed list");
	CHECK(!template_check("{{actual}}", allowed, 0, err, sizeof(err)),
		  "n_allowed = 0 allows nothing");
	CHECK(!template_check("{{actual}}", allowed, -3, err, sizeof(err)),
		  "negative n_allowed allows nothing");
	CHECK(template_check("no placeholders", allowed, 0, err, sizeof(err)),
		  "text only passes with an empty list");
	CHECK(template_check("{{actual}}", with_null, 2, err, sizeof(err)),
		  "NULL entries in the allowed list are skipped");
	CHECK(!template_check("{{actua}}", allowed, n_allowed, err, sizeof(err)),
		  "a prefix of an allowed name is unknown");
	CHECK(!template_check("{{actuall}}", allowed, n_allowed, err, sizeof(err)),
		  "an extension of an allowed name is unknown");
	CHECK(!template_check("{{foo}}", allowed, n_allowed, NULL, 0),
		  "NULL error buffer is fine");
	CHECK(!template_check("{{foo}}", allowed, n_allowed, err, 5) && strcmp(err, "unkn") == 0,
		  "message truncated to a small buffer");
}

/* Every render case gives the expected output */
static void
test_render(void)
{
	size_t		i;

	for (i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++)
	{
		const RenderCase *c = &render_cases[i];
		char	   *out = template_render(c->tmpl, lookup_fixed, NULL, c->escape);
		char		what[200];

		snprintf(what, sizeof(what), "render %zu \"%.50s\"", i, c->tmpl);
		sanitize(what);
		CHECK_STR(out, c->expect, what);
		core_free(out);
	}
}

/* Callback behaviour */
static void
test_lookup_calls(void)
{
	int			calls = 0;
	char	   *out;

	out = template_render("{{actual}} {{{{x}} {{ expected }} {{bad name}}", lookup_fixed, &calls,
						  TEMPLATE_ESCAPE_NONE);
	CHECK_STR(out, "130 {{x}} 100 {{bad name}}", "mixed template renders");
	CHECK(calls == 2, "lookup called once per valid placeholder");
	core_free(out);

	out = template_render("[{{actual}}]", NULL, NULL, TEMPLATE_ESCAPE_HTML);
	CHECK_STR(out, "[]", "NULL lookup renders placeholders empty");
	core_free(out);
}

/* template_escape on its own */
static void
test_escape(void)
{
	char	   *s;

	s = template_escape("<a href=\"x\">&</a>", TEMPLATE_ESCAPE_HTML);
	CHECK_STR(s, "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;", "html escape");
	core_free(s);
	s = template_escape("\b\f\n\r\t\x1f\x7f\"\\/", TEMPLATE_ESCAPE_JSON);
	CHECK_STR(s, "\\b\\f\\n\\r\\t\\u001f\x7f\\\"\\\\/", "json escape of controls, quote, backslash");
	core_free(s);
	s = template_escape("caf\xc3\xa9 \xe2\x82\xac", TEMPLATE_ESCAPE_JSON);
	CHECK_STR(s, "caf\xc3\xa9 \xe2\x82\xac", "json escape keeps UTF-8");
	core_free(s);
	s = template_escape("<a href=\"x\">&'</a>", TEMPLATE_ESCAPE_SLACK);
	CHECK_STR(s, "&lt;a href=\"x\"&gt;&amp;'&lt;/a&gt;", "slack escape: only & < >, quotes kept");
	core_free(s);
	s = template_escape("caf\xc3\xa9 <@U123> & \xe2\x82\xac", TEMPLATE_ESCAPE_SLACK);
	CHECK_STR(s, "caf\xc3\xa9 &lt;@U123&gt; &amp; \xe2\x82\xac", "slack escape keeps UTF-8");
	core_free(s);
	s = template_escape("", TEMPLATE_ESCAPE_HTML);
	CHECK_STR(s, "", "escape of empty string");
	core_free(s);
	s = template_escape("as is <&>", TEMPLATE_ESCAPE_NONE);
	CHECK_STR(s, "as is <&>", "no escaping");
	core_free(s);
}

/* Large and pathological inputs stay fast and do not crash */
static void
test_huge(void)
{
	size_t		n = 4 << 20;
	char	   *big = core_alloc(n + 1);
	char	   *out;
	char		err[128];
	size_t		i;
	clock_t		t0 = clock();
	double		secs;

	/* many unterminated openers */
	for (i = 0; i + 1 < n; i += 3)
	{
		big[i] = '{';
		big[i + 1] = '{';
		big[i + 2] = ' ';
	}
	big[n] = '\0';
	CHECK(!template_check(big, allowed, n_allowed, err, sizeof(err)), "4 MB of openers rejected");
	out = template_render(big, lookup_fixed, NULL, TEMPLATE_ESCAPE_NONE);
	CHECK(strlen(out) == strlen(big) && strcmp(out, big) == 0, "4 MB of openers rendered verbatim");
	core_free(out);

	/* many invalid placeholders sharing one far-away closer */
	for (i = 0; i + 3 < n; i += 4)
		memcpy(big + i, "{{ a", 4);
	memcpy(big + n - 2, "}}", 2);
	CHECK(!template_check(big, allowed, n_allowed, err, sizeof(err)), "4 MB invalid placeholder rejected");
	out = template_render(big, lookup_fixed, NULL, TEMPLATE_ESCAPE_NONE);
	CHECK(strcmp(out, big) == 0, "4 MB invalid placeholders rendered verbatim");
	core_free(out);

	/* many valid placeholders */
	for (i = 0; i + 10 <= n; i += 10)
		memcpy(big + i, "{{actual}}", 10);
	big[i] = '\0';
	CHECK(template_check(big, allowed, n_allowed, err, sizeof(err)), "4 MB of placeholders accepted");
	out = template_render(big, lookup_fixed, NULL, TEMPLATE_ESCAPE_HTML);
	CHECK(strlen(out) == (i / 10) * 3, "4 MB of placeholders rendered");
	core_free(out);

	secs = (double) (clock() - t0) / CLOCKS_PER_SEC;
	printf("# huge inputs took %.3f s\n", secs);
	CHECK(secs < 5.0, "huge inputs handled in linear time");
	core_free(big);
}

/* Run every test group and print the TAP plan */
int
main(void)
{
	test_check();
	test_allowed_lists();
	test_render();
	test_lookup_calls();
	test_escape();
	test_huge();
	return unit_done();
}

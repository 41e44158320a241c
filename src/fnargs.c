/*-------------------------------------------------------------------------
 *
 * fnargs.c
 *	  Helpers of the SQL-callable definition functions (catalog.c,
 *	  alert.c): reading text and name-list arguments, checking names and
 *	  text lengths, refusing to drop a definition others use.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "fnargs.h"
#include "spiutil.h"
#include "tripl.h"

/* Are names like fact tables, metrics and row filters well-formed? */
bool
valid_definition_name(const char *name)
{
	const char *p;

	if (name == NULL || name[0] == '\0' || strlen(name) > 128)
		return false;
	if (!(isalnum((unsigned char) name[0]) || name[0] == '_') || IS_HIGHBIT_SET(name[0]))
		return false;
	for (p = name; *p; p++)
	{
		if (IS_HIGHBIT_SET(*p))
			return false;
		if (!(isalnum((unsigned char) *p) || *p == '_' || *p == '.' || *p == '-'))
			return false;
	}
	return true;
}

/* A text argument, or NULL */
char *
fn_arg_text(FunctionCallInfo fcinfo, int i)
{
	if (PG_ARGISNULL(i))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/* A required, non-empty text argument */
char *
fn_required_text(FunctionCallInfo fcinfo, int i, const char *what)
{
	char	   *s = fn_arg_text(fcinfo, i);

	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	if (s[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	return s;
}

/* Check a definition name; what is e.g. "fact table" */
void
check_definition_name(const char *name, const char *what)
{
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s name must not be NULL", what)));
	if (!valid_definition_name(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s name \"%s\"", what, name),
				 errdetail("A name is 1 to 128 ASCII letters, digits, underscores, dots or dashes, not starting with a dot or dash.")));
}

/* Limit free-text arguments (descriptions, units, event names) */
void
check_text_length(const char *s, int max, const char *what)
{
	if (s != NULL && (int) strlen(s) > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", what),
				 errdetail("It has %d bytes; the limit is %d.", (int) strlen(s), max)));
}

/* Does list l (of char *) contain s? */
bool
list_has_string(List *l, const char *s)
{
	ListCell   *lc;

	foreach(lc, l)
	{
		if (strcmp((char *) lfirst(lc), s) == 0)
			return true;
	}
	return false;
}

/*
 * A text[] argument of names, de-duplicated preserving order.  NULL means
 * empty.  NULL or empty elements and multi-dimensional arrays are errors.
 */
List *
fn_arg_name_list(FunctionCallInfo fcinfo, int i, const char *what)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			k;
	List	   *result = NIL;

	if (PG_ARGISNULL(i))
		return NIL;
	arr = PG_GETARG_ARRAYTYPE_P(i);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n > TRIPL_MAX_ROW_FILTERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has too many elements", what),
				 errdetail("It has %d; the limit is %d.", n, TRIPL_MAX_ROW_FILTERS)));
	for (k = 0; k < n; k++)
	{
		char	   *s;

		if (nulls[k])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what)));
		s = TextDatumGetCString(elems[k]);
		if (s[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain an empty string", what)));
		if (!list_has_string(result, s))
			result = lappend(result, s);
	}
	return result;
}

/*
 * Refuse to drop kind "name" while other definitions use it: users_sql lists
 * their names for $1 = id, users says what they are ("metrics") and hint how
 * to drop them.
 */
void
refuse_drop_if_used(const char *users_sql, int64 id, const char *kind, const char *name,
					const char *users, const char *hint)
{
	Oid			types[1] = {INT8OID};
	Datum		vals[1] = {Int64GetDatum(id)};
	List	   *deps = NIL;
	uint64		i;

	catalog_execute(users_sql, 1, types, vals, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
		deps = lappend(deps, (char *) spi_text(i, 0));
	if (deps != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop %s \"%s\" because %s use it", kind, name, users),
				 errdetail("Used by: %s.", join_names(deps)),
				 errhint("%s", hint)));
}

/* "a, b, c" */
char *
join_names(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, names)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, (char *) lfirst(lc));
	}
	return buf.data;
}

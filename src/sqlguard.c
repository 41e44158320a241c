/*-------------------------------------------------------------------------
 *
 * sqlguard.c
 *	  User SQL is code: accept it only in safe shapes, decided by
 *	  PostgreSQL's own parser rather than by regular expressions.
 *
 *	  A query (fact table, event source, sql metric) must parse to exactly
 *	  one plain SELECT (WITH ... SELECT is fine): no data-modifying WITH, no
 *	  SELECT INTO, no FOR UPDATE/SHARE anywhere, no second statement.
 *
 *	  A fragment (row filter, filter_sql) must parse to exactly one scalar
 *	  expression: no sub-query, no second statement, no clause around it.
 *	  Whether it is boolean and names real columns is checked afterwards by
 *	  planning it against the query, with the caller's rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/memutils.h"

#include "sqlguard.h"
#include "tripl.h"

typedef struct GuardContext
{
	const char *what;
	bool		fragment;
	bool		allow_params;	/* generated SQL binds the window as $1, $2 */
} GuardContext;

/* Parse text, turning syntax errors into errors that name what was parsed */
static List *
guarded_raw_parse(const char *text, const char *what, int offset)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	List	   *result = NIL;

	PG_TRY();
	{
		result = raw_parser(text, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			pos;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		pos = edata->cursorpos > offset ? edata->cursorpos - offset : 0;
		if (pos > 0)
			ereport(ERROR,
					(errcode(edata->sqlerrcode),
					 errmsg("%s is not valid SQL: %s", what, edata->message),
					 errdetail("The error is at character %d of the %s.", pos, what)));
		else
			ereport(ERROR,
					(errcode(edata->sqlerrcode),
					 errmsg("%s is not valid SQL: %s", what, edata->message)));
	}
	PG_END_TRY();
	return result;
}

/* Walk a raw parse tree, refusing anything that writes or locks */
static bool
guard_walker(Node *node, GuardContext *ctx)
{
	if (node == NULL)
		return false;

	switch (nodeTag(node))
	{
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
		case T_MergeStmt:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be read-only", ctx->what),
					 errdetail("A data-modifying statement inside WITH is not allowed.")));
			break;
		case T_IntoClause:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be read-only", ctx->what),
					 errdetail("SELECT INTO is not allowed.")));
			break;
		case T_LockingClause:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be read-only", ctx->what),
					 errdetail("FOR UPDATE, FOR SHARE and other locking clauses are not allowed.")));
			break;
		case T_SubLink:
			if (ctx->fragment)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must not contain a sub-query", ctx->what),
						 errhint("A filter is a condition on the columns of one row.")));
			break;
		case T_ColumnRef:
			if (ctx->fragment &&
				IsA(llast(((ColumnRef *) node)->fields), A_Star))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must be a single boolean expression", ctx->what),
						 errdetail("\"*\" is not an expression.")));
			break;
		case T_A_Star:
			if (ctx->fragment)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must be a single boolean expression", ctx->what)));
			break;
		case T_ParamRef:
			if (ctx->allow_params)
				break;
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain parameter references such as $1", ctx->what)));
			break;
		default:
			break;
	}
	return raw_expression_tree_walker(node, guard_walker, (void *) ctx);
}

/* Reject NULL, empty and overlong input with a clear message */
static void
check_text_input(const char *text, const char *what, int max_length)
{
	const char *p;

	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	if ((int) strlen(text) > max_length)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", what),
				 errdetail("It has %d bytes; the limit is %d.", (int) strlen(text), max_length)));
	for (p = text; *p; p++)
	{
		if (!isspace((unsigned char) *p))
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must not be empty", what)));
}

/* Check one SELECT; allow_params admits $n (only in SQL tripl generated) */
static char *
guard_select(const char *query, const char *what, bool allow_params)
{
	List	   *stmts;
	RawStmt    *raw;
	GuardContext ctx;
	int			len;

	check_text_input(query, what, TRIPL_MAX_QUERY_LENGTH);
	stmts = guarded_raw_parse(query, what, 0);
	if (list_length(stmts) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be exactly one SELECT statement", what),
				 errdetail("It contains %d statements.", list_length(stmts))));
	raw = linitial_node(RawStmt, stmts);
	if (!IsA(raw->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a SELECT statement", what),
				 errhint("Write a SELECT (or WITH ... SELECT) that returns the rows to measure.")));

	ctx.what = what;
	ctx.fragment = false;
	ctx.allow_params = allow_params;
	(void) guard_walker(raw->stmt, &ctx);

	len = raw->stmt_len > 0 ? raw->stmt_len : (int) strlen(query) - raw->stmt_location;
	return pnstrdup(query + raw->stmt_location, len);
}

/*
 * Accept a user query only if it is exactly one read-only SELECT.  Returns
 * the statement's own text (without a trailing semicolon), ready to be
 * wrapped as a sub-query.
 */
char *
sqlguard_select(const char *query, const char *what)
{
	return guard_select(query, what, false);
}

/* Check SQL that tripl generated around user parts: still one read-only SELECT */
void
sqlguard_generated(const char *sql)
{
	(void) guard_select(sql, "generated query", true);
}

/*
 * Accept a fragment only if it is exactly one expression without a
 * sub-query.  Returns a copy of the fragment.
 */
char *
sqlguard_fragment(const char *fragment, const char *what)
{
	static const char prefix[] = "SELECT ";
	StringInfoData buf;
	List	   *stmts;
	RawStmt    *raw;
	SelectStmt *sel;
	ResTarget  *target;
	GuardContext ctx;

	check_text_input(fragment, what, TRIPL_MAX_FRAGMENT_LENGTH);

	initStringInfo(&buf);
	appendStringInfoString(&buf, prefix);
	appendStringInfoString(&buf, fragment);
	stmts = guarded_raw_parse(buf.data, what, (int) strlen(prefix));

	if (list_length(stmts) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single boolean expression", what),
				 errdetail("It contains more than one statement.")));
	raw = linitial_node(RawStmt, stmts);
	if (!IsA(raw->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single boolean expression", what)));
	sel = (SelectStmt *) raw->stmt;
	if (sel->op != SETOP_NONE || list_length(sel->targetList) != 1 ||
		sel->fromClause != NIL || sel->whereClause != NULL ||
		sel->groupClause != NIL || sel->havingClause != NULL ||
		sel->windowClause != NIL || sel->sortClause != NIL ||
		sel->limitCount != NULL || sel->limitOffset != NULL ||
		sel->lockingClause != NIL || sel->withClause != NULL ||
		sel->distinctClause != NIL || sel->valuesLists != NIL ||
		sel->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single boolean expression", what),
				 errhint("Write only the condition, as in a WHERE clause, e.g. status = 'completed'.")));
	target = linitial_node(ResTarget, sel->targetList);
	if (target->name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single boolean expression", what),
				 errdetail("A column alias is not allowed.")));

	ctx.what = what;
	ctx.fragment = true;
	ctx.allow_params = false;
	(void) guard_walker((Node *) sel->targetList, &ctx);

	pfree(buf.data);
	return pstrdup(fragment);
}

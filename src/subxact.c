/*-------------------------------------------------------------------------
 *
 * subxact.c
 *	  Running a piece of work in a subtransaction, so that one metric's,
 *	  rule's or row's failure is recorded instead of ending the whole pass.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "subxact.h"
#include "userquery.h"

/* How Citus relays a node's error, and fails a transaction over a lost node */
#define CITUS_NODE_CONTEXT "while executing command on "
#define CITUS_ESSENTIAL_MESSAGE "failure on connection marked as essential"

/*
 * Did this error come from another server?  Citus relays a node's error
 * with the node's SQLSTATE and the context "while executing command on
 * host:port".
 */
static bool
error_from_node(const ErrorData *edata)
{
	return edata->context != NULL && strstr(edata->context, CITUS_NODE_CONTEXT) != NULL;
}

/*
 * Is this error a failure to reach another server (see subxact.h)?
 * SQLSTATE class 08 (connection exception: Citus's "connection to the
 * remote node ... failed", "could not establish any connections to the
 * node"), a node's own shutdown relayed by Citus, or Citus's error at the
 * end of a transaction whose node connection failed (no SQLSTATE of its
 * own).
 */
bool
subxact_node_failure(const ErrorData *edata)
{
	if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION)
		return true;
	if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION &&
		error_from_node(edata))
		return true;
	return edata->message != NULL &&
		strncmp(edata->message, CITUS_ESSENTIAL_MESSAGE, strlen(CITUS_ESSENTIAL_MESSAGE)) == 0;
}

/* Run fn(arg) in a subtransaction (see subxact.h) */
ErrorData *
subxact_run(SubxactFn fn, void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		/*
		 * A cancel (pg_cancel_backend, statement_timeout) or a shutdown ends
		 * the whole call at once; only tripl's own per-query time limit is
		 * one definition's failure.  The same codes relayed from another
		 * server (a Citus node that was stopped) are that node's, not ours.
		 */
		if (!error_from_node(edata) &&
			((edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !userquery_is_time_limit(edata->sqlerrcode, edata->message)) ||
			 edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			 edata->sqlerrcode == ERRCODE_CRASH_SHUTDOWN))
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}

/*
 * Run fn(arg) in a subtransaction.  Returns NULL on success, else the error
 * message, with its detail (the subtransaction is rolled back); *errcode
 * gets its code, *node_failure whether it is a node failure (either may be
 * NULL).
 */
char *
subxact_run_message(SubxactFn fn, void *arg, int *errcode, bool *node_failure)
{
	ErrorData  *edata = subxact_run(fn, arg);
	char	   *error;

	if (node_failure)
		*node_failure = edata != NULL && subxact_node_failure(edata);
	if (edata == NULL)
		return NULL;
	if (errcode)
		*errcode = edata->sqlerrcode;
	if (edata->detail)
		error = psprintf("%s (%s)", edata->message, edata->detail);
	else
		error = pstrdup(edata->message);
	FreeErrorData(edata);
	return error;
}

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
		 * one definition's failure.
		 */
		if ((edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !userquery_is_time_limit(edata->sqlerrcode, edata->message)) ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			edata->sqlerrcode == ERRCODE_CRASH_SHUTDOWN)
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}

/*
 * Run fn(arg) in a subtransaction.  Returns NULL on success, else the error
 * message, with its detail (the subtransaction is rolled back).
 */
char *
subxact_run_message(SubxactFn fn, void *arg, int *errcode)
{
	ErrorData  *edata = subxact_run(fn, arg);
	char	   *error;

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

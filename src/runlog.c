/*-------------------------------------------------------------------------
 *
 * runlog.c
 *	  The run log, tripl.runs: writing a pass's row, remembering its first
 *	  error, and ending its details JSON with that error.
 *
 *	  The run log has one row per tick (a skipped one too, saying why),
 *	  per call of tripl.collect(), tripl.detect() and tripl.deliver(), and
 *	  per delivery-worker pass that claimed something or failed.  A row is
 *	  written in the transaction of the pass it describes, so the passes of
 *	  a call that fails as a whole (and rolls back) leave none; deliver
 *	  passes run in background workers and commit on their own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "runlog.h"
#include "spiutil.h"

/* Remember the first error of a pass, as "what: error" */
void
runlog_note_error(char **first_error, const char *what, const char *error)
{
	if (error && *first_error == NULL)
		*first_error = psprintf("%s: %s", what, error);
}

/* Write one row to the run log (the caller is connected to SPI) */
void
runlog_write(const RunLogRow *r)
{
	Oid			types[11] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, BOOLOID, INT4OID, INT4OID,
	INT4OID, INT4OID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[11];
	char		nulls[12] = "           ";

	values[0] = CStringGetTextDatum(r->kind);
	values[1] = TimestampTzGetDatum(r->started_at);
	values[2] = TimestampTzGetDatum(Max(GetCurrentTimestamp(), r->started_at));
	values[3] = BoolGetDatum(r->skipped);
	values[4] = Int32GetDatum(r->metrics_collected);
	values[5] = Int32GetDatum(r->metrics_failed);
	values[6] = Int32GetDatum(r->metrics_detected);
	values[7] = Int32GetDatum(r->anomalies);
	values[8] = Int32GetDatum(r->deliveries);
	spi_param_text(values, nulls, 9, r->error);
	spi_param_text(values, nulls, 10, r->details);
	catalog_execute("INSERT INTO tripl.runs (kind, started_at, finished_at, skipped, metrics_collected, "
					"metrics_failed, metrics_detected, anomalies, deliveries, error, details) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)",
					11, types, values, nulls, false, 0);
}

/*
 * End a pass's details JSON object whose text so far ends with "\"error\": ":
 * the error as a JSON string, or null, and the closing brace
 */
void
runlog_end_details(StringInfo details, const char *error)
{
	if (error)
		escape_json(details, error);
	else
		appendStringInfoString(details, "null");
	appendStringInfoChar(details, '}');
}

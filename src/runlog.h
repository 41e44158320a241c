/*-------------------------------------------------------------------------
 *
 * runlog.h
 *	  The run log, tripl.runs: one row per pass of collect, detect,
 *	  deliver or tick (runlog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_RUNLOG_H
#define TRIPL_RUNLOG_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

/* One row of the run log, tripl.runs */
typedef struct RunLogRow
{
	const char *kind;			/* tick | collect | detect | deliver */
	TimestampTz started_at;		/* finished_at is when the row is written */
	bool		skipped;
	int			metrics_collected;
	int			metrics_failed;
	int			metrics_detected;
	int			anomalies;
	int			deliveries;
	const char *error;			/* NULL: none */
	const char *details;		/* a JSON object, or NULL */
} RunLogRow;

extern void runlog_write(const RunLogRow *row);
extern void runlog_note_error(char **first_error, const char *what, const char *error);
extern void runlog_end_details(StringInfo details, const char *error);

#endif							/* TRIPL_RUNLOG_H */

/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  Five-field cron schedules (Vixie cron dialect), evaluated in UTC.
 *
 *	  Syntax: "minute hour day-of-month month day-of-week", fields
 *	  separated by blanks.  Each field is a comma-separated list of items;
 *	  an item is "*", a value, a range "a-b", optionally followed by a step
 *	  "/n" ("*\/15", "1-30/5"; "a/n" means "a-max/n").  Months accept
 *	  jan..dec and weekdays sun..sat (case-insensitive); weekday 0 and 7
 *	  are both Sunday.  Macros: @hourly, @daily, @midnight, @weekly,
 *	  @monthly, @yearly, @annually.
 *
 *	  As in Vixie cron, when both day-of-month and day-of-week are
 *	  restricted (neither field starts with "*"), a day matches when
 *	  EITHER of them matches; otherwise both must match.
 *
 *	  cron_next() searches at most CRON_HORIZON_DAYS ahead (a little over
 *	  ten years, enough for "0 0 29 2 *" across the 2100 non-leap year)
 *	  and returns -1 when nothing fires in that horizon (e.g. Feb 30).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_CRON_H
#define TRIPL_CRON_H

#include "core.h"

/* How far ahead cron_next() looks before giving up, in days */
#define CRON_HORIZON_DAYS	(366 * 10 + 7)

typedef struct CronSchedule
{
	uint64_t	minutes;		/* bit m set: minute m (0..59) fires */
	uint32_t	hours;			/* bit h: hour h (0..23) */
	uint32_t	days_of_month;	/* bit d: day d (1..31) */
	uint16_t	months;			/* bit m: month m (1..12) */
	uint8_t		days_of_week;	/* bit w: weekday w (0 = Sunday .. 6) */
	bool		dom_star;		/* day-of-month field started with "*" */
	bool		dow_star;		/* day-of-week field started with "*" */
} CronSchedule;

/* Parse expr into *out; on failure return false with a message in errbuf */
extern bool cron_parse(const char *expr, CronSchedule *out,
					   char *errbuf, size_t errlen);

/* First fire time strictly after after_us (UTC, whole minutes), or -1 */
extern int64_t cron_next(const CronSchedule *s, int64_t after_us);

/* Does the schedule fire at the minute containing t_us? */
extern bool cron_matches(const CronSchedule *s, int64_t t_us);

#endif							/* TRIPL_CRON_H */

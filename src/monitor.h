/*-------------------------------------------------------------------------
 *
 * monitor.h
 *	  Anomaly detection over stored metric values: effective settings,
 *	  running the detector (src/core/detect_*.c) and persisting its verdicts.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_MONITOR_H
#define TRIPL_MONITOR_H

#include "postgres.h"

#include "defs.h"
#include "core/detect_core.h"

/* The settings in effect for one metric */
typedef struct MonitorSettings
{
	DetectSettings detect;
	int64		recent_window_us;	/* recent_signal_window */
} MonitorSettings;

/* The outcome of detecting one metric */
typedef struct DetectResult
{
	MetricDef  *metric;
	int64		eval_from;		/* Unix microseconds; from == to: nothing evaluated */
	int64		eval_to;
	int			anomalies;		/* stored anomalies in the evaluated range */
	char	   *error;
} DetectResult;

extern void monitor_settings(MetricDef *m, MonitorSettings *s);
extern List *monitor_detect(List *metrics, TimestampTz now);
extern List *monitor_changed_metrics(void);
extern int64 series_history(MetricDef *m, MonitorSettings *s);
extern bool monitor_run_detector(MetricDef *m, int64 from, int64 to, int64 eval_start,
								 int64 eval_end, MonitorSettings *settings,
								 DetectOutput *out);

#endif							/* TRIPL_MONITOR_H */

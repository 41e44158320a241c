/*-------------------------------------------------------------------------
 *
 * detect_core.h
 *	  The anomaly detector's pure core: turns one metric series into per
 *	  bucket verdicts (doc/detection.md, "The detector in detail").
 *
 *	  Hybrid and deterministic: a per-bucket phase baseline (same position
 *	  in the week or day, re-levelled to the current level) with a rolling
 *	  mean fallback, a trend-shift path on a robust MSTL decomposition that
 *	  reports a sustained level change once, and an outage collapse that
 *	  reports a run of empty buckets once.  No PostgreSQL types; times are
 *	  int64 microseconds since the Unix epoch (UTC); memory from
 *	  core_alloc().
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DETECT_CORE_H
#define TRIPL_DETECT_CORE_H

#include "core.h"

/* Longest zero-filled or present series detect_run accepts */
#define DETECT_MAX_SERIES_POINTS	20000000

/* Largest number of phase periods a width can have (week, day) */
#define DETECT_MAX_PHASE_PERIODS	2

typedef struct DetectSettings
{
	double		sigma_threshold;	/* default 4.0 */
	double		min_expected_count; /* default 50; ignored (replaced by 1e-6)
									 * for fractional series */
	int			baseline_window_buckets;	/* default 14 */
	int			min_history_buckets;	/* default 7 */
	int			settling_minutes;	/* default 120 (0..1440) */
} DetectSettings;

typedef enum DetectorKind
{
	DETECTOR_NONE = 0,
	DETECTOR_PHASE,
	DETECTOR_ROLLING,
	DETECTOR_TREND,
	DETECTOR_FRACTIONAL,
	DETECTOR_BURST				/* the burst test of a zero-typical series */
} DetectorKind;

typedef struct DetectRow
{
	int64_t		bucket;			/* bucket start, us since Unix epoch */
	double		actual;
	double		expected;		/* NAN when no baseline could be formed */
	double		stddev;			/* raw spread (scale) before floors; NAN when
								 * none */
	double		effective_stddev;	/* floored denominator; NAN when none */
	double		z_score;		/* NAN when none */
	bool		is_anomaly;
	DetectorKind kind;			/* which baseline produced expected (also for
								 * non-anomalies) */
	int			direction;		/* +1 spike, -1 drop, 0 none (only set when
								 * is_anomaly) */
	bool		withheld;		/* true for buckets at/after emission_end
								 * (settling) */
	bool		scored;			/* judged against a baseline that cleared the
								 * volume gate, inside [eval_start,
								 * emission_end): the band to store */
	bool		silenced;		/* would have been flagged on its own, but the
								 * incident is reported by a trend row or an
								 * outage's single row instead (draw no band) */
	double		score;			/* anomaly score in [0, 1] of |z_score|
								 * (detect_score); NAN when z_score is */
} DetectRow;

typedef struct DetectRange
{
	int64_t		from;
	int64_t		to;
} DetectRange;					/* half-open */

/*
 * One incident of a detection (doc/detection.md, "Incidents"): flagged
 * buckets in one direction no more than the incident gap apart.  first is
 * the bucket of its reported row, or, for an incident that began before
 * eval_start (carried: an earlier pass reported it), the first flagged
 * bucket of the chain the history hands on; last is its newest flagged
 * bucket; ended_at, once gap more buckets after last were judged with no
 * flag that continues it, the bucket after last (else DETECT_OPEN).
 */
#define DETECT_OPEN					INT64_MIN

typedef struct DetectIncident
{
	int64_t		first;
	int64_t		last;
	int64_t		ended_at;
	int			direction;		/* +1 spike, -1 drop */
	bool		carried;
} DetectIncident;

typedef struct DetectOutput
{
	int			n_rows;			/* one row per prepared series point,
								 * ascending by bucket */
	DetectRow  *rows;
	int			n_suppressed;	/* suppressed ranges (outage runs owned before
								 * eval_start; as doc/detection.md specifies, trend runs
								 * make none) */
	DetectRange *suppressed;
	int64_t		emission_end;	/* no anomaly at/after this bucket */
	bool		skipped_small;	/* silent skip of a tiny count series happened */
	int			n_incidents;	/* ascending by first */
	DetectIncident *incidents;
} DetectOutput;

/*
 * The anomaly score of a z-score: roughly the probability that a point this
 * far from its expectation is not explained by the model, calibrated on the
 * seeded bench (doc/detection-quality.md, "Anomaly score"):
 * 1 / (1 + exp(-DETECT_SCORE_SLOPE * (|z| - DETECT_SCORE_MIDPOINT))),
 * NAN for a NaN z.  Monotonic in |z|, so a score threshold is a sigma
 * threshold: detect_sigma_for_score is its inverse.
 */
#define DETECT_SCORE_MIDPOINT		4.0
#define DETECT_SCORE_SLOPE			1.5
extern double detect_score(double z);

/* The |z| whose score is s (0 < s < 1): the sigma_threshold of a score threshold */
extern double detect_sigma_for_score(double s);

/* Fill s with the defaults of doc/detection.md, "Settings" */
extern void detect_default_settings(DetectSettings *s);

/* "phase", "rolling", "trend", "fractional", "burst"; NULL for DETECTOR_NONE */
extern const char *detector_kind_name(DetectorKind k);

/*
 * Run the detector.  buckets[] strictly ascending, all on the grid of
 * width_us (floor relative to the Unix epoch, or Monday 1970-01-05 for whole
 * weeks); values[] may contain NaN/Inf (those points are skipped).
 * count_shaped selects zero-fill + count gates; otherwise fractional rules.
 * Anomalies are emitted only for buckets in [eval_start, emission_end).
 * eval_end is the exclusive end of the evaluated region (count series are
 * zero-filled on the grid from their first point up to eval_end; points at
 * or after eval_end are ignored).  settings may be NULL for the defaults.
 * Returns true on success; on bad input returns false with a lower-case
 * message in errbuf (no trailing period) and an empty *out.
 */
extern bool detect_run(const int64_t *buckets, const double *values, int n,
					   int64_t width_us, bool count_shaped,
					   int64_t eval_start, int64_t eval_end,
					   const DetectSettings *settings, DetectOutput *out,
					   char *errbuf, size_t errlen);

/*
 * detect_run for a ratio series with its operands: numerators[] and
 * denominators[] (aligned with values[], NaN where unknown; both NULL for
 * none) give a fractional series the ratio noise model of doc/detection.md
 * ("Ratio metrics: noise from the operands")
 */
extern bool detect_run_operands(const int64_t *buckets, const double *values,
								const double *numerators, const double *denominators, int n,
								int64_t width_us, bool count_shaped,
								int64_t eval_start, int64_t eval_end,
								const DetectSettings *settings, DetectOutput *out,
								char *errbuf, size_t errlen);

/* Free what detect_run allocated in out (safe on an empty output) */
extern void detect_output_free(DetectOutput *out);

/* Most buckets one forecast may cover */
#define DETECT_MAX_FORECAST			100000

typedef struct DetectForecastRow
{
	int64_t		bucket;			/* a bucket after the series */
	double		expected;
	double		effective_stddev;
	double		lower;			/* expected - sigma x effective (>= 0 for counts) */
	double		upper;			/* expected + sigma x effective */
} DetectForecastRow;

typedef struct DetectForecast
{
	int			n_rows;			/* <= horizon: fewer when no baseline forms */
	DetectForecastRow *rows;
} DetectForecast;

/*
 * Forecast the horizon buckets after the last of buckets[] (input as for
 * detect_run): the detector's baseline of each, the current level held, and
 * its band (doc/detection.md, "Forecasts").  False with a message on bad
 * input; rows stop at the first bucket with no baseline.
 */
extern bool detect_forecast(const int64_t *buckets, const double *values, int n,
							int64_t width_us, bool count_shaped, int horizon,
							const DetectSettings *settings, DetectForecast *out,
							char *errbuf, size_t errlen);

/* Free what detect_forecast allocated in out */
extern void detect_forecast_free(DetectForecast *out);

/* One season ahead: the longest phase period of the width, else the rolling window */
extern int	detect_forecast_default_horizon(int64_t width_us, const DetectSettings *settings);

/*
 * Building blocks, exposed for the unit tests and for callers that need the
 * same numbers (e.g. the emission lag of doc/detection.md, "Signals").
 */

/*
 * The season position of a bucket: its slot on the grid of width_us counted
 * from origin (the series' first bucket).  Slots modulo a phase period are
 * the positions in the week or day; every seasonal comparison of the
 * detector goes through this one function.
 */
extern int64_t detect_season_slot(int64_t bucket, int64_t origin, int64_t width_us);

/* Phase periods of a width, longest first (week/width, day/width); count */
extern int	detect_phase_periods(int64_t width_us, int *periods);

/* Phase period for a grid slot: first period P with slot / P >= 3, else 0 */
extern int	detect_phase_period_for_slot(int64_t width_us, int64_t slot);

/* Level window L = min(period, shortest phase period of the width) */
extern int	detect_level_window(int64_t width_us, int period);

/* ceil(settling_minutes / width) in buckets, 0 when settling_minutes <= 0 */
extern int	detect_settling_buckets(int settling_minutes, int64_t width_us);

/*
 * Indices j < before (most recent first) whose slot is congruent to slot
 * modulo period, given ascending slots[0..before); stores at most max_out
 * of them in out and returns how many it stored.
 */
extern int	detect_same_phase_partners(const int64_t *slots, int before,
									   int64_t slot, int period,
									   int *out, int max_out);

/* Median of x[0..n) (mean of the two middle values when n is even); 0 if n = 0 */
extern double detect_median(const double *x, int n);

/* Median absolute deviation from the median; 0 if n = 0 */
extern double detect_mad(const double *x, int n);

/* 1.4826 * MAD, or the population standard deviation when MAD = 0 */
extern double detect_robust_scale(const double *x, int n);

#endif							/* TRIPL_DETECT_CORE_H */

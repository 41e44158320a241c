/*-------------------------------------------------------------------------
 *
 * detect_forecast.c
 *	  Forecasts from the detector's baseline (doc/detection.md,
 *	  "Forecasts"): for each bucket after the series, the phase baseline it
 *	  would be judged against, with the current level held, and the band of
 *	  expected +- sigma x its effective spread.
 *
 *	  A future bucket at slot s uses the first (longest) phase period P with
 *	  s / P >= 3 (the detector's rule); its partners are every earlier point
 *	  at the same slot modulo P, each divided by the mean of the level window
 *	  (slot_j - L, slot_j] around it; expected = median of those factors x
 *	  the current level (the mean of the last L slots of the series), spread
 *	  = their robust scale x the current level.  With no phase period, or
 *	  no positive level, the detector's fallbacks: the partners' median and
 *	  robust scale, or the mean and population standard deviation of the
 *	  last baseline_window_buckets points.  The floors are the detector's.
 *	  Count series are zero-filled as the detector fills them, and neither
 *	  their expectation nor their lower bound goes below 0.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "detect_internal.h"

/* Mean of the points of d whose slot lies in (to - span, to]; false if none */
static bool
level_ending_at(const Detection *d, int64_t to, int span, double *level)
{
	double		sum = 0.0;
	int			count = 0;
	int			j;

	for (j = detect_lower_bound_slot(d->slot, 0, d->m - 1, to + 1) - 1;
		 j >= 0 && d->slot[j] > to - span; j--)
	{
		sum += d->value[j];
		count++;
	}
	if (count == 0)
		return false;
	*level = sum / (double) count;
	return true;
}

/* One season ahead: the longest phase period, else baseline_window_buckets */
int
detect_forecast_default_horizon(int64_t width_us, const DetectSettings *settings)
{
	int			periods[DETECT_MAX_PHASE_PERIODS];
	DetectSettings defaults;

	if (settings == NULL)
	{
		detect_default_settings(&defaults);
		settings = &defaults;
	}
	if (detect_phase_periods(width_us, periods) > 0)
		return periods[0];
	return settings->baseline_window_buckets;
}

/* The baseline of the future slot s from the points of d */
static bool
forecast_baseline(Detection *d, int64_t s, double level_now, bool have_level,
				  double *expected, double *scale, double *ratio_floor)
{
	int			period = detect_phase_period_from(d->periods, d->n_periods, s);
	int			n = 0;
	int			j;

	if (period > 0)
	{
		int			window = period < d->shortest_period ? period : d->shortest_period;
		bool		relevel = have_level && level_now > 0.0 && !d->is_signed;

		for (j = d->m - 1; j >= 0; j--)
		{
			double		level;

			if ((s - d->slot[j]) % period != 0)
				continue;
			if (!relevel)
				d->scratch[n++] = d->value[j];
			else if (level_ending_at(d, d->slot[j], window, &level) && level > 0.0)
				d->scratch[n++] = d->value[j] / level;
		}
		if (n > 0)
		{
			detect_median_and_robust_scale(d->scratch, n, d->scratch2, expected, scale);
			if (relevel)
			{
				*expected *= level_now;
				*scale *= level_now;
			}
			*ratio_floor = PHASE_RATIO_FLOOR;
			return true;
		}
	}
	/* the rolling fallback over the newest points */
	n = d->m < d->settings->baseline_window_buckets ? d->m : d->settings->baseline_window_buckets;
	if (n <= 0 || n < d->settings->min_history_buckets)
		return false;
	*expected = 0.0;
	for (j = d->m - n; j < d->m; j++)
		*expected += d->value[j] / (double) n;
	*scale = detect_population_stddev(d->value + (d->m - n), n);
	*ratio_floor = ROLLING_RATIO_FLOOR;
	return true;
}

/*
 * Forecast horizon buckets after the series (see detect_core.h).  The
 * series is prepared by detect_run (the same checks, zero-fill and noise
 * model) with nothing to evaluate.
 */
bool
detect_forecast(const int64_t *buckets, const double *values, int n, int64_t width_us,
				bool count_shaped, int horizon, const DetectSettings *settings,
				DetectForecast *out, char *errbuf, size_t errlen)
{
	DetectSettings defaults;
	DetectOutput prepared;
	Detection	d;
	double		level_now = 0.0;
	bool		have_level;
	int64_t		end;
	int			m,
				h,
				i;

	memset(out, 0, sizeof(*out));
	if (settings == NULL)
	{
		detect_default_settings(&defaults);
		settings = &defaults;
	}
	if (horizon < 1 || horizon > DETECT_MAX_FORECAST)
	{
		core_errorf(errbuf, errlen, "horizon must be between 1 and %d", DETECT_MAX_FORECAST);
		return false;
	}
	if (n > 0 && buckets == NULL)
	{
		core_errorf(errbuf, errlen, "buckets and values must not be null");
		return false;
	}
	end = n > 0 ? buckets[n - 1] + width_us : 0;
	if (!detect_run(buckets, values, n, width_us, count_shaped, end, end, settings,
					&prepared, errbuf, errlen))
		return false;
	m = prepared.n_rows;
	if (m == 0)
	{
		detect_output_free(&prepared);
		return true;
	}

	memset(&d, 0, sizeof(d));
	d.m = m;
	d.width = width_us;
	d.count_shaped = count_shaped;
	d.settings = settings;
	d.n_periods = detect_phase_periods(width_us, d.periods);
	d.shortest_period = d.n_periods > 0 ? d.periods[d.n_periods - 1] : 0;
	d.value = (double *) core_alloc(sizeof(double) * (size_t) m * 3);
	d.scratch = d.value + m;
	d.scratch2 = d.scratch + m;
	d.slot = (int64_t *) core_alloc(sizeof(int64_t) * (size_t) m);
	for (i = 0; i < m; i++)
	{
		d.value[i] = prepared.rows[i].actual;
		d.slot[i] = detect_season_slot(prepared.rows[i].bucket, prepared.rows[0].bucket, width_us);
		if (d.value[i] < 0.0)
			d.is_signed = true;
	}
	d.absolute_floor = detect_absolute_floor(&d);
	detect_noise_model(&d);
	have_level = d.shortest_period > 0 &&
		level_ending_at(&d, d.slot[m - 1], d.shortest_period, &level_now);

	out->rows = (DetectForecastRow *) core_alloc(sizeof(DetectForecastRow) * (size_t) horizon);
	for (h = 1; h <= horizon; h++)
	{
		DetectForecastRow *row = &out->rows[out->n_rows];
		double		expected,
					scale,
					ratio_floor,
					effective;

		if (!forecast_baseline(&d, d.slot[m - 1] + h, level_now, have_level,
							   &expected, &scale, &ratio_floor))
			break;
		if (count_shaped && expected < 0.0)
			expected = 0.0;
		effective = fmax(scale, detect_spread_floor(&d, ratio_floor, expected, true));
		row->bucket = prepared.rows[m - 1].bucket + (int64_t) h * width_us;
		row->expected = expected;
		row->effective_stddev = effective;
		row->lower = expected - settings->sigma_threshold * effective;
		row->upper = expected + settings->sigma_threshold * effective;
		if (count_shaped && row->lower < 0.0)
			row->lower = 0.0;
		out->n_rows++;
	}
	detect_free_noise_model(&d);
	core_free(d.slot);
	core_free(d.value);
	detect_output_free(&prepared);
	return true;
}

/* Free what detect_forecast allocated */
void
detect_forecast_free(DetectForecast *out)
{
	if (out != NULL && out->rows != NULL)
		core_free(out->rows);
	if (out != NULL)
	{
		out->rows = NULL;
		out->n_rows = 0;
	}
}

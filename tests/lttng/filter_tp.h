/*
 * filter_tp.h: LTTng-UST 2.13 tracepoint provider `rttng_filt`, the events
 * rttng-filter's filters are compared on (see filter-reference.sh).
 * rttng_filt:ev carries an integer, an unsigned 64-bit, a double and a
 * string; rttng_filt:other only an integer `v`, so that a filter naming a
 * field of one class shows what LTTng does with the other.
 */
#undef TRACEPOINT_PROVIDER
#define TRACEPOINT_PROVIDER rttng_filt

#undef TRACEPOINT_INCLUDE
#define TRACEPOINT_INCLUDE "./filter_tp.h"

#if !defined(RTTNG_FILTER_TP_H) || defined(TRACEPOINT_HEADER_MULTI_READ)
#define RTTNG_FILTER_TP_H

#include <lttng/tracepoint.h>
#include <stdint.h>

TRACEPOINT_EVENT(rttng_filt, ev,
	TP_ARGS(int64_t, idx, int32_t, n, uint64_t, u, double, d, const char *, s),
	TP_FIELDS(
		ctf_integer(int64_t, idx, idx)
		ctf_integer(int32_t, n, n)
		ctf_integer(uint64_t, u, u)
		ctf_float(double, d, d)
		ctf_string(s, s)
	)
)

TRACEPOINT_EVENT(rttng_filt, other,
	TP_ARGS(int64_t, idx, int32_t, v),
	TP_FIELDS(
		ctf_integer(int64_t, idx, idx)
		ctf_integer(int32_t, v, v)
	)
)

#endif /* RTTNG_FILTER_TP_H */

#include <lttng/tracepoint-event.h>

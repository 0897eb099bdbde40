/*
 * bench_tp.h: LTTng-UST 2.13 tracepoint provider `rttng_bench`, the event of
 * the LTTng-UST baseline benchmark (ust_bench.c). One event, `event`, with the
 * payload rttng's own tracer benchmark also records: an int64, an int32, a
 * uint8 and a short string. It deliberately has no context fields of its own.
 */
#undef TRACEPOINT_PROVIDER
#define TRACEPOINT_PROVIDER rttng_bench

#undef TRACEPOINT_INCLUDE
#define TRACEPOINT_INCLUDE "./bench_tp.h"

#if !defined(RTTNG_BENCH_TP_H) || defined(TRACEPOINT_HEADER_MULTI_READ)
#define RTTNG_BENCH_TP_H

#include <lttng/tracepoint.h>
#include <stdint.h>

TRACEPOINT_EVENT(rttng_bench, event,
	TP_ARGS(int64_t, a, int32_t, b, uint8_t, c, const char *, s),
	TP_FIELDS(
		ctf_integer(int64_t, a, a)
		ctf_integer(int32_t, b, b)
		ctf_integer(uint8_t, c, c)
		ctf_string(s, s)
	)
)

#endif /* RTTNG_BENCH_TP_H */

#include <lttng/tracepoint-event.h>

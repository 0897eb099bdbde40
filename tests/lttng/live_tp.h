/*
 * live_tp.h: LTTng-UST 2.13 tracepoint provider `rttng_live`, the events of
 * live_app (the paced app of the live-mode tests). Two event classes, the
 * second one first hit after the pause, so that the viewers see the metadata
 * grow while they read. Nothing else.
 */
#undef TRACEPOINT_PROVIDER
#define TRACEPOINT_PROVIDER rttng_live

#undef TRACEPOINT_INCLUDE
#define TRACEPOINT_INCLUDE "./live_tp.h"

#if !defined(RTTNG_LIVE_TP_H) || defined(TRACEPOINT_HEADER_MULTI_READ)
#define RTTNG_LIVE_TP_H

#include <lttng/tracepoint.h>
#include <stdint.h>

TRACEPOINT_EVENT(rttng_live, tick,
	TP_ARGS(uint64_t, seq, const char *, msg),
	TP_FIELDS(
		ctf_integer(uint64_t, seq, seq)
		ctf_string(msg, msg)
	)
)

TRACEPOINT_EVENT(rttng_live, late,
	TP_ARGS(uint64_t, seq, int32_t, value),
	TP_FIELDS(
		ctf_integer(uint64_t, seq, seq)
		ctf_integer(int32_t, value, value)
	)
)

#endif /* RTTNG_LIVE_TP_H */

#include <lttng/tracepoint-event.h>

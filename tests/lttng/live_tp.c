/*
 * live_tp.c: instantiates the `rttng_live` tracepoint provider declared in
 * live_tp.h. It holds no logic of its own.
 */
#define TRACEPOINT_CREATE_PROBES
#define TRACEPOINT_DEFINE

#include "live_tp.h"

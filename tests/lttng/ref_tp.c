/*
 * ref_tp.c: instantiates the `rttng_ref` tracepoint provider (probes and
 * tracepoint definitions) declared in ref_tp.h. It holds no logic of its own.
 */
#define TRACEPOINT_CREATE_PROBES
#define TRACEPOINT_DEFINE

#include "ref_tp.h"

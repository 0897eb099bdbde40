/*
 * dl_fire.c: a shared object that is its own `rttng_ref` provider and emits
 * rttng_ref:tick from its function dl_fire(), so that the event's `ip` context is an
 * address inside this object (babeltrace2 --debug-info resolves it only if the trace says
 * where the object was loaded). dlopen_app.c calls dl_fire(4) when the object has it.
 */
#define TRACEPOINT_CREATE_PROBES
#define TRACEPOINT_DEFINE

#include "ref_tp.h"

void dl_fire(int seq)
{
	tracepoint(rttng_ref, tick, seq, "in library");
}

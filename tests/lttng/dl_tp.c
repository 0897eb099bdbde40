/*
 * dl_tp.c: the `rttng_ref` provider's probes alone (no call-site objects), built as a
 * shared object that dlopen_app.c loads and unloads at run time.
 */
#define TRACEPOINT_CREATE_PROBES

#include "ref_tp.h"

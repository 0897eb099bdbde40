/*
 * dlopen_app.c: an app whose tracepoint provider is a shared object it dlopens
 * (TRACEPOINT_PROBE_DYNAMIC_LINKAGE: the app itself does not link liblttng-ust).
 * Usage: dlopen_app PROVIDER.so. Emits rttng_ref:tick seq 1 before loading (not
 * recorded: no probe yet), seq 2 while loaded, has the object emit seq 4 if it defines
 * dl_fire (dl_fire.c), then unloads it and emits seq 3 (not recorded), and exits 0.
 */
#define TRACEPOINT_DEFINE
#define TRACEPOINT_PROBE_DYNAMIC_LINKAGE

#include <dlfcn.h>
#include <stdio.h>

#include "ref_tp.h"

int main(int argc, char **argv)
{
	void *provider;
	void (*fire)(int);

	if (argc != 2) {
		fprintf(stderr, "usage: %s PROVIDER.so\n", argv[0]);
		return 2;
	}
	tracepoint(rttng_ref, tick, 1, "before");
	provider = dlopen(argv[1], RTLD_NOW);
	if (!provider) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	tracepoint(rttng_ref, tick, 2, "loaded");
	*(void **) &fire = dlsym(provider, "dl_fire");
	if (fire)
		fire(4);
	if (dlclose(provider) != 0) {
		fprintf(stderr, "dlclose: %s\n", dlerror());
		return 1;
	}
	tracepoint(rttng_ref, tick, 3, "unloaded");
	return 0;
}

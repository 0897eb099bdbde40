/*
 * wrapper.c: dlopen, dlmopen and dlclose of rttng's liblttng-ust-dl.so.1. Each calls the
 * C library's (found with dlsym(RTLD_NEXT)), then reports to rttng's liblttng-ust.so.1
 * with the caller's address: the object just opened (its link map's load bias, name and
 * the flags), or the object about to be closed, then asks it to compare the loaded
 * objects with its last look (lttng_ust_dl_update). Objects loaded at bias 0 (the
 * executable) are not reported, as in LTTng. It keeps no state but the three pointers.
 * It deliberately does not read ELF files or record anything itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>

/* In rttng's liblttng-ust.so.1 (crate rttng-lttng-ust, src/dl.rs). */
extern void rttng_lttng_ust_dl_wrapper_init(void);
extern void rttng_lttng_ust_dl_opened(void *ip, uintptr_t bias, const char *name,
				      int flags, long nsid, int is_dlmopen);
extern void rttng_lttng_ust_dl_closing(void *ip, uintptr_t bias);
extern void lttng_ust_dl_update(void *ip);

typedef void *(*dlopen_fn)(const char *, int);
typedef void *(*dlmopen_fn)(Lmid_t, const char *, int);
typedef int (*dlclose_fn)(void *);

static dlopen_fn next_dlopen;
static dlmopen_fn next_dlmopen;
static dlclose_fn next_dlclose;

/* The next definition of `name` after this library (the C library's). */
static void *next(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		if (!f) {
			fprintf(stderr, "liblttng-ust-dl (rttng): %s\n", dlerror());
			return NULL;
		}
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f;
}

static uintptr_t bias_of(void *handle)
{
	struct link_map *map = NULL;

	if (!handle || dlinfo(handle, RTLD_DI_LINKMAP, &map) == -1 || !map)
		return 0;
	return (uintptr_t) map->l_addr;
}

static const char *name_of(void *handle)
{
	struct link_map *map = NULL;

	if (!handle || dlinfo(handle, RTLD_DI_LINKMAP, &map) == -1 || !map)
		return NULL;
	return map->l_name;
}

__attribute__((constructor)) static void wrapper_init(void)
{
	rttng_lttng_ust_dl_wrapper_init();
}

void *dlopen(const char *filename, int flags)
{
	void *ip = __builtin_return_address(0);
	dlopen_fn f = (dlopen_fn) next((void **) &next_dlopen, "dlopen");
	void *handle;
	uintptr_t bias;

	if (!f)
		return NULL;
	handle = f(filename, flags);
	bias = bias_of(handle);
	if (bias)
		rttng_lttng_ust_dl_opened(ip, bias, name_of(handle), flags, 0, 0);
	lttng_ust_dl_update(ip);
	return handle;
}

void *dlmopen(Lmid_t nsid, const char *filename, int flags)
{
	void *ip = __builtin_return_address(0);
	dlmopen_fn f = (dlmopen_fn) next((void **) &next_dlmopen, "dlmopen");
	void *handle;
	uintptr_t bias;

	if (!f)
		return NULL;
	handle = f(nsid, filename, flags);
	bias = bias_of(handle);
	if (bias)
		rttng_lttng_ust_dl_opened(ip, bias, name_of(handle), flags, (long) nsid, 1);
	lttng_ust_dl_update(ip);
	return handle;
}

int dlclose(void *handle)
{
	void *ip = __builtin_return_address(0);
	dlclose_fn f = (dlclose_fn) next((void **) &next_dlclose, "dlclose");
	uintptr_t bias = bias_of(handle);
	int ret;

	if (!f)
		return -1;
	if (bias)
		rttng_lttng_ust_dl_closing(ip, bias);
	ret = f(handle);
	lttng_ust_dl_update(ip);
	return ret;
}

/*
 * compat.c: the parts of the LTTng-UST 2.13 drop-in that stable Rust cannot define:
 * an exported thread-local variable (the urcu-ust reader pointer that agents and
 * _LGPL_SOURCE objects inline), the urcu-ust read side and grace periods built on it,
 * C-variadic functions (tracef/tracelog), and the tracef/tracelog tracepoint objects
 * that executables copy-relocate. Everything else (probe registration, the ring buffer,
 * the session daemon) is Rust, reached through the rttng_compat_* functions below.
 *
 * It deliberately holds no tracing logic: messages are formatted here and handed over.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>

/* ---------------------------------------------------------------------------------- */
/* urcu-ust: LTTng's "bulletproof" RCU flavour, whose read side is inlined in agents.  */

#define GP_COUNT 1UL
#define GP_CTR_PHASE (1UL << (sizeof(long) << 2))
#define GP_CTR_NEST_MASK (GP_CTR_PHASE - 1)

struct lttng_ust_urcu_gp {
	unsigned long ctr;
} __attribute__((aligned(128)));

struct urcu_reader {
	unsigned long ctr;
	struct urcu_reader *next __attribute__((aligned(128)));
	int alloc;
};

/* Same layout and size as LTTng's (copy-relocated into executables). */
struct lttng_ust_urcu_gp lttng_ust_urcu_gp = { .ctr = GP_COUNT };
/* 1 once membarrier(PRIVATE_EXPEDITED) is registered (constructor below): readers then
 * need only a compiler barrier and grace periods issue the system call; 0: readers use a
 * full barrier. Read by inlined readers in apps and agents too. */
int lttng_ust_urcu_has_sys_membarrier = 0;
/* initial-exec, as LTTng: no __tls_get_addr call on the tracepoint path. */
__thread struct urcu_reader *lttng_ust_urcu_reader __attribute__((tls_model("initial-exec")));

/* The calling thread's records in progress (probe.rs's `ThreadRecords`, a Rust
 * thread-local): initial-exec, so that the event path reads it with two instructions
 * (probe.rs reads it inline on x86-64, through rttng_compat_records elsewhere). Null until
 * the thread's first event and again once its Rust thread-locals are destroyed. Hidden: only
 * this library uses it. */
__attribute__((visibility("hidden"))) __thread void *rttng_compat_records
	__attribute__((tls_model("initial-exec")));

void *rttng_compat_records_get(void)
{
	return rttng_compat_records;
}

void rttng_compat_records_set(void *records)
{
	rttng_compat_records = records;
}

/* Priority 101: before the library's own constructor (an unprioritized .init_array entry),
 * which starts threads. Registering while the process has one thread is cheap; with more,
 * the kernel waits for an RCU grace period (synchronize_rcu), ~10 ms of wall time at every
 * start on a loaded host (bench/startup.sh). */
__attribute__((constructor(101))) static void urcu_membarrier_init(void)
{
	long mask = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0);

	if (mask < 0 || !(mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) != 0)
		return;
	__atomic_store_n(&lttng_ust_urcu_has_sys_membarrier, 1, __ATOMIC_RELEASE);
}

/* The readers' side of a grace period's barrier pair. */
static inline void smp_mb_slave(void)
{
	if (__builtin_expect(__atomic_load_n(&lttng_ust_urcu_has_sys_membarrier, __ATOMIC_RELAXED), 1))
		__asm__ __volatile__("" ::: "memory");
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The writer's side: a barrier on every thread that runs a reader. */
static void smp_mb_master(void)
{
	if (lttng_ust_urcu_has_sys_membarrier &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static struct urcu_reader *readers; /* every registered reader, never freed */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t gp_lock = PTHREAD_MUTEX_INITIALIZER;

void lttng_ust_urcu_register(void)
{
	struct urcu_reader *r;

	if (lttng_ust_urcu_reader)
		return;
	r = calloc(1, sizeof(*r));
	if (!r)
		abort(); /* as LTTng: a reader cannot run without its record */
	r->alloc = 1;
	pthread_mutex_lock(&registry_lock);
	r->next = readers;
	__atomic_store_n(&readers, r, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&registry_lock);
	lttng_ust_urcu_reader = r;
}

void lttng_ust_urcu_register_thread(void)
{
	lttng_ust_urcu_register();
}

static inline __attribute__((always_inline)) void read_lock_of(struct urcu_reader *r)
{
	unsigned long tmp;

	__asm__ __volatile__("" ::: "memory");
	tmp = r->ctr;
	if (!(tmp & GP_CTR_NEST_MASK)) {
		__atomic_store_n(&r->ctr, __atomic_load_n(&lttng_ust_urcu_gp.ctr, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
		smp_mb_slave();
	} else {
		__atomic_store_n(&r->ctr, tmp + GP_COUNT, __ATOMIC_RELAXED);
	}
}

/* The first read-side section of a thread registers its reader (out of line and as a tail
 * call, so that the read side itself saves no register). */
static __attribute__((noinline, cold)) void read_lock_first(void)
{
	lttng_ust_urcu_register();
	read_lock_of(lttng_ust_urcu_reader);
}

void lttng_ust_urcu_read_lock(void)
{
	struct urcu_reader *r = lttng_ust_urcu_reader;

	if (__builtin_expect(!r, 0)) {
		read_lock_first();
		return;
	}
	read_lock_of(r);
}

void lttng_ust_urcu_read_unlock(void)
{
	struct urcu_reader *r = lttng_ust_urcu_reader;
	unsigned long tmp = r->ctr;

	smp_mb_slave();
	__atomic_store_n(&r->ctr, tmp - GP_COUNT, __ATOMIC_RELAXED);
	__asm__ __volatile__("" ::: "memory");
}

int lttng_ust_urcu_read_ongoing(void)
{
	if (!lttng_ust_urcu_reader)
		lttng_ust_urcu_register();
	return (lttng_ust_urcu_reader->ctr & GP_CTR_NEST_MASK) != 0;
}

/* A reader still inside a critical section begun before the last phase flip. */
static int reader_active_old(struct urcu_reader *r)
{
	unsigned long v = __atomic_load_n(&r->ctr, __ATOMIC_RELAXED);

	if (!(v & GP_CTR_NEST_MASK))
		return 0;
	return ((v ^ __atomic_load_n(&lttng_ust_urcu_gp.ctr, __ATOMIC_RELAXED)) & GP_CTR_PHASE) != 0;
}

static void wait_for_readers(void)
{
	struct urcu_reader *r;

	for (r = __atomic_load_n(&readers, __ATOMIC_ACQUIRE); r; r = r->next) {
		unsigned int spins = 0;

		while (reader_active_old(r)) {
			if (++spins < 100) {
				sched_yield();
			} else {
				struct timespec ts = { 0, 100000 };

				nanosleep(&ts, NULL);
			}
		}
	}
}

void lttng_ust_urcu_synchronize_rcu(void)
{
	sigset_t all, old;

	/* Signal handlers may read; never let one run on this thread while it waits. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_mutex_lock(&gp_lock);
	smp_mb_master();
	/* Two phase flips, as liburcu: a reader that read the counter just before the first
	 * flip is waited for by the second. */
	__atomic_store_n(&lttng_ust_urcu_gp.ctr, lttng_ust_urcu_gp.ctr ^ GP_CTR_PHASE, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wait_for_readers();
	__atomic_store_n(&lttng_ust_urcu_gp.ctr, lttng_ust_urcu_gp.ctr ^ GP_CTR_PHASE, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wait_for_readers();
	smp_mb_master();
	pthread_mutex_unlock(&gp_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void lttng_ust_urcu_before_fork(void)
{
	pthread_mutex_lock(&gp_lock);
	pthread_mutex_lock(&registry_lock);
}

void lttng_ust_urcu_after_fork_parent(void)
{
	pthread_mutex_unlock(&registry_lock);
	pthread_mutex_unlock(&gp_lock);
}

void lttng_ust_urcu_after_fork_child(void)
{
	struct urcu_reader *r, *mine = lttng_ust_urcu_reader;

	/* Only this thread survives: the other readers' records are idle forever. */
	for (r = readers; r; r = r->next)
		if (r != mine)
			r->ctr = 0;
	pthread_mutex_unlock(&registry_lock);
	pthread_mutex_unlock(&gp_lock);
}

/* ---------------------------------------------------------------------------------- */
/* tracef / tracelog                                                                    */

struct lttng_ust_tracepoint {
	uint32_t struct_size;
	const char *provider_name;
	const char *event_name;
	int state;
	void *probes;
	int *tracepoint_provider_ref;
	const char *signature;
};

#define TP_OBJECT(prov, event, sig)                                                       \
	struct lttng_ust_tracepoint lttng_ust_tracepoint_##prov##___##event = {             \
		.struct_size = sizeof(struct lttng_ust_tracepoint),                         \
		.provider_name = #prov,                                                     \
		.event_name = #event,                                                       \
		.signature = sig,                                                           \
	};

#define TRACELOG_LEVELS(X)                                                                \
	X(EMERG, 0) X(ALERT, 1) X(CRIT, 2) X(ERR, 3) X(WARNING, 4) X(NOTICE, 5) X(INFO, 6)  \
	X(DEBUG_SYSTEM, 7) X(DEBUG_PROGRAM, 8) X(DEBUG_PROCESS, 9) X(DEBUG_MODULE, 10)      \
	X(DEBUG_UNIT, 11) X(DEBUG_FUNCTION, 12) X(DEBUG_LINE, 13) X(DEBUG, 14)

TP_OBJECT(lttng_ust_tracef, event, "")
#define TRACELOG_OBJECT(L, n) TP_OBJECT(lttng_ust_tracelog, LTTNG_UST_TRACEPOINT_LOGLEVEL_##L, "")
TRACELOG_LEVELS(TRACELOG_OBJECT)

/* Implemented in Rust. */
extern void rttng_compat_tracef(const char *msg, size_t len, void *ip);
extern void rttng_compat_tracelog(int level, const char *file, int line, const char *func,
				  const char *msg, size_t len, void *ip);

/* The state words of the objects above, through the GOT (the executable's copies). */
int *rttng_compat_tracef_state(void)
{
	return &lttng_ust_tracepoint_lttng_ust_tracef___event.state;
}

int *rttng_compat_tracelog_state(int level)
{
	switch (level) {
#define TRACELOG_CASE(L, n)                                                                \
	case n:                                                                            \
		return &lttng_ust_tracepoint_lttng_ust_tracelog___LTTNG_UST_TRACEPOINT_LOGLEVEL_##L.state;
		TRACELOG_LEVELS(TRACELOG_CASE)
	}
	return NULL;
}

void lttng_ust__vtracef(const char *fmt, va_list ap) __attribute__((noinline));
void lttng_ust__vtracef(const char *fmt, va_list ap)
{
	char *msg = NULL;
	int len = vasprintf(&msg, fmt, ap);

	if (len >= 0 && msg)
		rttng_compat_tracef(msg, (size_t)len, __builtin_return_address(0));
	free(msg);
}

void lttng_ust__tracef(const char *fmt, ...) __attribute__((noinline));
void lttng_ust__tracef(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (len >= 0 && msg)
		rttng_compat_tracef(msg, (size_t)len, __builtin_return_address(0));
	free(msg);
}

#define TRACELOG_FUNCS(L, n)                                                               \
	void lttng_ust__vtracelog_LTTNG_UST_TRACEPOINT_LOGLEVEL_##L(                       \
		const char *file, int line, const char *func, const char *fmt, va_list ap)  \
		__attribute__((noinline));                                                 \
	void lttng_ust__vtracelog_LTTNG_UST_TRACEPOINT_LOGLEVEL_##L(                       \
		const char *file, int line, const char *func, const char *fmt, va_list ap)  \
	{                                                                                  \
		char *msg = NULL;                                                          \
		int len = vasprintf(&msg, fmt, ap);                                        \
		if (len >= 0 && msg)                                                       \
			rttng_compat_tracelog(n, file, line, func, msg, (size_t)len,       \
					      __builtin_return_address(0));                \
		free(msg);                                                                 \
	}                                                                                  \
	void lttng_ust__tracelog_LTTNG_UST_TRACEPOINT_LOGLEVEL_##L(                        \
		const char *file, int line, const char *func, const char *fmt, ...)         \
		__attribute__((noinline));                                                 \
	void lttng_ust__tracelog_LTTNG_UST_TRACEPOINT_LOGLEVEL_##L(                        \
		const char *file, int line, const char *func, const char *fmt, ...)         \
	{                                                                                  \
		va_list ap;                                                                \
		char *msg = NULL;                                                          \
		int len;                                                                   \
		va_start(ap, fmt);                                                         \
		len = vasprintf(&msg, fmt, ap);                                            \
		va_end(ap);                                                                \
		if (len >= 0 && msg)                                                       \
			rttng_compat_tracelog(n, file, line, func, msg, (size_t)len,       \
					      __builtin_return_address(0));                \
		free(msg);                                                                 \
	}
TRACELOG_LEVELS(TRACELOG_FUNCS)

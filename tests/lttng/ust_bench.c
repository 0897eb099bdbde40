/*
 * ust_bench.c: the LTTng-UST baseline for rttng's tracer benchmark.
 *
 * Usage: ust_bench --threads T --events N [--disabled] [--pin-cpu C]
 *
 * Starts T threads that each emit N `rttng_bench:event` events as fast as
 * they can, all starting together at a barrier, and prints one line:
 *   lttng-ust threads=T events=N ns_per_event=X
 * where X is the wall time from the first thread's loop start to the last
 * thread's loop end (all start together at a barrier), divided by T*N.
 * `--disabled` states that the event is expected to be disabled (measuring
 * the cost of a disabled tracepoint); the program checks
 * the event's state matches what was asked and fails otherwise, so a lost
 * session cannot pass for a fast tracer. `--pin-cpu C` pins emitting thread
 * t to CPU (C + t) mod the CPU count (as rttng-bench's option does), so that
 * both tracers can be compared on the same vCPU. It deliberately does not talk to
 * the session daemon: the caller records it (see bench-lttng-ust.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_tp.h"

#define MAX_THREADS 1024
#define MAX_EVENTS_PER_THREAD 1000000000ULL

struct worker {
	pthread_t thread;
	pthread_barrier_t *barrier;
	uint64_t events;
	int32_t id;
	int pin_cpu; /* -1: not pinned */
	struct timespec start, end;
};

static void *emit(void *arg)
{
	struct worker *w = arg;
	static const char text[] = "rttng";

	if (w->pin_cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->pin_cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			fprintf(stderr, "ust_bench: cannot pin to CPU %d\n", w->pin_cpu);
	}
	pthread_barrier_wait(w->barrier);
	clock_gettime(CLOCK_MONOTONIC, &w->start);
	for (uint64_t i = 0; i < w->events; i++) {
		tracepoint(rttng_bench, event, (int64_t)i, w->id, (uint8_t)i, text);
	}
	clock_gettime(CLOCK_MONOTONIC, &w->end);
	return NULL;
}

static int64_t ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int parse_u64(const char *text, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s --threads T --events N [--disabled] [--pin-cpu C]\n", argv0);
}

int main(int argc, char **argv)
{
	uint64_t threads = 0, events = 0;
	int disabled = 0;
	int pin_cpu = -1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 1)
		ncpu = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--disabled") == 0) {
			disabled = 1;
		} else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], MAX_THREADS, &threads) != 0) {
				fprintf(stderr, "ust_bench: --threads must be in 1..%d\n", MAX_THREADS);
				return 2;
			}
		} else if (strcmp(argv[i], "--pin-cpu") == 0 && i + 1 < argc) {
			uint64_t c;
			char *end = NULL;
			errno = 0;
			c = strtoull(argv[++i], &end, 10);
			if (errno != 0 || end == argv[i] || *end != '\0' || c >= CPU_SETSIZE) {
				fprintf(stderr, "ust_bench: --pin-cpu must be a CPU number\n");
				return 2;
			}
			pin_cpu = (int)c;
		} else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], MAX_EVENTS_PER_THREAD, &events) != 0) {
				fprintf(stderr, "ust_bench: --events must be in 1..%llu\n",
					MAX_EVENTS_PER_THREAD);
				return 2;
			}
		} else {
			usage(argv[0]);
			return 2;
		}
	}
	if (threads == 0 || events == 0) {
		usage(argv[0]);
		return 2;
	}

	/* liblttng-ust's constructor has waited for the session daemon, so
	 * the event's state is final by now. */
	int enabled = tracepoint_enabled(rttng_bench, event) ? 1 : 0;
	if (enabled == disabled) {
		fprintf(stderr, "ust_bench: rttng_bench:event is %s but %s was asked\n",
			enabled ? "enabled" : "disabled",
			disabled ? "--disabled" : "an enabled event");
		return 1;
	}

	struct worker *workers = calloc(threads, sizeof(*workers));
	pthread_barrier_t barrier;
	if (workers == NULL || pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1) != 0) {
		fprintf(stderr, "ust_bench: out of memory\n");
		return 1;
	}
	for (uint64_t t = 0; t < threads; t++) {
		workers[t].barrier = &barrier;
		workers[t].events = events;
		workers[t].id = (int32_t)t;
		workers[t].pin_cpu = pin_cpu < 0 ? -1 : (int)((pin_cpu + t) % ncpu);
		if (pthread_create(&workers[t].thread, NULL, emit, &workers[t]) != 0) {
			fprintf(stderr, "ust_bench: cannot create thread %" PRIu64 "\n", t);
			return 1;
		}
	}

	pthread_barrier_wait(&barrier);
	for (uint64_t t = 0; t < threads; t++)
		pthread_join(workers[t].thread, NULL);

	/* Wall time: from the first loop start to the last loop end. */
	int64_t first_start = INT64_MAX, last_end = INT64_MIN;
	for (uint64_t t = 0; t < threads; t++) {
		int64_t s = ns_of(&workers[t].start), e = ns_of(&workers[t].end);
		first_start = s < first_start ? s : first_start;
		last_end = e > last_end ? e : last_end;
	}
	double elapsed_ns = (double)(last_end - first_start);
	printf("lttng-ust threads=%" PRIu64 " events=%" PRIu64 " ns_per_event=%.2f\n",
	       threads, events, elapsed_ns / ((double)threads * (double)events));
	pthread_barrier_destroy(&barrier);
	free(workers);
	return 0;
}

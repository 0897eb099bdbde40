/*
 * relay_app.c: the LTTng-UST app of rttng's relay tests.
 *
 * Usage: relay_app EVENTS RATE
 *
 * Emits EVENTS `rttng_bench:event` events (bench_tp.h), RATE per second
 * (0: as fast as it can), paced in batches of at most 100 against
 * CLOCK_MONOTONIC (never faster than asked, never catching up in bursts
 * larger than a batch), then prints `done EVENTS`. Field `a` is the event's
 * sequence number, so a reader can tell which events arrived. It
 * deliberately does not wait for a session daemon: liblttng-ust's constructor
 * already blocks (bounded by LTTNG_UST_REGISTER_TIMEOUT) until the session
 * daemons it finds have registered the app and enabled its events.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_tp.h"

#define RELAY_APP_BATCH 100
#define RELAY_APP_MAX_EVENTS 100000000L

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	char *end;
	long events, rate;
	int64_t start;

	if (argc != 3) {
		fprintf(stderr, "usage: %s EVENTS RATE\n", argv[0]);
		return 2;
	}
	events = strtol(argv[1], &end, 10);
	if (*end || events < 0 || events > RELAY_APP_MAX_EVENTS) {
		fprintf(stderr, "%s: EVENTS must be in 0..%ld\n", argv[0], RELAY_APP_MAX_EVENTS);
		return 2;
	}
	rate = strtol(argv[2], &end, 10);
	if (*end || rate < 0) {
		fprintf(stderr, "%s: RATE must be a non-negative integer\n", argv[0]);
		return 2;
	}
	start = now_ns();
	for (long i = 0; i < events; i++) {
		if (rate > 0 && i % RELAY_APP_BATCH == 0) {
			int64_t due = start + (int64_t) ((double) i * 1e9 / (double) rate);
			int64_t wait = due - now_ns();

			if (wait > 0) {
				struct timespec ts = { wait / 1000000000, wait % 1000000000 };

				nanosleep(&ts, NULL);
			}
		}
		tracepoint(rttng_bench, event, i, (int32_t) (i & 0x7fffffff), (uint8_t) i, "relay");
	}
	printf("done %ld\n", events);
	return 0;
}

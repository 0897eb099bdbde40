/*
 * live_app.c: the paced app of the live-mode tests.
 *
 *   live_app FIRST SECOND INTERVAL_US
 *
 * Emits FIRST `rttng_live:tick` events, one every INTERVAL_US microseconds,
 * prints "paused" and waits for a line on standard input (the test releases
 * it once a live viewer has shown events: proof that they are shown while the
 * app runs), then emits SECOND `rttng_live:late` events at the same pace and
 * prints "done N". It deliberately does nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "live_tp.h"

static void pause_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv)
{
	char line[64];
	unsigned long first, second, i;
	long interval_us;

	if (argc != 4) {
		fprintf(stderr, "usage: %s FIRST SECOND INTERVAL_US\n", argv[0]);
		return 2;
	}
	first = strtoul(argv[1], NULL, 10);
	second = strtoul(argv[2], NULL, 10);
	interval_us = strtol(argv[3], NULL, 10);
	for (i = 0; i < first; i++) {
		tracepoint(rttng_live, tick, i, "tick");
		pause_us(interval_us);
	}
	printf("paused\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	for (i = 0; i < second; i++) {
		tracepoint(rttng_live, late, first + i, (int)(i * 7) - 3);
		pause_us(interval_us);
	}
	printf("done %lu\n", first + second);
	return 0;
}

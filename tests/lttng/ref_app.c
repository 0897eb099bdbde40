/*
 * ref_app.c: the reference application for rttng's LTTng oracle tests.
 *
 * Usage: ref_app [LOOPS]   (default 3, at most REF_APP_MAX_LOOPS)
 *
 * Emits a deterministic set of `rttng_ref:*` events (see ref_tp.h): the
 * payload of every event depends only on the loop index, never on time,
 * randomness or the environment, so two runs differ only in timestamps and
 * process/thread ids. It deliberately does not wait for a session daemon:
 * liblttng-ust's constructor already blocks (bounded by
 * LTTNG_UST_REGISTER_TIMEOUT) until the session daemons it finds have
 * registered the app and enabled its events.
 *
 * Note on empty strings: babeltrace2 2.0.4 recycles event objects per event
 * class, and when a string field (ctf_string, or a ctf_sequence_text of
 * length 0) is empty it often prints the text that field held in an earlier
 * event instead of "". So a field that holds text in some events is empty
 * here only in the first event of its class (a fresh object); the `empty`
 * field is always empty, hence always printed right.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_tp.h"

#define REF_APP_DEFAULT_LOOPS 3
#define REF_APP_MAX_LOOPS 100000

static const char *const strings[] = {
	"hello, world",
	"tab\there, newline\nthere",
	"quote \" and backslash \\ and 'single'",
	"utf-8: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7",
	"ctrl \x01\x1b[0m bell \x07 del \x7f",
	"x",
};

#define STRING_COUNT (sizeof(strings) / sizeof(strings[0]))

int main(int argc, char **argv)
{
	unsigned long loops = REF_APP_DEFAULT_LOOPS;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [LOOPS]\n", argv[0]);
		return 2;
	}
	if (argc == 2) {
		char *end = NULL;

		loops = strtoul(argv[1], &end, 10);
		if (end == argv[1] || *end != '\0' || loops > REF_APP_MAX_LOOPS) {
			fprintf(stderr, "ref_app: LOOPS must be an integer in 0..%d\n",
				REF_APP_MAX_LOOPS);
			return 2;
		}
	}

	tracepoint(rttng_ref, extremes, 0);
	tracepoint(rttng_ref, special_floats, INFINITY, -INFINITY, NAN);
	tracepoint(rttng_ref, empty);

	for (unsigned long n = 0; n < loops; n++) {
		uint64_t i = n;
		const int32_t values[4] = {
			(int32_t)i, -(int32_t)i - 1, INT32_MAX - (int32_t)i, INT32_MIN + (int32_t)i,
		};
		const uint8_t bytes[3] = { (uint8_t)i, (uint8_t)(255 - i), 0x80 };
		const uint16_t shorts[2] = { (uint16_t)(0xbeef + i), 0 };
		const uint32_t words[2] = { 0x01020304u + (uint32_t)i, UINT32_MAX };
		unsigned int count = (unsigned int)(n % 5);
		const char *s = strings[n % STRING_COUNT];
		static const char text[] = "variable-length text";
		/* Zero length only in the first event (see the note at the top). */
		size_t text_len = n == 0 ? 0 : (size_t)(1 + n * 3 % (sizeof(text) - 1));
		/* Enum values walk through every mapping, including unmapped ones. */
		static const unsigned int state_values[] = { 0, 5, 10, 15, 42, 100, 255, 256, 200 };
		static const int delta_values[] = { 0, -1, -99, -100, -500000, 1, 999999, 2000000, -2000000 };
		unsigned int state = state_values[n % (sizeof(state_values) / sizeof(state_values[0]))];
		int delta = delta_values[n % (sizeof(delta_values) / sizeof(delta_values[0]))];

		tracepoint(rttng_ref, integers, i);
		tracepoint(rttng_ref, floats, (double)i * 1.5 + 0.125, (float)i / 3.0f);
		tracepoint(rttng_ref, strings, s, text, text_len);
		tracepoint(rttng_ref, arrays, values, bytes, shorts, words, count);
		tracepoint(rttng_ref, enums, state, delta);
		tracepoint(rttng_ref, tick, i, "tick");
		tracepoint(rttng_ref, tock, i, s);
	}
	return 0;
}

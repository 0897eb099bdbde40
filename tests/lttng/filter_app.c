/*
 * filter_app.c: emits, for each line "N<TAB>U<TAB>D<TAB>S" of the file given
 * as its argument (line number = idx, from 0), one rttng_filt:ev {idx, n=N,
 * u=U, d=D, s=S} and one rttng_filt:other {idx, v=N}. Prints "pid P" first.
 * The values come from the test, which evaluates its own filters over the
 * same file.
 */
#define TRACEPOINT_DEFINE
#define TRACEPOINT_CREATE_PROBES
#include "filter_tp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char line[65536];
	int64_t idx = 0;
	FILE *f;

	if (argc != 2 || !(f = fopen(argv[1], "r"))) {
		fprintf(stderr, "usage: filter_app VALUES-FILE\n");
		return 2;
	}
	printf("pid %d\n", (int) getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), f)) {
		char *fields[4];
		char *p = line;
		int i;

		line[strcspn(line, "\n")] = '\0';
		for (i = 0; i < 3; i++) {
			fields[i] = p;
			p = strchr(p, '\t');
			if (!p) {
				fprintf(stderr, "line %lld: expected 4 tab-separated fields\n", (long long) idx);
				return 1;
			}
			*p++ = '\0';
		}
		fields[3] = p;
		tracepoint(rttng_filt, ev, idx, (int32_t) strtol(fields[0], NULL, 10),
			strtoull(fields[1], NULL, 10), strtod(fields[2], NULL), fields[3]);
		tracepoint(rttng_filt, other, idx, (int32_t) strtol(fields[0], NULL, 10));
		idx++;
	}
	fclose(f);
	printf("done %lld\n", (long long) idx);
	return 0;
}

/*
 * compat_app.c: an LTTng-UST 2.13 application for rttng's drop-in library tests. It
 * links the `rttng_ref` provider (ref_tp.h), prints "ready" once its constructors ran,
 * then waits until its standard input closes, and only then emits one rttng_ref:tick
 * (seq 7, label "x"), one tracef and one tracelog at WARNING. So a test can list its
 * events and set up rules while it runs, or start it before any session daemon exists.
 *
 * With "fork" as argument the emission happens in a fork child (which first emits
 * tick seq 8), and with "exec" the child then executes this program again with "plain".
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lttng/tracef.h>
#include <lttng/tracelog.h>

#include "ref_tp.h"

static void emit(void)
{
	tracepoint(rttng_ref, tick, 7, "x");
	tracef("hello %d", 42);
	tracelog(LTTNG_UST_TRACEPOINT_LOGLEVEL_WARNING, "warn %s", "w");
}

int main(int argc, char **argv)
{
	char buf[64];
	const char *mode = argc > 1 ? argv[1] : "plain";

	printf("ready\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) {
	}
	if (strcmp(mode, "plain") == 0) {
		emit();
		return 0;
	}
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		tracepoint(rttng_ref, tick, 8, "child");
		if (strcmp(mode, "exec") == 0) {
			execl("/proc/self/exe", argv[0], "plain", (char *)NULL);
			return 127;
		}
		emit();
		return 0;
	}
	int status = 0;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status);
}

# agent_bench.py N: the cost of one Python logging call through the LTTng agent, for a
# logger a rule enables and for one no rule enables, measured in this process around N
# calls each, after N/10 warm-up calls: this thread's CPU time (time.thread_time_ns: the
# figure that a loaded host disturbs least) and wall time. Prints one line:
#   python enabled_ns=X quiet_ns=Y enabled_wall_ns=X quiet_wall_ns=Y calls=N
import logging
import sys
import time

import lttngust  # noqa: F401  (registers with the session daemons before returning)

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
enabled = logging.getLogger("bench.enabled")
quiet = logging.getLogger("bench.quiet")


def per_call(logger):
    for i in range(n // 10):
        logger.info("warm-up %d", i)
    c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
    for i in range(n):
        logger.info("message %d", i)
    return (time.thread_time_ns() - c0) / n, (time.perf_counter_ns() - w0) / n


e, ew = per_call(enabled)
q, qw = per_call(quiet)
print(
    f"python enabled_ns={e:.0f} quiet_ns={q:.0f} enabled_wall_ns={ew:.0f} quiet_wall_ns={qw:.0f} calls={n}",
    flush=True,
)

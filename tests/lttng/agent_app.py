# agent_app.py: the Python logging app of rttng's agent tests (python3-lttngust).
# Three loggers: enabled_logger (enabled by name), lvl_logger (enabled by a glob with
# --loglevel WARNING) and quiet_logger (enabled by no rule). Prints "ready" once its
# loggers exist and the agent registered, waits for a line (or EOF) on stdin, logs, and
# prints "done". It deliberately logs nothing else.
import logging
import sys

import lttngust  # noqa: F401  (registers with the session daemons before returning)

enabled = logging.getLogger("enabled_logger")
lvl = logging.getLogger("lvl_logger")
quiet = logging.getLogger("quiet_logger")
print("ready", flush=True)
sys.stdin.readline()
for i in range(3):
    enabled.info("hello %d", i)
    enabled.debug("debug %d", i)
    lvl.info("lvl info %d", i)
    lvl.error("lvl error %d", i)
    quiet.warning("quiet %d", i)
print("done", flush=True)

#!/bin/sh
# The main job: trace the bundled example app end to end. Builds the command line, the
# session and consumer daemons and the example app, then runs `rttng demo`, which starts a
# session daemon if none answers, creates a session, enables every user-space event, runs
# rttng-example, stops, prints the events and the trace path. Extra arguments go to
# rttng-example after `--` (e.g. scripts/demo.sh -- --count 100 --threads 2).
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p rttng -p rttng-sessiond -p rttng-consumerd -p rttng-example
exec "${CARGO_TARGET_DIR:-target}/release/rttng" demo "$@"

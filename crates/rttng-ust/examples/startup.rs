//! `startup`: the smallest app instrumented with rttng-ust, for `bench/startup.sh`: process
//! init ([`rttng_ust::init`]: clock, fork handlers, the registration thread's start) and one
//! `tracepoint!` call site, then exit. It measures what linking and starting the tracer cost
//! an app when no session daemon runs; it deliberately does nothing else.

fn main() {
    rttng_ust::init();
    let args = std::env::args().count() as u64;
    rttng_ust::tracepoint!(rttng_startup, ready, INFO, args: u64 = args);
}

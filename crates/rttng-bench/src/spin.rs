//! `rttng-bench spin`: the machine's own scaling, for reading the tracer's.
//!
//! Each thread runs the same integer loop (no memory traffic, no system call): four
//! independent xorshift chains, so that, like the event path, it retires several
//! instructions per cycle and slows down when a sibling hardware thread of the host is
//! busy (a dependent chain of one instruction per cycle would not notice). The line gives
//! the aggregate time per iteration. The 1-thread time over the 2-thread
//! one is how much a second thread can add on this machine at this moment: on a shared
//! host another guest's load takes time from one vCPU, and then no program scales 2×.

use std::hint::black_box;
use std::time::Instant;

/// Runs `iterations` steps of four xorshift generators on each of `threads` threads and
/// prints `spin threads=T iterations=N ns_per_iteration=X` (X = wall time / (T × N)).
pub(crate) fn run(threads: u32, iterations: u64) {
    let threads = threads.max(1);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                let seed = black_box(0x9e37_79b9_7f4a_7c15_u64 ^ u64::from(t));
                let mut x = [seed, seed ^ 1, seed ^ 2, seed ^ 3];
                for _ in 0..iterations {
                    for v in &mut x {
                        *v ^= *v << 13;
                        *v ^= *v >> 7;
                        *v ^= *v << 17;
                    }
                }
                black_box(x)
            });
        }
    });
    let ns = start.elapsed().as_nanos() as f64 / (f64::from(threads) * iterations as f64);
    println!("spin threads={threads} iterations={iterations} ns_per_iteration={ns:.3}");
}

//! `rttng-bench spin`: the machine's own scaling, for reading the tracer's.
//!
//! Each thread runs the same integer loop (no memory traffic, no system call): eight
//! interleaved chains of additions and xors, so that, like the event path, it retires
//! several instructions per cycle, and so slows down more than a single dependent chain
//! when the host shares the core. The line gives the aggregate time per iteration. It
//! shows what a second thread can add at that moment; it does not capture all of the
//! host's interference with the event path (BENCHMARKS.md, session 3).

use std::hint::black_box;
use std::time::Instant;

/// Runs `iterations` steps of the eight chains on each of `threads` threads and
/// prints `spin threads=T iterations=N ns_per_iteration=X` (X = wall time / (T × N)).
pub(crate) fn run(threads: u32, iterations: u64) {
    let threads = threads.max(1);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                let mut x = [1u64, 2, 3, 4, 5, 6, 7, 8].map(|v| black_box(v ^ u64::from(t)));
                for i in 0..iterations {
                    // Opaque, so that no step folds into a closed form or a vector op.
                    let i = black_box(i);
                    x[0] = x[0].wrapping_add(i);
                    x[1] ^= x[0];
                    x[2] = x[2].wrapping_add(x[1]);
                    x[3] ^= i;
                    x[4] = x[4].wrapping_add(x[3]);
                    x[5] ^= x[4];
                    x[6] = x[6].wrapping_add(i);
                    x[7] ^= x[6];
                }
                black_box(x)
            });
        }
    });
    let ns = start.elapsed().as_nanos() as f64 / (f64::from(threads) * iterations as f64);
    println!("spin threads={threads} iterations={iterations} ns_per_iteration={ns:.3}");
}

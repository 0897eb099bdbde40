//! `tracing` events recorded by rttng: `rttng create; rttng enable-event -u 'rust_tracing:*';
//! rttng start; cargo run --release -p tracing-rttng --example tracing_demo [COUNT];
//! rttng stop; rttng view`. Prints `done N`.

use tracing_subscriber::prelude::*;

fn main() {
    tracing_subscriber::registry()
        .with(tracing_rttng::layer())
        .init();
    let count: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    for i in 0..count {
        tracing::info!(iteration = i, "working on item {}", i);
        if i % 2 == 1 {
            tracing::warn!(target: "demo::disk", free_mb = 100 - i, "disk almost full");
        }
    }
    tracing::error!(code = 7, "finished with a fake error");
    println!("done {count}");
}

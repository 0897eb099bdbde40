//! `log` records recorded by rttng: `rttng create; rttng enable-event -u 'rust_log:*';
//! rttng start; cargo run --release -p rttng-log --example log_demo [COUNT]; rttng stop;
//! rttng view`. Prints `done N`.

fn main() {
    rttng_log::init().expect("no other logger");
    let count: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    for i in 0..count {
        log::info!(iteration = i; "working on item {}", i);
        if i % 2 == 1 {
            log::warn!(target: "demo::disk", free_mb = 100 - i; "disk almost full");
        }
    }
    log::error!(code = 7; "finished with a fake error");
    println!("done {count}");
}

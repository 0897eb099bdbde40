//! `session_probe`: the instrumented app of rttng's session tests. It registers with the
//! session daemon, prints `registered`, then emits `N` events of each of four tracepoints
//! with different names and log levels (`seq` = 0..N), and prints `emitted N`.
//! `--loop-until FILE`: first emits `probe:spin` events (seq 0, 1, …, one per millisecond)
//! until FILE exists. `--hang`: after `emitted`, waits forever (to be killed).
//! It deliberately does nothing else.

use std::io::Write;

const MAX_LOOP_EVENTS: u64 = 10_000_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut count = 10u64;
    let mut loop_until: Option<String> = None;
    let mut hang = false;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--count" => {
                i += 1;
                count = args.get(i).and_then(|v| v.parse().ok()).unwrap_or(10);
            }
            "--loop-until" => {
                i += 1;
                loop_until = args.get(i).cloned();
            }
            "--hang" => hang = true,
            other => {
                eprintln!("session_probe: unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    rttng_ust::init();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "registered");
    let _ = out.flush();
    if let Some(path) = loop_until {
        let mut seq = 0u64;
        while !std::path::Path::new(&path).exists() && seq < MAX_LOOP_EVENTS {
            rttng_ust::tracepoint!(probe, spin, INFO, seq: u64 = seq);
            seq += 1;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    for seq in 0..count {
        rttng_ust::tracepoint!(probe, info, INFO, seq: u64 = seq);
        rttng_ust::tracepoint!(probe, debug, DEBUG, seq: u64 = seq);
        rttng_ust::tracepoint!(probe, warn, WARNING, seq: u64 = seq, text: &str = "warn");
        rttng_ust::tracepoint!(other, info, INFO, seq: u64 = seq);
    }
    let _ = writeln!(out, "emitted {count}");
    let _ = out.flush();
    if hang {
        loop {
            std::thread::park();
        }
    }
}

//! Serves a trace directory on a live port: `serve_dir DIR PORT [HOSTNAME SESSION]`; the
//! session closes once a file `DIR.closed` exists. For trying viewers by hand.
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rttng_live::dir::{DirRelay, DirSession};
use rttng_live::server::{LiveServer, RelaySession};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: serve_dir DIR PORT [HOSTNAME SESSION]");
        std::process::exit(2);
    }
    let closed = Arc::new(AtomicBool::new(false));
    let marker = std::path::PathBuf::from(format!("{}.closed", args[1]));
    let c2 = closed.clone();
    std::thread::spawn(move || loop {
        if marker.exists() {
            c2.store(true, std::sync::atomic::Ordering::Release);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    });
    let relay = Arc::new(DirRelay::new(vec![DirSession {
        info: RelaySession {
            id: 1,
            hostname: args.get(3).cloned().unwrap_or_else(|| "host".into()),
            name: args.get(4).cloned().unwrap_or_else(|| "dir".into()),
            live_timer_us: 1_000_000,
        },
        root: args[1].clone().into(),
        closed,
    }]));
    let server = LiveServer::start(&format!("127.0.0.1:{}", args[2]), relay).unwrap_or_else(|e| {
        eprintln!("Error: {e}");
        std::process::exit(1)
    });
    println!("serving on {}", server.local_addr());
    loop {
        std::thread::park();
    }
}

//! tracing-rttng's integration test: `tracing` events through the layer into a daemon-less
//! rttng-ust session (`rttng_ust_local::LocalSession`), read back by babeltrace2. A level whose
//! event is not enabled must record nothing and format nothing.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use rttng_ust_local::{LocalConfig, LocalSession};
use tracing_subscriber::prelude::*;

static FORMATTED: AtomicUsize = AtomicUsize::new(0);

/// Counts how often it is formatted.
struct Counted(u32);

impl std::fmt::Debug for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        FORMATTED.fetch_add(1, Ordering::Relaxed);
        write!(f, "counted-{}", self.0)
    }
}

#[test]
fn levels_fields_and_nothing_formatted_when_disabled() {
    tracing_subscriber::registry()
        .with(tracing_rttng::layer())
        .init();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("tracing-rttng-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = LocalConfig::new(&dir);
    cfg.enable = vec!["rust_tracing:warn".into()];
    let session = LocalSession::start(&cfg).expect("local session");

    tracing::warn!(target: "disk", user = 42, path = "/var", "almost full: {}", 93);
    tracing::info!(c = ?Counted(1), "not recorded");
    tracing::error!(c = ?Counted(2), "not recorded either");
    assert_eq!(
        FORMATTED.load(Ordering::Relaxed),
        0,
        "nothing formatted for disabled levels"
    );

    let report = session.stop().expect("stop");
    let out = Command::new("babeltrace2")
        .arg(&report.trace_dir)
        .output()
        .expect("babeltrace2 (apt-get install babeltrace2)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains(" rust_tracing:warn: "), "{}", lines[0]);
    assert!(
        lines[0].ends_with(
            "{ target = \"disk\", module = \"it\", file = \"crates/tracing-rttng/tests/it/main.rs\", \
             line = 36, message = \"almost full: 93\", fields = \"user=42 path=\\\"/var\\\"\" }"
        ),
        "{}",
        lines[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

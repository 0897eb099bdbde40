//! rttng-log's integration test: `log` records through the logger into a daemon-less
//! rttng-ust session (`rttng_ust_local::LocalSession`), read back by babeltrace2. A level whose
//! event is not enabled must record nothing and format nothing.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use rttng_ust_local::{LocalConfig, LocalSession};

static FORMATTED: AtomicUsize = AtomicUsize::new(0);

/// Counts how often it is formatted.
struct Counted(u32);

impl std::fmt::Display for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        FORMATTED.fetch_add(1, Ordering::Relaxed);
        write!(f, "counted-{}", self.0)
    }
}

fn babeltrace(dir: &std::path::Path) -> String {
    let out = Command::new("babeltrace2")
        .arg(dir)
        .output()
        .expect("babeltrace2 (apt-get install babeltrace2)");
    assert!(
        out.status.success(),
        "babeltrace2 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn levels_fields_and_nothing_formatted_when_disabled() {
    rttng_log::init().expect("first logger");
    let dir: PathBuf = std::env::temp_dir().join(format!("rttng-log-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = LocalConfig::new(&dir);
    cfg.enable = vec!["rust_log:error".into(), "rust_log:warn".into()];
    let session = LocalSession::start(&cfg).expect("local session");

    log::error!(target: "db", user = 42, ok = true; "connect failed after {} ms", 12);
    log::warn!("plain {}", Counted(1));
    log::info!("not recorded {}", Counted(2));
    log::debug!("not recorded {}", Counted(3));
    log::trace!("not recorded {}", Counted(4));
    assert_eq!(
        FORMATTED.load(Ordering::Relaxed),
        1,
        "only the enabled level's message is formatted"
    );

    let report = session.stop().expect("stop");
    let text = babeltrace(&report.trace_dir);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains(" rust_log:error: "), "{}", lines[0]);
    let file = "crates/rttng-log/tests/it/main.rs";
    assert!(
        lines[0].ends_with(&format!(
            "{{ target = \"db\", module = \"it\", file = \"{file}\", line = 45, \
             message = \"connect failed after 12 ms\", kv = \"user=42 ok=true\" }}"
        )),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(" rust_log:warn: "), "{}", lines[1]);
    assert!(
        lines[1].ends_with("message = \"plain counted-1\", kv = \"\" }"),
        "{}",
        lines[1]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

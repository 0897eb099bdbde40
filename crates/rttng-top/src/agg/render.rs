//! The tables of `rttng top` as the user sees them: the sort keys, sorting and filtering
//! task rows, human-readable rates, and the `--batch` text. Not here: computing the figures
//! (`agg.rs`), the terminal UI (`tui.rs`).

use super::{Snapshot, TaskRow};

/// The columns the task table sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Cpu,
    Syscalls,
    Read,
    Write,
    Net,
    Tid,
    Name,
}

impl SortKey {
    pub const ALL: [SortKey; 7] = [
        SortKey::Cpu,
        SortKey::Syscalls,
        SortKey::Read,
        SortKey::Write,
        SortKey::Net,
        SortKey::Tid,
        SortKey::Name,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Cpu => "CPU%",
            SortKey::Syscalls => "SYSCALLS/s",
            SortKey::Read => "READ B/s",
            SortKey::Write => "WRITE B/s",
            SortKey::Net => "NET B/s",
            SortKey::Tid => "TID",
            SortKey::Name => "NAME",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "cpu" => SortKey::Cpu,
            "syscalls" => SortKey::Syscalls,
            "read" => SortKey::Read,
            "write" => SortKey::Write,
            "net" => SortKey::Net,
            "tid" => SortKey::Tid,
            "name" => SortKey::Name,
            _ => return None,
        })
    }
}

/// Sorts rows: numbers descending (ties by total, then tid), TID and NAME ascending.
pub fn sort_tasks(rows: &mut [TaskRow], key: SortKey) {
    let num = |r: &TaskRow| match key {
        SortKey::Cpu => r.cpu_ns as f64,
        SortKey::Syscalls => r.syscalls as f64,
        SortKey::Read => r.read_bytes_per_s,
        SortKey::Write => r.write_bytes_per_s,
        SortKey::Net => r.net_bytes_per_s,
        SortKey::Tid | SortKey::Name => 0.0,
    };
    match key {
        SortKey::Tid => rows.sort_by_key(|r| r.tid),
        SortKey::Name => rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.tid.cmp(&b.tid))),
        _ => rows.sort_by(|a, b| {
            num(b)
                .total_cmp(&num(a))
                .then(b.total_cpu_ns.cmp(&a.total_cpu_ns))
                .then(a.tid.cmp(&b.tid))
        }),
    }
}

/// Rows whose name contains `filter` (or whose tid is it).
pub fn filter_tasks<'r>(rows: &'r [TaskRow], filter: &str) -> Vec<&'r TaskRow> {
    rows.iter()
        .filter(|r| filter.is_empty() || r.name.contains(filter) || r.tid.to_string() == filter)
        .collect()
}

/// Bytes per second as a short human figure (`1.5K`, `20M`).
pub fn human(v: f64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut v = v;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

/// The tables as text (`--batch`): at most `max_rows` rows each.
pub fn render_text(s: &Snapshot, sort: SortKey, filter: &str, max_rows: usize) -> String {
    use std::fmt::Write;
    let mut rows = s.tasks.clone();
    sort_tasks(&mut rows, sort);
    let rows = filter_tasks(&rows, filter);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8} {:<16} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "TID",
        "NAME",
        "CPU%",
        "SYSCALLS",
        "SYSCALLS/s",
        "READ B/s",
        "WRITE B/s",
        "NET B/s",
        "CPU ms"
    );
    for r in rows.iter().take(max_rows) {
        let _ = writeln!(
            out,
            "{:>8} {:<16} {:>6.1} {:>10} {:>10.0} {:>10} {:>10} {:>10} {:>10.1}",
            r.tid,
            r.name,
            r.cpu_percent,
            r.syscalls,
            r.syscalls_per_s,
            human(r.read_bytes_per_s),
            human(r.write_bytes_per_s),
            human(r.net_bytes_per_s),
            r.cpu_ns as f64 / 1e6
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<24} {:>10} {:>10}", "SYSCALL", "COUNT", "PER SEC");
    for r in s.syscalls.iter().filter(|r| r.count > 0).take(max_rows) {
        let _ = writeln!(out, "{:<24} {:>10} {:>10.0}", r.name, r.count, r.per_s);
    }
    if !s.user.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<40} {:>10} {:>10}",
            "USER EVENT", "COUNT", "PER SEC"
        );
        for r in s.user.iter().filter(|r| r.count > 0).take(max_rows) {
            let _ = writeln!(out, "{:<40} {:>10} {:>10.1}", r.name, r.count, r.per_s);
        }
    }
    out
}

/// The totals since the start, one line per task (`--batch`'s last table), by total system
/// calls when sorting by system calls, else by total CPU time.
pub fn render_totals(s: &Snapshot, sort: SortKey, filter: &str, max_rows: usize) -> String {
    use std::fmt::Write;
    let mut rows = s.tasks.clone();
    let key = |r: &TaskRow| match sort {
        SortKey::Syscalls => (r.total_syscalls, r.total_cpu_ns),
        _ => (r.total_cpu_ns, r.total_syscalls),
    };
    rows.sort_by(|a, b| key(b).cmp(&key(a)).then(a.tid.cmp(&b.tid)));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8} {:<16} {:>14} {:>14}",
        "TID", "NAME", "TOTAL CPU ns", "TOTAL SYSCALLS"
    );
    for r in filter_tasks(&rows, filter).iter().take(max_rows) {
        let _ = writeln!(
            out,
            "{:>8} {:<16} {:>14} {:>14}",
            r.tid, r.name, r.total_cpu_ns, r.total_syscalls
        );
    }
    out
}

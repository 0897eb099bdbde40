//! `session_probe`: the instrumented app of rttng's session tests. It registers with the
//! session daemon, prints `registered`, then emits `N` events of each of four tracepoints
//! with different names and log levels (`seq` = 0..N), and prints `emitted N`.
//! `--loop-until FILE`: first emits `probe:spin` events (seq 0, 1, …, one per millisecond)
//! until FILE exists. `--hang`: after `emitted`, waits forever (to be killed).
//! `--fork`: after `emitted`, forks a child that emits `probe:child` (seq 0..N), then
//! forks a grandchild that execs this program with `--exec-events N`, which emits only
//! `probe:exec` (seq 0..N); each waits for its child, and the program prints
//! `forked ok` when all three generations succeeded.
//! It deliberately does nothing else.

use std::io::Write;

const MAX_LOOP_EVENTS: u64 = 10_000_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut count = 10u64;
    let mut loop_until: Option<String> = None;
    let mut hang = false;
    let mut fork = false;
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
            "--fork" => fork = true,
            "--exec-events" => {
                i += 1;
                let n = args.get(i).and_then(|v| v.parse().ok()).unwrap_or(10);
                for seq in 0..n {
                    rttng_ust::tracepoint!(probe, exec, INFO, seq: u64 = seq);
                }
                std::process::exit(0);
            }
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
    if fork {
        let ok = run_child(|| {
            for seq in 0..count {
                rttng_ust::tracepoint!(probe, child, INFO, seq: u64 = seq);
            }
            // A traced fork child forks again (double-fork daemons do) and the grandchild
            // execs.
            run_child(|| {
                let exe = std::ffi::CString::new("/proc/self/exe").unwrap_or_default();
                let argv = [
                    std::ffi::CString::new("session_probe").unwrap_or_default(),
                    std::ffi::CString::new("--exec-events").unwrap_or_default(),
                    std::ffi::CString::new(count.to_string()).unwrap_or_default(),
                ];
                let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
                ptrs.push(std::ptr::null());
                // SAFETY: NUL-terminated strings and a null-terminated argv that outlive
                // the call; execv returns only on failure.
                unsafe { libc::execv(exe.as_ptr(), ptrs.as_ptr()) };
                false
            })
        });
        if ok {
            let _ = writeln!(out, "forked ok");
            let _ = out.flush();
        } else {
            std::process::exit(3);
        }
    }
    if hang {
        loop {
            std::thread::park();
        }
    }
}

/// Forks; the child runs `body` and exits with 0 if it returned true, 1 otherwise. The
/// parent waits for it and returns whether it exited with 0.
fn run_child(body: impl FnOnce() -> bool) -> bool {
    // SAFETY: forking a multi-threaded process: the child has only this thread, so it
    // must not need a lock another thread held at the fork. It runs `body`, which
    // allocates (glibc's own fork handlers reset malloc's locks) and traces (the tracer's
    // fork handlers take its control lock around the fork and reset its state in the
    // child); no other thread of this program uses stdout, the only std lock `exit`
    // takes. Then it exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return false;
    }
    if pid == 0 {
        std::process::exit(if body() { 0 } else { 1 });
    }
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid out pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

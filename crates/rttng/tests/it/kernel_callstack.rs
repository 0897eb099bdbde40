//! Issue 16, kernel call stacks: `add-context -k -t callstack-kernel -t callstack-user`
//! through the real daemons (eBPF stack walks matched to tracefs records), read back by
//! babeltrace2 (and `rttng view`, which must print the same). A C program the test builds
//! (frame pointers, no PIE, so `nm` gives its run-time addresses) calls `getppid` straight
//! from `marker_fn` with a `syscall` instruction and then exits. The values are checked
//! against oracles outside rttng: each kernel address resolves through /proc/kallsyms to the
//! kernel function that must be on that path (`do_syscall_64` for the system call, `do_exit`
//! for the exit tracepoint), the first user frame lies inside `marker_fn` and the second
//! inside `main` (nm -S), and the metadata declares the fields as lttng-modules 2.13 does.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::session_support::*;
use crate::support::{require_tools, run_bounded};

const PROGRAM_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

/* The system call straight from here: the first user frame (the instruction after
 * `syscall`) lies in marker_fn, and its frame pointer leads to main. */
__attribute__((noinline)) long marker_fn(void)
{
	long ret;
	__asm__ volatile ("syscall" : "=a"(ret) : "0"((long)SYS_getppid) : "rcx", "r11", "memory");
	return ret;
}

int main(void)
{
	char line[8];
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 1;
	marker_fn();
	return 0;
}
"#;

/// `nm -S` of `bin`: (start, size) of text symbol `name`.
fn symbol_range(bin: &Path, name: &str) -> (u64, u64) {
    let out = run_bounded(Command::new("nm").arg("-S").arg(bin), CMD_TIMEOUT).expect("nm runs");
    assert!(out.status.success(), "nm: {}", out.stderr_quote());
    out.stdout_text()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [a, s, "T" | "t", n] if n == name => Some((
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(s, 16).ok()?,
                )),
                _ => None,
            }
        })
        .unwrap_or_else(|| panic!("no {name} in nm -S of {}", bin.display()))
}

/// /proc/kallsyms' text symbols (real addresses: the test runs as root), sorted.
fn kallsyms() -> Vec<(u64, String)> {
    let text = std::fs::read_to_string("/proc/kallsyms").expect("/proc/kallsyms");
    let mut v: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (a, kind, name) = (it.next()?, it.next()?, it.next()?);
            if !matches!(kind, "t" | "T") {
                return None;
            }
            Some((u64::from_str_radix(a, 16).ok()?, name.to_string()))
        })
        .collect();
    v.sort();
    assert!(
        v.iter().any(|(a, _)| *a != 0),
        "/proc/kallsyms shows no addresses: run as root (kernel.kptr_restrict)"
    );
    v
}

/// The kernel function holding `addr`: the closest text symbol at or below it.
fn resolve(syms: &[(u64, String)], addr: u64) -> Option<&str> {
    let i = syms.partition_point(|(a, _)| *a <= addr);
    i.checked_sub(1).map(|i| syms[i].1.as_str())
}

/// The `NAME = [ [0] = 0x…, … ]` sequence of a babeltrace2 line, and its `_NAME_length`.
fn sequence(line: &str, name: &str) -> Vec<u64> {
    let len_key = format!("_{name}_length = ");
    let len: usize = line
        .split_once(&len_key)
        .and_then(|(_, r)| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {len_key} in {line}"));
    let key = format!(" {name} = [");
    let body = line
        .split_once(&key)
        .map(|(_, r)| r.split_once(" ]").map_or(r, |(b, _)| b))
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    let v: Vec<u64> = body
        .split(", ")
        .filter_map(|e| e.trim().split_once(" = "))
        .map(|(_, x)| {
            u64::from_str_radix(x.trim_start_matches("0x"), 16)
                .unwrap_or_else(|_| panic!("not a hex address: {x} in {line}"))
        })
        .collect();
    assert_eq!(v.len(), len, "{name}: length and entries differ in {line}");
    v
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name} = ");
    let (_, rest) = line.split_once(&key)?;
    rest.split([',', ' ']).next()
}

#[test]
fn issue_16_kernel_callstacks_resolve_to_the_known_functions() {
    require_kernel_tracing();
    require_tools(&[
        ("babeltrace2", "babeltrace2"),
        ("gcc", "gcc"),
        ("nm", "binutils"),
        ("xmllint", "libxml2-utils"),
    ])
    .unwrap_or_else(|h| panic!("{h}"));
    let w = World::new("kernel-callstack");
    let src = w.tmp.path().join("stackmark.c");
    std::fs::write(&src, PROGRAM_C).unwrap();
    let bin = w.tmp.path().join("stackmark");
    let cc = run_bounded(
        Command::new("gcc")
            .args(["-fno-omit-frame-pointer", "-O0", "-no-pie", "-o"])
            .arg(&bin)
            .arg(&src),
        CMD_TIMEOUT,
    )
    .expect("gcc runs");
    assert!(cc.status.success(), "gcc: {}", cc.stderr_quote());
    let marker = symbol_range(&bin, "marker_fn");
    let main = symbol_range(&bin, "main");

    let out = w.create(&["kstack16"]);
    w.ok(&["enable-event", "-k", "--syscall", "getppid"]);
    w.ok(&["enable-event", "-k", "sched_process_exit"]);
    // A second channel with the same tracepoint: each channel's record gets the stacks (one
    // eBPF record per hit serves both).
    w.ok(&["enable-event", "-k", "sched_process_exit", "-c", "other"]);
    let added = w.rttng(&[
        "add-context",
        "-k",
        "-t",
        "tid",
        "-t",
        "callstack-kernel",
        "-t",
        "callstack-user",
    ]);
    assert!(added.status.success(), "{}", added.stderr_quote());
    let said = added.stdout_text();
    for t in ["callstack-kernel", "callstack-user"] {
        assert!(
            said.contains(&format!("kernel context {t} added to all channels")),
            "{said}"
        );
    }
    // This kernel caps eBPF walks at kernel.perf_event_max_stack: below lttng's 128 the
    // CLI says so.
    let cap: usize = std::fs::read_to_string("/proc/sys/kernel/perf_event_max_stack")
        .expect("perf_event_max_stack")
        .trim()
        .parse()
        .expect("a number");
    let warned = String::from_utf8_lossy(&added.stderr).into_owned();
    assert_eq!(
        warned.contains(&format!("at most {cap} frames are recorded")),
        cap < 128,
        "{warned}"
    );
    let list = w.ok(&["list", "kstack16"]);
    assert!(
        list.matches("Contexts:         tid, callstack-kernel, callstack-user")
            .count()
            == 2,
        "{list}"
    );
    w.ok(&["start"]);
    let mut child = KillOnDrop(
        Command::new(&bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the program"),
    );
    let pid = child.0.id();
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut ready = String::new();
    lines.read_line(&mut ready).expect("program output");
    assert_eq!(ready.trim(), "ready");
    drop(child.0.stdin.take().expect("stdin").write_all(b"go\n"));
    assert!(child.0.wait().expect("program exits").success());
    w.ok(&["stop"]);

    // The declaration, as lttng-modules 2.13 writes it (src/lttng-context-callstack.c,
    // src/lttng-events.c) on x86-64.
    let md = run_bounded(
        Command::new("babeltrace2")
            .args(["--output-format=ctf-metadata"])
            .arg(out.join("kernel")),
        CMD_TIMEOUT,
    )
    .expect("babeltrace2 runs");
    assert!(md.status.success(), "babeltrace2: {}", md.stderr_quote());
    let md = md.stdout_text();
    // rttng's emitter spells an integer that equals one of the metadata's typealiases by the
    // alias (CTF 1.8: base 10 and no encoding by default), so the length may read as
    // `uint32_t` where lttng-modules spells the integer out.
    let alias_u32 = "typealias integer { size = 32; align = 8; signed = false; } := uint32_t;";
    for what in ["kernel", "user"] {
        let length = [
            format!("integer {{ size = 32; align = 8; signed = 0; encoding = none; base = 10; }} __callstack_{what}_length;"),
            format!("uint32_t __callstack_{what}_length;"),
        ];
        let has = |l: &str| md.lines().any(|m| m.trim() == l);
        assert!(
            has(&length[0]) || (has(&length[1]) && has(alias_u32)),
            "metadata lacks `{}`:\n{md}",
            length[0]
        );
        let seq = format!("integer {{ size = 64; align = 8; signed = 0; encoding = none; base = 16; }} _callstack_{what}[ __callstack_{what}_length ];");
        assert!(has(&seq), "metadata lacks `{seq}`:\n{md}");
    }

    // babeltrace2's text, which `rttng view` must print the same.
    let (bt, _) = read_both(&out.join("kernel"));
    let tid = pid.to_string();
    let of_program = |event: &str| -> String {
        bt.lines()
            .find(|l| l.contains(&format!(" {event}: ")) && field(l, "tid") == Some(&tid))
            .unwrap_or_else(|| panic!("no {event} of pid {pid} in:\n{bt}"))
            .to_string()
    };
    let syms = kallsyms();
    let kernel_path = |line: &str| -> Vec<String> {
        let stack = sequence(line, "callstack_kernel");
        assert!(!stack.is_empty(), "empty kernel stack: {line}");
        assert!(stack.len() <= 129, "{line}");
        stack
            .iter()
            .map(|&a| {
                assert!(
                    a >= 0xffff_8000_0000_0000,
                    "not a kernel address {a:#x}: {line}"
                );
                resolve(&syms, a)
                    .unwrap_or_else(|| panic!("{a:#x} is in no kernel function: {line}"))
                    .to_string()
            })
            .collect()
    };

    let entry = of_program("syscall_entry_getppid");
    let kfuncs = kernel_path(&entry);
    eprintln!("{entry}\nkernel functions: {kfuncs:?}");
    assert!(
        kfuncs.iter().any(|f| f == "do_syscall_64"),
        "the system call's kernel stack has no do_syscall_64: {kfuncs:?}\n{entry}"
    );
    let user = sequence(&entry, "callstack_user");
    let inside = |(start, size): (u64, u64), a: u64| a > start && a < start + size;
    assert!(
        user.len() >= 2 && inside(marker, user[0]) && inside(main, user[1]),
        "user stack {user:x?} should start in marker_fn {marker:x?}, then main {main:x?}: {entry}"
    );

    // An ordinary tracepoint: the stack is walked from where it was hit.
    let exit = of_program("sched_process_exit");
    let exits: Vec<&str> = bt
        .lines()
        .filter(|l| l.contains(" sched_process_exit: ") && field(l, "tid") == Some(&tid))
        .collect();
    assert_eq!(exits.len(), 2, "one exit per channel: {exits:#?}");
    let context = |l: &str| l.split_once("{ tid = ").map(|(_, r)| r.to_string());
    assert_eq!(
        context(exits[0]),
        context(exits[1]),
        "both channels' exits carry the same stacks"
    );
    let kfuncs = kernel_path(&exit);
    eprintln!("{exit}\nkernel functions: {kfuncs:?}");
    for f in ["do_exit", "do_syscall_64"] {
        assert!(
            kfuncs.iter().any(|k| k == f),
            "the exit's kernel stack has no {f}: {kfuncs:?}\n{exit}"
        );
    }
    w.ok(&["destroy", "kstack16"]);

    // The MI document of adding them is valid against LTTng's schema (CALLSTACK_KERNEL,
    // CALLSTACK_USER).
    w.create(&["kstack16mi"]);
    w.ok(&["enable-event", "-k", "sched_process_exit"]);
    let mi = w.ok(&[
        "--mi",
        "xml",
        "add-context",
        "-k",
        "-t",
        "callstack-kernel",
        "-t",
        "callstack-user",
    ]);
    assert!(
        mi.contains("<type>CALLSTACK_KERNEL</type>") && mi.contains("<type>CALLSTACK_USER</type>"),
        "{mi}"
    );
    crate::mi::validate(w.tmp.path(), &mi).unwrap_or_else(|e| panic!("{e}\n{mi}"));
    w.ok(&["destroy", "kstack16mi"]);
    assert_eq!(w.kernel_instances("kstack16"), Vec::<String>::new());
}

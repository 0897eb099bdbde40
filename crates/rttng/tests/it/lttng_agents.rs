//! The unmodified LTTng 2.13 agents (python3-lttngust, the JUL and log4j agents of
//! liblttng-ust-agent-java) under rttng's session daemon, through `rttng run`, judged
//! against real LTTng: `tests/lttng/record-agents.sh` records the same three apps
//! (`agent_app.py`, `JulAgentApp.java`, `Log4jAgentApp.java`: per agent a logger enabled by
//! name, one by a glob with a log level, one enabled by no rule) under LTTng 2.13 with the same rules, and
//! babeltrace2 must print both traces the same (times, thread ids and CPUs aside);
//! `list SESSION`'s agent sections must hold lttng's lines, `list -p/-j` the live
//! loggers. Then the protocol itself with a scripted agent: registration, ENABLE/DISABLE
//! as rules come and go, LIST, and hostile agents that must not hurt the daemon.
//!
//! Oracles (lttng-tools, babeltrace2, python3-lttngust, liblttng-ust-agent-java, a JDK)
//! missing make the tests fail with the apt-get line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::lttng_compat::compat_built;
use crate::session_support::{babeltrace2, wait_until, KillOnDrop, World, CMD_TIMEOUT};
use crate::support::{first_difference, repo_root, require_tools, run_bounded, Finished, TempDir};

const RECORD_TIMEOUT: Duration = Duration::from_secs(300);
pub(crate) const JARS: &str = "/usr/share/java/lttng-ust-agent-common.jar:/usr/share/java/lttng-ust-agent-jul.jar:/usr/share/java/lttng-ust-agent-log4j.jar:/usr/share/java/log4j-1.2.jar";
const HINT: &str = "apt-get install lttng-tools babeltrace2 python3-lttngust liblttng-ust-agent-java liblog4j1.2-java default-jdk-headless";

pub(crate) fn require_oracles() {
    if let Err(hint) = require_tools(&[
        ("bash", "bash"),
        ("lttng", "lttng-tools"),
        ("lttng-sessiond", "lttng-tools"),
        ("babeltrace2", "babeltrace2"),
        ("java", "default-jdk-headless"),
        ("javac", "default-jdk-headless"),
    ]) {
        panic!("{hint} (also needed: {HINT})");
    }
    for jar in JARS.split(':') {
        assert!(Path::new(jar).exists(), "{jar} is missing: {HINT}");
    }
    assert!(
        Path::new("/usr/lib/python3/dist-packages/lttngust").exists(),
        "the Python agent is missing: {HINT}"
    );
}

/// A world whose daemon also serves agents: its port file goes to `LTTNG_HOME`.
pub(crate) struct Agents {
    pub(crate) w: World,
    lttng_home: PathBuf,
}

impl Agents {
    pub(crate) fn new(name: &str) -> Agents {
        let w = World::new(name);
        let lttng_home = w.tmp.path().join("lttng-home");
        std::fs::create_dir_all(&lttng_home).expect("lttng home");
        Agents { w, lttng_home }
    }

    fn env(&self, cmd: &mut Command) {
        self.w.env(cmd);
        cmd.env("LTTNG_HOME", &self.lttng_home)
            .env("LTTNG_UST_REGISTER_TIMEOUT", "30000");
    }

    pub(crate) fn rttng(&self, args: &[&str]) -> Finished {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
        cmd.args(args);
        self.env(&mut cmd);
        run_bounded(&mut cmd, CMD_TIMEOUT).unwrap_or_else(|e| panic!("rttng {args:?}: {e}"))
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let f = self.rttng(args);
        assert!(
            f.status.success(),
            "rttng {args:?} failed ({}):\n{}{}",
            f.status,
            f.stdout_text(),
            f.stderr_quote()
        );
        f.stdout_text()
    }

    /// The agents' port, once the daemon wrote it.
    pub(crate) fn port(&self) -> u16 {
        let f = self.lttng_home.join(".lttng/agent.port");
        let mut port = 0;
        wait_until("the agent port file", || {
            port = std::fs::read_to_string(&f)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            port != 0
        });
        port
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.w.run.join("rttng-sessiond.log")).unwrap_or_default()
    }
}

/// An app run through `rttng run`, stopped at its "ready" line.
pub(crate) struct App {
    child: KillOnDrop,
    out: BufReader<std::process::ChildStdout>,
}

impl App {
    pub(crate) fn start(a: &Agents, cmd_args: &[&str]) -> App {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
        cmd.arg("run").arg("--").args(cmd_args);
        a.env(&mut cmd);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = KillOnDrop(cmd.spawn().expect("spawn the app"));
        let out = BufReader::new(child.0.stdout.take().expect("stdout"));
        let mut app = App { child, out };
        app.expect_line("ready");
        app
    }

    /// Reads the next line (bounded: the app is killed after CMD_TIMEOUT).
    fn expect_line(&mut self, want: &str) {
        let pid = self.child.0.id();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let dog = std::thread::spawn(move || {
            if rx.recv_timeout(CMD_TIMEOUT).is_err() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        });
        let mut line = String::new();
        let _ = self.out.read_line(&mut line);
        let _ = tx.send(());
        let _ = dog.join();
        assert_eq!(line.trim(), want, "the app's output");
    }

    /// Lets the app log, and waits for its exit.
    pub(crate) fn finish(mut self) {
        self.child
            .0
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"go\n")
            .expect("write to the app");
        self.expect_line("done");
        let end = Instant::now() + CMD_TIMEOUT;
        loop {
            if let Some(st) = self.child.0.try_wait().expect("wait") {
                assert!(st.success(), "the app failed: {st}");
                return;
            }
            assert!(Instant::now() < end, "the app did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// babeltrace2's text with what differs between runs replaced: timestamps, hostname,
/// CPU, Python's `asctime` and `thread`, Java's `long_millis`, `int_threadid` and
/// (log4j) `timestamp`.
fn normalized(trace: &Path) -> Vec<String> {
    babeltrace2(trace)
        .stdout_text()
        .lines()
        .map(|l| {
            let mut s = l.splitn(4, ' ').nth(3).unwrap_or(l).to_string();
            for key in [
                "cpu_id = ",
                "asctime = ",
                "thread = ",
                "long_millis = ",
                "int_threadid = ",
                "timestamp = ",
            ] {
                if let Some(at) = s.find(key) {
                    let start = at + key.len();
                    let end = if s[start..].starts_with('"') {
                        s[start + 1..].find('"').map_or(s.len(), |e| start + e + 2)
                    } else {
                        s[start..].find([',', ' ']).map_or(s.len(), |e| start + e)
                    };
                    s.replace_range(start..end, "X");
                }
            }
            s
        })
        .collect()
}

/// The agent-domain sections of a `list SESSION` text, as (domain title, sorted lines):
/// lttng prints domains and rules in hash-table order.
fn agent_sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for l in text.lines() {
        if let Some(t) = l.strip_prefix("=== Domain: ") {
            out.push((t.to_string(), Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            if l.starts_with("    - ") {
                lines.push(l.to_string());
            }
        }
    }
    out.retain(|(t, _)| !t.starts_with("User space") && !t.starts_with("Linux kernel"));
    for (_, lines) in &mut out {
        lines.sort();
    }
    out.sort();
    out
}

#[test]
fn issue_15_python_jul_and_log4j_agents_record_what_lttng_records() {
    require_oracles();
    compat_built();
    // LTTng's trace first.
    let reference = TempDir::new("rttng-agents-ref").expect("temp dir");
    let out = reference.path().join("out");
    let done = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("tests/lttng/record-agents.sh"))
            .arg(&out),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording with LTTng: {e}"));
    assert!(
        done.status.success(),
        "record-agents.sh failed: {}",
        done.stderr_quote()
    );
    let lttng_trace = PathBuf::from(done.stdout_text().trim());
    let build = out.join("build");

    let a = Agents::new("agents");
    let trace = a.w.tmp.path().join("trace");
    a.ok(&["create", "ag", "--output", &trace.to_string_lossy()]);
    for (domain, args) in [
        (
            "python event enabled_logger enabled",
            vec!["-p", "enabled_logger"],
        ),
        (
            "python event lvl* enabled",
            vec!["-p", "lvl*", "--loglevel", "WARNING"],
        ),
        (
            "jul event enabled.logger enabled",
            vec!["-j", "enabled.logger"],
        ),
        (
            "jul event lvl.* enabled",
            vec!["-j", "lvl.*", "--loglevel-only", "WARNING"],
        ),
        (
            "log4j event enabled.logger enabled",
            vec!["-l", "enabled.logger"],
        ),
        (
            "log4j event lvl.* enabled",
            vec!["-l", "lvl.*", "--loglevel", "WARN"],
        ),
    ] {
        let mut full = vec!["enable-event", "-s", "ag"];
        full.extend(args);
        assert_eq!(a.ok(&full).trim(), domain, "lttng's message");
    }
    a.ok(&["start", "ag"]);
    a.port();

    let script = repo_root().join("tests/lttng/agent_app.py");
    let py = App::start(&a, &["/usr/bin/python3", &script.to_string_lossy()]);
    let listed = a.ok(&["list", "-p"]);
    let pid = py.child.0.id();
    // `rttng run` execs the app: same pid, and /proc says /usr/bin/python3.
    assert!(
        listed.starts_with("python events (Logger name):\n-------------------------\n"),
        "{listed}"
    );
    for want in [
        format!("PID: {pid} - Name: /usr/bin/python3"),
        "      - enabled_logger".into(),
        "      - lvl_logger".into(),
        "      - quiet_logger".into(),
    ] {
        assert!(listed.lines().any(|l| l == want), "{want:?} in:\n{listed}");
    }
    py.finish();

    let cp = format!("{JARS}:{}", build.display());
    let java = App::start(&a, &["java", "-cp", &cp, "JulAgentApp"]);
    let listed = a.ok(&["list", "-j"]);
    for want in [
        "      - enabled.logger",
        "      - lvl.logger",
        "      - quiet.logger",
    ] {
        assert!(listed.lines().any(|l| l == want), "{want:?} in:\n{listed}");
    }
    java.finish();
    let log4j = App::start(&a, &["java", "-cp", &cp, "Log4jAgentApp"]);
    let listed = a.ok(&["list", "-l"]);
    for want in [
        "      - enabled.logger",
        "      - lvl.logger",
        "      - quiet.logger",
    ] {
        assert!(listed.lines().any(|l| l == want), "{want:?} in:\n{listed}");
    }
    log4j.finish();
    a.ok(&["stop", "ag"]);

    let theirs = normalized(&lttng_trace);
    let ours = normalized(&trace);
    // The apps' not-enabled loggers and levels must be absent from both.
    assert_eq!(theirs.len(), 9 + 6 + 9, "LTTng's trace: {theirs:#?}");
    assert!(
        !theirs
            .iter()
            .any(|l| l.contains("quiet") || l.contains("lvl info")),
        "{theirs:#?}"
    );
    let (x, y) = (theirs.join("\n"), ours.join("\n"));
    if let Some(d) = first_difference(x.as_bytes(), y.as_bytes()) {
        panic!("rttng's trace of the agents differs from LTTng's:\n{d}");
    }

    let lttng_list = std::fs::read_to_string(out.join("list.txt")).expect("list.txt");
    let our_list = a.ok(&["list", "ag"]);
    let want = agent_sections(&lttng_list);
    assert_eq!(want.len(), 3, "lttng list: {lttng_list}");
    assert_eq!(
        agent_sections(&our_list),
        want,
        "rttng list ag:\n{our_list}"
    );
    // The agents' user-space rules are internal: their channels list no rule.
    assert!(
        our_list.contains("- lttng_python_channel: [enabled]"),
        "{our_list}"
    );
    assert!(!our_list.contains("lttng_python:event"), "{our_list}");
}

/// A scripted agent: registers, then answers commands as the Python agent does.
struct FakeAgent {
    s: TcpStream,
}

impl FakeAgent {
    fn connect(port: u16, domain: u32) -> FakeAgent {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(CMD_TIMEOUT)).expect("timeout");
        s.write_all(&rttng_proto::agent::encode_register(
            rttng_proto::agent::Register {
                domain,
                pid: std::process::id(),
            },
        ))
        .expect("register");
        FakeAgent { s }
    }

    /// The next command: (command, logger name for ENABLE/DISABLE).
    fn next(&mut self) -> (u32, String) {
        let mut h = [0u8; 16];
        self.s.read_exact(&mut h).expect("a command");
        let size = u64::from_be_bytes(h[..8].try_into().unwrap()) as usize;
        let cmd = u32::from_be_bytes(h[8..12].try_into().unwrap());
        assert!(size < 1 << 20, "payload of {size} bytes");
        let mut p = vec![0u8; size];
        self.s.read_exact(&mut p).expect("payload");
        let name_at = match cmd {
            2 => 8,
            3 => 0,
            _ => return (cmd, String::new()),
        };
        let name = &p[name_at..name_at + 256];
        let end = name.iter().position(|&c| c == 0).unwrap_or(256);
        (cmd, String::from_utf8_lossy(&name[..end]).into_owned())
    }

    fn answer(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("answer");
    }
}

#[test]
fn issue_15_agent_protocol_rules_list_and_hostile_agents() {
    compat_built();
    let a = Agents::new("agent-proto");
    a.ok(&[
        "create",
        "p1",
        "--output",
        &a.w.tmp.path().join("t").to_string_lossy(),
    ]);
    a.ok(&["enable-event", "-s", "p1", "-p", "app.a"]);
    let port = a.port();

    // Hostile agents first: garbage, a wrong version, a wrong domain, one that says
    // nothing and stays connected. None may delay the others or the daemon.
    let mut silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    for bytes in [
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        {
            let mut b = rttng_proto::agent::encode_register(rttng_proto::agent::Register {
                domain: 5,
                pid: 1,
            })
            .to_vec();
            b[11] = 9; // version 9.0
            b
        },
        {
            let mut b = rttng_proto::agent::encode_register(rttng_proto::agent::Register {
                domain: 5,
                pid: 1,
            })
            .to_vec();
            b[3] = 1; // the kernel domain
            b
        },
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(&bytes).expect("send");
        s.set_read_timeout(Some(CMD_TIMEOUT)).expect("timeout");
        let mut b = [0u8; 1];
        // The daemon closes the connection without a word.
        assert_eq!(s.read(&mut b).unwrap_or(0), 0, "answer to {bytes:?}");
    }
    silent
        .write_all(&[0, 0, 0])
        .expect("a partial registration");

    // A well-behaved agent gets the rules that exist, then REG_DONE.
    let t0 = Instant::now();
    let mut ag = FakeAgent::connect(port, rttng_proto::agent::DOMAIN_PYTHON);
    assert_eq!(ag.next(), (2, "app.a".to_string()), "ENABLE app.a");
    ag.answer(&1u32.to_be_bytes());
    assert_eq!(ag.next().0, 4, "REG_DONE");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "registration was delayed"
    );

    // New rules and removed rules reach it while it is connected.
    a.ok(&[
        "enable-event",
        "-s",
        "p1",
        "-p",
        "app.b",
        "--loglevel",
        "ERROR",
    ]);
    assert_eq!(ag.next(), (2, "app.b".to_string()), "ENABLE app.b");
    ag.answer(&1u32.to_be_bytes());
    assert_eq!(
        a.ok(&["disable-event", "-s", "p1", "-p", "app.a"]).trim(),
        "python app.a of type any disabled in channel channel0 for session p1"
    );
    assert_eq!(ag.next(), (3, "app.a".to_string()), "DISABLE app.a");
    ag.answer(&1u32.to_be_bytes());

    // LIST: the daemon shows what the agent answers.
    let lister = {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
        cmd.args(["list", "-p"]);
        a.env(&mut cmd);
        std::thread::spawn(move || run_bounded(&mut cmd, CMD_TIMEOUT).expect("rttng list -p"))
    };
    assert_eq!(ag.next().0, 1, "LIST");
    ag.answer(&rttng_proto::agent::encode_list_reply(&[
        "app.a", "app.b", "other",
    ]));
    let listed = lister.join().expect("list thread").stdout_text();
    for want in ["      - app.a", "      - app.b", "      - other"] {
        assert!(listed.lines().any(|l| l == want), "{want:?} in:\n{listed}");
    }

    // A LIST answer announcing more than it sends, then silence: the agent is dropped
    // after the bound, `list -p` still answers, and the daemon serves on.
    let lister = {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
        cmd.args(["list", "-p"]);
        a.env(&mut cmd);
        std::thread::spawn(move || run_bounded(&mut cmd, CMD_TIMEOUT).expect("rttng list -p"))
    };
    assert_eq!(ag.next().0, 1, "LIST");
    let mut bad = 1u32.to_be_bytes().to_vec();
    bad.extend_from_slice(&1000u32.to_be_bytes());
    bad.extend_from_slice(&3u32.to_be_bytes());
    ag.answer(&bad);
    let listed = lister.join().expect("list thread");
    assert!(listed.status.success(), "{}", listed.stderr_quote());
    assert!(
        listed.stdout_text().contains("None"),
        "{}",
        listed.stdout_text()
    );
    assert_eq!(
        a.ok(&["list"]).lines().next(),
        Some("Available recording sessions:")
    );
    drop(silent);

    // Each bad agent left one log line.
    let log = a.log();
    for want in [
        "agent 127.0.0.1:",
        "agent protocol version 9.0 is not supported",
        "unknown agent domain 1",
        "python agent (pid ",
    ] {
        assert!(log.contains(want), "{want:?} in the daemon's log:\n{log}");
    }
    // And the rule list says what is enabled.
    let l = a.ok(&["list", "p1"]);
    assert!(
        l.contains("    - app.a [disabled] [filter: 'logger_name == \"app.a\"']"),
        "{l}"
    );
    assert!(
        l.contains("    - app.b [enabled] (loglevel <= PYTHON_ERROR) [filter: '(logger_name == \"app.b\") && (int_loglevel >= 40)']"),
        "{l}"
    );
}

/// Application contexts (`$app.PROVIDER:NAME`, LTTng 2.13's dynamic type) from the JUL
/// agent's context retrievers: `tests/lttng/record-appctx.sh` records JulContextApp
/// (retriever `myprov`: a String, a Long, an Integer, a Double, a Boolean, a null; plus a
/// name it does not know and a provider nobody registered) under LTTng 2.13, and the same
/// app through `rttng run` must print the same tags and values.
#[test]
fn issue_15_jul_application_contexts_record_what_lttng_records() {
    require_oracles();
    compat_built();
    let reference = TempDir::new("rttng-appctx-ref").expect("temp dir");
    let out = reference.path().join("out");
    let done = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("tests/lttng/record-appctx.sh"))
            .arg(&out),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording with LTTng: {e}"));
    assert!(
        done.status.success(),
        "record-appctx.sh failed: {}",
        done.stderr_quote()
    );
    let lttng_trace = PathBuf::from(done.stdout_text().trim());

    let a = Agents::new("appctx");
    let trace = a.w.tmp.path().join("trace");
    a.ok(&["create", "ac", "--output", &trace.to_string_lossy()]);
    a.ok(&["enable-event", "-s", "ac", "-j", "ctx.logger"]);
    let mut names: Vec<String> = ["text", "num", "int", "dbl", "flag", "nul", "absent"]
        .iter()
        .map(|n| format!("$app.myprov:{n}"))
        .collect();
    names.push("$app.noprov:x".into());
    for n in &names {
        assert_eq!(
            a.ok(&["add-context", "-s", "ac", "-j", "-t", n]).trim(),
            format!("jul context {n} added to all channels"),
            "lttng's message"
        );
    }
    a.ok(&["start", "ac"]);
    a.port();
    let cp = format!("{JARS}:{}", out.join("build").display());
    let java = App::start(&a, &["java", "-cp", &cp, "JulContextApp"]);
    java.finish();
    a.ok(&["stop", "ac"]);

    let theirs = normalized(&lttng_trace);
    let ours = normalized(&trace);
    assert_eq!(theirs.len(), 3, "LTTng's trace: {theirs:#?}");
    assert!(
        theirs[2].contains("_app_myprov_text = { \"value 2\" }"),
        "LTTng's trace: {theirs:#?}"
    );
    let (x, y) = (theirs.join("\n"), ours.join("\n"));
    if let Some(d) = first_difference(x.as_bytes(), y.as_bytes()) {
        panic!("rttng's application contexts differ from LTTng's:\n{d}");
    }
}

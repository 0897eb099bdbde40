//! Issue 16, `--mi xml`: the documents rttng prints for version, list, create,
//! enable-event, start, stop and destroy are valid against LTTng's MI schema
//! (`tests/data/mi-lttng-4.1.xsd`, vendored from lttng-tools 2.13.9, MIT) by xmllint, and
//! have the same elements in the same order as real lttng 2.13's for the same commands
//! (`tests/lttng/cli-reference.sh`); status as lttng's. The validator is shown able to fail
//! on a damaged document. rttng's documents with exclusions and filters are validated in
//! `mi_with_filters_and_exclusions_is_valid` (lttng cannot be the oracle there, see STEPS).

use std::path::Path;
use std::process::Command;

use crate::session_support::{World, CMD_TIMEOUT};
use crate::support::{repo_root, require_tools, run_bounded, TempDir};

const STEPS: &[&str] = &[
    "--mi xml list",
    "--mi xml create s1 -o {OUT}/s1",
    "--mi xml list -u",
    "--mi xml enable-channel -u c1,c2 --subbuf-size 8192",
    "--mi xml enable-event -u foo,bar -c c1",
    "--mi xml disable-event -u foo -c c1",
    "--mi xml disable-event -u -a -c c2",
    "--mi xml add-context -u -t vpid -t procname -c c1",
    "--mi xml disable-channel -u c2",
    "--mi xml track -u --vpid 3,4",
    "--mi xml untrack -u --vpid 3",
    "--mi xml untrack -u --vgid --all",
    "--mi xml set-session s1",
    "--mi xml status",
    // Not with -x: lttng 2.13.9 then prints two <exclusions> (invalid against its own
    // schema), and its session daemon died listing a rule with a filter and exclusions.
    "--mi xml enable-event -u x* -c c1 --loglevel INFO",
    "track -u --vpid 5",
    "--mi xml list",
    "--mi xml list s1",
    "--mi xml start",
    "--mi xml start",
    "--mi xml stop",
    "--mi xml stop",
    "--mi xml destroy s1",
    "--mi xml destroy nosuch",
    "--mi xml version",
];

fn xsd() -> std::path::PathBuf {
    repo_root().join("tests/data/mi-lttng-4.1.xsd")
}

/// xmllint's verdict on `doc` against LTTng's schema: Ok, or its complaint.
pub(crate) fn validate(dir: &Path, doc: &str) -> Result<(), String> {
    let file = dir.join("doc.xml");
    std::fs::write(&file, doc).unwrap();
    let f = run_bounded(
        Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(xsd())
            .arg(&file),
        CMD_TIMEOUT,
    )
    .expect("xmllint runs");
    if f.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&f.stderr).into_owned())
    }
}

/// A document's elements as a tree of names (text dropped).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Node {
    name: String,
    children: Vec<Node>,
}

fn tree(doc: &str) -> Node {
    let mut stack = vec![Node {
        name: String::new(),
        children: Vec::new(),
    }];
    for t in doc.split('<').skip(1) {
        if t.starts_with('?') {
            continue;
        }
        let tag = t.split('>').next().unwrap_or("");
        if tag.starts_with('/') {
            let done = stack.pop().expect("balanced");
            stack.last_mut().expect("a parent").children.push(done);
            continue;
        }
        let name = tag.split([' ', '/']).next().unwrap_or("").to_string();
        let node = Node {
            name,
            children: Vec::new(),
        };
        if tag.ends_with('/') {
            stack.last_mut().expect("a parent").children.push(node);
        } else {
            stack.push(node);
        }
    }
    assert_eq!(stack.len(), 1, "unbalanced document: {doc}");
    stack.pop().unwrap()
}

/// The tree with the `<channel>`s and `<event>`s of each list sorted: lttng lists them in
/// its hash tables' order.
fn canonical(mut n: Node) -> Node {
    n.children = n.children.into_iter().map(canonical).collect();
    if matches!(n.name.as_str(), "channels" | "events") {
        n.children.sort();
    }
    n
}

fn skeleton(doc: &str) -> Node {
    canonical(tree(doc))
}

/// Removes the `<success>` of each `<context>` (lttng's, which its schema refuses).
fn without_context_success(mut n: Node) -> Node {
    if n.name == "context" {
        n.children.retain(|c| c.name != "success");
    }
    n.children = n
        .children
        .into_iter()
        .map(without_context_success)
        .collect();
    n
}

#[test]
fn issue_16_mi_xml_is_valid_and_shaped_like_lttngs() {
    if let Err(hint) = require_tools(&[
        ("xmllint", "libxml2-utils"),
        ("lttng", "lttng-tools"),
        ("lttng-sessiond", "lttng-tools"),
    ]) {
        panic!("{hint}");
    }
    let dir = TempDir::new("rttng-mi-ref").expect("temp dir");
    let text: String = STEPS
        .iter()
        .map(|c| c.split(' ').collect::<Vec<_>>().join("\t") + "\n")
        .collect();
    std::fs::write(dir.path().join("commands.txt"), text).unwrap();
    let script = repo_root().join("tests/lttng/cli-reference.sh");
    let done = run_bounded(
        Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .env("LC_ALL", "C")
            .env("RTTNG_NO_INSTALL", "1"),
        CMD_TIMEOUT * 10,
    )
    .expect("cli-reference.sh runs");
    assert!(done.status.success(), "{}", done.stderr_quote());

    let w = World::new("mi");
    let traces = w.tmp.path().join("traces").to_string_lossy().into_owned();
    let mut problems = Vec::new();
    for (k, step) in STEPS.iter().enumerate() {
        let read =
            |ext: &str| std::fs::read_to_string(dir.path().join(format!("out/{k}.{ext}"))).unwrap();
        let (theirs, their_status) = (read("stdout"), read("status"));
        let line = step.replace("{OUT}", &traces);
        let args: Vec<&str> = line.split(' ').collect();
        let ours = w.rttng(&args);
        let our_doc = ours.stdout_text();
        if their_status.trim() != ours.status.code().unwrap_or(-1).to_string() {
            problems.push(format!(
                "`{step}`: status lttng {} rttng {:?}: {}",
                their_status.trim(),
                ours.status.code(),
                ours.stderr_quote()
            ));
        }
        if !step.starts_with("--mi") {
            continue;
        }
        // lttng's own document passes the validator (the schema is the right one), but for
        // add-context, where lttng 2.13.9 writes a <success> per context that its schema
        // does not allow (rttng leaves it out; the skeletons are compared without it).
        let lttng_bug = step.contains("add-context");
        match (validate(dir.path(), &theirs), lttng_bug) {
            (Err(e), false) => {
                problems.push(format!("`{step}`: lttng's document is invalid?! {e}"))
            }
            (Ok(()), true) => problems.push(format!("`{step}`: lttng's document became valid")),
            _ => {}
        }
        // ... and so must ours, with the same elements in the same order.
        if let Err(e) = validate(dir.path(), &our_doc) {
            problems.push(format!("`{step}`: invalid: {e}\n{our_doc}"));
        }
        let mut their_skeleton = skeleton(&theirs);
        if lttng_bug {
            their_skeleton = without_context_success(their_skeleton);
        }
        if their_skeleton != skeleton(&our_doc) {
            problems.push(format!(
                "`{step}`: elements differ\n  lttng: {theirs}\n  rttng: {our_doc}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The validator is able to say no: a session without its name.
    let bad = w
        .rttng(&["--mi", "xml", "version"])
        .stdout_text()
        .replace("<major>", "<majr>")
        .replace("</major>", "</majr>");
    assert!(
        validate(dir.path(), &bad).is_err(),
        "xmllint accepted {bad}"
    );
}

/// `--mi` with another format, or on a command without a machine interface, says so with
/// lttng's statuses.
#[test]
fn issue_16_mi_refusals() {
    let w = World::new("mi-refused");
    let f = w.rttng(&["--mi", "json", "version"]);
    assert_eq!(f.status.code(), Some(165), "{}", f.stderr_quote());
    assert_eq!(
        String::from_utf8_lossy(&f.stderr).trim(),
        "Error: MI output format not supported"
    );
    let f = w.rttng(&["--mi", "xml", "view"]);
    assert_eq!(f.status.code(), Some(93), "{}", f.stderr_quote());
    assert!(f.stdout.is_empty());
}

#[test]
fn issue_16_mi_with_filters_and_exclusions_is_valid() {
    require_tools(&[("xmllint", "libxml2-utils")]).unwrap_or_else(|h| panic!("{h}"));
    let dir = TempDir::new("rttng-mi-x").expect("temp dir");
    let w = World::new("mi-x");
    w.create(&["x"]);
    let f = w.rttng(&[
        "--mi",
        "xml",
        "enable-event",
        "-u",
        "x*",
        "--loglevel-only",
        "INFO",
        "-x",
        "xa,xb",
        "--filter",
        "a == 1 && b < \"<&>\"",
    ]);
    assert!(f.status.success(), "{}", f.stderr_quote());
    let doc = f.stdout_text();
    assert!(doc.contains("<exclusion>xb</exclusion>"), "{doc}");
    validate(dir.path(), &doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    let list = w.rttng(&["--mi", "xml", "list", "x"]).stdout_text();
    assert!(
        list.contains(
            "<filter_expression>a == 1 &amp;&amp; b &lt; \"&lt;&amp;&gt;\"</filter_expression>"
        ) && list.contains("<loglevel_type>SINGLE</loglevel_type>"),
        "{list}"
    );
    validate(dir.path(), &list).unwrap_or_else(|e| panic!("{e}\n{list}"));
}

/// `list -u -f --mi xml` with a registered app: valid, with the app's pid, its events and
/// their fields (lttng's own answer for running apps cannot be recorded here: no LTTng-UST
/// app stays registered long enough in the reference script; the empty list is compared
/// with lttng's in `mi_xml_is_valid_and_shaped_like_lttngs`).
#[test]
fn issue_16_mi_list_userspace_apps_is_valid() {
    require_tools(&[("xmllint", "libxml2-utils")]).unwrap_or_else(|h| panic!("{h}"));
    let dir = TempDir::new("rttng-mi-apps").expect("temp dir");
    let w = World::new("mi-apps");
    w.create(&["a"]);
    let (child, _out) = w.spawn_probe(&["--count", "1", "--hang"], "emitted");
    let child = crate::session_support::KillOnDrop(child);
    let pid = child.0.id();
    let doc = w.ok(&["--mi", "xml", "list", "-u", "-f"]);
    validate(dir.path(), &doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    assert!(doc.contains(&format!("<pid><id>{pid}</id>")), "{doc}");
    assert!(
        doc.contains(
            "<event><name>probe:info</name><type>TRACEPOINT</type><loglevel>TRACE_INFO</loglevel>"
        ),
        "{doc}"
    );
    assert!(
        doc.contains(
            "<event_field><name>seq</name><type>INTEGER</type><nowrite>0</nowrite></event_field>"
        ),
        "{doc}"
    );
}

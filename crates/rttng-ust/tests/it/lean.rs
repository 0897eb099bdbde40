//! The application side links only what an app needs at run time (issue 15, "the library
//! apps link stays lean"): `cargo tree` of rttng-ust and of the drop-in library, normal
//! dependencies only, must not contain rttng-ctf (the TSDL parser, emitter and packet codec),
//! the local test harness, or the UUID generator it used. Symbol counts of the built
//! libraries are in `bench/startup.sh`; this test guards the crate graph they follow from.

use std::process::Command;

/// Crates an app must not link, with why.
const FORBIDDEN: [(&str, &str); 3] = [
    (
        "rttng-ctf",
        "the CTF format crate (TSDL parser/emitter, packet decoder)",
    ),
    ("rttng-ust-local", "the daemon-less test harness"),
    ("uuid", "the UUID generator only the test harness needs"),
];

/// The package names in `cargo tree -p PACKAGE -e normal`, one per line.
fn normal_dependencies(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(&cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("running {cargo} tree: {e}"));
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn check(package: &str) {
    let deps = normal_dependencies(package);
    // The tree was printed at all: the package itself and the descriptor crate are in it.
    assert!(
        deps.iter().any(|d| d == package) && deps.iter().any(|d| d == "rttng-desc"),
        "unexpected cargo tree output for {package}: {deps:?}"
    );
    for (name, what) in FORBIDDEN {
        assert!(
            !deps.iter().any(|d| d == name),
            "{package} links {name} ({what}); its normal dependencies are {deps:?}"
        );
    }
}

#[test]
fn rttng_ust_links_no_ctf_format_crate_and_no_test_harness() {
    check("rttng-ust");
}

#[test]
fn the_drop_in_library_links_no_ctf_format_crate_and_no_test_harness() {
    check("rttng-lttng-ust");
}

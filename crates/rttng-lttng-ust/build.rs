//! Builds the C part (`src/compat.c`: exported TLS, urcu-ust, C-variadic tracef/tracelog)
//! into a static archive linked whole into the cdylib, and gives the cdylib LTTng's
//! SONAME, its C exports (`exports.map`) and `-z nodelete` (the tracepoint destructors
//! `dlclose` us and our threads must never be unmapped). Needs a C compiler (`cc`).

use std::path::PathBuf;
use std::process::Command;

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (install a C compiler: apt-get install gcc)")
    });
    assert!(status.success(), "{cmd:?} failed with {status}");
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let src = dir.join("src/compat.c");
    let obj = out.join("compat.o");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    run(Command::new(&cc)
        .args([
            "-c",
            "-fPIC",
            "-O2",
            "-g",
            "-Wall",
            "-Wextra",
            "-Wno-unused-parameter",
            "-o",
        ])
        .arg(&obj)
        .arg(&src));
    let lib = out.join("librttng_lttng_ust_c.a");
    let _ = std::fs::remove_file(&lib);
    run(Command::new("ar").arg("crs").arg(&lib).arg(&obj));
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static:+whole-archive=rttng_lttng_ust_c");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liblttng-ust.so.1");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        dir.join("exports.map").display()
    );
    println!("cargo:rerun-if-changed=src/compat.c");
    println!("cargo:rerun-if-changed=exports.map");
    println!("cargo:rerun-if-env-changed=CC");
}

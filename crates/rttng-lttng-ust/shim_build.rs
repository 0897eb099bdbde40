//! Build script of the drop-in libraries around `liblttng-ust.so.1`
//! (`rttng-lttng-ust-tracepoint`, `rttng-lttng-ust-common`, `rttng-lttng-ust-dl`): gives
//! the cdylib its LTTng SONAME, a `DT_NEEDED` on
//! `liblttng-ust.so.1` and `RUNPATH=$ORIGIN`. The real `liblttng-ust.so.1` is another
//! crate of the workspace, not built yet when this one links, so the link uses a stub with
//! that SONAME (an empty shared object made with `cc`); at run time the loader finds the
//! real one next to this library or on the library path. A package with a
//! `src/wrapper.c` (the dlopen wrapper) gets it compiled and linked whole, its symbols
//! exported by the package's `wrapper.map`; its references into `liblttng-ust.so.1` stay
//! undefined until the loader binds them.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let name = std::env::var("CARGO_PKG_NAME").expect("package name");
    let soname = match name.as_str() {
        "rttng-lttng-ust-tracepoint" => "liblttng-ust-tracepoint.so.1",
        "rttng-lttng-ust-common" => "liblttng-ust-common.so.1",
        "rttng-lttng-ust-dl" => "liblttng-ust-dl.so.1",
        other => panic!("shim_build.rs does not know package {other}"),
    };
    let stub_dir = out.join("stub");
    std::fs::create_dir_all(&stub_dir).expect("stub directory");
    let src = stub_dir.join("empty.c");
    std::fs::write(
        &src,
        "/* stub with liblttng-ust.so.1's SONAME, for linking only */\n",
    )
    .expect("stub source");
    let stub = stub_dir.join("liblttng-ust.so.1");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-Wl,-soname,liblttng-ust.so.1", "-o"])
        .arg(&stub)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {cc:?}: {e} (install a C compiler: apt-get install gcc)")
        });
    assert!(status.success(), "building the link stub failed: {status}");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let wrapper = dir.join("src/wrapper.c");
    if wrapper.exists() {
        let obj = out.join("wrapper.o");
        let status = Command::new(&cc)
            .args(["-c", "-fPIC", "-O2", "-g", "-Wall", "-Wextra", "-o"])
            .arg(&obj)
            .arg(&wrapper)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {cc:?}: {e}"));
        assert!(status.success(), "compiling {wrapper:?} failed: {status}");
        let lib = out.join("librttng_lttng_ust_wrapper.a");
        let _ = std::fs::remove_file(&lib);
        let status = Command::new("ar")
            .arg("crs")
            .arg(&lib)
            .arg(&obj)
            .status()
            .unwrap_or_else(|e| panic!("cannot run ar: {e} (apt-get install binutils)"));
        assert!(status.success(), "ar failed: {status}");
        println!("cargo:rustc-link-search=native={}", out.display());
        println!("cargo:rustc-link-lib=static:+whole-archive=rttng_lttng_ust_wrapper");
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
            dir.join("wrapper.map").display()
        );
        println!("cargo:rustc-link-lib=dylib=dl");
        println!("cargo:rerun-if-changed=src/wrapper.c");
        println!("cargo:rerun-if-changed=wrapper.map");
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-cdylib-link-arg={}", stub.display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-rpath,$ORIGIN");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    // Nothing of Rust's runtime is used: drop it and the static symbol table (the dynamic
    // one stays), so that the empty library is small.
    println!("cargo:rustc-cdylib-link-arg=-Wl,--gc-sections");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--strip-all");
    println!("cargo:rerun-if-changed=../rttng-lttng-ust/shim_build.rs");
}

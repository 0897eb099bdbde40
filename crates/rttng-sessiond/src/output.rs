//! Checking a session's trace output before tracing starts: the directory is created (with
//! its parents) and a file is written and removed in it, so that an output that cannot be
//! written (a path under /proc, a regular file, a name too long for the file system, no
//! permission) is refused at `start` with the reason, rather than every event being lost in
//! silence. Not here: the trace files themselves (the consumer writes them), and checking as
//! another user than the daemon's (a root daemon serving other users checks as root).

use std::io::Write;
use std::path::Path;

/// Creates `dir` if needed and proves a file can be created and written in it. The error
/// names the path and says why.
pub fn prepare(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let probe = dir.join(format!(".rttng-write-check-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"rttng").and_then(|()| f.sync_data()));
    let removed = std::fs::remove_file(&probe);
    written.map_err(|e| format!("{}: cannot write in it: {e}", dir.display()))?;
    removed.map_err(|e| format!("{}: cannot remove {}: {e}", dir.display(), probe.display()))
}

/// Most bytes of `/etc/passwd` read to find a user's home.
const MAX_PASSWD_BYTES: u64 = 16 << 20;

/// User `uid`'s home directory as `/etc/passwd` gives it (an absolute path), where another
/// user's sessions go by default. Users only known to other name services have none here.
pub fn home_of(uid: u32) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open("/etc/passwd")
        .ok()?
        .take(MAX_PASSWD_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>() == Ok(uid) && f[5].starts_with('/'))
            .then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_outputs_are_refused_with_their_path() {
        let base = std::env::temp_dir().join(format!("rttng-output-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        // Created with its parents, and left empty.
        let ok = base.join("a/b/trace");
        prepare(&ok).unwrap();
        assert_eq!(std::fs::read_dir(&ok).unwrap().count(), 0);
        // A regular file where the directory should be.
        let file = base.join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = prepare(&file).unwrap_err();
        assert!(e.contains(&*file.to_string_lossy()), "{e}");
        // A name longer than the file system allows.
        let long = base.join(format!("{}-20260101-000000", "n".repeat(250)));
        let e = prepare(&long).unwrap_err();
        assert!(
            e.contains("name too long") || e.contains("File name too long"),
            "{e}"
        );
        // Under /proc, nothing can be created.
        let e = prepare(Path::new("/proc/forbidden")).unwrap_err();
        assert!(e.starts_with("/proc/forbidden: "), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_users_home_comes_from_the_password_file() {
        let root = std::fs::read_to_string("/etc/passwd")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("root:"))
            .map(|l| l.split(':').nth(5).unwrap().to_string());
        assert_eq!(super::home_of(0), root);
        assert_eq!(super::home_of(4_000_000_000), None);
    }
}

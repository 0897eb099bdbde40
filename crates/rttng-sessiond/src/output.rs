//! Checking a session's trace output before tracing starts: the directory is created (with
//! its parents) and a file is created, written and removed in it, with the session owner's
//! credentials (`rttng-runas`; inline for the daemon's own user), so that an output that
//! cannot be written (a path under /proc, a regular file, a name too long for the file
//! system, no permission *for that user*) is refused at `start` with the reason, rather
//! than every event being lost in silence. Not here: the trace files themselves (the
//! consumer writes them), and who owns which output (the runtime remembers it).

use std::path::Path;

/// Creates `dir` if needed and proves that `creds` (`None`: the daemon's own user) can
/// create and write a file in it. The error names the path and says why.
pub fn prepare(dir: &Path, creds: Option<rttng_runas::Creds>) -> Result<(), String> {
    let owner = rttng_runas::Owner {
        root: dir.to_path_buf(),
        creds,
    };
    rttng_runas::check_writable(&owner).map_err(|e| e.to_string())
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
        prepare(&ok, None).unwrap();
        assert_eq!(std::fs::read_dir(&ok).unwrap().count(), 0);
        // A regular file where the directory should be.
        let file = base.join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = prepare(&file, None).unwrap_err();
        assert!(e.contains(&*file.to_string_lossy()), "{e}");
        // A name longer than the file system allows.
        let long = base.join(format!("{}-20260101-000000", "n".repeat(250)));
        let e = prepare(&long, None).unwrap_err();
        assert!(
            e.contains("name too long") || e.contains("File name too long"),
            "{e}"
        );
        // Under /proc, nothing can be created.
        let e = prepare(Path::new("/proc/forbidden"), None).unwrap_err();
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

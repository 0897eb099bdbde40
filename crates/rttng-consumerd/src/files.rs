//! The one place where the consumer creates trace directories and files: each goes through
//! rttng-runas with the owner the session daemon declared for the session's output
//! directory (`SetOwner`), so a user's trace files are made with the user's credentials and
//! never through a symbolic link. Not here: what is written into the files.

use rttng_runas::{Creds, Owner};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Most output directories remembered (the oldest is forgotten first).
const MAX_OWNERS: usize = 4096;

static OWNERS: Mutex<Vec<Owner>> = Mutex::new(Vec::new());

/// Declares who owns the files below `output`. The consumer's own user needs no switch.
pub fn set_owner(output: &str, creds: Creds) -> Result<(), String> {
    let root = PathBuf::from(output);
    if !root.is_absolute() {
        return Err(format!("output directory {output} is not absolute"));
    }
    let own = Creds::of_pid(std::process::id()).map_err(|e| format!("own credentials: {e}"))?;
    let creds = (creds.uid != own.uid).then_some(creds);
    let mut o = OWNERS.lock().unwrap_or_else(|p| p.into_inner());
    o.retain(|x| x.root != root);
    if o.len() >= MAX_OWNERS {
        o.remove(0);
    }
    o.push(Owner { root, creds });
    Ok(())
}

/// Forgets the owner declared for `output` (its last session is gone).
pub fn forget_owner(output: &str) {
    let root = PathBuf::from(output);
    let mut o = OWNERS.lock().unwrap_or_else(|p| p.into_inner());
    o.retain(|x| x.root != root);
}

/// The owner of `path`: the declared output directory holding it (the longest), or, for a
/// path nobody declared, the consumer itself below `fallback_root`.
fn owner_of(path: &Path, fallback_root: &Path) -> Owner {
    let o = OWNERS.lock().unwrap_or_else(|p| p.into_inner());
    o.iter()
        .filter(|x| path.starts_with(&x.root))
        .max_by_key(|x| x.root.as_os_str().len())
        .cloned()
        .unwrap_or_else(|| Owner {
            root: fallback_root.to_path_buf(),
            creds: None,
        })
}

/// Creates directory `dir` and its parents, as its owner.
pub fn create_dir_all(dir: &Path) -> Result<(), String> {
    rttng_runas::create_dir_all(&owner_of(dir, dir), dir).map_err(|e| e.to_string())
}

/// Opens file `path` for writing (truncated, or appended to), as its owner.
pub fn create_file(path: &Path, append: bool) -> Result<File, String> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    rttng_runas::create_file(&owner_of(path, parent), path, append).map_err(|e| e.to_string())
}

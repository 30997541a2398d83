//! Changing files under the root prefix: atomic writes with mode and owner, exact snapshots for backups.
//!
//! Every write goes to a temporary file in the same directory, is fsynced, then renamed over the target, so a
//! crash leaves either the old or the new file, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, chown};
use std::path::Path;

use super::root::Root;

/// A file's bytes with its mode and owner: enough to put it back exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub bytes: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl FileState {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// The file at `abs`, or None when absent (a symlink is read through; a write then replaces the link).
pub fn snapshot(root: &Root, abs: &str) -> Result<Option<FileState>, String> {
    let path = root.path(abs);
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{abs}: {e}")),
    };
    if meta.is_dir() {
        return Err(format!("{abs}: is a directory"));
    }
    use std::os::unix::fs::MetadataExt;
    let bytes = fs::read(&path).map_err(|e| format!("{abs}: {e}"))?;
    Ok(Some(FileState {
        bytes,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    }))
}

/// Writes `state` to `abs` atomically (temp file, fsync, rename, fsync of the directory).
pub fn write_atomic(root: &Root, abs: &str, state: &FileState) -> Result<(), String> {
    let path = root.path(abs);
    let dir = path
        .parent()
        .ok_or_else(|| format!("{abs}: no parent directory"))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.portcullis-tmp"));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&state.bytes)?;
        // Owner before mode: chown clears set-uid bits, and the mode must be exact.
        chown(&tmp, Some(state.uid), Some(state.gid))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(state.mode))?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        File::open(dir)?.sync_all()
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("writing {abs}: {e}")
    })
}

/// Removes a file; an absent file is fine.
pub fn remove_file(root: &Root, abs: &str) -> Result<(), String> {
    match fs::remove_file(root.path(abs)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("removing {abs}: {e}")),
    }
}

/// Creates one directory with mode and owner. Returns false when it already existed (nothing done).
pub fn make_dir(root: &Root, abs: &str, mode: u32, uid: u32, gid: u32) -> Result<bool, String> {
    let path = root.path(abs);
    if path.is_dir() {
        return Ok(false);
    }
    let r = (|| {
        fs::create_dir(&path)?;
        chown(&path, Some(uid), Some(gid))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
    })();
    r.map(|()| true).map_err(|e| format!("creating {abs}: {e}"))
}

/// Removes a directory if it is empty; Ok(false) when it holds something (then it is left alone).
pub fn remove_empty_dir(root: &Root, abs: &str) -> Result<bool, String> {
    match fs::remove_dir(root.path(abs)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == ErrorKind::DirectoryNotEmpty => Ok(false),
        Err(e) => Err(format!("removing {abs}: {e}")),
    }
}

/// Removes a directory tree that we created.
pub fn remove_tree(root: &Root, abs: &str) -> Result<(), String> {
    match fs::remove_dir_all(root.path(abs)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("removing {abs}: {e}")),
    }
}

/// Writes one value under /proc/sys (the live kernel setting).
pub fn write_sysctl(root: &Root, key: &str, value: &str) -> Result<(), String> {
    let abs = super::sysctl::proc_path(key);
    fs::write(root.path(&abs), format!("{value}\n")).map_err(|e| format!("{abs}: {e}"))
}

/// Bytes of a plain file outside the root prefix (our own state directory).
pub fn read_state(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_keeps_mode_and_owner_and_snapshot_reads_them_back() {
        let dir = std::env::temp_dir().join(format!("portcullis-write-{}", std::process::id()));
        fs::create_dir_all(dir.join("etc")).unwrap();
        let root = Root::new(&dir);
        assert_eq!(snapshot(&root, "/etc/x").unwrap(), None);
        let me = fs::metadata(&dir).unwrap();
        use std::os::unix::fs::MetadataExt;
        let state = FileState {
            bytes: b"hello\n".to_vec(),
            mode: 0o640,
            uid: me.uid(),
            gid: me.gid(),
        };
        write_atomic(&root, "/etc/x", &state).unwrap();
        assert_eq!(snapshot(&root, "/etc/x").unwrap(), Some(state));
        assert!(make_dir(&root, "/etc/d", 0o700, me.uid(), me.gid()).unwrap());
        assert!(!make_dir(&root, "/etc/d", 0o700, me.uid(), me.gid()).unwrap());
        remove_file(&root, "/etc/x").unwrap();
        remove_file(&root, "/etc/x").unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}

//! Reading a configuration by name as fail2ban does: `NAME.conf`, `NAME.d/*.conf`, `NAME.local`,
//! `NAME.d/*.local`, each file followed by its own `.local`, and each file's `[INCLUDES]`
//! `before` files read before it and `after` files after it (recursively, relative to the file,
//! loops cut), all merged in that order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ConfError;
use super::ini::{self, IniFile};
use super::store::Store;

/// Parsed files, so a file included twice is read once.
#[derive(Default)]
struct Cache {
    files: HashMap<PathBuf, Option<IniFile>>,
}

impl Cache {
    /// The file, or None when it cannot be read (fail2ban skips it).
    fn get(&mut self, path: &Path) -> Result<Option<&IniFile>, ConfError> {
        if !self.files.contains_key(path) {
            let parsed = match std::fs::read(path) {
                Ok(bytes) => {
                    let text = String::from_utf8(bytes).map_err(|_| ConfError::Io {
                        file: path.to_path_buf(),
                        message: "not UTF-8".into(),
                    })?;
                    Some(ini::parse(&text, path)?)
                }
                Err(_) => None,
            };
            self.files.insert(path.to_path_buf(), parsed);
        }
        Ok(self.files[path].as_ref())
    }
}

fn with_local(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in files {
        out.push(f.clone());
        let local = f.with_extension("local");
        if !files.contains(&local) && local.is_file() {
            out.push(local);
        }
    }
    out
}

fn includes_of(
    cache: &mut Cache,
    files: &[PathBuf],
    seen: &[PathBuf],
) -> Result<Vec<PathBuf>, ConfError> {
    let mut out = Vec::new();
    for f in with_local(files) {
        out.extend(includes_one(cache, &f, seen)?);
    }
    Ok(out)
}

fn includes_one(
    cache: &mut Cache,
    file: &Path,
    seen: &[PathBuf],
) -> Result<Vec<PathBuf>, ConfError> {
    let Some(parsed) = cache.get(file)? else {
        return Ok(Vec::new());
    };
    let lists: Vec<Vec<String>> = ["before", "after"]
        .iter()
        .map(|k| {
            parsed
                .section("INCLUDES")
                .and_then(|s| s.get(k))
                .map(|e| e.value.split('\n').map(String::from).collect())
                .unwrap_or_default()
        })
        .collect();
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut parts: [Vec<PathBuf>; 2] = [Vec::new(), Vec::new()];
    for (i, list) in lists.iter().enumerate() {
        for name in list.iter().filter(|n| !n.is_empty()) {
            let r = if Path::new(name).is_absolute() {
                PathBuf::from(name)
            } else {
                dir.join(name)
            };
            if seen.contains(&r) {
                continue;
            }
            let mut s = seen.to_vec();
            s.push(file.to_path_buf());
            parts[i].extend(includes_of(cache, &[r], &s)?);
        }
    }
    let [mut before, after] = parts;
    before.push(file.to_path_buf());
    before.extend(after);
    Ok(before)
}

fn sorted_glob(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// The files fail2ban reads for `NAME` under `basedir` (e.g. `filter.d/sshd`, `jail`).
pub fn config_files(basedir: &Path, name: &str) -> Vec<PathBuf> {
    let base = basedir.join(name);
    let d = PathBuf::from(format!("{}.d", base.display()));
    let mut files = vec![PathBuf::from(format!("{}.conf", base.display()))];
    files.extend(sorted_glob(&d, "conf"));
    files.push(PathBuf::from(format!("{}.local", base.display())));
    files.extend(sorted_glob(&d, "local"));
    files.into_iter().filter(|f| f.exists()).collect()
}

/// Read and merge `NAME` under `basedir`; `what` names it in the error when nothing exists.
pub fn read(basedir: &Path, name: &str, what: &'static str) -> Result<Store, ConfError> {
    let files = config_files(basedir, name);
    if files.is_empty() {
        let (dir, short) = match name.rsplit_once('/') {
            Some((d, n)) => (basedir.join(d), n.to_string()),
            None => (basedir.to_path_buf(), name.to_string()),
        };
        return Err(ConfError::NotFound {
            what,
            name: short,
            dir,
        });
    }
    read_files(&files)
}

/// Read and merge these files with their includes.
pub fn read_files(files: &[PathBuf]) -> Result<Store, ConfError> {
    let mut cache = Cache::default();
    let all = includes_of(&mut cache, files, &[])?;
    let mut store = Store::default();
    for f in &all {
        if let Some(parsed) = cache.get(f)? {
            store.merge(parsed);
        }
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_locals_and_d_directories_come_in_fail2bans_order() {
        let dir = std::env::temp_dir().join(format!("pc-conf-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("filter.d/x.d")).unwrap();
        let w = |p: &str, t: &str| std::fs::write(dir.join(p), t).unwrap();
        w("filter.d/common.conf", "[DEFAULT]\na = common\n");
        w("filter.d/common.local", "[DEFAULT]\na = common-local\n");
        w(
            "filter.d/x.conf",
            "[INCLUDES]\nbefore = common.conf\nafter = x-after.conf\n[Definition]\nv = conf\n",
        );
        w("filter.d/x-after.conf", "[Definition]\nv = after\n");
        w("filter.d/x.d/10.conf", "[Definition]\nv = d-conf\n");
        w("filter.d/x.local", "[Definition]\nv = local\n");
        let s = read(&dir, "filter.d/x", "filter").unwrap();
        let names: Vec<String> = s
            .files
            .iter()
            .map(|f| f.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "filter.d/common.conf",
                "filter.d/common.local",
                "filter.d/x.conf",
                "filter.d/x-after.conf",
                "filter.d/x.d/10.conf",
                "filter.d/x.local",
            ]
        );
        assert_eq!(s.raw("Definition", "v").unwrap().text, "local");
        assert_eq!(s.raw("Definition", "a").unwrap().text, "common-local");
        let e = read(&dir, "filter.d/nope", "filter")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no filter \"nope\"") && e.contains("filter.d"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

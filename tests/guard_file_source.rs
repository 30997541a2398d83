//! The file follower against real files: start at the end, split writes, rename + create,
//! copytruncate, resume from a saved offset, and the identity check on resume.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use portcullis::guard::source::SourceMsg;
use portcullis::guard::source::file::Follower;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("pc-file-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn lines(f: &mut Follower) -> Vec<String> {
    let mut out = Vec::new();
    for msg in f.poll(Timestamp::now()).msgs {
        if let SourceMsg::Lines { lines, .. } = msg {
            out.extend(lines.into_iter().map(|(l, _)| l));
        }
    }
    out
}

#[test]
fn starts_at_the_end_and_joins_split_writes() {
    let dir = TempDir::new("split");
    let log = dir.0.join("auth.log");
    append(&log, "old 1\nold 2\n");
    let mut f = Follower::new(0, log.clone(), None);
    assert!(lines(&mut f).is_empty(), "first start reads from the end");
    append(&log, "new 1\nFailed password for root fr");
    assert_eq!(lines(&mut f), ["new 1"]);
    append(&log, "om 192.0.2.1 port 22 ssh2\n");
    assert_eq!(
        lines(&mut f),
        ["Failed password for root from 192.0.2.1 port 22 ssh2"]
    );
    assert!(lines(&mut f).is_empty());
}

#[test]
fn follows_rename_and_create() {
    let dir = TempDir::new("rename");
    let log = dir.0.join("auth.log");
    append(&log, "before\n");
    let mut f = Follower::new(0, log.clone(), None);
    lines(&mut f);
    append(&log, "last of old\n");
    fs::rename(&log, dir.0.join("auth.log.1")).unwrap();
    append(&log, "first of new\n");
    assert_eq!(lines(&mut f), ["last of old", "first of new"]);
    append(&log, "second of new\n");
    assert_eq!(lines(&mut f), ["second of new"]);
}

#[test]
fn follows_copytruncate() {
    let dir = TempDir::new("trunc");
    let log = dir.0.join("auth.log");
    append(&log, "a fairly long first line to be truncated away\n");
    let mut f = Follower::new(0, log.clone(), None);
    lines(&mut f);
    append(&log, "x\n");
    assert_eq!(lines(&mut f), ["x"]);
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, "after truncation\n");
    assert_eq!(lines(&mut f), ["after truncation"]);
}

#[test]
fn resumes_from_the_saved_offset_only_for_the_same_file() {
    let dir = TempDir::new("resume");
    let log = dir.0.join("auth.log");
    append(&log, "seen\n");
    let mut f = Follower::new(0, log.clone(), None);
    lines(&mut f);
    append(&log, "handled\npartial");
    assert_eq!(lines(&mut f), ["handled"]);
    let mark = f.mark().unwrap();
    drop(f);
    // Written while the daemon was down: read on restart, the partial line completed.
    append(&log, " line\nwhile down\n");
    let mut f = Follower::new(0, log.clone(), Some(mark.clone()));
    assert_eq!(lines(&mut f), ["partial line", "while down"]);

    // The file was replaced while down: the saved offset belongs to another file, read from 0.
    fs::rename(&log, dir.0.join("auth.log.1")).unwrap();
    append(&log, "fresh file line\n");
    let mut f = Follower::new(0, log.clone(), Some(mark));
    assert_eq!(lines(&mut f), ["fresh file line"]);
}

#[test]
fn waits_for_a_missing_file_and_reads_it_whole_once_it_appears() {
    let dir = TempDir::new("missing");
    let log = dir.0.join("auth.log");
    let mut f = Follower::new(0, log.clone(), None);
    assert!(lines(&mut f).is_empty());
    append(&log, "hello\n");
    // It did not exist at start: everything in it is new.
    assert_eq!(lines(&mut f), ["hello"]);
    append(&log, "next\n");
    assert_eq!(lines(&mut f), ["next"]);
}

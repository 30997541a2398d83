//! Following a log file across rotation.
//!
//! - rename + create (logrotate's default): the old file is read to its end, then the new one from 0;
//! - copytruncate / truncation: the size drops below our offset, or the first bytes change: read from 0;
//! - first start: begin at the end; later starts: resume at the saved offset, but only if the file is
//!   the same one (device, inode and first bytes), so a new file is never read from a stale offset.
//!
//! Wake-ups come from inotify on the file's directory (filtered by name), with a slow poll as backstop.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use super::split::{Split, Splitter};
use super::{Mark, Sink, SourceMsg};
use crate::guard::state::FileMark;

/// How many leading bytes identify a file's content.
const HEAD: usize = 64;
/// Read at most this much per round: a backlog then travels as many small messages through the
/// daemon's bounded channel instead of a few huge ones (memory stays flat on a 100 MB log).
const ROUND: u64 = 64 * 1024;

pub struct Follower {
    source: usize,
    path: PathBuf,
    key: String,
    file: Option<File>,
    dev: u64,
    ino: u64,
    pos: u64,
    last_size: u64,
    head: Vec<u8>,
    splitter: Splitter,
    saved: Option<FileMark>,
    opened_before: bool,
    missing_reported: bool,
    buf: Vec<u8>,
}

/// What one round found.
pub struct Round {
    pub msgs: Vec<SourceMsg>,
    /// More data is waiting (the round stopped at `ROUND` bytes).
    pub more: bool,
}

impl Follower {
    pub fn new(source: usize, path: PathBuf, saved: Option<FileMark>) -> Self {
        let key = path.display().to_string();
        Follower {
            source,
            path,
            key,
            file: None,
            dev: 0,
            ino: 0,
            pos: 0,
            last_size: 0,
            head: Vec::new(),
            splitter: Splitter::default(),
            saved,
            opened_before: false,
            missing_reported: false,
            buf: vec![0u8; 64 * 1024],
        }
    }

    fn note(&self, msgs: &mut Vec<SourceMsg>, text: String, warn: bool) {
        msgs.push(SourceMsg::Note {
            source: self.source,
            text: format!("{}: {text}", self.key),
            warn,
        });
    }

    fn open(&mut self, msgs: &mut Vec<SourceMsg>) {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) => {
                // A file that appears later is new: nothing in it has been seen, read it whole.
                self.opened_before = true;
                if !self.missing_reported {
                    self.note(
                        msgs,
                        format!("cannot open ({e}); waiting for it to appear"),
                        true,
                    );
                    self.missing_reported = true;
                }
                return;
            }
        };
        self.missing_reported = false;
        let Ok(meta) = file.metadata() else { return };
        let head = read_head(&file);
        let size = meta.len();
        self.pos = match self.saved.take() {
            Some(s)
                if s.dev == meta.dev()
                    && s.ino == meta.ino()
                    && head.starts_with(&s.head)
                    && s.pos <= size =>
            {
                self.note(msgs, format!("resuming at offset {}", s.pos), false);
                s.pos
            }
            Some(_) => {
                self.note(msgs, "not the file of the saved offset (rotated while stopped): reading it from the start".into(), false);
                0
            }
            None if !self.opened_before => size,
            None => {
                self.note(msgs, "reading new file from the start".into(), false);
                0
            }
        };
        self.opened_before = true;
        self.dev = meta.dev();
        self.ino = meta.ino();
        self.last_size = size;
        self.head = head;
        self.splitter.reset();
        self.file = Some(file);
    }

    /// Open, check for truncation and rotation, and read what is new.
    pub fn poll(&mut self, now: Timestamp) -> Round {
        let mut msgs = Vec::new();
        let mut out = Split::default();
        let mut more = false;
        // Twice at most: the old file to its end, then the file that replaced it.
        for _ in 0..2 {
            if self.file.is_none() {
                self.open(&mut msgs);
            }
            let Some(file) = self.file.as_ref() else {
                break;
            };
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            if size != self.last_size {
                let head = read_head(file);
                let replaced = size < self.pos
                    || !head.starts_with(&self.head[..self.head.len().min(head.len())]);
                if replaced {
                    self.note(
                        &mut msgs,
                        "truncated (copytruncate?): reading from the start".into(),
                        false,
                    );
                    self.pos = 0;
                    self.splitter.reset();
                }
                self.head = head;
                self.last_size = size;
            }
            let buf = &mut self.buf;
            let stop_at = self.pos.saturating_add(ROUND);
            while self.pos < stop_at {
                match file.read_at(buf, self.pos) {
                    Ok(0) => break,
                    Ok(n) => {
                        self.pos += n as u64;
                        self.splitter.push(&buf[..n], &mut out);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.note(&mut msgs, format!("read error: {e}"), true);
                        break;
                    }
                }
            }
            if self.pos >= stop_at {
                more = true;
                break;
            }
            // Rotated away (renamed or deleted, another file at the path)? Then switch over.
            let moved = match std::fs::metadata(&self.path) {
                Ok(m) => m.dev() != self.dev || m.ino() != self.ino,
                Err(_) => false, // keep reading the old one until the new file appears
            };
            if !moved {
                break;
            }
            self.note(&mut msgs, "rotated".into(), false);
            self.file = None;
        }
        if out.dropped > 0 {
            msgs.push(SourceMsg::Dropped {
                source: self.source,
                count: out.dropped,
            });
        }
        if !out.lines.is_empty() || self.file.is_some() {
            let mark = self.mark().map(|mark| Mark::File {
                path: self.key.clone(),
                mark,
            });
            if !out.lines.is_empty() {
                let lines = out.lines.into_iter().map(|l| (l, now)).collect();
                msgs.push(SourceMsg::Lines {
                    source: self.source,
                    lines,
                    mark,
                });
            }
        }
        Round { msgs, more }
    }

    /// Where to resume: after the last complete line.
    pub fn mark(&self) -> Option<FileMark> {
        self.file.as_ref()?;
        Some(FileMark {
            dev: self.dev,
            ino: self.ino,
            pos: self.pos - self.splitter.pending() as u64,
            head: self.head.clone(),
        })
    }
}

fn read_head(file: &File) -> Vec<u8> {
    let mut head = vec![0u8; HEAD];
    let n = file.read_at(&mut head, 0).unwrap_or(0);
    head.truncate(n);
    head
}

/// Follow one file until the daemon goes away.
pub fn run(mut follower: Follower, sink: Sink) {
    let mut watch = DirWatch::new(&follower.path);
    loop {
        let round = follower.poll(Timestamp::now());
        for msg in round.msgs {
            if !sink(msg) {
                return;
            }
        }
        if !round.more {
            match watch.as_mut() {
                Some(w) => w.wait(Duration::from_secs(1)),
                None => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

/// inotify on the directory of a file, woken only by events about that file's name.
struct DirWatch {
    fd: OwnedFd,
    name: Vec<u8>,
}

impl DirWatch {
    fn new(path: &Path) -> Option<Self> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path.file_name()?.as_encoded_bytes().to_vec();
        // SAFETY: plain syscall; the fd is owned right away.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if raw < 0 {
            return None;
        }
        // SAFETY: raw is a fresh, valid fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let cdir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
        let mask = libc::IN_MODIFY
            | libc::IN_CREATE
            | libc::IN_MOVED_TO
            | libc::IN_MOVED_FROM
            | libc::IN_DELETE
            | libc::IN_ATTRIB
            | libc::IN_CLOSE_WRITE;
        // SAFETY: fd and cdir are valid for the call.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), cdir.as_ptr(), mask) } < 0 {
            return None;
        }
        Some(DirWatch { fd, name })
    }

    /// Sleep until an event about our file arrives or `timeout` passes.
    fn wait(&mut self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r =
                unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
            if r <= 0 {
                return;
            }
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
            if events_name(&buf[..n as usize], &self.name) {
                return;
            }
        }
    }
}

/// Does a buffer of inotify events mention `name` (or overflow, which could hide it)?
fn events_name(mut buf: &[u8], name: &[u8]) -> bool {
    const HDR: usize = std::mem::size_of::<libc::inotify_event>();
    while buf.len() >= HDR {
        // Fields at fixed offsets: wd i32, mask u32, cookie u32, len u32, then the name.
        let mask = u32::from_ne_bytes(buf[4..8].try_into().unwrap());
        let len = u32::from_ne_bytes(buf[12..16].try_into().unwrap()) as usize;
        let end = (HDR + len).min(buf.len());
        let ev_name = &buf[HDR..end];
        let ev_name = &ev_name[..memchr::memchr(0, ev_name).unwrap_or(ev_name.len())];
        if mask & libc::IN_Q_OVERFLOW != 0 || ev_name == name {
            return true;
        }
        buf = &buf[end..];
    }
    false
}

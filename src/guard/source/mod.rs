//! Where lines come from: files followed across rotation, the journal through `journalctl`, stdin.
//!
//! Each source runs on its own thread and hands whole lines to the daemon through a `Sink`, together
//! with a mark (file offset or journal cursor) that the daemon saves once those lines are processed.

pub mod file;
pub mod journal;
pub mod journal_export;
pub mod split;
pub mod stdin;

use jiff::Timestamp;

use super::state::FileMark;

/// Where a source stopped, saved by the daemon after the lines before it were handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    File { path: String, mark: FileMark },
    Cursor { key: String, cursor: String },
}

/// What a source reports.
#[derive(Debug)]
pub enum SourceMsg {
    /// Complete lines, oldest first, all read at `arrival` (or each with its own journal time).
    Lines {
        source: usize,
        lines: Vec<(String, Timestamp)>,
        mark: Option<Mark>,
    },
    /// Lines that were too long or otherwise unusable: counted and skipped.
    Dropped { source: usize, count: u64 },
    /// Something worth a log line (rotation, reopen, a journalctl restart).
    Note {
        source: usize,
        text: String,
        warn: bool,
    },
}

/// Delivery to the daemon; returns false once the daemon is gone, which ends the source thread.
pub type Sink = Box<dyn Fn(SourceMsg) -> bool + Send>;

/// Lines longer than this are not log lines an sshd writes: they are dropped and counted.
pub const MAX_LINE: usize = 16 * 1024;

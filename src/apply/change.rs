//! The building blocks every step's planner uses: a whole-file change with its diff, a command change, and
//! what a commit-confirmed trial keeps open. Steps depend on this module, never on plan.rs (which calls them).

use crate::host::snapshot::Snapshot;

use super::diff;
use super::{Action, Change, Owner, Step};

/// What stays open while an apply awaits confirmation: the ports sshd used before, the operator's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeepOpen {
    pub ports: Vec<u16>,
    pub client: Option<String>,
}

/// A whole-file write when the content, mode or owner differs from what is there now.
pub fn file_change(
    step: Step,
    snap: &Snapshot,
    path: &str,
    content: String,
    mode: u32,
    owner: Owner,
) -> Option<Change> {
    let current = snap.file(path);
    let old_text = current.map(|f| f.text());
    let mut d = diff::unified(path, old_text.as_deref(), &content);
    if let Some(f) = current {
        if f.mode != mode {
            d.push_str(&format!("mode {:04o} -> {mode:04o}\n", f.mode));
        }
        if let Owner::Ids(uid, gid) = owner {
            if (f.uid, f.gid) != (uid, gid) {
                d.push_str(&format!("owner {}:{} -> {uid}:{gid}\n", f.uid, f.gid));
            }
        }
    }
    if d.is_empty() {
        return None;
    }
    Some(Change {
        step,
        action: Action::Write {
            path: path.into(),
            content,
            mode,
            owner,
        },
        diff: d,
    })
}

/// A command change (diff empty).
pub fn command(step: Step, action: Action) -> Change {
    Change {
        step,
        action,
        diff: String::new(),
    }
}

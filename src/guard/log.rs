//! Plain stderr logging. Under systemd (JOURNAL_STREAM set) lines carry `<N>` priority prefixes so
//! journald records the level; on a terminal they read as plain text.

use std::fmt::Arguments;
use std::sync::OnceLock;

fn journal() -> bool {
    static J: OnceLock<bool> = OnceLock::new();
    *J.get_or_init(|| std::env::var_os("JOURNAL_STREAM").is_some())
}

fn emit(prio: u8, word: &str, args: Arguments<'_>) {
    if journal() {
        eprintln!("<{prio}>{args}");
    } else {
        eprintln!("portcullis guard: {word}{args}");
    }
}

pub fn info(args: Arguments<'_>) {
    emit(6, "", args);
}

pub fn notice(args: Arguments<'_>) {
    emit(5, "", args);
}

pub fn warn(args: Arguments<'_>) {
    emit(4, "warning: ", args);
}

pub fn error(args: Arguments<'_>) {
    emit(3, "error: ", args);
}

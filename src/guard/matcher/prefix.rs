//! Splitting a log line into its prefix (the connection id) and the sshd message.
//!
//! fail2ban's sshd filter reads every line through `prefregex`: an optional syslog prefix
//! (host, `sshd[pid]:`, kernel and Solaris tags), kept whole as the connection id ("mlfid"), then
//! an optional `error: ` / `fatal: ` / `error: PAM: `, then the message. All parts are optional and
//! each is taken when it is there, left to right; this scanner does the same without a regex.

/// Where the parts of a line lie (byte offsets into the text given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// End of the connection id (it starts at 0); `None` when the line carries no id at all.
    pub id_end: Option<usize>,
    /// Start of the message.
    pub message_start: usize,
}

/// The syslog prefix after the date (fail2ban's `lt_file`).
pub fn split_syslog(text: &str) -> Split {
    let b = text.as_bytes();
    usual_syslog(b).unwrap_or_else(|| general_syslog(b))
}

/// Every element of fail2ban's syslog prefix, each optional, left to right.
fn general_syslog(b: &[u8]) -> Split {
    let mut pos = 0;
    if b.starts_with(b"[]") {
        pos = 2;
    }
    pos = skip_space(b, pos);
    pos = optional(b, pos, bsd_verbose);
    pos = optional(b, pos, hostname);
    pos = optional(b, pos, kernel_tag);
    pos = optional(b, pos, vserver_tag);
    pos = optional(b, pos, daemon_tag);
    pos = optional(b, pos, solaris_id);
    finish(b, pos)
}

/// The usual ` host sshd[pid]: message` after a date, in one pass; `None` for anything else.
/// Where it answers, the general reading below answers the same: no BSD `<facility.priority>`,
/// no kernel or vserver tag (the daemon follows the host), no Solaris id after the daemon.
fn usual_syslog(b: &[u8]) -> Option<Split> {
    usual_tail(b, usual_head(b)?)
}

/// The start of the usual prefix, ` host sshd[`: where the pid begins.
pub fn usual_head(b: &[u8]) -> Option<usize> {
    // Plain index loops: this runs on every line, and the general reader's combinators cost
    // several times more.
    let space = |p: usize| b.get(p).is_some_and(u8::is_ascii_whitespace);
    if !space(0) {
        return None;
    }
    let mut p = 1;
    while space(p) {
        p += 1;
    }
    let host = p;
    while p < b.len() && !b[p].is_ascii_whitespace() {
        p += 1;
    }
    if p == host || b[host] == b'<' || !space(p) {
        return None;
    }
    while space(p) {
        p += 1;
    }
    if b.get(p..p + 4)? != b"sshd" {
        return None;
    }
    p += 4;
    if b.get(p) == Some(&b'-') {
        if b.get(p..p + 8)? != b"-session" {
            return None;
        }
        p += 8;
    }
    if b.get(p) != Some(&b'[') {
        return None;
    }
    Some(p + 1)
}

/// The rest of the usual prefix from where the pid begins (`usual_head`): `1234]: `.
#[inline(always)]
pub fn usual_tail(b: &[u8], pid_start: usize) -> Option<Split> {
    let space = |p: usize| b.get(p).is_some_and(u8::is_ascii_whitespace);
    let mut p = pid_start + super::runs::run_len(b, pid_start, super::runs::Class::Digit);
    if p == pid_start || b.get(p..p + 2)? != b"]:" || !space(p + 2) {
        return None;
    }
    p += 2;
    while space(p) {
        p += 1;
    }
    if b.get(p) == Some(&b'[') && b[p..].starts_with(b"[ID ") {
        return None;
    }
    Some(finish(b, p))
}

#[cfg(test)]
#[test]
fn the_usual_prefix_reads_as_the_general_reader_reads_it() {
    for text in [
        " vps sshd[57976]: Failed password",
        "  vps  sshd-session[1]:\tmsg",
        " vps sshd[1]: error: PAM: x",
        " vps sshd[1]: [ID 800047 auth.info] x",
        " vps sshd[]: x",
        " vps sshd[1]:x",
        " <auth.info> vps sshd[1]: x",
        " vps sshd-sess[1]: x",
        " vps sshd[1]:",
        " vps sshd[1]: ",
        " vps kernel: [1.2] x",
        "vps sshd[1]: x",
        " sshd[1]: x",
        " vps sshd(pam)[1]: x",
    ] {
        let b = text.as_bytes();
        if let Some(split) = usual_syslog(b) {
            assert_eq!(split, general_syslog(b), "{text:?}");
        }
    }
    assert!(usual_syslog(b" vps sshd[57976]: Failed password").is_some());
    assert!(usual_syslog(b" vps sshd[1]: [ID 800047 auth.info] x").is_none());
}

/// A journal-style line `host sshd[pid]: message` (fail2ban's `lt_journal`).
pub fn split_journal(text: &str) -> Split {
    let b = text.as_bytes();
    let mut pos = skip_space(b, 0);
    pos = optional(b, pos, hostname);
    pos = optional(b, pos, |b, p| {
        let p = daemon_name(b, p)?;
        let p = pid(b, p).unwrap_or(p);
        Some(if b.get(p) == Some(&b':') { p + 1 } else { p })
    });
    pos = optional(b, pos, kernel_tag);
    finish(b, pos)
}

/// The structured part of an RFC 5424 line after the timestamp:
/// `HOST APP PROCID MSGID SD MESSAGE`, where APP must be sshd.
pub fn split_rfc5424(text: &str) -> Option<Split> {
    let b = text.as_bytes();
    let mut pos = skip_space(b, 0);
    pos = word(b, pos)?; // host
    pos = one_space(b, pos)?;
    pos = daemon_bracketed(b, pos)?;
    pos = one_space(b, pos)?;
    pos = digits(b, pos)?; // procid
    pos = one_space(b, pos)?;
    pos = word(b, pos)?; // msgid
    pos = one_space(b, pos)?;
    pos = structured_data(b, pos)?;
    let after = skip_space(b, pos);
    if after == pos {
        return None;
    }
    Some(finish(b, after))
}

/// A bare message, as `sshd -E` writes it: no connection id.
pub fn split_raw(text: &str) -> Split {
    let b = text.as_bytes();
    Split {
        id_end: None,
        message_start: error_prefix(b, 0),
    }
}

/// Whether a line without a date looks like `host sshd[pid]: ...` rather than a bare message.
pub fn looks_like_journal(text: &str) -> bool {
    let b = text.as_bytes();
    let first = skip_space(b, 0);
    let is_daemon_at = |p: usize| {
        daemon_name(b, p).is_some_and(|p| {
            let p = pid(b, p).unwrap_or(p);
            b.get(p) == Some(&b':')
        })
    };
    is_daemon_at(first)
        || hostname(b, first)
            .map(|end| skip_space(b, end))
            .is_some_and(is_daemon_at)
}

fn finish(b: &[u8], id_end: usize) -> Split {
    Split {
        id_end: Some(id_end),
        message_start: error_prefix(b, id_end),
    }
}

/// Applies an optional element: taken when it matches.
fn optional(b: &[u8], pos: usize, element: impl Fn(&[u8], usize) -> Option<usize>) -> usize {
    element(b, pos).map_or(pos, |end| skip_space_required(b, end).unwrap_or(pos))
}

/// Every prefix element is followed by `\s+`; without it the element is not taken.
fn skip_space_required(b: &[u8], pos: usize) -> Option<usize> {
    let end = skip_space(b, pos);
    (end > pos).then_some(end)
}

fn skip_space(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos).is_some_and(|c| c.is_ascii_whitespace()) {
        pos += 1;
    }
    pos
}

fn one_space(b: &[u8], pos: usize) -> Option<usize> {
    (b.get(pos) == Some(&b' ')).then_some(pos + 1)
}

fn word(b: &[u8], pos: usize) -> Option<usize> {
    let mut end = pos;
    while b.get(end).is_some_and(|c| !c.is_ascii_whitespace()) {
        end += 1;
    }
    (end > pos).then_some(end)
}

fn digits(b: &[u8], pos: usize) -> Option<usize> {
    let mut end = pos;
    while b.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    (end > pos).then_some(end)
}

fn hostname(b: &[u8], pos: usize) -> Option<usize> {
    word(b, pos)
}

/// `<facility.priority>` as BSD syslog writes in verbose mode.
fn bsd_verbose(b: &[u8], pos: usize) -> Option<usize> {
    if b.get(pos) != Some(&b'<') {
        return None;
    }
    let dot = pos + 1 + b[pos + 1..].iter().position(|&c| c == b'.')?;
    if dot == pos + 1 {
        return None;
    }
    let segment_end = b[dot + 1..]
        .iter()
        .position(|&c| c == b'.')
        .map_or(b.len(), |i| dot + 1 + i);
    // The last `>` of the segment that is followed by white space (greedy `[^.]+>\s+`).
    (dot + 2..segment_end)
        .rev()
        .find(|&i| b[i] == b'>' && b.get(i + 1).is_some_and(|c| c.is_ascii_whitespace()))
        .map(|i| i + 1)
}

/// `kernel:[ 12.34]:` with optional space and colon.
fn kernel_tag(b: &[u8], pos: usize) -> Option<usize> {
    let mut p = pos;
    if !b[p..].starts_with(b"kernel:") {
        return None;
    }
    p += 7;
    if b.get(p).is_some_and(|c| c.is_ascii_whitespace()) && b.get(p + 1) == Some(&b'[') {
        p += 1;
    }
    if b.get(p) != Some(&b'[') {
        return None;
    }
    p += 1;
    while b.get(p) == Some(&b' ') {
        p += 1;
    }
    p = digits(b, p)?;
    if b.get(p) != Some(&b'.') {
        return None;
    }
    p = digits(b, p + 1)?;
    if b.get(p) != Some(&b']') {
        return None;
    }
    p += 1;
    if b.get(p) == Some(&b':') {
        p += 1;
    }
    Some(p)
}

fn vserver_tag(b: &[u8], pos: usize) -> Option<usize> {
    if !b[pos..].starts_with(b"@vserver_") {
        return None;
    }
    word(b, pos)
}

/// `sshd` or `sshd-session`.
fn daemon_name(b: &[u8], pos: usize) -> Option<usize> {
    if !b[pos..].starts_with(b"sshd") {
        return None;
    }
    let p = pos + 4;
    Some(
        if b.get(p) == Some(&b'-') && b[p..].starts_with(b"-session") {
            p + 8
        } else {
            p
        },
    )
}

/// `[1234]`.
fn pid(b: &[u8], pos: usize) -> Option<usize> {
    if b.get(pos) != Some(&b'[') {
        return None;
    }
    let p = digits(b, pos + 1)?;
    (b.get(p) == Some(&b']')).then_some(p + 1)
}

/// fail2ban's `__daemon_re`: `[\[\(]?sshd(?:-session)?(?:\(\S+\))?[\]\)]?:?`.
fn daemon_bracketed(b: &[u8], pos: usize) -> Option<usize> {
    let mut p = pos;
    if matches!(b.get(p), Some(b'[' | b'(')) {
        p += 1;
    }
    p = daemon_name(b, p)?;
    if b.get(p) == Some(&b'(') {
        // `(\S+\)`: greedy, so up to the last `)` of the word.
        let end = word(b, p).unwrap_or(p);
        if let Some(close) = b[p + 1..end].iter().rposition(|&c| c == b')') {
            if close > 0 {
                p = p + 1 + close + 1;
            }
        }
    }
    if matches!(b.get(p), Some(b']' | b')')) {
        p += 1;
    }
    if b.get(p) == Some(&b':') {
        p += 1;
    }
    Some(p)
}

/// fail2ban's `__daemon_combs_re`: `[pid]: sshd` or `sshd[pid]:` and their variants.
fn daemon_tag(b: &[u8], pos: usize) -> Option<usize> {
    // `(?:\[\d+\])?:\s+<daemon>`
    let first = {
        let p = pid(b, pos).unwrap_or(pos);
        (b.get(p) == Some(&b':'))
            .then(|| skip_space_required(b, p + 1))
            .flatten()
            .and_then(|p| daemon_bracketed(b, p))
    };
    first.or_else(|| {
        let p = daemon_bracketed(b, pos)?;
        let p = pid(b, p).unwrap_or(p);
        Some(if b.get(p) == Some(&b':') { p + 1 } else { p })
    })
}

/// Solaris' `[ID 800047 auth.info]`.
fn solaris_id(b: &[u8], pos: usize) -> Option<usize> {
    if !b[pos..].starts_with(b"[ID ") {
        return None;
    }
    let p = digits(b, pos + 4)?;
    let p = one_space(b, p)?;
    let end = word(b, p)?;
    // `\S+\]`: the last `]` of the word closes the tag.
    let close = b[p..end].iter().rposition(|&c| c == b']')?;
    (close > 0).then_some(p + close + 1)
}

/// RFC 5424 structured data: `-` or one or more `[...]` elements (quoted values may hold `]`).
fn structured_data(b: &[u8], pos: usize) -> Option<usize> {
    if b.get(pos) != Some(&b'[') {
        let end = word(b, pos)?;
        return (!b[pos..end].iter().any(|&c| c == b'[' || c == b']')).then_some(end);
    }
    let mut p = pos;
    while b.get(p) == Some(&b'[') {
        p += 1;
        let mut quoted = false;
        loop {
            match *b.get(p)? {
                b'"' => quoted = !quoted,
                b'\\' if quoted => p += 1,
                b']' if !quoted => break,
                _ => {}
            }
            p += 1;
        }
        p += 1;
    }
    Some(p)
}

/// fail2ban's `__pref`: `error: `, `fatal: `, optionally followed by `PAM: `.
fn error_prefix(b: &[u8], pos: usize) -> usize {
    let rest = &b[pos..];
    // Most messages start with neither: one byte tells.
    if !matches!(rest.first(), Some(b'e' | b'f')) {
        return pos;
    }
    let after = if rest.starts_with(b"error: ") || rest.starts_with(b"fatal: ") {
        pos + 7
    } else {
        return pos;
    };
    if b[after..].starts_with(b"PAM: ") {
        after + 5
    } else {
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(split: Split, text: &str) -> (String, String) {
        let id = split
            .id_end
            .map(|e| text[..e].to_string())
            .unwrap_or_default();
        (id, text[split.message_start..].to_string())
    }

    #[test]
    fn syslog_prefixes() {
        let cases = [
            (
                " belka sshd[31602]: Failed x",
                " belka sshd[31602]: ",
                "Failed x",
            ),
            (
                " host sshd-session[1571]: Failed x",
                " host sshd-session[1571]: ",
                "Failed x",
            ),
            (" [sshd]: User root", " [sshd]: ", "User root"),
            (
                " sshd[8148]: Disconnecting: x",
                " sshd[8148]: ",
                "Disconnecting: x",
            ),
            (
                " dusky sshd[20878]: [ID 800047 auth.info] Failed",
                " dusky sshd[20878]: [ID 800047 auth.info] ",
                "Failed",
            ),
            (
                " imago sshd[28732]: error: PAM: Authentication failure",
                " imago sshd[28732]: ",
                "Authentication failure",
            ),
            (
                " vps CRON[1]: pam_unix(cron:session)",
                " vps ",
                "CRON[1]: pam_unix(cron:session)",
            ),
            (
                " vps kernel: [1.5] [UFW BLOCK]",
                " vps kernel: [1.5] ",
                "[UFW BLOCK]",
            ),
        ];
        for (text, id, message) in cases {
            assert_eq!(
                parts(split_syslog(text), text),
                (id.to_string(), message.to_string()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn journal_prefixes() {
        let text = "srv sshd[20878]: kernel:[  970.699396]: Failed keyboard-interactive";
        assert_eq!(
            parts(split_journal(text), text).1,
            "Failed keyboard-interactive"
        );
        assert!(looks_like_journal("srv sshd[1]: x"));
        assert!(looks_like_journal("sshd-session[1]: x"));
        assert!(!looks_like_journal("Failed password for root from 1.2.3.4"));
    }

    #[test]
    fn rfc5424_prefixes() {
        let text = " hostname.example.com sshd 55555 - [timeQuality tzKnown=\"1\"][x@1 test=\"[brackets]\"] Failed unknown";
        assert_eq!(
            parts(split_rfc5424(text).unwrap(), text).1,
            "Failed unknown"
        );
        assert!(split_rfc5424(" host cron 1 - - msg").is_none());
    }

    #[test]
    fn raw_messages_keep_no_id() {
        let split = split_raw("error: kex_exchange_identification: x");
        assert_eq!(split.id_end, None);
        assert_eq!(split.message_start, 7);
    }
}

//! fail2ban's regex tags (`<HOST>`, `<ADDR>`, `<F-USER>`, ...) expanded into Python regex text.
//!
//! Input: a regex as a filter's [Definition] hands it over after interpolation (tags still in).
//! Output: the exact Python-syntax text fail2ban's `Regex` class compiles, and what the groups
//! the tags put in mean. fail2ban does two rewrites, in this order:
//! 1. every `<TAG>` (a `<`, an optional `/`, word characters or `-`, an optional `/`, a `>`) is
//!    replaced: address tags by fixed regexes, `<F-NAME>`/`</F-NAME>` by a named group's open and
//!    close (a close without an earlier open, and every unknown tag, stays as written);
//! 2. a global flag group written first inside a group, `((?i)x)` or `(?:(?i)x)`, becomes the
//!    scoped `(?i:x)` (Python 3.11 only accepts global flags at the very start). Note that this
//!    also turns a *capturing* `((?i)x)` into a non-capturing group, exactly as fail2ban does.

use crate::guard::pyregex::is_python_word_char;

/// IPv4 dotted quad, as fail2ban writes it.
const IP4: &str = r"(?:\d{1,3}\.){3}\d{1,3}";
/// IPv6, as fail2ban writes it; the lookbehind lets a final `::` end the address.
const IP6: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)";

/// `<HOST>` with DNS names (`usedns` other than `no`) or without, and the other fixed tags.
fn fixed_tag(name: &str, use_dns: &str) -> Option<String> {
    let ip4 = format!("(?:::f{{4,6}}:)?(?P<ip4>{IP4})");
    let ip6 = format!("(?P<ip6>{IP6})");
    let dns = r"(?P<dns>[\w\-.^_]*\w)".to_string();
    let cidr = r"(?P<cidr>\d+)".to_string();
    let addr = format!(r"\[?(?:{ip4}|{ip6})\]?");
    let text = match name {
        "HOST" if use_dns == "no" => addr,
        "HOST" => format!("(?:{addr}|{dns})"),
        "IP4" | "F-IP4/" => ip4,
        "IP6" | "F-IP6/" => ip6,
        "ADDR" | "F-ADDR/" => addr,
        "CIDR" | "F-CIDR/" => cidr,
        "SUBNET" | "F-SUBNET/" => format!(r"\[?(?:{ip4}|{ip6})(?:/{cidr})?\]?"),
        "DNS" | "F-DNS/" => dns,
        "F-ID/" => r"(?P<fid>\S+)".to_string(),
        "F-PORT/" => r"(?P<fport>\w+)".to_string(),
        _ => return None,
    };
    Some(text)
}

/// The group name fail2ban gives an `F-NAME` tag: lower case, `id`/`port` renamed.
pub fn group_name_of_tag(tag_name: &str) -> String {
    let lower = tag_name.to_lowercase();
    match lower.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => lower,
    }
}

/// What a named group of an expanded regex means to fail2ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupMeaning {
    /// `ip4`: an IPv4 address (failure id when no `fid`).
    Ip4,
    /// `ip6`: an IPv6 address.
    Ip6,
    /// `dns`: a host name (resolved according to `usedns`).
    Dns,
    /// `cidr`: the prefix length of `<SUBNET>`/`<CIDR>`.
    Cidr,
    /// `fid`: the failure id (`<F-ID>`), preferred over the address groups.
    FailureId,
    /// `fport`: `<F-PORT>`.
    Port,
    /// `mlfid`: multi-line failure id: lines with the same value belong together.
    MultiLineId,
    /// `nofail`: the match is not a failure (kept to merge multi-line data).
    NoFail,
    /// `mlfforget`: forget the multi-line data of this `mlfid`.
    MultiLineForget,
    /// `mlfgained`: the multi-line session succeeded (no failure).
    MultiLineGained,
    /// `content`: in a prefregex, the part the failregexes are run on.
    Content,
    /// `skiplinesN`: lines skipped by `<SKIPLINES>`.
    SkipLines(u32),
    /// `alt_X[_N]`: an alternative value for `X`, used when `X` itself is empty.
    Alternate { of: String },
    /// `tuple_X[_N]`: a value appended to `X` as a tuple.
    Tuple { of: String },
    /// Any other name (`user`, custom `F-...` tags, a filter's own `(?P<...>)`): ticket data.
    Data,
}

/// The meaning of a group name; `alt_`/`tuple_` need more than the 4 letters of `alt_`, like
/// fail2ban's check.
pub fn group_meaning(name: &str) -> GroupMeaning {
    match name {
        "ip4" => return GroupMeaning::Ip4,
        "ip6" => return GroupMeaning::Ip6,
        "dns" => return GroupMeaning::Dns,
        "cidr" => return GroupMeaning::Cidr,
        "fid" => return GroupMeaning::FailureId,
        "fport" => return GroupMeaning::Port,
        "mlfid" => return GroupMeaning::MultiLineId,
        "nofail" => return GroupMeaning::NoFail,
        "mlfforget" => return GroupMeaning::MultiLineForget,
        "mlfgained" => return GroupMeaning::MultiLineGained,
        "content" => return GroupMeaning::Content,
        _ => {}
    }
    if let Some(digits) = name.strip_prefix("skiplines") {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = digits.parse::<u32>() {
                return GroupMeaning::SkipLines(n);
            }
        }
    }
    if name.chars().count() > "alt_".len() {
        for (prefix, is_alt) in [("alt_", true), ("tuple_", false)] {
            if let Some(rest) = name.strip_prefix(prefix) {
                let of = group_name_of_tag(strip_index_suffix(rest));
                return if is_alt {
                    GroupMeaning::Alternate { of }
                } else {
                    GroupMeaning::Tuple { of }
                };
            }
        }
    }
    GroupMeaning::Data
}

/// `user_12` -> `user` (a lazy name followed by an optional `_digits` at the end).
fn strip_index_suffix(rest: &str) -> &str {
    if let Some(pos) = rest.rfind('_') {
        let digits = &rest[pos + 1..];
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            return &rest[..pos];
        }
    }
    rest
}

/// A group a tag put into the regex, in order of appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagGroup {
    pub name: String,
    pub meaning: GroupMeaning,
}

/// The regex fail2ban compiles, and the groups its tags added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub regex: String,
    pub tag_groups: Vec<TagGroup>,
}

/// fail2ban refuses a regex that is empty (or blank) after expansion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("Cannot add empty regex")]
    Empty,
}

/// Expand the tags of `regex` as fail2ban's `Regex` does, with the jail's `usedns` value.
pub fn expand(regex: &str, use_dns: &str) -> Result<Expanded, TagError> {
    let mut out = String::with_capacity(regex.len() * 2);
    let mut tag_groups = Vec::new();
    let mut open_tags: Vec<String> = Vec::new();
    let mut skiplines = 0u32;
    let mut rest = regex;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let Some(tag_len) = tag_at(&rest[lt..]) else {
            out.push('<');
            rest = &rest[lt + 1..];
            continue;
        };
        let tag = &rest[lt..lt + tag_len];
        let name = &tag[1..tag.len() - 1];
        out.push_str(&replace_tag(
            tag,
            name,
            use_dns,
            &mut open_tags,
            &mut skiplines,
            &mut tag_groups,
        ));
        rest = &rest[lt + tag_len..];
    }
    out.push_str(rest);
    if out.trim_start_matches(is_python_space).is_empty() {
        return Err(TagError::Empty);
    }
    Ok(Expanded {
        regex: global_flags_to_scoped(&out),
        tag_groups,
    })
}

fn replace_tag(
    tag: &str,
    name: &str,
    use_dns: &str,
    open_tags: &mut Vec<String>,
    skiplines: &mut u32,
    tag_groups: &mut Vec<TagGroup>,
) -> String {
    if name == "SKIPLINES" {
        let n = *skiplines;
        *skiplines += 1;
        push_group(tag_groups, format!("skiplines{n}"));
        return format!(r"\n(?P<skiplines{n}>(?:(?:.*\n)*?))");
    }
    if let Some(text) = fixed_tag(name, use_dns) {
        for group in ["ip4", "ip6", "dns", "cidr", "fid", "fport"] {
            if text.contains(&format!("(?P<{group}>")) {
                push_group(tag_groups, group.to_string());
            }
        }
        return text;
    }
    let (closing, custom) = match name.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let Some(custom) = custom.strip_prefix("F-") else {
        return tag.to_string();
    };
    let valid = !custom.is_empty()
        && custom
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        return tag.to_string();
    }
    if closing {
        return if open_tags.iter().any(|t| t == custom) {
            ")".to_string()
        } else {
            tag.to_string()
        };
    }
    open_tags.push(custom.to_string());
    let group = group_name_of_tag(custom);
    push_group(tag_groups, group.clone());
    format!("(?P<{group}>")
}

fn push_group(tag_groups: &mut Vec<TagGroup>, name: String) {
    let meaning = group_meaning(&name);
    tag_groups.push(TagGroup { name, meaning });
}

/// Length of the tag starting at `text[0] == '<'`: `</?[\w\-]+/?>` with Python's Unicode `\w`.
fn tag_at(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().skip(1).peekable();
    if let Some(&(_, '/')) = chars.peek() {
        chars.next();
    }
    let mut name_len = 0;
    while let Some(&(_, c)) = chars.peek() {
        if c == '-' || is_python_word_char(c) {
            name_len += 1;
            chars.next();
        } else {
            break;
        }
    }
    if name_len == 0 {
        return None;
    }
    if let Some(&(_, '/')) = chars.peek() {
        chars.next();
    }
    match chars.next() {
        Some((i, '>')) => Some(i + 1),
        _ => None,
    }
}

/// Python's `str.isspace` for the characters `lstrip()` removes.
fn is_python_space(c: char) -> bool {
    crate::guard::pyregex::is_python_space_char(c)
}

/// `((?i)x)` / `(?:(?i)x)` -> `(?i:x)`, where the `(` is not right after a backslash.
fn global_flags_to_scoped(regex: &str) -> String {
    let bytes = regex.as_bytes();
    let mut out = String::with_capacity(regex.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'(' && (i == 0 || bytes[i - 1] != b'\\') {
            let after_open = i + 1;
            // `(?:` is tried first (the optional part is greedy), then the bare `(`.
            let with_colon = if regex[after_open..].starts_with("?:") {
                flag_group_at(bytes, after_open + 2).map(|end| (after_open + 2, end))
            } else {
                None
            };
            let found = with_colon
                .or_else(|| flag_group_at(bytes, after_open).map(|end| (after_open, end)));
            if let Some((start, end)) = found {
                out.push_str(&regex[copied..i]);
                out.push_str(&regex[start..end - 1]);
                out.push(':');
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&regex[copied..]);
    out
}

/// `(?` + lowercase letters + `)` at `start`: the index just past it.
fn flag_group_at(bytes: &[u8], start: usize) -> Option<usize> {
    if bytes.get(start) != Some(&b'(') || bytes.get(start + 1) != Some(&b'?') {
        return None;
    }
    let mut j = start + 2;
    while j < bytes.len() && bytes[j].is_ascii_lowercase() {
        j += 1;
    }
    if j == start + 2 || bytes.get(j) != Some(&b')') {
        return None;
    }
    Some(j + 1)
}

#[cfg(test)]
mod tests;

//! Regex building blocks equivalent to fail2ban's `<HOST>`, `__suff`, `__on_port_opt`, ...
//!
//! fail2ban's sshd filter uses lookarounds and conditionals (Python `re`). The `regex` crate has
//! neither, so the few places that need them are rewritten here as plain regular expressions that
//! accept exactly the same text. Everything built here runs in linear time.

/// `<IP4>`: an optional `::ffff:` mapping prefix, then a dotted quad.
pub const IP4: &str = r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})";

/// `<IP6>`. fail2ban ends it with `(?<=:):`; every repetition before it ends in `:`, so the
/// lookbehind always holds and a plain `:` is the same.
pub const IP6: &str = r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|:))";

/// `<DNS>`: a host name, kept as raw text.
pub const DNS: &str = r"(?P<dns>[\w\-.^_]*\w)";

/// `__suff`: optional ` port N`, ` on X`, ` [preauth]` (up to three), then spaces.
pub const SUFF: &str = r"(?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*";

/// `__on_port_opt`.
pub const PORTOPT: &str = r"(?: (?:port \d+|on \S+)){0,2}";

/// `__pam_auth`.
pub const PAM_AUTH: &str = r"pam_[a-z]+";

/// `<ADDR>`: an address only, never a name.
pub fn addr() -> String {
    format!(r"\[?(?:{IP4}|{IP6})\]?")
}

/// `<HOST>`: an address or a host name (fail2ban's default `usedns = warn`).
pub fn host() -> String {
    format!(r"(?:{}|{DNS})", addr())
}

/// `__authng_user`: ` by`/` from`, then optionally `invalid|authenticating user NAME`.
pub const AUTHNG_USER: &str =
    r"(?: (?:by|from))?(?: (?:invalid|authenticating) user (?P<user>\S+|.*?))?(?: from)?";

/// `__alg_match` followed by ` found`. fail2ban forbids inner words equal to `found` with a
/// lookahead; whenever such a word exists a shorter reading already matches at it, so dropping
/// the lookahead accepts the same lines (no capture depends on it).
pub const ALG_MATCH: &str = r"(?:\w+ ){0,2}\w+";

/// A non-empty run of non-spaces that is not exactly `from`.
const WORD_NOT_FROM: &str =
    r"(?:[^ f][^ ]*|f(?:[^ r][^ ]*)?|fr(?:[^ o][^ ]*)?|fro(?:[^ m][^ ]*)?|from[^ ]+)";

/// Text in which ` from ` never starts, up to the end of the line: fail2ban's
/// `(?:(?! from ).)*$`. Such text is a first word, then words that are not `from`, and may end in
/// spaces or in a last ` from` (no space follows it, so it is not ` from `).
pub fn no_from_to_end() -> String {
    format!(r"[^ ]*(?: +{WORD_NOT_FROM})*(?: +(?:from)?)?")
}

/// Text in which ` from ` never starts, when ` from ` follows it: fail2ban's
/// `(?:(?! from ).)*?` before ` from <HOST>`. Unlike `no_from_to_end`, it may not end in ` from`
/// (with the space that follows it, that would spell ` from `).
pub fn no_from_before_from() -> String {
    format!(r"[^ ]*?(?: +{WORD_NOT_FROM})*?(?: +)??")
}

/// `[^\[]+` that does not start with `literal`: fail2ban's `(?!literal)[^\[]+`.
/// The text either is a proper prefix of the literal, or departs from it at some character.
pub fn bracketless_not_starting_with(literal: &str) -> String {
    let chars: Vec<char> = literal.chars().collect();
    let mut alternatives = Vec::new();
    for split in 0..chars.len() {
        let head: String = chars[..split].iter().collect();
        let head = regex::escape(&head);
        let next = regex::escape(&chars[split].to_string());
        // Departs here: the head, then any other character that is not `[`.
        alternatives.push(format!(r"{head}[^\[{next}][^\[]*"));
        if split > 0 {
            // Ends here: a proper, non-empty prefix of the literal.
            alternatives.push(head);
        }
    }
    format!("(?:{})", alternatives.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn full(pattern: &str) -> Regex {
        Regex::new(&format!("^(?:{pattern})$")).unwrap()
    }

    /// The reference meaning of "no ` from ` starts inside `text`, given what `follows`".
    fn no_from_reference(text: &str, follows: &str) -> bool {
        let joined = format!("{text}{follows}");
        (0..text.len()).all(|i| !joined[i..].starts_with(" from "))
    }

    #[test]
    fn no_from_to_end_matches_its_definition() {
        let re = full(&no_from_to_end());
        let words = ["", " ", "from", "f", "fr", "fro", "fromx", "x", "  ", "a"];
        // Every string of up to four pieces: small, but it covers every state of ` from `.
        let mut cases = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for c in &cases {
                for w in words {
                    next.push(format!("{c}{w}"));
                }
            }
            cases.extend(next);
        }
        for text in cases {
            assert_eq!(
                re.is_match(&text),
                no_from_reference(&text, ""),
                "text {text:?}"
            );
        }
    }

    #[test]
    fn no_from_before_from_refuses_a_trailing_from() {
        let re = full(&no_from_before_from());
        for (text, ok) in [
            ("user", true),
            ("a from", false),
            ("a from b", false),
            ("from", true),
            ("a ", true),
            ("", true),
        ] {
            assert_eq!(re.is_match(text), ok, "{text:?}");
            assert_eq!(no_from_reference(text, " from 1.2.3.4"), ok, "{text:?}");
        }
    }

    #[test]
    fn bracketless_not_starting_with_literal() {
        let re = full(&bracketless_not_starting_with("Too many"));
        assert!(!re.is_match("Too many authentication failures"));
        assert!(!re.is_match("Too many"));
        assert!(re.is_match("Too man"));
        assert!(re.is_match("Bye Bye"));
        assert!(re.is_match("Toa"));
        assert!(!re.is_match("Bye [preauth]"));
        assert!(!re.is_match(""));
    }
}

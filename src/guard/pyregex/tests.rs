//! Each translation rule checked against Python's `re` run at test time (Debian's python3) on
//! small hand-written inputs: same acceptance, same match, same spans of every group.

use super::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// Python side: for each [pattern, multiline, [texts]] -> compile error or per text the spans.
const PY_DRIVER: &str = r#"
import json, re, sys
out = []
for pattern, multiline, texts in json.load(sys.stdin):
    try:
        rx = re.compile(pattern, re.MULTILINE if multiline else 0)
    except Exception as e:
        out.append({"error": str(e)})
        continue
    res = []
    for t in texts:
        m = rx.search(t)
        if m is None:
            res.append(None)
            continue
        b = lambda i: len(t[:i].encode("utf-8"))
        res.append([None if m.span(g)[0] < 0 else [b(m.span(g)[0]), b(m.span(g)[1])]
                    for g in range(rx.groups + 1)])
    out.append({"groups": rx.groups, "names": dict(rx.groupindex), "results": res})
print(json.dumps(out))
"#;

pub(super) fn python_results(cases: &[(&str, bool, Vec<String>)]) -> Vec<serde_json::Value> {
    let input = serde_json::to_string(cases).expect("json");
    let mut child = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(PY_DRIVER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run /usr/bin/python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python output");
    assert!(out.status.success(), "python failed");
    serde_json::from_slice(&out.stdout).expect("python json")
}

fn ours(rx: &CompiledRegex, text: &str) -> serde_json::Value {
    match rx.search(text).expect("no limit hit on small inputs") {
        None => serde_json::Value::Null,
        Some(m) => serde_json::Value::Array(
            m.spans()
                .iter()
                .map(|s| match s {
                    None => serde_json::Value::Null,
                    Some(r) => serde_json::json!([r.start, r.end]),
                })
                .collect(),
        ),
    }
}

/// Compares every case; returns the engines used, for rule-specific assertions.
fn check(cases: &[(&str, bool, &[&str])]) -> Vec<Option<Engine>> {
    let owned: Vec<(&str, bool, Vec<String>)> = cases
        .iter()
        .map(|(p, m, t)| (*p, *m, t.iter().map(|s| s.to_string()).collect()))
        .collect();
    let expected = python_results(&owned);
    let mut engines = Vec::new();
    for ((pattern, multiline, texts), py) in owned.iter().zip(expected) {
        let compiled = CompiledRegex::compile(pattern, *multiline);
        if let Some(err) = py.get("error") {
            assert!(
                compiled.is_err(),
                "{pattern:?}: Python refuses ({err}), we accept as {:?}",
                compiled.map(|c| c.translated().to_string())
            );
            engines.push(None);
            continue;
        }
        let rx = match compiled {
            Ok(rx) => rx,
            Err(e) => panic!("{pattern:?}: Python accepts, we refuse: {e}"),
        };
        assert_eq!(
            rx.group_count() as u64,
            py["groups"].as_u64().unwrap_or(0),
            "{pattern:?}"
        );
        let names: serde_json::Map<String, serde_json::Value> = rx
            .group_names()
            .iter()
            .map(|(n, g)| (n.clone(), serde_json::json!(g)))
            .collect();
        assert_eq!(serde_json::Value::Object(names), py["names"], "{pattern:?}");
        for (text, want) in texts
            .iter()
            .zip(py["results"].as_array().into_iter().flatten())
        {
            assert_eq!(
                &ours(&rx, text),
                want,
                "{pattern:?} on {text:?} (translated {:?})",
                rx.translated()
            );
        }
        engines.push(Some(rx.engine().clone()));
    }
    engines
}

fn all_linear(engines: &[Option<Engine>]) {
    for e in engines.iter().flatten() {
        assert_eq!(e, &Engine::Linear);
    }
}

#[test]
fn literal_angle_brackets_and_escapes() {
    all_linear(&check(&[
        (r"\<b\>", false, &["<b>", "b", "a <b> c"]),
        (r"a\-b\.c\ d\#", false, &["a-b.c d#", "a-bxc d#"]),
        (r"\x41\u00e9\U0001F600", false, &["Aé😀", "Ae"]),
        (r"\0\01\012x\101", false, &["\0\u{1}\nxA", "x"]),
        (r"[\1\7\101]+", false, &["\u{1}\u{7}A", "1"]),
        (r"\a\f\v\t", false, &["\u{7}\u{c}\u{b}\t"]),
        (r"\q", false, &["q"]),
        (r"\8", false, &["8"]),
        ("\\", false, &[""]),
    ]));
}

#[test]
fn braces_repeat_or_literal() {
    all_linear(&check(&[
        (r"a{,3}b", false, &["aaab", "b", "aaaab"]),
        (r"a{2,}", false, &["a", "aa", "aaaa"]),
        (r"a{,}", false, &["", "aaa"]),
        (r"a{}", false, &["a{}", "a"]),
        (r"a{x}", false, &["a{x}"]),
        (r"a{1,2", false, &["a{1,2"]),
        (r"a{ 1}", false, &["a{ 1}"]),
        (r"x{3}", false, &["xxx", "xx"]),
        (r"{1}", false, &[""]),
        (r"a{3,1}", false, &[""]),
        (r"a**", false, &[""]),
        (r"a{2}?b", false, &["aab"]),
        (r"a*?b+?c??", false, &["aabbc"]),
        (r"}", false, &["}"]),
    ]));
}

#[test]
fn classes_with_brackets_and_ranges() {
    all_linear(&check(&[
        (r"[^[]+", false, &["ab[cd", "[["]),
        (r"[[]", false, &["a[b", "ab"]),
        (r"[]a]+", false, &["]a]", "b"]),
        (r"[^]a]+", false, &["]a]bc", "]"]),
        (r"[a-]+", false, &["-a-", "b"]),
        (r"[\w-]+", false, &["ab-c_d", "-"]),
        (r"[\d-z]", false, &[""]),
        (r"[z-a]", false, &[""]),
        (r"[a-c-e]+", false, &["abc-e", "d"]),
        (r"[&&]+|[~~]|[--]", false, &["&&", "~", "-"]),
        (r"[\]\\]+", false, &["]\\]"]),
        (r"[\b]", false, &["\u{8}", "b"]),
        (r"[^\W\d]+", false, &["ab12_é", "12"]),
        (r"[.^$*+?(){}|]+", false, &["a.^$*+?(){}|"]),
        (r"[", false, &[""]),
    ]));
}

#[test]
fn end_anchors() {
    let engines = check(&[
        (r"a$", false, &["a", "a\n", "a\n\n", "a\nb", "ba\n"]),
        (r"a\Z", false, &["a", "a\n"]),
        (r"a$", true, &["a\nb", "a\n", "b\na"]),
        (r"^b", true, &["a\nb", "b"]),
        (r"^b", false, &["a\nb", "b"]),
        (r"(?m)^$", false, &["", "\n", "a\n"]),
        (r"$", false, &["", "\n", "a\nb\n"]),
        (r"\Aa|b\Z", false, &["ab", "xb"]),
        (r"a\n$", false, &["a\n", "a\n\n"]),
        (r"(?s)a.*$", false, &["a\nb\n", "ab\n"]),
    ]);
    all_linear(&engines);
}

#[test]
fn unicode_classes_are_pythons() {
    all_linear(&check(&[
        (r"\w+", false, &["é²½", "a\u{301}b", "\u{203f}", "\u{2460}"]),
        (r"\d+", false, &["١٢٣", "²", "12"]),
        (
            r"\s+",
            false,
            &["\u{1c}\u{1d}\u{1e}\u{1f}", "\u{85}\u{a0}", "\u{200b}"],
        ),
        (r"(?a)\w+", false, &["éa", "_1"]),
        (r"(?a:\d)\d", false, &["١1", "1١"]),
        (r"\W+\S\D", false, &["é !a ", "!!xy"]),
    ]));
}

#[test]
fn word_boundaries() {
    check(&[
        (
            r"\bfoo\b",
            false,
            &["a foo b", "afoo", "foo\u{301}", "\u{301}foo", "²foo"],
        ),
        (r"\B", false, &["", "a", " "]),
        (r"a\B", false, &["ab", "a", "a\u{301}"]),
        (r"(?a)\bé", false, &["aé", " é", "é"]),
        (r"(?a)a\b", false, &["aé", "ab", "a"]),
        (r"\b", false, &["", " "]),
    ]);
}

#[test]
fn flags_global_and_scoped() {
    all_linear(&check(&[
        (r"(?i)abc", false, &["ABC", "aBc"]),
        (r"a(?i:b)c", false, &["aBc", "ABC"]),
        (r"(?i)a(?-i:b)c", false, &["AbC", "ABC"]),
        (r"(?i)k", false, &["\u{212a}", "K"]),
        (r"(?i)i", false, &["\u{130}", "\u{131}", "I"]),
        (r"(?i)s", false, &["\u{17f}", "S"]),
        (r"(?i)[a-z]+", false, &["\u{212a}\u{17f}\u{131}\u{130}XY"]),
        (r"(?i)[^k]", false, &["\u{212a}", "kK"]),
        (r"(?ia)k", false, &["\u{212a}", "K"]),
        (r"a(?i)b", false, &["ab"]),
        (r"(?s:.)(?-s:.)", false, &["\n\n", "\na"]),
        (r".", false, &["\n", "\r"]),
        (
            r"(?x) a b # comment
              c [ ]",
            false,
            &["abc ", "a b c"],
        ),
        (r"(?x)a\ b", false, &["a b"]),
        (r"(?x)a {2}", false, &["aa"]),
        (r"(?m:^a)", false, &["b\na"]),
        (r"(?L)a", false, &["a"]),
        (r"(?au:a)", false, &["a"]),
        (r"((?i)a)", false, &["A"]),
        (r"(?i)(?s)a.", false, &["A\n"]),
    ]));
}

#[test]
fn groups_names_and_comments() {
    all_linear(&check(&[
        (
            r"(?P<user>\w+)@(?P<host>[\w.]+)",
            false,
            &["me@example.org"],
        ),
        (r"(a)(?:b)(c)?(d)", false, &["abd", "abcd"]),
        (r"a(?#comment)b", false, &["ab"]),
        (r"(?#x)*", false, &[""]),
        (r"(?P<a>x)(?P<a>y)", false, &[""]),
        (r"(?P<1a>x)", false, &[""]),
        (r"(?:(a)|b)+", false, &["ab", "ba"]),
        (r"(a|ab)(c|bcd)(d*)", false, &["abcd"]),
        (r"()", false, &[""]),
        (r"(?P<é>a)", false, &["a"]),
    ]));
}

#[test]
fn backtracking_constructs() {
    let engines = check(&[
        (r"(\w)\1", false, &["abcc", "ab"]),
        (r"(?P<q>['\x22])x(?P=q)", false, &["'x'", "'x\""]),
        (r"(?i)(a)\1", false, &["aA"]),
        (r"(a)?(?(1)b|c)", false, &["ab", "c", "ac"]),
        (r"(?P<n>a)?(?(n)b|c)", false, &["ab", "c"]),
        (r"a(?!b)", false, &["ab", "ac"]),
        (r"(?<!a)b", false, &["ab", "cb"]),
        (r"(?<=ab)c", false, &["abc", "bc"]),
        (r"(?<=a+)c", false, &[""]),
        (r"(?>a+)a", false, &["aaa"]),
        (r"a++a", false, &["aaa"]),
        (r"a*+b", false, &["aab"]),
        (r"(a)\2", false, &[""]),
        (r"(a\1)", false, &[""]),
    ]);
    for e in engines.iter().flatten() {
        assert!(matches!(e, Engine::Backtracking { .. }), "{e:?}");
    }
}

#[test]
fn a_backtracking_pattern_has_a_linear_superset_that_keeps_every_match() {
    let cases: &[(&str, &[&str])] = &[
        (r"(\w)\1x", &["aax", "abx", "zzz"]),
        (r"(a)?(?(1)b|c)d", &["abd", "cd", "acd", "xyz"]),
        (
            r"^Failed (?!publickey)\S+ for",
            &["Failed password for", "Failed publickey for", "Accepted"],
        ),
        (r"(?<!a)b\bq", &["cb q", "ab q", "zzz"]),
        (r"(?>a+)b|a*+c", &["aab", "aac", "ddd"]),
    ];
    for (pattern, texts) in cases {
        let rx = CompiledRegex::compile(pattern, false).unwrap();
        let mut ruled_out = 0;
        for text in *texts {
            let superset = rx.superset_matches(text).expect("a superset is built");
            if rx.search(text).unwrap().is_some() {
                assert!(
                    superset,
                    "{pattern:?} matches {text:?}, its superset does not"
                );
            }
            ruled_out += usize::from(!superset);
        }
        assert!(ruled_out > 0, "{pattern:?}: the superset rules nothing out");
    }
}

#[test]
fn decided_lookarounds_become_linear() {
    let ip6 = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)";
    let engines = check(&[
        (
            ip6,
            false,
            &["fe80::1", "::", "2001:db8::", "1:2:3:4:5:6:7:8", "a::b:"],
        ),
        (
            r#"error in "[^"]+(?:"+[^"]*(?="))*?" x"#,
            false,
            &[r#"error in "a"b" x"#],
        ),
        (r"a(?=a)|b(?!a)", false, &["ba", "aa", "bb"]),
        (r"x(?<=x)y(?<!x)", false, &["xy"]),
        (r"(?<=:)a", false, &[":a", "a"]),
    ]);
    assert_eq!(engines[0], Some(Engine::Linear));
    assert_eq!(engines[1], Some(Engine::Linear));
    assert_eq!(engines[3], Some(Engine::Linear));
    assert!(matches!(engines[4], Some(Engine::Backtracking { .. })));
}

#[test]
fn limit_hit_is_an_error_not_a_miss() {
    let rx = CompiledRegex::compile(r"(?:(a+)+\1)+b", false).expect("compiles");
    // The "!b" gets the text past the linear superset to the backtracker.
    let text = format!("{}!b", "a".repeat(40));
    assert!(rx.search(&text).is_err());
}

#[test]
fn cap_line_cuts_at_char_boundary() {
    let long = "é".repeat(MAX_LINE_BYTES);
    let cut = cap_line(&long);
    assert!(cut.len() <= MAX_LINE_BYTES && cut.len() + 2 > MAX_LINE_BYTES);
    assert_eq!(cap_line("short"), "short");
}

#[test]
fn word_disagreement_is_not_empty() {
    // Python's \w has No (e.g. '²') and no marks; the regex crate's has marks: they differ.
    assert!(run::word_disagreement_ranges() > 0);
}

#[test]
fn tables_match_python() {
    // Every code point's \w, \d, \s status and (?i) equivalences, against the running Python.
    let script = r#"
import re, json, _sre, sys
from re import _casefix
cls = {}
for name, pat in (("w", r"\w"), ("d", r"\d"), ("s", r"\s")):
    rx = re.compile(pat)
    cls[name] = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and rx.match(chr(cp))]
print(json.dumps(cls))
"#;
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for (name, cat) in [
        ("w", charset::Category::Word),
        ("d", charset::Category::Digit),
        ("s", charset::Category::Space),
    ] {
        let py: Vec<u32> = v[name]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|x| x.as_u64().map(|x| x as u32))
            .collect();
        let set = charset::category(cat, false, false);
        let ours: usize = set
            .ranges()
            .iter()
            .map(|(lo, hi)| (hi - lo + 1) as usize)
            .sum();
        assert_eq!(ours, py.len(), "\\{name}");
        assert!(py.iter().all(|&c| set.contains(c)), "\\{name}");
    }
}

#[test]
fn repeated_empty_matching_groups_are_refused() {
    // Python runs one more, empty, iteration after the last non-empty one and records its
    // captures ((a*)+ on "aa": group 1 = (2,2)); the regex crate never runs an empty iteration
    // ((0,2)). The overall match is the same; the captures are not: refused, with the reason.
    for p in [
        r"(a*)+",
        r"(a|)*",
        r"(a?)*b",
        r"(?:(a)|b|)*",
        r"(a*)*?",
        r"(\s*\w*){2,}",
    ] {
        match CompiledRegex::compile(p, false) {
            Err(PyRegexError::Unsupported(reason)) => assert!(reason.contains("empty"), "{reason}"),
            other => panic!("{p}: {other:?}"),
        }
    }
    // Without a group inside, or when the body cannot be empty, or at most once: exact.
    all_linear(&check(&[
        (r"(?:a*)+b", false, &["aab", "b"]),
        (r"(a+)*b", false, &["aab", "b"]),
        (r"(a*)?b", false, &["aab", "b"]),
        (r"(a*){1}b", false, &["aab", "b"]),
    ]));
}

/// ASCII texts run on the translation cut to ASCII, the others on the whole one (built at the
/// first of them): both must give Python's answers, including where only a non-ASCII character
/// changes the result (Kelvin sign under IGNORECASE, `é` as a word character, `[^a]`).
#[test]
fn ascii_and_unicode_texts_take_their_own_translation_and_agree_with_python() {
    all_linear(&check(&[
        (
            r"(?i)^k\w+\b",
            false,
            &["Kelvin", "\u{212A}elvin", "kél", "k"],
        ),
        (r"\bfoo\b", false, &["a foo b", "éfoo", "fooé", "foo_"]),
        (r"[^a]+$", false, &["bbb", "bé", "a"]),
        (r"\d+\s\S+", false, &["12 ab", "١٢ ab", "12\u{2003}x"]),
        (r".+", false, &["ab\ncd", "é\nx"]),
    ]));
    let rx = CompiledRegex::compile(r"\w+", false).unwrap();
    assert!(
        rx.full.get().is_none(),
        "the whole translation was built at start"
    );
    assert_eq!(rx.search("abc").unwrap().unwrap().span(0), Some(0..3));
    assert!(
        rx.full.get().is_none(),
        "an ASCII text built the whole translation"
    );
    assert_eq!(rx.search("héllo").unwrap().unwrap().span(0), Some(0..6));
    assert!(rx.full.get().is_some());
}

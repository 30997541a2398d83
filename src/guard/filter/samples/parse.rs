//! A fail2ban sample log as its test suite reads it: comment lines carrying JSON (`# failJSON:`,
//! `# filterOptions:`, `# fileOptions:`, `# addFILE:`), and the log lines they describe.

use serde_json::{Map, Value};

/// Options as the sample files give them: JSON values by key.
pub type JsonOptions = Map<String, Value>;

/// One step of a sample file, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Options merged into every later `filterOptions` set of this file.
    FileOptions(JsonOptions),
    /// The filter option sets the following lines run under (one filter per set).
    FilterOptions(Vec<JsonOptions>),
    /// Another sample file to run after this one (by name, in the same directory).
    AddFile(String),
    /// A log line: 1-based line number, the text without its line end, what is expected (None:
    /// a line with no `failJSON` before it, which must not match).
    Line {
        number: usize,
        text: String,
        expect: Option<JsonOptions>,
    },
    /// A JSON comment that does not parse (the suite would stop there).
    BadJson { number: usize, error: String },
}

/// The steps of a sample file's text.
pub fn steps(text: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut lines = text.split_inclusive('\n').enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        if let Some((kind, json)) = json_comment(line) {
            let parsed: Result<Value, _> = serde_json::from_str(json);
            let value = match parsed {
                Ok(v) => v,
                Err(e) => {
                    out.push(Step::BadJson {
                        number: i + 1,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            match kind {
                "fileOptions" => out.push(Step::FileOptions(as_object(value))),
                "filterOptions" => {
                    let sets = match value {
                        Value::Array(items) => items.into_iter().map(as_object).collect(),
                        other => vec![as_object(other)],
                    };
                    out.push(Step::FilterOptions(sets));
                }
                "addFILE" => {
                    if let Value::String(name) = value {
                        out.push(Step::AddFile(name));
                    }
                }
                _ => {
                    // failJSON: the next line is the one it describes, whatever it holds.
                    if let Some((j, next)) = lines.next() {
                        out.push(Step::Line {
                            number: j + 1,
                            text: strip_line_end(next).to_string(),
                            expect: Some(as_object(value)),
                        });
                    }
                }
            }
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else {
            out.push(Step::Line {
                number: i + 1,
                text: strip_line_end(raw).to_string(),
                expect: None,
            });
        }
    }
    out
}

fn strip_line_end(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn as_object(v: Value) -> JsonOptions {
    match v {
        Value::Object(m) => m,
        _ => JsonOptions::new(),
    }
}

/// `^#+ ?(failJSON|fileOptions|filterOptions|addFILE):(.+)$`: the kind and the JSON text.
fn json_comment(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start_matches('#');
    if rest.len() == line.len() {
        return None;
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    for kind in ["failJSON", "fileOptions", "filterOptions", "addFILE"] {
        if let Some(json) = rest.strip_prefix(kind).and_then(|r| r.strip_prefix(':')) {
            let json = json.strip_suffix('\r').unwrap_or(json);
            if !json.is_empty() {
                return Some((kind, json));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fail_json_describes_the_next_line_and_other_lines_must_not_match() {
        let text = "# a comment\n# failJSON: { \"time\": \"2005-01-01T00:00:00\", \"match\": true, \"host\": \"192.0.2.1\" }\nJan  1 00:00:00 x: bad from 192.0.2.1\r\n\nplain line\n";
        let s = steps(text);
        assert_eq!(s.len(), 2);
        match &s[0] {
            Step::Line {
                number,
                text,
                expect: Some(e),
            } => {
                assert_eq!(*number, 3);
                assert_eq!(text, "Jan  1 00:00:00 x: bad from 192.0.2.1");
                assert_eq!(e["host"], "192.0.2.1");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &s[1],
            Step::Line {
                number: 5,
                expect: None,
                ..
            }
        ));
    }

    #[test]
    fn option_sets_files_and_bad_json_are_steps_of_their_own() {
        let text = "# filterOptions: [{\"mode\": \"aggressive\"}, {}]\n## fileOptions: {\"logtype\": \"journal\"}\n# addFILE: \"sshd-journal\"\n# failJSON: {broken\n";
        let s = steps(text);
        assert!(
            matches!(&s[0], Step::FilterOptions(sets) if sets.len() == 2 && sets[0]["mode"] == "aggressive")
        );
        assert!(matches!(&s[1], Step::FileOptions(o) if o["logtype"] == "journal"));
        assert_eq!(s[2], Step::AddFile("sshd-journal".into()));
        assert!(matches!(&s[3], Step::BadJson { number: 4, .. }));
    }
}

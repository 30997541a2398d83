//! One INI file as Python's configparser reads it with fail2ban's settings: `=` or `:` between
//! key and value, keys lowercased, `#` and `;` full-line comments, `;` inline comments after a
//! space, values continued on more-indented lines (blank lines inside a value kept, trailing
//! ones dropped), duplicate sections or keys in one file refused. Pure.

use std::path::{Path, PathBuf};

/// A key's value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// A section (`[DEFAULT]` included, under that name) in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniFile {
    pub path: PathBuf,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct IniError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl IniFile {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// Where a comment starts: a full-line `#`/`;`, or an inline `;` at the start or after a space.
fn comment_start(line: &str) -> Option<usize> {
    let t = line.trim();
    if t.starts_with('#') || t.starts_with(';') {
        return Some(0);
    }
    let b = line.as_bytes();
    line.match_indices(';')
        .map(|(i, _)| i)
        .find(|&i| i == 0 || b[i - 1].is_ascii_whitespace())
}

/// Python's `str.isspace` for the indentation measure; configparser uses `\S` to find it.
fn indent_of(line: &str) -> usize {
    line.char_indices()
        .find(|(_, c)| !c.is_whitespace())
        .map_or(0, |(i, _)| i)
}

pub fn parse(text: &str, path: &Path) -> Result<IniFile, IniError> {
    let err = |line: usize, message: String| IniError {
        file: path.to_path_buf(),
        line,
        message,
    };
    let mut sections: Vec<Section> = Vec::new();
    // The value being read: (section index, entry index) and its lines.
    let mut current: Option<(usize, usize)> = None;
    let mut value_lines: Vec<String> = Vec::new();
    let mut in_section: Option<usize> = None;
    let mut indent_level = usize::MAX;
    let mut seen_sections: Vec<String> = Vec::new();
    let flush =
        |sections: &mut Vec<Section>, current: Option<(usize, usize)>, lines: &mut Vec<String>| {
            if let Some((s, e)) = current {
                let joined = lines.join("\n");
                sections[s].entries[e].value = joined.trim_end().to_string();
            }
            lines.clear();
        };
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        let cut = comment_start(raw);
        let value = raw[..cut.unwrap_or(raw.len())].trim();
        if value.is_empty() {
            // An empty line belongs to a value being read, but a comment line does not.
            if cut.is_none() && current.is_some() {
                value_lines.push(String::new());
            }
            continue;
        }
        let indent = indent_of(raw);
        if current.is_some() && indent > indent_level {
            value_lines.push(value.to_string());
            continue;
        }
        flush(&mut sections, current.take(), &mut value_lines);
        indent_level = indent;
        if let Some(header) = value
            .strip_prefix('[')
            .and_then(|r| r.rfind(']').map(|e| &r[..e]))
        {
            if header.is_empty() {
                return Err(err(lineno, format!("bad section header {value:?}")));
            }
            if seen_sections.iter().any(|s| s == header) {
                return Err(err(
                    lineno,
                    format!("section [{header}] already in this file"),
                ));
            }
            seen_sections.push(header.to_string());
            sections.push(Section {
                name: header.to_string(),
                entries: Vec::new(),
            });
            in_section = Some(sections.len() - 1);
            continue;
        }
        let Some(s) = in_section else {
            return Err(err(lineno, format!("{value:?} is outside any [section]")));
        };
        let Some(pos) = value.find(['=', ':']) else {
            return Err(err(
                lineno,
                format!("{value:?} is neither `key = value` nor a [section]"),
            ));
        };
        let key = value[..pos].trim_end().to_lowercase();
        if key.is_empty() {
            return Err(err(
                lineno,
                format!("no key before {:?}", &value[pos..pos + 1]),
            ));
        }
        if sections[s].entries.iter().any(|e| e.key == key) {
            return Err(err(
                lineno,
                format!(
                    "key {key:?} already in section [{}] of this file",
                    sections[s].name
                ),
            ));
        }
        sections[s].entries.push(Entry {
            key,
            value: String::new(),
            line: lineno,
        });
        current = Some((s, sections[s].entries.len() - 1));
        value_lines.push(value[pos + 1..].trim().to_string());
    }
    flush(&mut sections, current.take(), &mut value_lines);
    Ok(IniFile {
        path: path.to_path_buf(),
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<IniFile, IniError> {
        parse(text, Path::new("filter.d/x.conf"))
    }

    #[test]
    fn values_continue_on_indented_lines_and_comments_go() {
        let f = p("# head\n[Definition]\nFailRegex = ^one <HOST>$ ; why\n            ^two\n\n  # not in it\n            ^three\n\nignoreregex =\nkey: v;not a comment\n")
            .unwrap();
        let d = f.section("Definition").unwrap();
        let fr = d.get("failregex").unwrap();
        assert_eq!(fr.value, "^one <HOST>$\n^two\n\n^three");
        assert_eq!(fr.line, 3);
        assert_eq!(d.get("ignoreregex").unwrap().value, "");
        assert_eq!(d.get("key").unwrap().value, "v;not a comment");
    }

    #[test]
    fn the_first_equals_or_colon_splits_and_keys_are_lowercased() {
        let f = p("[Init]\ndatepattern = ^%%Y-%%m-%%d %%H:%%M:%%S\nMaxLines: 10\n").unwrap();
        let i = f.section("Init").unwrap();
        assert_eq!(
            i.get("datepattern").unwrap().value,
            "^%%Y-%%m-%%d %%H:%%M:%%S"
        );
        assert_eq!(i.get("maxlines").unwrap().value, "10");
    }

    #[test]
    fn mistakes_name_their_line() {
        assert_eq!(p("x = 1\n").unwrap_err().line, 1);
        assert_eq!(p("[a]\nx = 1\nx = 2\n").unwrap_err().line, 3);
        assert_eq!(p("[a]\n[a]\n").unwrap_err().line, 2);
        let e = p("[a]\njust words\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "filter.d/x.conf:2: \"just words\" is neither `key = value` nor a [section]"
        );
    }
}

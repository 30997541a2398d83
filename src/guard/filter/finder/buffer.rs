//! The lines a filter looks at: each split around its date (fail2ban's "tuple line"), and the
//! multi-line buffer (`maxlines`) they are matched in, joined with "\n" and without their dates.

/// A log line split around its date: text before, the date's text, text after. Regexes see the
/// line with the date cut out (`before + after`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TupleLine {
    pub before: String,
    pub date: String,
    pub after: String,
}

impl TupleLine {
    /// A line without a date (a journal message, or no date found).
    pub fn undated(text: &str) -> TupleLine {
        TupleLine {
            after: text.to_string(),
            ..TupleLine::default()
        }
    }

    /// What the regexes see.
    pub fn without_date(&self) -> String {
        format!("{}{}", self.before, self.after)
    }

    /// The whole line as it was logged.
    pub fn full(&self) -> String {
        format!("{}{}{}", self.before, self.date, self.after)
    }
}

/// The text a regex searches: every line without its date, each ended by "\n".
pub fn joined(lines: &[TupleLine]) -> String {
    let mut out = String::new();
    for l in lines {
        out.push_str(&l.before);
        out.push_str(&l.after);
        out.push('\n');
    }
    out
}

/// Which lines of `lines` a match at `start..end` of `joined(lines)` covers, and which it leaves:
/// the lines from the one holding the match's first character to the one holding its last; lines
/// the regex skipped (`skipped`, the text of `<SKIPLINES>` groups) go back to the unmatched ones.
pub fn split_by_match(
    lines: &[TupleLine],
    text: &str,
    start: usize,
    end: usize,
    skipped: &[String],
) -> (Vec<TupleLine>, Vec<TupleLine>) {
    if lines.len() <= 1 {
        return (lines.to_vec(), Vec::new());
    }
    let bytes = text.as_bytes();
    // The line start at or before the match's first character (a match starting on a "\n"
    // belongs to the line that "\n" ends).
    let first_end = (start + 1).min(bytes.len());
    let line_start = bytes[..first_end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let from = end.saturating_sub(1).min(bytes.len());
    let line_end = bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| from + i + 1);
    let count = |upto: usize| bytes[..upto].iter().filter(|&&b| b == b'\n').count();
    let (first, last) = (count(line_start), count(line_end).min(lines.len()));
    let mut matched: Vec<TupleLine> = lines[first.min(last)..last].to_vec();
    let mut unmatched: Vec<TupleLine> = lines[..first.min(last)].to_vec();
    let mut n = 0;
    for skip in skipped {
        if let Some(m) = matched[n.min(matched.len())..]
            .iter()
            .position(|l| &l.without_date() == skip)
        {
            unmatched.push(matched.remove(n + m));
            n += m;
        }
    }
    unmatched.extend_from_slice(&lines[last..]);
    (matched, unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(texts: &[&str]) -> Vec<TupleLine> {
        texts.iter().map(|t| TupleLine::undated(t)).collect()
    }

    #[test]
    fn the_buffer_is_the_lines_without_dates_each_ended_by_a_newline() {
        let l = TupleLine {
            before: "".into(),
            date: "Jan  1 00:00:00".into(),
            after: " host sshd[1]: x".into(),
        };
        assert_eq!(
            joined(&[l.clone(), TupleLine::undated("y")]),
            " host sshd[1]: x\ny\n"
        );
        assert_eq!(l.full(), "Jan  1 00:00:00 host sshd[1]: x");
    }

    #[test]
    fn a_match_covers_the_lines_it_touches_and_leaves_the_rest() {
        let ls = lines(&["a1", "b2", "c3", "d4"]);
        let text = joined(&ls);
        // "2\nc" spans lines b2 and c3.
        let s = text.find("2\nc").unwrap();
        let (m, u) = split_by_match(&ls, &text, s, s + 3, &[]);
        assert_eq!(m, lines(&["b2", "c3"]));
        assert_eq!(u, lines(&["a1", "d4"]));
        // A skipped line inside the match goes back to the unmatched ones, in order.
        let (m, u) = split_by_match(&ls, &text, 0, text.len() - 1, &["b2".to_string()]);
        assert_eq!(m, lines(&["a1", "c3", "d4"]));
        assert_eq!(u, lines(&["b2"]));
    }

    #[test]
    fn one_line_is_always_all_matched() {
        let ls = lines(&["only"]);
        let (m, u) = split_by_match(&ls, "only\n", 1, 2, &[]);
        assert_eq!((m.len(), u.len()), (1, 0));
    }
}

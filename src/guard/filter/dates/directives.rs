//! The `%` directives of a date pattern: what each one matches (Python's `_strptime.TimeRE` in the
//! C locale, with fail2ban's replacements and its `%Ex..` and `%k`/`%l` additions) and the name
//! it gets in a template's name; the translation of a whole pattern into its name and regex.

use super::DateError;

/// Directives of one letter (after `%`).
const SINGLE: &str = "dfHIGjmMSUwuVyYzAaBbpZ%WcxXkl";
/// Third letters of the `%Ex?` directives.
const EXTENDED: &str = "ZzdmHklMSYy";

/// Time-zone abbreviations as the `%ExZ`/`%Exz` directives accept them: 1, 3, 4 or 5 capitals.
const ZONE_ABBR: &str = "[A-Z](?:[A-Z]{2,4})?";
const ZONE_OFFSET: &str = "[+-][01]\\d(?::?\\d{2})?";

/// One directive, as found in a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Directive {
    /// `%x`
    Single(char),
    /// `%Exx`
    Extended(char),
}

impl Directive {
    /// The directive starting right after a `%` in `rest`, with its length.
    pub(crate) fn parse(rest: &str) -> Option<(Directive, usize)> {
        let mut chars = rest.chars();
        let first = chars.next()?;
        if first == 'E' && rest.starts_with("Ex") {
            if let Some(third) = rest[2..].chars().next() {
                if EXTENDED.contains(third) {
                    return Some((Directive::Extended(third), 3));
                }
            }
        }
        if SINGLE.contains(first) {
            return Some((Directive::Single(first), first.len_utf8()));
        }
        None
    }

    /// The regex this directive stands for; `year` is the `%ExY` regex (it follows the clock).
    pub(crate) fn regex(self, year: &str) -> String {
        let fixed = match self {
            Directive::Single(c) => match c {
                'd' => "(?P<d>[1-2]\\d|[0 ]?[1-9]|3[0-1])",
                'f' => "(?P<f>[0-9]{1,6})",
                'H' => "(?P<H>[0-1]?\\d|2[0-3])",
                'I' => "(?P<I>1[0-2]|0[1-9]|[1-9])",
                'G' => "(?P<G>\\d\\d\\d\\d)",
                'j' => {
                    "(?P<j>36[0-6]|3[0-5]\\d|[1-2]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])"
                }
                'm' => "(?P<m>0?[1-9]|1[0-2])",
                'M' => "(?P<M>[0-5]?\\d)",
                'S' => "(?P<S>[0-5]?\\d|6[0-1])",
                'U' => "(?P<U>5[0-3]|[0-4]\\d|\\d)",
                'w' => "(?P<w>[0-6])",
                'u' => "(?P<u>[1-7])",
                'V' => "(?P<V>5[0-3]|0[1-9]|[1-4]\\d|\\d)",
                'y' => "(?P<y>\\d\\d)",
                'Y' => "(?P<Y>\\d{4})",
                'z' => "(?P<z>Z|UTC|GMT|[+-][01]\\d(?::?\\d{2})?)",
                'A' => "(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)",
                'a' => "(?P<a>mon|tue|wed|thu|fri|sat|sun)",
                'B' => {
                    "(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)"
                }
                'b' => "(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
                'p' => "(?P<p>am|pm)",
                'Z' => "(?P<Z>Z|[A-Z]{3,5})",
                '%' => "%",
                'W' => "(?P<W>5[0-3]|[0-4]\\d|\\d)",
                'c' => {
                    "(?P<a>mon|tue|wed|thu|fri|sat|sun)\\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\\s+(?P<d>3[0-1]|[1-2]\\d|0[1-9]|[1-9]| [1-9])\\s+(?P<H>2[0-3]|[0-1]\\d|\\d):(?P<M>[0-5]\\d|\\d):(?P<S>6[0-1]|[0-5]\\d|\\d)\\s+(?P<Y>\\d\\d\\d\\d)"
                }
                'x' => {
                    "(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\\d|0[1-9]|[1-9]| [1-9])/(?P<y>\\d\\d)"
                }
                'X' => "(?P<H>2[0-3]|[0-1]\\d|\\d):(?P<M>[0-5]\\d|\\d):(?P<S>6[0-1]|[0-5]\\d|\\d)",
                'k' => " ?(?P<H>[0-2]?\\d)",
                'l' => " ?(?P<I>1?\\d)",
                _ => "",
            },
            Directive::Extended(c) => match c {
                'Z' => return format!("(?P<Z>{ZONE_ABBR})"),
                'z' => return format!("(?P<z>(?:{ZONE_ABBR})?{ZONE_OFFSET}|{ZONE_ABBR})"),
                'd' => "(?P<d>[1-2]\\d|0[1-9]|3[0-1])",
                'm' => "(?P<m>0[1-9]|1[0-2])",
                'H' => "(?P<H>[0-1]\\d|2[0-3])",
                'k' => " ?(?P<H>[0-1]?\\d|2[0-3])",
                'l' => " ?(?P<I>1[0-2]|\\d)",
                'M' => "(?P<M>[0-5]\\d)",
                'S' => "(?P<S>[0-5]\\d|6[0-1])",
                'Y' => return format!("(?P<Y>{year}\\d)"),
                'y' => "(?P<y>\\d{2})",
                _ => "",
            },
        };
        fixed.to_string()
    }

    /// The directive's word in template names (fail2ban's names; others are `%x`).
    pub(crate) fn name(self) -> String {
        let word = |c: char| -> Option<&'static str> {
            Some(match c {
                'a' => "DAY",
                'A' => "DAYNAME",
                'b' => "MON",
                'B' => "MONTH",
                'd' => "Day",
                'H' => "24hour",
                'I' => "12hour",
                'j' => "Yearday",
                'm' => "Month",
                'M' => "Minute",
                'p' => "AMPM",
                'S' => "Second",
                'U' | 'W' => "Yearweek",
                'w' => "Weekday",
                'y' => "Year2",
                'Y' => "Year",
                '%' => "%",
                'z' => "Zone offset",
                'f' => "Microseconds",
                'Z' => "Zone name",
                _ => return None,
            })
        };
        match self {
            Directive::Single(c) => word(c).map_or_else(|| format!("%{c}"), str::to_string),
            Directive::Extended(c) => match word(c) {
                Some(w) => format!("Ex{w}"),
                None => format!("%Ex{c}"),
            },
        }
    }
}

/// A pattern's template name and regex: every directive replaced by its word resp. regex.
/// A `%` that starts no directive is refused (Python's `%`-formatting fails on it).
pub(crate) fn translate(pattern: &str, year: &str) -> Result<(String, String), DateError> {
    let mut name = String::with_capacity(pattern.len());
    let mut regex = String::with_capacity(pattern.len() * 4);
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        name.push_str(&rest[..at]);
        regex.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some((directive, len)) = Directive::parse(after) else {
            return Err(DateError::Percent {
                pattern: pattern.to_string(),
                at: pattern.len() - rest.len() + at,
            });
        };
        name.push_str(&directive.name());
        regex.push_str(&directive.regex(year));
        rest = &after[len..];
    }
    name.push_str(rest);
    regex.push_str(rest);
    Ok((name, regex))
}

/// The `%ExY` century part: the first three digits of the years from the year before `now_year`
/// to three years after it, and of every third year from the year before `alt_year` up to
/// `now_year` (fail2ban takes 2001 there, so 20xx years of this century all match), as one
/// compact regex (common prefixes factored out, one-digit rests as a class).
pub(crate) fn century_regex(now_year: i32, alt_year: i32) -> String {
    let mut set: Vec<String> = vec![cent(now_year - 1), cent(now_year + 3)];
    let mut i = -1;
    while i < now_year - alt_year + 1 {
        set.push(cent(alt_year + i));
        i += 3;
    }
    set.sort();
    set.dedup();
    group(&set)
}

fn cent(year: i32) -> String {
    year.to_string().chars().take(3).collect()
}

/// fail2ban's grouping of a sorted set of strings of one length into a regex.
fn group(set: &[String]) -> String {
    if set.len() > 1 {
        if let Some(common) = common_prefix(set) {
            let rests: Vec<String> = set.iter().map(|s| s[common.len()..].to_string()).collect();
            return format!("{common}{}", group(&rests));
        }
        if set[0].chars().count() > 1 {
            return format!("(?:{})", set.join("|"));
        }
        return format!("[{}]", set.concat());
    }
    set.concat()
}

/// All but the last char shared by every string, else the first char shared by all.
fn common_prefix(set: &[String]) -> Option<String> {
    let all_but_last = |s: &String| -> String {
        let n = s.chars().count();
        s.chars().take(n.saturating_sub(1)).collect()
    };
    let first = all_but_last(&set[0]);
    if !first.is_empty() && set.iter().all(|s| all_but_last(s) == first) {
        return Some(first);
    }
    let head: String = set[0].chars().take(1).collect();
    if !head.is_empty() && set.iter().all(|s| s.starts_with(&head)) {
        return Some(head);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn century_covers_this_century_from_2000() {
        assert_eq!(century_regex(2026, 2001), "20[012]");
        assert_eq!(century_regex(2005, 2001), "200");
        assert_eq!(
            century_regex(2099, 2001),
            "2(?:00|01|02|03|04|05|06|07|08|09|10)"
        );
    }

    #[test]
    fn directives_translate_to_names_and_regexes() {
        let (name, regex) = translate("%d/%b/%ExY:%H %%", "20[012]").unwrap();
        assert_eq!(name, "Day/MON/ExYear:24hour %");
        assert_eq!(
            regex,
            "(?P<d>[1-2]\\d|[0 ]?[1-9]|3[0-1])/(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)/(?P<Y>20[012]\\d):(?P<H>[0-1]?\\d|2[0-3]) %"
        );
        let (name, _) = translate("%k %Exk %Exy %Exz", "20").unwrap();
        assert_eq!(name, "%k %Exk ExYear2 ExZone offset");
    }

    #[test]
    fn unknown_directive_is_refused() {
        assert!(matches!(
            translate("%Exb %d", "20"),
            Err(DateError::Percent { at: 0, .. })
        ));
        assert!(translate("100%", "20").is_err());
        assert!(translate("%q", "20").is_err());
    }
}

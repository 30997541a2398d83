//! fail2ban's default date templates, and the line-anchored copies it puts in front of them
//! (weight 100, so the detector prefers a date at line start).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use super::DateError;
use super::template::{Template, pattern_key};
use super::wrap::LN_BEG;

/// The default patterns, most specific first (as fail2ban lists them).
const DEFAULT_PATTERNS: &[&str] = &[
    // ISO 8601 and simple dates: 2005-01-23T21:59:59.981746, 2005/01/23 21:59:59, 2006.12.21
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    // asctime: Sun Jan 23 21:59:59.011 2005
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    // asctime with the year after the day: Sun Jan 23 2005 21:59:59.011
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    // 23/01/2005 21:59:59, 23/01/05 21:59:59, 17-07-2008 17:23:25
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    // Apache: [31/Oct/2006:09:22:55 -0000], 26-Jul-2007 15:20:52.252 +0200
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    // CPanel: 05/20/2008:01:57:39
    r"%m/%d/%ExY:%H:%M:%S",
    // 01-27-2012 16:22:44.252
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    r"EPOCH",
    // a time only, at line start
    r"{^LN-BEG}%H:%M:%S",
    // <09/16/08@05:03:30>
    r"^<%m/%d/%Exy@%H:%M:%S>",
    // MySQL: 130322 11:46:11
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    // Apache Tomcat: Jan 23, 2005 9:59:59 PM
    r"%b %d, %ExY %I:%M:%S %p",
    // ASSP: Apr-27-13 02:33:06
    r"^%b-%d-%Exy %k:%M:%S",
    // 20050123T215959, 20050123 215959
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    // with a zone name in front (monit): PDT Apr 16 21:05:29
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    // with an offset in front: +00:00 Jan 23 21:59:59.011 2005
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"TAI64N",
];

#[derive(Debug)]
pub(crate) struct Defaults {
    /// The default templates as listed.
    pub base: Vec<Arc<Template>>,
    /// What a detector without `datepattern` uses: the anchored copies, then `base`.
    pub all: Vec<Arc<Template>>,
}

/// Built once per `%ExY` year regex.
static BUILT: LazyLock<Mutex<HashMap<String, Arc<Defaults>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn defaults(year: &str) -> Result<Arc<Defaults>, DateError> {
    if let Some(d) = BUILT.lock().ok().and_then(|m| m.get(year).cloned()) {
        return Ok(d);
    }
    let mut base = Vec::new();
    let mut anchored = Vec::new();
    for pattern in DEFAULT_PATTERNS {
        let template = Template::for_pattern(pattern, &pattern_key(pattern), year)?;
        let name = &template.name;
        if !name.starts_with(LN_BEG) && !name.starts_with('^') {
            let mut copy = template.rewrapped(|s| format!("{LN_BEG}{s}"), year)?;
            if copy.name != *name {
                copy.weight = 100.0;
                anchored.push(Arc::new(copy));
            }
        }
        base.push(Arc::new(template));
    }
    let all = anchored.into_iter().chain(base.iter().cloned()).collect();
    let built = Arc::new(Defaults { base, all });
    if let Ok(mut m) = BUILT.lock() {
        m.insert(year.to_string(), built.clone());
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_is_anchored_copies_then_base() {
        let d = defaults("20[012]").unwrap();
        assert_eq!(d.base.len(), 17);
        assert_eq!(d.all.len(), 31);
        assert_eq!(
            d.all[0].name,
            "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?"
        );
        assert_eq!(d.all[7].name, "{^LN-BEG}Epoch");
        assert_eq!(d.all[13].name, "{^LN-BEG}TAI64N");
        assert_eq!(
            d.all[13].regex,
            "^(?:\\W{0,2})?(@[0-9a-f]{24})(?=\\b|\\W|$)"
        );
        assert!(d.all[..14].iter().all(|t| t.weight == 100.0));
        assert_eq!(d.all[22].name, "{^LN-BEG}24hour:Minute:Second");
        assert_eq!(d.all[22].weight, 1.0);
        assert_eq!(
            d.all[21].regex,
            "((?:^|(?P<square>(?<=^\\[))|(?P<selinux>(?<=\\baudit\\()))\\d{10,11}\\b(?:\\.\\d{3,6})?)(?:(?(selinux)(?=:\\d+\\)))|(?(square)(?=\\])))(?=\\b|\\W|$)"
        );
        assert_eq!(
            d.all[16].regex,
            "(?iu)(?=^|\\b|\\W)((?:(?P<a>mon|tue|wed|thu|fri|sat|sun) )?(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) (?P<d>[1-2]\\d|[0 ]?[1-9]|3[0-1]) (?P<Y>20[012]\\d)  ?(?P<H>[0-2]?\\d):(?P<M>[0-5]?\\d):(?P<S>[0-5]?\\d|6[0-1])(?:\\.(?P<f>[0-9]{1,6}))?)(?=\\b|\\W|$)"
        );
    }
}

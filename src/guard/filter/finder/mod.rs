//! Finding failures in log lines with a fail2ban filter's regexes, as fail2ban's `findFailure`
//! does: the `maxlines` buffer, `ignoreregex` (before and after a match), `prefregex` and its
//! `<F-CONTENT>`, the failregexes in order, multi-line ids (`<F-MLFID>`), and the failure id
//! taken from the address groups, the host name or `<F-ID>`. Pure logic: the regexes come in
//! through [`Searcher`], the dates are cut out by the caller, names are resolved by the caller.

pub mod buffer;
mod compiled;
pub mod groups;
pub mod mlfid;

use buffer::{TupleLine, joined, split_by_match};
use groups::{Groups, Value, group_dict};
use mlfid::{FailData, MlfidCache};

/// One compiled regex, searched as Python's `re.search`.
pub trait Searcher {
    fn search(&self, text: &str) -> Result<Option<Match>, LimitHit>;
}

/// Where a regex matched, and every named group of the regex with its text (None when the group
/// did not take part), in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub named: Vec<(String, Option<String>)>,
}

/// The bounded engine gave up: neither a match nor a non-match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitHit;

/// fail2ban's filter switches that change what is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinderOptions {
    /// `maxlines`: lines kept in the buffer (1: each line alone).
    pub maxlines: usize,
    /// Try every failregex, not only the first that matches (fail2ban-regex and its tests).
    pub check_all_regex: bool,
    /// A match of a multi-line id without an address yet returns nothing (fail2ban's default).
    pub ignore_pending: bool,
    /// Host names stay text (`usedns = raw`, and fail2ban's tests).
    pub raw_hosts: bool,
}

impl Default for FinderOptions {
    fn default() -> Self {
        FinderOptions {
            maxlines: 1,
            check_all_regex: false,
            ignore_pending: true,
            raw_hosts: false,
        }
    }
}

/// Who failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailId {
    /// An address from `<HOST>`/`<ADDR>`/`<IP4>`/`<IP6>` (text as matched), with `<CIDR>`.
    Address { ip: String, cidr: Option<String> },
    /// A host name (`dns` group), to resolve as `usedns` says.
    Name(String),
    /// Any other identifier: `<F-ID>`, or a name kept as text.
    Raw(String),
}

/// A failure found on a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Which failregex matched.
    pub regex: usize,
    /// None: a multi-line failure still waiting for its address.
    pub id: Option<FailId>,
    /// The address too, when the failure id is another identifier (`<F-ID>` beside `<HOST>`).
    pub address: Option<FailId>,
    pub data: FailData,
}

impl Found {
    /// A `nofail` match (a success or helper line of a multi-line id), not a failure.
    pub fn is_nofail(&self) -> bool {
        self.data.truthy("nofail")
    }
}

pub struct Finder<R> {
    failregex: Vec<R>,
    ignoreregex: Vec<R>,
    prefregex: Option<R>,
    opts: FinderOptions,
    buffer: Vec<TupleLine>,
    mlfid: MlfidCache,
    /// Searches the bounded engine gave up on, counted for the caller to report.
    pub limit_hits: u64,
}

/// One regex searched over the buffer: its groups and how the buffer's lines divide.
struct Hit {
    groups: Groups,
    matched: Vec<TupleLine>,
    unmatched: Vec<TupleLine>,
}

impl<R: Searcher> Finder<R> {
    pub fn new(
        failregex: Vec<R>,
        ignoreregex: Vec<R>,
        prefregex: Option<R>,
        opts: FinderOptions,
    ) -> Self {
        Finder {
            failregex,
            ignoreregex,
            prefregex,
            opts: FinderOptions {
                maxlines: opts.maxlines.max(1),
                ..opts
            },
            buffer: Vec::new(),
            mlfid: MlfidCache::default(),
            limit_hits: 0,
        }
    }

    /// Every regex: the prefregex, then the failregexes and ignoreregexes in order.
    pub fn regexes(&self) -> impl Iterator<Item = &R> {
        self.prefregex
            .iter()
            .chain(&self.failregex)
            .chain(&self.ignoreregex)
    }

    fn search(&mut self, which: Which, i: usize, text: &str, lines: &[TupleLine]) -> Option<Hit> {
        let regex = match which {
            Which::Fail => &self.failregex[i],
            Which::Ignore => &self.ignoreregex[i],
            Which::Pref => self.prefregex.as_ref()?,
        };
        let m = match regex.search(text) {
            Ok(m) => m?,
            Err(LimitHit) => {
                self.limit_hits += 1;
                return None;
            }
        };
        let mut skipped = String::new();
        for n in 0.. {
            let name = format!("skiplines{n}");
            match m.named.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => skipped.push_str(v.as_deref().unwrap_or("")),
                None => break,
            }
        }
        let skipped: Vec<String> = skipped.lines().map(String::from).collect();
        let (matched, unmatched) = split_by_match(lines, text, m.start, m.end, &skipped);
        Some(Hit {
            groups: group_dict(&m.named),
            matched,
            unmatched,
        })
    }

    /// Whether an ignoreregex matches (the whole buffer, or the lines a failregex matched).
    fn ignored(&mut self, text: &str, lines: &[TupleLine], after: Option<&Hit>) -> bool {
        let (own_text, own_lines);
        let (text, lines) = match after {
            Some(hit) if self.opts.maxlines > 1 => {
                own_lines = hit.matched.clone();
                own_text = joined(&own_lines);
                (own_text.as_str(), own_lines.as_slice())
            }
            _ => (text, lines),
        };
        let mut found = false;
        for i in 0..self.ignoreregex.len() {
            if self.search(Which::Ignore, i, text, lines).is_some() {
                found = true;
                if !self.opts.check_all_regex || self.opts.maxlines > 1 {
                    if let Some(hit) = after {
                        self.buffer = hit.unmatched.clone();
                    }
                }
                if !self.opts.check_all_regex {
                    break;
                }
            }
        }
        found
    }

    /// The failures on this line. `skip_undated`: the line has no date and fail2ban would not
    /// count a failure without one (in operation, with find-time checks).
    pub fn find(&mut self, line: TupleLine, skip_undated: bool, now: f64) -> Vec<Found> {
        let mut out = Vec::new();
        if self.opts.maxlines > 1 {
            self.buffer.push(line);
            let excess = self.buffer.len().saturating_sub(self.opts.maxlines);
            self.buffer.drain(..excess);
        } else {
            self.buffer = vec![line];
        }
        let original = self.buffer.clone();
        let mut text = Some(joined(&original));

        // Cheap rejection first, when there are far fewer ignoreregexes than failregexes.
        if !self.ignoreregex.is_empty() && self.ignoreregex.len() + 2 < self.failregex.len() {
            let t = text.clone().unwrap_or_default();
            if self.ignored(&t, &original, None) {
                return out;
            }
        }

        let mut pre_groups = Groups::new();
        if self.prefregex.is_some() {
            let t = text.clone().unwrap_or_default();
            let Some(hit) = self.search(Which::Pref, 0, &t, &original) else {
                return out;
            };
            pre_groups = hit.groups;
            let content = pre_groups.remove("content");
            if let Some(c) = content.filter(Value::truthy).and_then(|c| c.python_str()) {
                self.buffer = vec![TupleLine::undated(&c)];
                text = None;
            }
        }

        for i in 0..self.failregex.len() {
            let t = match &text {
                Some(t) => t.clone(),
                None => {
                    let t = joined(&self.buffer);
                    text = Some(t.clone());
                    t
                }
            };
            let Some(hit) = self.search(Which::Fail, i, &t, &original) else {
                continue;
            };
            if !self.ignoreregex.is_empty() && self.ignored(&t, &original, Some(&hit)) {
                text = None;
                if !self.opts.check_all_regex {
                    break;
                }
                continue;
            }
            if skip_undated {
                continue;
            }
            if !self.opts.check_all_regex || self.opts.maxlines > 1 {
                self.buffer = hit.unmatched.clone();
                text = None;
            }
            let mut groups = pre_groups.clone();
            groups.extend(hit.groups.clone());
            let mlfid = groups.get("mlfid").and_then(Value::python_str);
            let mut data = FailData {
                groups,
                ..FailData::default()
            };
            match &mlfid {
                Some(id) => {
                    data = self.mlfid.merge(id, data, &hit.matched, now);
                    if data.truthy("nofail") && !self.opts.check_all_regex {
                        return out;
                    }
                }
                None => data.matches = hit.matched.clone(),
            }
            let text_of = |k: &str, d: &FailData| d.groups.get(k).and_then(Value::python_str);
            let fid = text_of("fid", &data);
            let cidr = text_of("cidr", &data).filter(|c| !c.is_empty());
            let (ip, raw) =
                if let Some(ip) = text_of("ip4", &data).or_else(|| text_of("ip6", &data)) {
                    (Some(FailId::Address { ip, cidr }), true)
                } else if let Some(name) = text_of("dns", &data) {
                    let id = if self.opts.raw_hosts {
                        FailId::Raw(name)
                    } else {
                        FailId::Name(name)
                    };
                    (Some(id), self.opts.raw_hosts)
                } else if let Some(f) = &fid {
                    (Some(FailId::Raw(f.clone())), true)
                } else if mlfid.is_some() {
                    (None, true)
                } else {
                    // No id group took part: fail2ban reports the regex as broken and goes on.
                    continue;
                };
            let found = match ip {
                None => {
                    data.pending = true;
                    if let Some(id) = &mlfid {
                        self.mlfid.mark_pending(id);
                    }
                    if !self.opts.check_all_regex && self.opts.ignore_pending {
                        return out;
                    }
                    Found {
                        regex: i,
                        id: None,
                        address: None,
                        data,
                    }
                }
                Some(ip) => {
                    let ip_text = match &ip {
                        FailId::Address { ip, .. } | FailId::Name(ip) | FailId::Raw(ip) => {
                            ip.clone()
                        }
                    };
                    let (id, address) = match fid {
                        Some(f) if raw && f != ip_text => (FailId::Raw(f), Some(ip)),
                        _ => (ip, None),
                    };
                    Found {
                        regex: i,
                        id: Some(id),
                        address,
                        data,
                    }
                }
            };
            out.push(found);
            if !self.opts.check_all_regex {
                break;
            }
        }
        out
    }
}

#[derive(Clone, Copy)]
enum Which {
    Fail,
    Ignore,
    Pref,
}

#[cfg(test)]
mod tests;

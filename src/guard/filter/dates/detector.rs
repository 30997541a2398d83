//! fail2ban's DateDetector: the templates of a `datepattern` (or the defaults), and the search
//! for a line's date: the template that matched last is tried first (in the same place, if the
//! line looks the same around it), else all in order, preferring a date nearer the line start;
//! the winner moves up the list by its hits, weight and distance from the line start.

use std::collections::HashSet;
use std::sync::Arc;

use jiff::tz::TimeZone;

use super::DateError;
use super::chars::Chars;
use super::defaults::defaults;
use super::directives::century_regex;
use super::strptime::LogZone;
use super::template::{Found, Template, has_date_marker, pattern_key};
use super::wrap::{LINE_BEGIN, LINE_END, python_strip};
use super::zones::{ZoneError, zone_offset};
use crate::guard::filter::line::{DateFinder, DateSpan};

/// fail2ban's "never" for distances and positions.
const FAR: usize = 0x7fff_ffff;
/// A template unused this long (seconds) may be replaced by one that is used.
const UNUSED_TIME: f64 = 300.0;

/// A template in this detector with its use.
#[derive(Debug)]
struct Slot {
    template: Arc<Template>,
    /// Times it won.
    hits: u64,
    /// Times its regex matched at all (fail2ban counts these on the template itself).
    matched: u64,
    last_used: f64,
    /// Chars from line start of its last winning date.
    distance: usize,
}

impl Slot {
    fn new(template: Arc<Template>) -> Slot {
        Slot {
            template,
            hits: 0,
            matched: 0,
            last_used: 0.0,
            distance: FAR,
        }
    }

    fn weight(&self) -> f64 {
        self.hits as f64 * self.template.weight / self.distance.max(1) as f64
    }
}

/// A position of the last date, with the chars just before and at it.
#[derive(Debug, Clone, Copy)]
struct Edge {
    at: usize,
    before: Option<char>,
    after: Option<char>,
}

fn not_alnum(c: Option<char>) -> bool {
    !c.is_some_and(char::is_alphanumeric)
}

/// fail2ban's date detector for one log (its templates reorder as it reads).
#[derive(Debug)]
pub struct DateDetector {
    slots: Vec<Slot>,
    names: HashSet<String>,
    year: String,
    zone: LogZone,
    last_pos: Edge,
    last_end: Edge,
    last_index: usize,
    first_unused: usize,
    wall_clock: fn() -> f64,
}

fn system_wall_clock() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl DateDetector {
    /// `datepattern`: the filter's/jail's value (None: fail2ban's default templates). `tz`: the
    /// zone dates without an offset are in (a fixed offset, e.g. from `logtimezone`, is applied
    /// as fail2ban applies one; "now" is seen in `tz` too, see [`DateDetector::set_clock_zone`]).
    pub fn new(datepattern: Option<&str>, tz: TimeZone) -> Result<DateDetector, DateError> {
        let this_year = TimeZone::system()
            .to_datetime(jiff::Timestamp::now())
            .year();
        DateDetector::with_year(datepattern, tz, this_year as i32)
    }

    /// As `new`, with the `%ExY` years following `this_year` instead of the clock's.
    pub fn with_year(
        datepattern: Option<&str>,
        tz: TimeZone,
        this_year: i32,
    ) -> Result<DateDetector, DateError> {
        let offset = tz
            .to_fixed_offset()
            .ok()
            .filter(|o| o.seconds() % 60 == 0)
            .map(|o| o.seconds() / 60);
        let mut d = DateDetector {
            slots: Vec::new(),
            names: HashSet::new(),
            year: century_regex(this_year, 2001),
            zone: LogZone { offset, local: tz },
            last_pos: Edge {
                at: 1,
                before: None,
                after: None,
            },
            last_end: Edge {
                at: FAR,
                before: None,
                after: None,
            },
            last_index: FAR,
            first_unused: 0,
            wall_clock: system_wall_clock,
        };
        for line in datepattern.unwrap_or("").split('\n') {
            let pattern = python_strip(line);
            if !pattern.is_empty() {
                d.append_pattern(pattern)?;
            }
        }
        if d.slots.is_empty() {
            d.add_defaults(None, false)?;
        }
        Ok(d)
    }

    /// fail2ban's `logtimezone` value to a zone (a fixed offset).
    pub fn parse_log_timezone(s: &str) -> Result<TimeZone, DateError> {
        let minutes = zone_offset(s).map_err(|e| match e {
            ZoneError::Form => DateError::TimeZone(s.to_string()),
            ZoneError::UnknownAbbreviation(a) => DateError::TimeZoneAbbreviation(s.to_string(), a),
        })?;
        let offset = jiff::tz::Offset::from_seconds(minutes * 60)
            .map_err(|_| DateError::TimeZone(s.to_string()))?;
        Ok(TimeZone::fixed(offset))
    }

    /// The zone fail2ban's clock ("now", for dates without a year or day) is seen in, when it
    /// differs from the dates' zone: the system zone when `tz` came from `logtimezone`.
    pub fn set_clock_zone(&mut self, local: TimeZone) {
        self.zone.local = local;
    }

    /// The names of the templates, in their current order.
    pub fn template_names(&self) -> Vec<&str> {
        self.slots
            .iter()
            .map(|s| s.template.name.as_str())
            .collect()
    }

    fn push(&mut self, template: Arc<Template>, ignore_duplicate: bool) -> Result<(), DateError> {
        if !self.names.insert(template.name.clone()) {
            if ignore_duplicate {
                return Ok(());
            }
            return Err(DateError::Duplicate(template.name.clone()));
        }
        self.slots.push(Slot::new(template));
        Ok(())
    }

    /// fail2ban's `appendTemplate` for one line of `datepattern`.
    fn append_pattern(&mut self, pattern: &str) -> Result<(), DateError> {
        let key = pattern_key(pattern);
        let template = match key.as_str() {
            "{^LN-BEG}" => return self.add_defaults(None, true),
            // fail2ban's filter for {DEFAULT} refuses every template: it adds none (a detector
            // left without templates then takes all defaults)
            "{DEFAULT}" => return Ok(()),
            _ if has_date_marker(&key) => return self.add_defaults(Some(pattern), false),
            "{NONE}" => Template::for_pattern("{UNB}^", &key, &self.year)?,
            _ => Template::for_pattern(pattern, &key, &self.year)?,
        };
        self.push(Arc::new(template), false)
    }

    /// fail2ban's `addDefaultTemplate`: all defaults, only line-anchored ones, or (with a
    /// `{DATE}` pattern) each listed default put in place of `{DATE}`.
    fn add_defaults(&mut self, prematch: Option<&str>, line_begin: bool) -> Result<(), DateError> {
        let ignore_duplicate = !self.slots.is_empty();
        let defaults = defaults(&self.year)?;
        let list = if prematch.is_some() {
            &defaults.base
        } else {
            &defaults.all
        };
        for template in list {
            if line_begin && template.flags & LINE_BEGIN == 0 {
                continue;
            }
            let template = match prematch {
                Some(pre) => Arc::new(template.in_prematch(pre, &self.year)?),
                None => template.clone(),
            };
            self.push(template, ignore_duplicate)?;
        }
        Ok(())
    }

    fn search(&mut self, i: usize, line: &str, within: Option<(usize, usize)>) -> Option<Found> {
        let found = self.slots[i].template.search(line, within);
        if found.is_some() {
            self.slots[i].matched += 1;
        }
        found
    }

    /// fail2ban's `matchTime`: the winning template's match and its index.
    fn match_time(&mut self, line: &str) -> Option<(Found, usize)> {
        let chars = Chars::new(line);
        let n = self.slots.len();
        let anchored = |t: &Template| t.flags & (LINE_BEGIN | LINE_END) != 0;
        let mut best: Option<(Found, usize, usize, usize)> = None;
        let mut skip = FAR;
        let mut winner: Option<(Found, usize, usize, usize)> = None;
        let i = self.last_index;
        if i < n {
            let found = if anchored(&self.slots[i].template) {
                skip = i;
                self.search(i, line, None)
            } else {
                let (distance, end) = (self.last_pos.at, self.last_end.at);
                let (p, e) = (self.last_pos, self.last_end);
                let same_start = chars.before(distance) == p.before
                    || (chars.at(distance) == p.after && not_alnum(p.after));
                let same_end = chars.at(end) == e.after
                    || (chars.before(end) == e.before && not_alnum(e.before));
                if same_start && same_end {
                    let within = (chars.byte_of_index(distance), chars.byte_of_index(end));
                    self.search(i, line, Some(within))
                } else {
                    skip = i;
                    self.search(i, line, None)
                }
            };
            if let Some(found) = found {
                let span = found.whole();
                let (distance, end) = (
                    chars.index_of_byte(span.start),
                    chars.index_of_byte(span.end),
                );
                let same_place = distance == self.last_pos.at && end == self.last_end.at;
                if n == 1 || anchored(&self.slots[i].template) || same_place {
                    winner = Some((found, distance, end, i));
                } else {
                    best = Some((found, distance, end, i));
                }
            }
        }
        if winner.is_none() {
            for i in 0..n {
                if i == skip {
                    continue;
                }
                let Some(found) = self.search(i, line, None) else {
                    continue;
                };
                let span = found.whole();
                let (distance, end) = (
                    chars.index_of_byte(span.start),
                    chars.index_of_byte(span.end),
                );
                let slot = &self.slots[i];
                let stop = i + 1 >= n
                    || anchored(&slot.template)
                    || (distance == 0 && slot.hits > 0 && self.slots[i + 1].matched == 0);
                if !stop && (distance > slot.distance || distance > self.last_pos.at) {
                    // maybe a date-like text in the message: keep the nearest, look further
                    if distance < best.as_ref().map_or(FAR, |b| b.1) {
                        best = Some((found, distance, end, i));
                    }
                    continue;
                }
                winner = Some((found, distance, end, i));
                break;
            }
            if winner.is_none() {
                winner = best;
            }
        }
        let (found, distance, end, mut i) = winner?;
        let slot = &mut self.slots[i];
        slot.hits += 1;
        slot.last_used = (self.wall_clock)();
        slot.distance = distance;
        if self.first_unused == i {
            self.first_unused += 1;
        }
        if distance >= chars.len() {
            // an empty date at the very end: fail2ban fails reading the char there (IndexError,
            // the line is dropped) before it notes the position or reorders
            return None;
        }
        self.last_pos = Edge {
            at: distance,
            before: chars.before(distance),
            after: chars.at(distance),
        };
        let end_before = if end == 0 {
            line.chars().last()
        } else {
            chars.at(end - 1)
        };
        self.last_end = Edge {
            at: end,
            before: end_before,
            after: chars.at(end),
        };
        if i != 0 && i != self.last_index {
            i = self.reorder(i);
        }
        self.last_index = i;
        Some((found, i))
    }

    /// fail2ban's `_reorderTemplate`: move the winner up (to the first unused place or half-way
    /// up, else one up) when it outweighs the one there or that one was not used for a while.
    fn reorder(&mut self, num: usize) -> usize {
        let (weight, unused_since) = {
            let s = &self.slots[num];
            (s.weight(), s.last_used - UNUSED_TIME)
        };
        let movable = |slots: &[Slot], pos: usize| {
            weight > slots[pos].weight() || unused_since > slots[pos].last_used
        };
        let mut pos = if self.first_unused < num {
            self.first_unused
        } else {
            num / 2
        };
        if !movable(&self.slots, pos) {
            if pos == num - 1 {
                return num;
            }
            pos = num - 1;
            if !movable(&self.slots, pos) {
                return num;
            }
        }
        let slot = self.slots.remove(num);
        self.slots.insert(pos, slot);
        while self.first_unused < self.slots.len() && self.slots[self.first_unused].hits > 0 {
            self.first_unused += 1;
        }
        pos
    }
}

impl DateFinder for DateDetector {
    fn find(&mut self, line: &str, now: f64) -> Option<DateSpan> {
        let (found, i) = self.match_time(line)?;
        let Some(span) = found.spans.get(1).cloned().flatten() else {
            // group 1 took no part: fail2ban cuts at Python's index -1
            let at = line.char_indices().last().map_or(0, |(b, _)| b);
            return Some(DateSpan {
                start: at,
                end: at,
                epoch: None,
            });
        };
        let epoch = if span.is_empty() {
            None
        } else {
            self.slots[i].template.date(line, &found, now, &self.zone)
        };
        Some(DateSpan {
            start: span.start,
            end: span.end,
            epoch,
        })
    }
}

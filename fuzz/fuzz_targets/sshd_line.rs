//! Fuzzes the sshd line matcher: any bytes, every mode and log type, lines fed in sequence so the
//! connection state is exercised too. It must never panic, and every failure must name a host
//! that appears in the input text.
#![no_main]

use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis::guard::matcher::{Host, LogType, MatcherOptions, Mode, SshdMatcher};

const MODES: [Mode; 4] = [Mode::Normal, Mode::Ddos, Mode::Extra, Mode::Aggressive];
const LOGTYPES: [LogType; 5] = [LogType::Auto, LogType::Syslog, LogType::Journal, LogType::Rfc5424, LogType::Raw];

/// Compiling the rules takes far longer than one run: build each matcher once, clone it per run
/// (a clone shares the compiled rules and starts with no connection state).
fn template(mode: usize, logtype: usize) -> SshdMatcher {
    static TEMPLATES: OnceLock<Vec<SshdMatcher>> = OnceLock::new();
    let all = TEMPLATES.get_or_init(|| {
        LOGTYPES
            .iter()
            .flat_map(|&logtype| MODES.iter().map(move |&mode| MatcherOptions { mode, logtype, timezone: TimeZone::UTC }))
            .map(SshdMatcher::new)
            .collect()
    });
    all[logtype * MODES.len() + mode].clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let mut matcher = template(usize::from(selector & 3), usize::from(selector >> 2) % LOGTYPES.len());
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let text = String::from_utf8_lossy(rest);
    let mut out = Vec::new();
    for line in text.split('\n') {
        out.clear();
        matcher.process_line(line, now, &mut out);
        for failure in &out {
            let shown = match &failure.host {
                Host::Ip(ip) => ip.to_string(),
                Host::Name(name) => name.clone(),
            };
            // IPv6 is printed canonically, so only check names and IPv4 literally.
            if !shown.contains(':') {
                assert!(line.contains(&shown), "host {shown} not in {line:?}");
            }
        }
    }
});

//! The matcher on hostile input: random bytes never panic, and attacker-written text (user names,
//! client version strings) never makes an injected address the failure's host.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use portcullis::guard::matcher::{Host, LogType, MatcherOptions, Mode, SshdMatcher};

const MODES: [Mode; 4] = [Mode::Normal, Mode::Ddos, Mode::Extra, Mode::Aggressive];
const LOGTYPES: [LogType; 5] = [
    LogType::Auto,
    LogType::Syslog,
    LogType::Journal,
    LogType::Rfc5424,
    LogType::Raw,
];

fn matcher(mode: Mode, logtype: LogType) -> SshdMatcher {
    SshdMatcher::new(MatcherOptions {
        mode,
        logtype,
        timezone: TimeZone::UTC,
        sshd_plus: false,
    })
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn random_and_mangled_lines_never_panic() {
    let pieces = [
        "Jan  2 00:00:00 ",
        "2024-02-29T23:59:60.999999+14:00 ",
        "<38>1 ",
        "host ",
        "sshd[",
        "]: ",
        "sshd-session[1]: ",
        "Failed ",
        "password ",
        "for ",
        "invalid user ",
        "from ",
        "192.0.2.1",
        "::ffff:",
        "2001:db8::",
        "[",
        "]",
        " port ",
        "65535",
        " ssh2",
        ": ",
        "error: ",
        "PAM: ",
        "Connection closed by ",
        "[preauth]",
        "pam_unix(sshd:auth): ",
        "authentication failure; ",
        "ruser=",
        "rhost=",
        "user=",
        "Accepted ",
        "kex_exchange_identification: ",
        "Unable to negotiate with ",
        "no matching ",
        "found",
        ". ",
        "\u{0}",
        "\u{a0}",
        "ü",
        "😀",
        "\t",
        "(",
        ")",
        "'",
        "\"",
        "Received disconnect from ",
        ":11: ",
        ":3: x: Auth fail",
        "User ",
        " not allowed because ",
        "account is locked",
    ];
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    for mode in MODES {
        for logtype in LOGTYPES {
            let mut m = matcher(mode, logtype);
            for _ in 0..3000 {
                let n = 1 + rng.next() % 14;
                let line: String = (0..n).map(|_| rng.pick(&pieces)).collect();
                m.process_line(&line, now, &mut out);
                // Byte-level garbage that is still valid UTF-8.
                let bytes: Vec<u8> = (0..rng.next() % 80)
                    .map(|_| (rng.next() % 128) as u8)
                    .collect();
                m.process_line(&String::from_utf8_lossy(&bytes), now, &mut out);
            }
            m.process_line(&"x".repeat(1 << 20), now, &mut out);
        }
    }
    // A connection table bounded whatever the input.
    for failure in &out {
        assert!(failure.attempts >= 1);
    }
}

#[test]
fn injected_addresses_never_become_the_host() {
    let evil_users = [
        "from 6.6.6.6",
        "x from 6.6.6.6",
        "x from 6.6.6.6 port 22 ssh2",
        "6.6.6.6",
        "root from 6.6.6.6 port 22",
        "Invalid user root from 6.6.6.6",
        "x 6.6.6.6 port 1",
        "x: from 6.6.6.6",
    ];
    let templates = [
        "Failed password for invalid user {U} from 192.0.2.1 port 22 ssh2",
        "Failed password for {U} from 192.0.2.1 port 22 ssh2",
        "Failed publickey for invalid user {U} from 192.0.2.1 port 22 ssh2: RSA SHA256:x",
        "Invalid user {U} from 192.0.2.1 port 22",
        "User {U} from 192.0.2.1 not allowed because not listed in AllowUsers",
        "Connection closed by invalid user {U} 192.0.2.1 port 22 [preauth]",
        "Disconnected from authenticating user {U} 192.0.2.1 port 22 [preauth]",
        "error: maximum authentication attempts exceeded for invalid user {U} from 192.0.2.1 port 22 ssh2 [preauth]",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={U} rhost=192.0.2.1",
        "Bad protocol version identification '{U}' from 192.0.2.1 port 22",
        "error: PAM: Authentication failure for {U} from 192.0.2.1",
    ];
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let evil: Host = Host::Ip("6.6.6.6".parse().unwrap());
    let mut pid = 1000;
    for mode in MODES {
        let mut m = matcher(mode, LogType::Syslog);
        for t in templates {
            for u in evil_users {
                pid += 1;
                let line = format!("Jan  2 00:00:00 vps sshd[{pid}]: {}", t.replace("{U}", u));
                let mut out = Vec::new();
                m.process_line(&line, now, &mut out);
                for f in &out {
                    assert_ne!(f.host, evil, "{mode:?}: {line}");
                }
            }
        }
    }
}

//! Hand-written readers for the messages that make up most of a brute-force log.
//!
//! Each reader accepts only one exact, simple shape (ASCII user names, a plain address, nothing
//! after the known suffix) for which the regex rules' answer is certain, and returns that answer.
//! Anything else returns `None` and goes to the regex rules. A differential test checks that,
//! whenever a reader answers, the regex rules give the same answer.

use std::net::Ipv4Addr;

use super::runs::{Class, class_bits, run_len};

/// The fields a reader extracts; the rule set turns them into a `RuleMatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastMatch<'a> {
    pub shape: Shape,
    pub user: Option<&'a str>,
    pub addr: Address<'a>,
    /// `Failed publickey ...`: decides between helper and failure.
    pub publickey: bool,
}

/// An address as read: dotted quad or IPv6 text, and the dotted quad's value when it has one
/// (no leading zeros, no part over 255), so that it need not be parsed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Address<'a> {
    pub ip4: Option<&'a str>,
    pub ip6: Option<&'a str>,
    pub ip4_value: Option<Ipv4Addr>,
}

/// The message shapes read by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `Failed M for invalid user U from IP port N ssh2`
    FailedInvalidUser,
    /// `Failed M for U from IP port N ssh2`
    FailedUser,
    /// `Failed M for invalid user U from A from IP port N ssh2`: the user is all before the last
    /// ` from `.
    FailedCatchAll,
    /// `Invalid user U from IP[ port N]`
    InvalidUser,
    /// `Connection closed by [invalid|authenticating user U ]IP port N [preauth]`, and the same
    /// with `Disconnected from`.
    ClosedPreauth { disconnected: bool, with_user: bool },
    /// `Received disconnect from IP port N:11: ... [preauth]`
    DisconnectBye,
    /// `Accepted M for U from IP port N ssh2...`
    Accepted,
    /// `maximum authentication attempts exceeded for U from IP port N ssh2 [preauth]`
    MaxAttempts,
    /// `pam_unix(sshd:auth): authentication failure; logname= ... ruser=R rhost=IP  user=U`
    PamAuthFailure,
    /// A message no rule can match (e.g. `pam_unix(sshd:session): ...`).
    NoRule,
}

pub fn read(message: &str) -> Option<FastMatch<'_>> {
    let b = message.as_bytes();
    match b.first()? {
        b'F' => failed(message),
        b'I' => invalid_user(message),
        b'C' | b'D' => closed(message),
        b'R' => disconnect_bye(message),
        b'A' => accepted(message),
        b'm' => max_attempts(message),
        b'p' => pam(message),
        _ => None,
    }
}

/// A cursor that only moves forward over `text`.
struct Scan<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Self {
        Scan { text, pos: 0 }
    }
    fn lit(&mut self, s: &str) -> Option<()> {
        self.text[self.pos..]
            .starts_with(s)
            .then(|| self.pos += s.len())
    }
    /// A run of printable ASCII without spaces (and without `:` when `colon` is false).
    fn token(&mut self, colon: bool) -> Option<&'a str> {
        let class = if colon {
            Class::Printable
        } else {
            Class::PrintableNoColon
        };
        let len = run_len(self.text.as_bytes(), self.pos, class);
        if len == 0 {
            return None;
        }
        let t = &self.text[self.pos..self.pos + len];
        self.pos += len;
        Some(t)
    }
    /// ASCII letters, digits and `_` (a `\w+` that is plain ASCII).
    fn word(&mut self) -> Option<&'a str> {
        let rest = &self.text.as_bytes()[self.pos..];
        let len = rest
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .unwrap_or(rest.len());
        let t = &self.text[self.pos..self.pos + len];
        self.pos += len;
        (len > 0).then_some(t)
    }
    fn digits(&mut self) -> Option<()> {
        let len = run_len(self.text.as_bytes(), self.pos, Class::Digit);
        self.pos += len;
        (len > 0).then_some(())
    }
    /// A plain address: the whole run of hex digits, dots and colons here, as fail2ban's `<IP4>`
    /// or `<IP6>` would read it.
    fn address(&mut self) -> Option<Address<'a>> {
        let rest = &self.text.as_bytes()[self.pos..];
        let start = self.pos;
        if let Some((len, value)) = dotted_quad(rest) {
            if !rest
                .get(len)
                .is_some_and(|&c| Class::AddressByte.contains(c))
            {
                self.pos += len;
                return Some(Address {
                    ip4: Some(&self.text[start..self.pos]),
                    ip6: None,
                    ip4_value: value,
                });
            }
        }
        let len = run_len(self.text.as_bytes(), start, Class::AddressByte);
        let t = &self.text[start..start + len];
        if !is_ip6_shape(t) {
            return None;
        }
        self.pos += len;
        Some(Address {
            ip6: Some(t),
            ..Address::default()
        })
    }

    fn end(&self) -> Option<()> {
        (self.pos == self.text.len()).then_some(())
    }
    fn at_end_or_space(&self) -> bool {
        self.text
            .as_bytes()
            .get(self.pos)
            .is_none_or(|&c| c == b' ')
    }
}

/// Four groups of one to three ASCII digits joined by dots at the start of `b` (what
/// fail2ban's `<IP4>` reads in full, taking as many digits as there are): their length, and
/// their value when `Ipv4Addr`'s parser would accept them.
pub fn dotted_quad(b: &[u8]) -> Option<(usize, Option<Ipv4Addr>)> {
    // A group of one, two or three digits is a coin toss for a branch per digit: the groups'
    // lengths are read from bit masks of the first 16 bytes instead (an address has at most 15).
    let window: [u8; 16] = match b.get(..16) {
        Some(head) => head.try_into().expect("16 bytes"),
        None => padded_to_16(b),
    };
    let (digits, dots) = (
        class_bits(&window, Class::Digit),
        class_bits(&window, Class::Dot),
    );
    // Bits past the window count as non-digits: they end a group.
    let non_digits = !digits;
    let (mut pos, mut octets, mut canonical) = (0, [0u8; 4], true);
    for (group, octet) in octets.iter_mut().enumerate() {
        if group > 0 {
            if dots >> pos & 1 == 0 {
                return None;
            }
            pos += 1;
        }
        let len = (non_digits >> pos).trailing_zeros();
        if !(1..=3).contains(&len) {
            return None;
        }
        // The group's digits moved to the top bytes of a u32, their value read from there. A
        // group starts at most at byte 12, so its four bytes lie in the window.
        let at = pos as usize;
        let text = u32::from_le_bytes(window[at..at + 4].try_into().expect("4 bytes"));
        let shift = 8 * (4 - len);
        let values = (text << shift).wrapping_sub(0x3030_3030 << shift);
        let value = (values >> 8 & 0xff) * 100 + (values >> 16 & 0xff) * 10 + (values >> 24);
        // `Ipv4Addr`'s parser refuses leading zeros and parts over 255.
        canonical &= (len == 1 || text & 0xff != u32::from(b'0')) && value <= 255;
        *octet = value as u8;
        pos += len;
    }
    Some((pos as usize, canonical.then(|| Ipv4Addr::from(octets))))
}

/// `b` (under 16 bytes) followed by zeros: they are neither digits nor dots.
#[cold]
#[inline(never)]
fn padded_to_16(b: &[u8]) -> [u8; 16] {
    let mut window = [0u8; 16];
    window[..b.len()].copy_from_slice(b);
    window
}

/// Whether all of `t` reads as fail2ban's `<IP6>`:
/// `(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|:)` (no `::ffff:` IPv4 tails here).
///
/// Read as colon runs and hex groups: each group but a final one forms one repetition with one
/// or two of the colons after it, every other colon is a repetition of its own, and the final
/// element is the last group or the last colon. Taking two colons where possible gives the
/// fewest repetitions, one colon the most; some count in between must lie in 1..=7.
fn is_ip6_shape(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() > 45 || b.len() < 2 {
        return false;
    }
    // Groups as (hex length, colons after it); `leading` colons come before the first group.
    let leading = b.iter().take_while(|&&c| c == b':').count();
    let (mut fewest, mut most) = (leading, leading);
    let mut pos = leading;
    let mut last_group_colons = None;
    while pos < b.len() {
        let hex = b[pos..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if !(1..=4).contains(&hex) {
            return false;
        }
        pos += hex;
        let colons = b[pos..].iter().take_while(|&&c| c == b':').count();
        pos += colons;
        if let Some(previous) = last_group_colons.replace(colons) {
            // The previous group was not final: it took one or two of its colons.
            fewest += 1 + previous.saturating_sub(2);
            most += previous;
        }
    }
    match last_group_colons {
        // Only colons: the last is the final element, each other one a repetition.
        None => (2..=8).contains(&leading),
        // Ends with a group: it is the final element.
        Some(0) => fewest <= 7 && most >= 1,
        // Ends with colons: the last is the final element, the group takes one or two before it.
        Some(colons) if colons >= 2 => {
            let before = colons - 1;
            fewest + 1 + before.saturating_sub(2) <= 7
        }
        Some(_) => false,
    }
}

/// ` port N ssh2` at the end of the message.
fn port_ssh2_end(s: &mut Scan) -> Option<()> {
    s.lit(" port ")?;
    s.digits()?;
    s.lit(" ssh2")?;
    s.end()
}

fn failed(message: &str) -> Option<FastMatch<'_>> {
    let mut s = Scan::new(message);
    // The usual method in one comparison; any other is read as a token.
    let method = if s.lit("Failed password for ").is_some() {
        "password"
    } else {
        s.lit("Failed ")?;
        let method = s.token(true)?;
        s.lit(" for ")?;
        method
    };
    let user_start = s.pos;
    let invalid = s.lit("invalid user ").is_some();
    // A valid user's name is read by fail2ban's `[^:]+`: no colon allowed here.
    let user = s.token(invalid)?;
    if user == "from" {
        return None;
    }
    s.lit(" from ")?;
    let addr = s.address()?;
    if invalid && s.text[s.pos..].starts_with(" from ") {
        // `... invalid user U from A from B port N ssh2` (a user name written to look like an
        // address): fail2ban's catch-all reading takes `invalid user U from A` as the user and
        // B as the host, provided no colon comes before B.
        let fake_end = s.pos;
        if addr.ip4.is_none() || user.contains(':') {
            return None;
        }
        s.lit(" from ")?;
        let addr = s.address()?;
        port_ssh2_end(&mut s)?;
        let user = &s.text[user_start..fake_end];
        let publickey = method == "publickey";
        return Some(FastMatch {
            shape: Shape::FailedCatchAll,
            user: Some(user),
            addr,
            publickey,
        });
    }
    port_ssh2_end(&mut s)?;
    let shape = if invalid {
        Shape::FailedInvalidUser
    } else {
        Shape::FailedUser
    };
    Some(FastMatch {
        shape,
        user: Some(user),
        addr,
        publickey: method == "publickey",
    })
}

fn invalid_user(message: &str) -> Option<FastMatch<'_>> {
    let mut s = Scan::new(message);
    s.lit("Invalid user ")?;
    let user = s.token(true)?;
    if user == "from" {
        return None;
    }
    s.lit(" from ")?;
    let addr = s.address()?;
    if s.end().is_none() {
        s.lit(" port ")?;
        s.digits()?;
        s.end()?;
    }
    Some(FastMatch {
        shape: Shape::InvalidUser,
        user: Some(user),
        addr,
        publickey: false,
    })
}

fn closed(message: &str) -> Option<FastMatch<'_>> {
    let mut s = Scan::new(message);
    let disconnected = if s.lit("Connection closed by ").is_some() {
        false
    } else {
        s.lit("Disconnected from ")?;
        true
    };
    let mut user = None;
    if s.lit("invalid user ").is_some() || s.lit("authenticating user ").is_some() {
        let u = s.token(true)?;
        if u == "from" {
            return None;
        }
        s.lit(" ")?;
        user = Some(u);
    }
    let addr = s.address()?;
    s.lit(" port ")?;
    s.digits()?;
    s.lit(" [preauth]")?;
    s.end()?;
    let shape = Shape::ClosedPreauth {
        disconnected,
        with_user: user.is_some(),
    };
    Some(FastMatch {
        shape,
        user,
        addr,
        publickey: false,
    })
}

fn disconnect_bye(message: &str) -> Option<FastMatch<'_>> {
    let mut s = Scan::new(message);
    s.lit("Received disconnect from ")?;
    let addr = s.address()?;
    s.lit(" port ")?;
    s.digits()?;
    s.lit(":11: ")?;
    Some(FastMatch {
        shape: Shape::DisconnectBye,
        user: None,
        addr,
        publickey: false,
    })
}

fn accepted(message: &str) -> Option<FastMatch<'_>> {
    let mut s = Scan::new(message);
    s.lit("Accepted ")?;
    s.word()?;
    s.lit(" for ")?;
    let user = s.token(true)?;
    s.lit(" from ")?;
    let addr = s.address()?;
    if !s.at_end_or_space() {
        return None;
    }
    Some(FastMatch {
        shape: Shape::Accepted,
        user: Some(user),
        addr,
        publickey: false,
    })
}

fn max_attempts(message: &str) -> Option<FastMatch<'_>> {
    let mut s = Scan::new(message);
    s.lit("maximum authentication attempts exceeded for ")?;
    if message[s.pos..].starts_with("invalid user ") {
        return None;
    }
    let user = s.token(true)?;
    if user == "from" {
        return None;
    }
    s.lit(" from ")?;
    let addr = s.address()?;
    s.lit(" port ")?;
    s.digits()?;
    s.lit(" ssh2 [preauth]")?;
    s.end()?;
    Some(FastMatch {
        shape: Shape::MaxAttempts,
        user: Some(user),
        addr,
        publickey: false,
    })
}

fn pam(message: &str) -> Option<FastMatch<'_>> {
    let mut s = Scan::new(message);
    s.lit("pam_")?;
    let module = message.as_bytes()[s.pos..]
        .iter()
        .take_while(|c| c.is_ascii_lowercase())
        .count();
    s.pos += module;
    // Only `pam_<module>(sshd:auth):` can start the one rule that begins with `pam_`.
    let no_rule = FastMatch {
        shape: Shape::NoRule,
        user: None,
        addr: Address::default(),
        publickey: false,
    };
    if module == 0 || s.lit("(sshd:auth):").is_none() {
        return Some(no_rule);
    }
    s.lit(" authentication failure;")?;
    // pam_unix's fields as sshd's PAM stack almost always writes them: one comparison.
    let alt_user = if s
        .lit(" logname= uid=0 euid=0 tty=ssh ruser= rhost=")
        .is_some()
    {
        ""
    } else {
        pam_fields_to_rhost(&mut s)?
    };
    let addr = s.address()?;
    let mut user = None;
    if s.end().is_none() {
        let before = s.pos;
        while s.lit(" ").is_some() {}
        if s.lit("user=").is_some() {
            user = Some(s.token(true).unwrap_or(""));
        } else {
            s.pos = before;
        }
        if s.end().is_none() {
            s.lit(" [preauth]")?;
            s.end()?;
        }
    }
    // fail2ban's F-ALT_USER: `ruser` stands in when `user` is missing or empty.
    if user.is_none_or(str::is_empty) && !alt_user.is_empty() {
        user = Some(alt_user);
    }
    Some(FastMatch {
        shape: Shape::PamAuthFailure,
        user,
        addr,
        publickey: false,
    })
}

/// After `authentication failure;`: up to four of `logname=`, `uid=`, `euid=`, `tty=`, then
/// `ruser=R rhost=` (each after one or more spaces); returns R.
fn pam_fields_to_rhost<'a>(s: &mut Scan<'a>) -> Option<&'a str> {
    let mut fields = 0;
    let alt_user = loop {
        s.lit(" ")?;
        while s.lit(" ").is_some() {}
        let rest = &s.text.as_bytes()[s.pos..];
        let len = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        if !rest[..len].iter().all(|c| (0x21..=0x7e).contains(c)) {
            return None;
        }
        let token = &s.text[s.pos..s.pos + len];
        s.pos += token.len();
        if let Some(value) = token.strip_prefix("ruser=") {
            break value;
        }
        let known = ["logname=", "uid=", "euid=", "tty="]
            .iter()
            .any(|p| token.starts_with(p));
        fields += 1;
        if !known || fields > 4 {
            return None;
        }
    };
    s.lit(" ")?;
    while s.lit(" ").is_some() {}
    s.lit("rhost=")?;
    Some(alt_user)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain reading of a dotted quad, digit by digit: what `dotted_quad` must answer.
    fn dotted_quad_digit_by_digit(b: &[u8]) -> Option<(usize, Option<Ipv4Addr>)> {
        let digit = |i: usize| b.get(i).filter(|c| c.is_ascii_digit()).map(|c| c - b'0');
        let (mut pos, mut octets, mut canonical) = (0, [0u8; 4], true);
        for (group, octet) in octets.iter_mut().enumerate() {
            if group > 0 {
                if b.get(pos) != Some(&b'.') {
                    return None;
                }
                pos += 1;
            }
            let len = (0..4).take_while(|&i| digit(pos + i).is_some()).count();
            if !(1..=3).contains(&len) {
                return None;
            }
            let value = (0..len).fold(0u32, |v, i| v * 10 + u32::from(digit(pos + i).unwrap()));
            canonical &= (len == 1 || b[pos] != b'0') && value <= 255;
            *octet = value as u8;
            pos += len;
        }
        Some((pos, canonical.then(|| Ipv4Addr::from(octets))))
    }

    #[test]
    fn dotted_quads_read_as_digit_by_digit() {
        // Every string of up to 7 bytes over digits, dots and one other byte, then longer ones
        // built from groups of 0 to 4 digits with what may follow them.
        let alphabet = [b'0', b'1', b'2', b'5', b'9', b'.', b'x'];
        let mut checked = 0;
        for len in 0..=7u32 {
            for n in 0..7usize.pow(len) {
                let t: Vec<u8> = (0..len).map(|i| alphabet[n / 7usize.pow(i) % 7]).collect();
                assert_eq!(dotted_quad(&t), dotted_quad_digit_by_digit(&t), "{t:?}");
                checked += 1;
            }
        }
        let groups = [
            "", "0", "7", "00", "01", "10", "99", "255", "256", "300", "999", "1234",
        ];
        let tails = [
            "",
            " ",
            ".",
            "5",
            ".5",
            "x",
            " port 22 ssh2",
            "1234567890123456789",
        ];
        for a in groups {
            for b in groups {
                for c in ["1", "255", "09"] {
                    for d in groups {
                        for tail in tails {
                            let t = format!("{a}.{b}.{c}.{d}{tail}");
                            let t = t.as_bytes();
                            assert_eq!(dotted_quad(t), dotted_quad_digit_by_digit(t), "{t:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 900_000);
    }

    #[test]
    fn dotted_quads_carry_the_value_the_standard_parser_gives() {
        for t in [
            "192.0.2.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "192.030.0.6",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "01.2.3.4",
            "1.2.3.4567",
            "999.999.999.999",
            "a.b.c.d",
            "",
        ] {
            // Read in full, a dotted quad has exactly the standard parser's value (or none).
            let whole = dotted_quad(t.as_bytes()).filter(|(len, _)| *len == t.len());
            assert_eq!(whole.and_then(|(_, value)| value), t.parse().ok(), "{t}");
        }
    }

    /// Every string of `1`, `:` (and a few with `.`) up to 16 bytes gets the regex's answer.
    #[test]
    fn ip6_shape_reading_is_the_regex_language() {
        let regex =
            regex::Regex::new(r"^(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|:)$").unwrap();
        let mut checked = 0;
        for len in 0..=16u32 {
            for bits in 0..(1u32 << len) {
                let t: String = (0..len)
                    .map(|i| if bits >> i & 1 == 1 { ':' } else { '1' })
                    .collect();
                assert_eq!(is_ip6_shape(&t), regex.is_match(&t), "{t:?}");
                checked += 1;
            }
        }
        assert!(checked > 100_000);
        for t in ["1.2::3", "::1.2", "fe80::1.", "aBcD::EF01:2", "abcde::1"] {
            assert_eq!(
                is_ip6_shape(t),
                regex.is_match(t) && !t.contains('.'),
                "{t}"
            );
        }
    }

    #[test]
    fn ip6_shapes_follow_fail2ban_regex() {
        for ok in [
            "::1",
            "2001:db8::1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::",
            "aaaa:bbbb:cccc:1234::1:1",
        ] {
            assert!(is_ip6_shape(ok), "{ok}");
        }
        // Eight repetitions are needed here, fail2ban's regex allows seven.
        for bad in ["::2:3:4:5:6:7:8", "1.2.3.4", "12345::1", "", "abc"] {
            assert!(!is_ip6_shape(bad), "{bad}");
        }
    }

    #[test]
    fn shapes() {
        let m = read("Failed password for invalid user admin from 192.0.2.1 port 22 ssh2").unwrap();
        assert_eq!(
            (m.shape, m.user, m.addr.ip4),
            (Shape::FailedInvalidUser, Some("admin"), Some("192.0.2.1"))
        );
        let m = read("Failed password for invalid user a from 6.6.6.6 from 192.0.2.1 port 22 ssh2")
            .unwrap();
        assert_eq!(
            (m.shape, m.user, m.addr.ip4),
            (
                Shape::FailedCatchAll,
                Some("invalid user a from 6.6.6.6"),
                Some("192.0.2.1")
            )
        );
        assert!(read("Failed password for root from 192.0.2.1 port 22 ssh2: x").is_none());
        assert!(read("Failed password for ro:ot from 192.0.2.1 port 22 ssh2").is_none());
        let m = read("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.7  user=root").unwrap();
        assert_eq!(
            (m.shape, m.user, m.addr.ip4),
            (Shape::PamAuthFailure, Some("root"), Some("192.0.2.7"))
        );
        let m = read("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=sudoer rhost=192.0.2.7").unwrap();
        assert_eq!(m.user, Some("sudoer"));
        assert_eq!(
            read("pam_unix(sshd:session): session opened for user x")
                .unwrap()
                .shape,
            Shape::NoRule
        );
        let m = read("Connection closed by authenticating user root 2001:db8::2 port 9 [preauth]")
            .unwrap();
        assert_eq!((m.user, m.addr.ip6), (Some("root"), Some("2001:db8::2")));
    }
}

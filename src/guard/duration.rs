//! fail2ban-style durations: `600`, `10m`, `1h30m`, `5w`. Pure parsing, no I/O.

use std::fmt;

use serde::Deserialize;

/// A whole number of seconds, written in the config as an integer or a string with units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Secs(pub u64);

impl Secs {
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", format_secs(self.0))
    }
}

/// Parse `90`, `90s`, `10m`, `1h30m`, `2d`, `5w` (units: s, m, h, d, w; also `mo` = 30 d, `y` = 365 d).
pub fn parse_duration(text: &str) -> Result<Secs, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = text.parse::<u64>() {
        return Ok(Secs(n));
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "bad duration {text:?}: expected a number before {rest:?}"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("bad duration {text:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let per: u64 = match unit {
            "" | "s" | "sec" => 1,
            "m" | "min" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            "mo" => 30 * 86_400,
            "y" => 365 * 86_400,
            other => {
                return Err(format!(
                    "bad duration {text:?}: unknown unit {other:?} (use s, m, h, d, w, mo, y)"
                ));
            }
        };
        total = n
            .checked_mul(per)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("bad duration {text:?}: too large"))?;
    }
    Ok(Secs(total))
}

/// Render seconds compactly for humans: `1h30m`, `5w`, `45s`.
pub fn format_secs(mut secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, per) in [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3600),
        ("m", 60),
        ("s", 1),
    ] {
        if secs >= per {
            out.push_str(&format!("{}{unit}", secs / per));
            secs %= per;
        }
    }
    out
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) if n >= 0 => Ok(Secs(n as u64)),
            Raw::Int(n) => Err(serde::de::Error::custom(format!(
                "duration must not be negative, got {n}"
            ))),
            Raw::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse_duration("600"), Ok(Secs(600)));
        assert_eq!(parse_duration("10m"), Ok(Secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Secs(5400)));
        assert_eq!(parse_duration("5w"), Ok(Secs(5 * 604_800)));
        assert_eq!(parse_duration("2d 3h"), Ok(Secs(2 * 86_400 + 3 * 3600)));
        assert_eq!(parse_duration("1mo"), Ok(Secs(30 * 86_400)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("99999999999999999999w").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in [1, 59, 60, 3600, 5400, 86_400 * 9 + 7] {
            assert_eq!(parse_duration(&format_secs(s)), Ok(Secs(s)));
        }
        assert_eq!(format_secs(5400), "1h30m");
    }
}

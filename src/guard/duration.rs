//! Durations as fail2ban writes them: `600`, `10m`, `1h30m`, `2d`, `5w`, `1mo`, `1y`.

use std::fmt;

/// A duration in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {why} (use e.g. 600, 10m, 1h30m, 2d, 5w)")]
pub struct DurationError {
    pub text: String,
    pub why: &'static str,
}

impl Seconds {
    pub fn parse(text: &str) -> Result<Seconds, DurationError> {
        let fail = |why| DurationError {
            text: text.to_string(),
            why,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut total: i64 = 0;
        let mut rest = trimmed;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(fail("a number must come before each unit"));
            }
            let number: i64 = rest[..digits]
                .parse()
                .map_err(|_| fail("the number is too large"))?;
            rest = rest[digits..].trim_start();
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            let scale = match unit {
                "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
                "m" | "min" | "mins" | "minute" | "minutes" => 60,
                "h" | "hour" | "hours" => 3600,
                "d" | "day" | "days" => 86_400,
                "w" | "week" | "weeks" => 604_800,
                "mo" | "month" | "months" => 2_629_800,
                "y" | "year" | "years" => 31_557_600,
                _ => return Err(fail("unknown unit")),
            };
            total = number
                .checked_mul(scale)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| fail("it is too large"))?;
            rest = rest[unit_len..].trim_start();
            if unit.is_empty() && !rest.is_empty() {
                return Err(fail("a bare number must stand alone"));
            }
        }
        Ok(Seconds(total))
    }
}

impl std::str::FromStr for Seconds {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Seconds::parse(s)
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s {
            _ if s != 0 && s % 604_800 == 0 => write!(f, "{}w", s / 604_800),
            _ if s != 0 && s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            _ if s != 0 && s % 3600 == 0 => write!(f, "{}h", s / 3600),
            _ if s != 0 && s % 60 == 0 => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail2ban_forms() {
        for (text, secs) in [
            ("600", 600),
            ("10m", 600),
            ("1h", 3600),
            ("1h30m", 5400),
            ("2d", 172_800),
            ("5w", 3_024_000),
            ("30 s", 30),
        ] {
            assert_eq!(Seconds::parse(text), Ok(Seconds(secs)), "{text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "m", "10x", "1 2", "-5m", "99999999999999999999"] {
            assert!(Seconds::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(Seconds(600).to_string(), "10m");
        assert_eq!(Seconds(90).to_string(), "90s");
        assert_eq!(Seconds(3_024_000).to_string(), "5w");
    }
}

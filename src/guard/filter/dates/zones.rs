//! fail2ban's time zones: `ABBR`, `ABBR+hh`, `ABBR+hhmm`, `ABBR+hh:mm` or a bare offset, as
//! fixed offsets in minutes (an abbreviation is one fixed offset, with no DST switch). Used for
//! `%z`/`%Z` in dates and for the `logtimezone` option.

/// Offsets (minutes east of UTC) of the abbreviations fail2ban knows.
const ABBREVIATIONS: &[(i32, &[&str])] = &[
    (-720, &["Y"]),
    (-660, &["NUT", "SST", "X"]),
    (-600, &["CKT", "HAST", "HST", "TAHT", "TKT", "W"]),
    (-570, &["MART", "MIT"]),
    (-540, &["AKST", "GAMT", "GIT", "HADT", "HNY", "V"]),
    (-480, &["AKDT", "CIST", "HAY", "HNP", "PST", "PT", "U"]),
    (-420, &["HAP", "HNR", "MST", "PDT", "T"]),
    (-360, &["CST", "EAST", "GALT", "HAR", "HNC", "MDT", "S"]),
    (
        -300,
        &[
            "CDT", "COT", "EASST", "ECT", "EST", "ET", "HAC", "HNE", "PET", "R",
        ],
    ),
    (-270, &["HLV", "VET"]),
    (
        -240,
        &[
            "AST", "BOT", "CLT", "COST", "EDT", "FKT", "GYT", "HAE", "HNA", "PYT", "Q",
        ],
    ),
    (-210, &["HNT", "NST", "NT"]),
    (
        -180,
        &[
            "ADT", "ART", "BRT", "CLST", "FKST", "GFT", "HAA", "P", "PMST", "PYST", "SRT", "UYT",
            "WGT",
        ],
    ),
    (-150, &["HAT", "NDT"]),
    (-120, &["BRST", "FNT", "O", "PMDT", "UYST", "WGST"]),
    (-60, &["AZOT", "CVT", "EGT", "N"]),
    (0, &["EGST", "GMT", "UTC", "WET", "WT", "Z"]),
    (60, &["A", "CET", "DFT", "WAT", "WEDT", "WEST"]),
    (120, &["B", "CAT", "CEDT", "CEST", "EET", "SAST", "WAST"]),
    (180, &["C", "EAT", "EEDT", "EEST", "IDT", "MSK"]),
    (210, &["IRST"]),
    (
        240,
        &[
            "AMT", "AZT", "D", "GET", "GST", "KUYT", "MSD", "MUT", "RET", "SAMT", "SCT",
        ],
    ),
    (270, &["AFT", "IRDT"]),
    (
        300,
        &[
            "AMST", "AQTT", "AZST", "E", "HMT", "MAWT", "MVT", "PKT", "TFT", "TJT", "TMT", "UZT",
            "YEKT",
        ],
    ),
    (330, &["SLT"]),
    (345, &["NPT"]),
    (
        360,
        &[
            "ALMT", "BIOT", "BTT", "F", "IOT", "KGT", "NOVT", "OMST", "YEKST",
        ],
    ),
    (390, &["CCT", "MMT"]),
    (
        420,
        &[
            "CXT", "DAVT", "G", "HOVT", "ICT", "KRAT", "NOVST", "OMSST", "THA", "WIB",
        ],
    ),
    (
        480,
        &[
            "ACT", "AWST", "BDT", "BNT", "CAST", "H", "HKT", "IRKT", "KRAST", "MYT", "PHT", "SGT",
            "ULAT", "WITA", "WST",
        ],
    ),
    (
        540,
        &[
            "AWDT", "I", "IRKST", "JST", "KST", "PWT", "TLT", "WDT", "WIT", "YAKT",
        ],
    ),
    (570, &["ACST"]),
    (600, &["AEST", "ChST", "K", "PGT", "VLAT", "YAKST", "YAPT"]),
    (630, &["ACDT", "LHST"]),
    (
        660,
        &[
            "AEDT", "L", "LHDT", "MAGT", "NCT", "PONT", "SBT", "VLAST", "VUT",
        ],
    ),
    (690, &["NFT"]),
    (
        720,
        &[
            "ANAST", "ANAT", "FJT", "GILT", "M", "MAGST", "MHT", "NZST", "PETST", "PETT", "TVT",
            "WFT",
        ],
    ),
    (780, &["FJST", "NZDT"]),
];

fn abbreviation_offset(abbr: &str) -> Option<i32> {
    ABBREVIATIONS
        .iter()
        .find(|(_, names)| names.contains(&abbr))
        .map(|(minutes, _)| *minutes)
}

/// Why a zone is not one fail2ban reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ZoneError {
    /// Not of the form `ABBR[+-]hh[[:]mm]` at all (fail2ban: ValueError).
    Form,
    /// Of that form, but the abbreviation is not in fail2ban's table (fail2ban: KeyError).
    UnknownAbbreviation(String),
}

/// The zone's offset in minutes (fail2ban's `validateTimeZone`).
pub(crate) fn zone_offset(zone: &str) -> Result<i32, ZoneError> {
    let (abbr, offset) = split_zone(zone).ok_or(ZoneError::Form)?;
    let base = if abbr.is_empty() {
        0
    } else {
        abbreviation_offset(abbr).ok_or_else(|| ZoneError::UnknownAbbreviation(abbr.to_string()))?
    };
    Ok(base + offset.map_or(0, offset_minutes))
}

/// `(abbreviation, offset)`, the whole text consumed (a final newline allowed, as Python's `$`).
fn split_zone(zone: &str) -> Option<(&str, Option<&str>)> {
    let zone = zone.strip_suffix('\n').unwrap_or(zone);
    let capitals = zone.bytes().take_while(u8::is_ascii_uppercase).count();
    // The abbreviation is 1, 3, 4 or 5 capitals (or none); the longest that lets the rest fit.
    let lengths = [5, 4, 3, 1, 0];
    lengths.iter().filter(|l| **l <= capitals).find_map(|&l| {
        let rest = &zone[l..];
        if rest.is_empty() {
            Some((&zone[..l], None))
        } else if is_offset(rest) {
            Some((&zone[..l], Some(rest)))
        } else {
            None
        }
    })
}

/// `[+-][01]d`, `[+-][01]dmm` or `[+-][01]d:mm`, exactly.
fn is_offset(s: &str) -> bool {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let head =
        b.len() >= 3 && matches!(b[0], b'+' | b'-') && matches!(b[1], b'0' | b'1') && digit(2);
    head && match b.len() {
        3 => true,
        5 => digit(3) && digit(4),
        6 => b[3] == b':' && digit(4) && digit(5),
        _ => false,
    }
}

fn offset_minutes(offset: &str) -> i32 {
    let b = offset.as_bytes();
    let num = |i: usize, j: usize| offset[i..j].parse::<i32>().unwrap_or(0);
    let sign = if b[0] == b'-' { -1 } else { 1 };
    match b.len() {
        3 => sign * num(1, 3) * 60,
        5 => sign * (num(1, 3) * 60 + num(3, 5)),
        _ => sign * (num(1, 3) * 60 + num(4, 6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail2ban_zone_forms() {
        assert_eq!(zone_offset("UTC"), Ok(0));
        assert_eq!(zone_offset(""), Ok(0));
        assert_eq!(zone_offset("UTC+0200"), Ok(120));
        assert_eq!(zone_offset("UTC-05"), Ok(-300));
        assert_eq!(zone_offset("GMT+01:30"), Ok(90));
        assert_eq!(zone_offset("CEST-02"), Ok(0));
        assert_eq!(zone_offset("+0100"), Ok(60));
        assert_eq!(zone_offset("NPT"), Ok(345));
        assert_eq!(zone_offset("A"), Ok(60));
    }

    #[test]
    fn refused_zones() {
        assert_eq!(zone_offset("UTC-5"), Err(ZoneError::Form));
        assert_eq!(zone_offset("utc"), Err(ZoneError::Form));
        assert_eq!(zone_offset("EST5EDT"), Err(ZoneError::Form));
        assert_eq!(
            zone_offset("ERROR"),
            Err(ZoneError::UnknownAbbreviation("ERROR".into()))
        );
    }
}

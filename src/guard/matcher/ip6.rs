//! IPv6 text to address, with exactly the standard parser's rules for text without an IPv4
//! tail (fail2ban's `<IP6>` has none), several times faster: a brute-force log names an IPv6
//! address on every tenth line.

use std::net::Ipv6Addr;

/// What `text.parse::<Ipv6Addr>()` gives, for text of hex digits and colons.
pub fn parse(text: &str) -> Option<Ipv6Addr> {
    let b = text.as_bytes();
    let mut head = [0u16; 8];
    let (head_len, pos) = groups(b, 0, &mut head);
    if head_len == 8 {
        return (pos == b.len()).then(|| Ipv6Addr::from(head));
    }
    // Fewer than eight groups: `::` must follow and stand for at least one zero group.
    if b.get(pos..pos + 2) != Some(b"::") {
        return None;
    }
    let mut tail = [0u16; 8];
    let (tail_len, end) = groups(b, pos + 2, &mut tail[..8 - head_len - 1]);
    if end != b.len() {
        return None;
    }
    let mut all = head;
    all[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
    Some(Ipv6Addr::from(all))
}

/// Reads up to `out.len()` groups of one to four hex digits joined by single colons, from
/// `pos`; a colon is taken only when a group follows it. Returns the count and the end.
fn groups(b: &[u8], mut pos: usize, out: &mut [u16]) -> (usize, usize) {
    let mut count = 0;
    while count < out.len() {
        let start = if count == 0 {
            pos
        } else if b.get(pos) == Some(&b':') {
            pos + 1
        } else {
            break;
        };
        let Some((value, end)) = group(b, start) else {
            break;
        };
        out[count] = value;
        count += 1;
        pos = end;
    }
    (count, pos)
}

fn group(b: &[u8], start: usize) -> Option<(u16, usize)> {
    let mut value = 0u16;
    let mut pos = start;
    while pos - start < 4 {
        let digit = match b.get(pos) {
            Some(c @ b'0'..=b'9') => c - b'0',
            Some(c @ b'a'..=b'f') => c - b'a' + 10,
            Some(c @ b'A'..=b'F') => c - b'A' + 10,
            _ => break,
        };
        value = value << 4 | u16::from(digit);
        pos += 1;
    }
    (pos > start).then_some((value, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_std(t: &str) {
        assert_eq!(parse(t), t.parse::<Ipv6Addr>().ok(), "{t:?}");
    }

    /// Every string of `1`, `:` up to 16 bytes, and generated ones of hex digits and colons.
    #[test]
    fn agrees_with_the_standard_parser() {
        for len in 0..=16u32 {
            for bits in 0..(1u32 << len) {
                let t: String = (0..len)
                    .map(|i| if bits >> i & 1 == 1 { ':' } else { '1' })
                    .collect();
                same_as_std(&t);
            }
        }
        let alphabet = b"0123456789abcdefABCDEF::::";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 46) as usize;
            let t: String = (0..len)
                .map(|i| {
                    let r = seed.rotate_left(i as u32 * 5) as usize;
                    char::from(alphabet[r % alphabet.len()])
                })
                .collect();
            same_as_std(&t);
        }
        for t in [
            "2001:db8::1",
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            "12345::1",
            ":1::2",
            "1:::2",
            "::ffff:c000:201",
            "fe80::0000:0001",
            "FE80::ABCD",
        ] {
            same_as_std(t);
        }
    }
}

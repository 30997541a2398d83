//! The length of a run of bytes of one class (digits, printable ASCII, ...) in a line.
//!
//! User names, ports and pids are a few bytes of varying length: a loop that stops at the first
//! byte outside the class costs a test and a branch per byte, and its exit is often mispredicted.
//! Reading the class of 16 bytes at once as a bit mask and counting its trailing ones takes a few
//! instructions and no branch per byte.

/// A class of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `0`-`9`.
    Digit,
    /// Printable ASCII but space: `!` to `~`.
    Printable,
    /// `Printable` without `:`.
    PrintableNoColon,
    /// What an address is written with: hex digits, `.` and `:`.
    AddressByte,
    /// `.`.
    Dot,
}

impl Class {
    pub fn contains(self, c: u8) -> bool {
        match self {
            Class::Digit => c.is_ascii_digit(),
            Class::Printable => (0x21..=0x7e).contains(&c),
            Class::PrintableNoColon => (0x21..=0x7e).contains(&c) && c != b':',
            Class::AddressByte => c.is_ascii_hexdigit() || c == b'.' || c == b':',
            Class::Dot => c == b'.',
        }
    }
}

/// How many bytes of `class` follow `start` in `b` (up to its end).
#[inline(always)]
pub fn run_len(b: &[u8], start: usize, class: Class) -> usize {
    if start >= b.len() {
        return 0;
    }
    if b.len() < 16 {
        return (b[start..].iter())
            .position(|&c| !class.contains(c))
            .unwrap_or(b.len() - start);
    }
    let mut at = start;
    loop {
        // The 16 bytes from `at`, or the last 16 of `b` when fewer remain (the bits before `at`
        // are shifted out, and the ones past the end read as outside the class).
        let base = at.min(b.len() - 16);
        let window: &[u8; 16] = b[base..base + 16].try_into().expect("16 bytes");
        let bits = class_bits(window, class) >> (at - base);
        at += (!bits).trailing_zeros() as usize;
        if at < base + 16 || base + 16 == b.len() {
            return at - start;
        }
    }
}

/// Bit `i` set where `window[i]` belongs to `class`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn class_bits(window: &[u8; 16], class: Class) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline; `window` is 16 readable bytes and the load
    // has no alignment requirement.
    let mask = unsafe {
        let v = _mm_loadu_si128(window.as_ptr().cast::<__m128i>());
        // `lo <= c <= lo + span`, unsigned: the distance above `lo` is at most `span`.
        let within = |lo: u8, span: u8| {
            let above = _mm_sub_epi8(v, _mm_set1_epi8(lo as i8));
            _mm_cmpeq_epi8(_mm_min_epu8(above, _mm_set1_epi8(span as i8)), above)
        };
        let byte = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        let set = match class {
            Class::Digit => within(b'0', 9),
            Class::Printable => within(0x21, 0x7e - 0x21),
            Class::PrintableNoColon => {
                // Printable and not `:`: the colon's bytes compare equal in both, so xor them out.
                let printable = within(0x21, 0x7e - 0x21);
                std::arch::x86_64::_mm_xor_si128(printable, byte(b':'))
            }
            Class::AddressByte => {
                let hex = _mm_or_si128(within(b'0', 9), within(b'a', 5));
                let hex = _mm_or_si128(hex, within(b'A', 5));
                _mm_or_si128(hex, _mm_or_si128(byte(b'.'), byte(b':')))
            }
            Class::Dot => byte(b'.'),
        };
        _mm_movemask_epi8(set)
    };
    mask as u32
}

#[cfg(not(target_arch = "x86_64"))]
pub fn class_bits(window: &[u8; 16], class: Class) -> u32 {
    (window.iter().enumerate()).fold(0, |bits, (i, &c)| bits | u32::from(class.contains(c)) << i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_byte_by_byte_loop() {
        let classes = [
            Class::Digit,
            Class::Printable,
            Class::PrintableNoColon,
            Class::AddressByte,
            Class::Dot,
        ];
        // Lengths around the 16-byte window; every byte value appears in every position.
        let pattern: Vec<u8> = (0..=255u8)
            .chain(b"12345abcdefABCDEF:.xyz09".iter().copied())
            .collect();
        let mut checked = 0;
        for len in 0..40 {
            for offset in 0..pattern.len() {
                let b: Vec<u8> = (0..len)
                    .map(|i| pattern[(offset + i * 7) % pattern.len()])
                    .collect();
                for start in 0..=len {
                    for class in classes {
                        let want = b[start..]
                            .iter()
                            .take_while(|&&c| class.contains(c))
                            .count();
                        assert_eq!(
                            run_len(&b, start, class),
                            want,
                            "{class:?} {b:?} from {start}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        // Past the end there is nothing.
        assert_eq!(run_len(b"123", 5, Class::Digit), 0);
        assert_eq!(run_len(&[b'1'; 20], 25, Class::Digit), 0);
        // Long runs that cross several windows.
        for len in [16, 17, 31, 32, 33, 100] {
            let digits = vec![b'7'; len];
            for start in 0..len {
                assert_eq!(run_len(&digits, start, Class::Digit), len - start);
            }
        }
        assert!(checked > 100_000);
    }
}

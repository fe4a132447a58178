//! The one set of digit helpers: eight ASCII bytes read as one little-endian word (first
//! byte lowest), checked and combined with a few integer operations (SWAR, "SIMD within a
//! register"). Safe code; every other reader here builds on these.

use super::tables::POW10_U64;

const ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight bytes at `b[i..i + 8]` as a little-endian word, if there are eight.
#[inline(always)]
pub(crate) fn load8(b: &[u8], i: usize) -> Option<u64> {
    let w: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

/// A high bit in every byte of `w` that is not an ASCII digit. A byte's top bit is set
/// when it is below '0' (the subtraction wraps) or above '9' (the addition reaches 0x80).
/// Borrows and carries only move towards later bytes, so the lowest set bit is exact
/// (bits above it may be spurious).
#[inline(always)]
pub(crate) fn non_digits(w: u64) -> u64 {
    (w.wrapping_add(0x4646_4646_4646_4646) | w.wrapping_sub(ZEROS)) & 0x8080_8080_8080_8080
}

/// How many of the word's bytes, from the first, are ASCII digits (0..=8).
#[inline(always)]
pub(crate) fn digit_count(w: u64) -> usize {
    (non_digits(w).trailing_zeros() / 8) as usize
}

/// The value of eight ASCII digits in a word (the first digit in the lowest byte).
#[inline(always)]
pub(crate) fn eight_value(w: u64) -> u64 {
    combine(w.wrapping_sub(ZEROS))
}

/// The value of the first `n` (0..=8) bytes of `w`, all ASCII digits.
#[inline(always)]
pub(crate) fn prefix_value(w: u64, n: usize) -> u64 {
    // Shift the digits to the top of the word (dropping the bytes after them): the
    // emptied low bytes become leading zeros (all of them when `n` is 0).
    combine((u128::from(w.wrapping_sub(ZEROS)) << (8 * (8 - n))) as u64)
}

/// Eight digit values (0..=9, one per byte, the most significant in the lowest byte)
/// combined: pairs, then pairs of pairs, then the two halves.
#[inline(always)]
fn combine(d: u64) -> u64 {
    let d = d.wrapping_mul(10).wrapping_add(d >> 8) & 0x00FF_00FF_00FF_00FF;
    let d = d.wrapping_mul(100).wrapping_add(d >> 16) & 0x0000_FFFF_0000_FFFF;
    d.wrapping_mul(10_000).wrapping_add(d >> 32) & 0xFFFF_FFFF
}

/// Read the run of digits at `b[i..]` into `significand` (wrapping past 19 digits), a word
/// at a time while eight bytes are there, then byte by byte; returns the end of the run
/// and the number of digits read.
#[inline]
pub(crate) fn wrapping_run(b: &[u8], mut i: usize, significand: &mut u64) -> (usize, usize) {
    let start = i;
    while let Some(w) = load8(b, i) {
        let bad = non_digits(w);
        if bad == 0 {
            *significand = significand
                .wrapping_mul(100_000_000)
                .wrapping_add(eight_value(w));
            i += 8;
            continue;
        }
        let n = (bad.trailing_zeros() / 8) as usize;
        if n > 0 {
            *significand = significand
                .wrapping_mul(POW10_U64[n])
                .wrapping_add(prefix_value(w, n));
        }
        return (i + n, i + n - start);
    }
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        *significand = significand
            .wrapping_mul(10)
            .wrapping_add(u64::from(c - b'0'));
        i += 1;
    }
    (i, i - start)
}

/// `significand` followed by the digits at `b[from..to]` (all digits, at most 19 in all,
/// `from <= to`), read a word at a time; `None` when a word would run past the end of `b`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline]
pub(crate) fn append_digits(
    b: &[u8],
    mut from: usize,
    to: usize,
    mut significand: u64,
) -> Option<u64> {
    while to - from >= 8 {
        significand = significand * 100_000_000 + eight_value(load8(b, from)?);
        from += 8;
    }
    let n = to - from;
    if n > 0 {
        significand = significand * POW10_U64[n] + prefix_value(load8(b, from)?, n);
    }
    Some(significand)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn word_helpers_agree_with_a_byte_loop() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..200_000 {
            let mut b = [0u8; 8];
            for x in &mut b {
                *x = match rng.random_range(0..4) {
                    0 => rng.random::<u8>(),
                    _ => b'0' + rng.random_range(0..10u8),
                };
            }
            let w = u64::from_le_bytes(b);
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            assert_eq!(digit_count(w), n, "{b:?}");
            let want = b[..n]
                .iter()
                .fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
            assert_eq!(prefix_value(w, n), want, "{b:?}");
            if n == 8 {
                assert_eq!(eight_value(w), want, "{b:?}");
            }
        }
    }

    #[test]
    fn eight_digits_at_a_time() {
        let eight =
            |b: &[u8], i: usize| load8(b, i).filter(|&w| non_digits(w) == 0).map(eight_value);
        for s in ["00000000", "12345678", "99999999", "10000001", "07350912"] {
            assert_eq!(eight(s.as_bytes(), 0), Some(s.parse().unwrap()), "{s}");
        }
        for s in [
            "1234567", "1234567a", "/2345678", ":2345678", "1234 678", "-1234567",
        ] {
            assert_eq!(eight(s.as_bytes(), 0), None, "{s}");
        }
        assert_eq!(eight(b"x12345678", 1), Some(12_345_678));
    }

    /// xorshift64*: a small deterministic generator for the random cases.
    fn next(state: &mut u64, n: u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n
    }

    #[test]
    fn digit_runs_of_every_length_and_position() {
        // Runs of 0..=20 digits followed by a non-digit (or the end), at every offset.
        let mut state = 0x1234_5678_9abc_def0u64;
        for len in 0..=20usize {
            for pad in 0..9usize {
                for end in [",", "]", ".", "e", ""] {
                    let digits: String = (0..len)
                        .map(|_| char::from(b'0' + next(&mut state, 10) as u8))
                        .collect();
                    let text = format!("{}{digits}{end}", "x".repeat(pad));
                    let mut sig = 0u64;
                    let (at, n) = wrapping_run(text.as_bytes(), pad, &mut sig);
                    assert_eq!((at, n), (pad + len, len), "{text}");
                    if len <= 19 && len > 0 {
                        assert_eq!(sig, digits.parse::<u64>().unwrap(), "{text}");
                    }
                    if len <= 19 && text.len() >= pad + len + 8 {
                        let got = append_digits(text.as_bytes(), pad, pad + len, 0);
                        assert_eq!(got, Some(digits.parse::<u64>().unwrap_or(0)), "{text}");
                    }
                }
            }
        }
    }
}

//! JSON numbers read straight from a request body into `f64`, exactly as `serde_json`
//! (with `float_roundtrip`) reads them, in one pass over the token.
//!
//! Plain decimals (`-`? digits, optionally `.` digits, no exponent, at most 19 digits) are
//! read in one step where the CPU has SSSE3 (detected at run time, [`super::x86`]). Every
//! other token, and every token without SSSE3, is read digit run by digit run, eight digits
//! at a time from one little-endian word ([`super::swar`]). Either way the decimal
//! significand and exponent are converted exactly ([`super::tables::convert`]); what
//! those conversions cannot decide goes to `fast-float2`, which is exact as well.

use super::swar::wrapping_run;
use super::tables::convert;

/// Read the JSON number starting at `b[start]` in one pass: check the JSON grammar (`-`?
/// then `0` or a non-zero digit run, `.` + digits, `e` + sign? + digits, and nothing that
/// could continue a number after it) and return the value and the end of the token.
/// `None` when the token is not a JSON number or its value is out of the `f64` range
/// (serde_json refuses those too).
#[inline]
pub(crate) fn scan_number(b: &[u8], start: usize) -> Option<(f64, usize)> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("ssse3") {
        // SAFETY: SSSE3 was detected (the standard library caches the answer).
        if let Some(found) = unsafe { super::x86::scan_plain_ssse3(b, start) } {
            return Some(found);
        }
    }
    scan_number_general(b, start)
}

/// A compact row of numbers: `values.len()` JSON numbers from `b[start]`, separated by
/// single commas and followed by `]` (no spaces). Fills `values` and returns the index
/// after the `]`, or `None` when the row is not of that shape (or a token is not a
/// number), leaving the caller to read it value by value. One call per row: on x86_64
/// with SSSE3 the loop runs with the plain-decimal reader inlined.
pub(crate) fn scan_compact_row(b: &[u8], start: usize, values: &mut [f64]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("ssse3") {
        // SAFETY: SSSE3 was detected.
        return unsafe { super::x86::compact_row_ssse3(b, start, values) };
    }
    compact_row_with(b, start, values, scan_number_general)
}

/// The loop of [`scan_compact_row`] over a number reader.
#[inline(always)]
pub(super) fn compact_row_with(
    b: &[u8],
    start: usize,
    values: &mut [f64],
    read: impl Fn(&[u8], usize) -> Option<(f64, usize)>,
) -> Option<usize> {
    let last = values.len().checked_sub(1)?;
    let mut i = start;
    for (j, v) in values.iter_mut().enumerate() {
        if !matches!(b.get(i), Some(b'-' | b'0'..=b'9')) {
            return None;
        }
        let (value, end) = read(b, i)?;
        *v = value;
        let expected = if j == last { b']' } else { b',' };
        if b.get(end) != Some(&expected) {
            return None;
        }
        i = end + 1;
    }
    Some(i)
}

/// [`scan_number`] for every token (any length, exponents, leading zeros in the fraction),
/// reading digit runs a word at a time.
pub(crate) fn scan_number_general(b: &[u8], start: usize) -> Option<(f64, usize)> {
    let mut i = start;
    let neg = b.get(i) == Some(&b'-');
    i += usize::from(neg);
    let mut significand: u64 = 0;
    // Digits read into `significand`, leading zeros included (an upper bound of the
    // significant digits).
    let mut digits;
    match b.get(i) {
        Some(b'0') => {
            i += 1;
            digits = 0;
        }
        Some(b'1'..=b'9') => (i, digits) = wrapping_run(b, i, &mut significand),
        _ => return None,
    }
    let mut exp10: i64 = 0;
    if b.get(i) == Some(&b'.') {
        if digits == 0 {
            // `0.000ddd`: the zeros after the point only move the exponent.
            let zeros_from = i + 1;
            i = zeros_from;
            while b.get(i) == Some(&b'0') {
                i += 1;
            }
            exp10 -= (i - zeros_from) as i64;
            let (end, n) = wrapping_run(b, i, &mut significand);
            if end == zeros_from {
                return None; // no digit after the point
            }
            i = end;
            digits = n;
            exp10 -= n as i64;
        } else {
            let (end, n) = wrapping_run(b, i + 1, &mut significand);
            if n == 0 {
                return None;
            }
            i = end;
            digits += n;
            exp10 -= n as i64;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative_exp = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let first = i;
        let mut e: i64 = 0;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if e < 1_000_000 {
                e = e * 10 + i64::from(c - b'0');
            }
            i += 1;
        }
        if i == first {
            return None;
        }
        exp10 += if negative_exp { -e } else { e };
    }
    if b.get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
    {
        return None;
    }
    let v = match convert(significand, digits, exp10) {
        Some(v) => {
            if neg {
                -v
            } else {
                v
            }
        }
        None => {
            let token = &b[start..i];
            let (v, n): (f64, usize) = fast_float2::parse_partial(token).ok()?;
            if n != token.len() {
                return None;
            }
            v
        }
    };
    // serde_json: "number out of range"
    v.is_finite().then_some((v, i))
}

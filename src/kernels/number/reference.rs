//! The plain scalar reference: one byte at a time, no word tricks, no SIMD. Every faster
//! reader in this module is tested against these (and against `str::parse::<f64>`) bit for
//! bit; [`plain_decimal`] is also the path near the end of a buffer.

use super::tables::{convert, small_quotient};

/// [`super::parse_plain`] one byte at a time: a plain decimal (`-`? digits, optionally
/// `.` digits, no exponent, at least one digit, at most 19 digits, significand at most
/// 2^53) at the start of `b`, its value and the bytes used; `None` when the text needs
/// the general parser.
pub(crate) fn plain_decimal(b: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0usize;
    let neg = b.first() == Some(&b'-');
    if neg {
        i = 1;
    }
    let mut mant: u64 = 0;
    let mut nd = digits(b, &mut i, &mut mant);
    let mut frac = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = digits(b, &mut i, &mut mant);
        nd += frac;
    }
    if nd == 0 || nd > 19 || mant > (1u64 << 53) {
        return None;
    }
    let v = small_quotient(mant, frac);
    Some((if neg { -v } else { v }, i))
}

/// Reads the run of ASCII digits at `*i` one byte at a time into `mant` (wrapping; the
/// caller rejects more than 19 digits); returns how many there were.
fn digits(b: &[u8], i: &mut usize, mant: &mut u64) -> usize {
    let start = *i;
    while let Some(&c) = b.get(*i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        *i += 1;
    }
    *i - start
}

/// The JSON number starting at `b[start]`, one byte at a time: the grammar (`-`? then `0`
/// or a non-zero digit run, `.` + digits, `e` + sign? + digits, and nothing that could
/// continue a number after it), then the value by the exact conversions or, where they do
/// not apply, `fast-float2`. The value and the end of the token, or `None` when the token
/// is not a JSON number or is out of the `f64` range. (The request path uses the faster
/// readers; this one is what they are tested against.)
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn json_number(b: &[u8], start: usize) -> Option<(f64, usize)> {
    let mut i = start;
    let neg = b.get(i) == Some(&b'-');
    i += usize::from(neg);
    // The significant digits (leading zeros dropped), counted, and the decimal exponent.
    let (mut sig, mut n_sig, mut exp10) = (0u64, 0usize, 0i64);
    let push = |c: u8, sig: &mut u64, n_sig: &mut usize| {
        if *n_sig == 0 && c == b'0' {
            return;
        }
        *sig = sig.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        *n_sig += 1;
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                push(c, &mut sig, &mut n_sig);
                i += 1;
            }
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let first = i;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            push(c, &mut sig, &mut n_sig);
            exp10 -= 1;
            i += 1;
        }
        if i == first {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative = match b.get(i) {
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
            e = (e * 10 + i64::from(c - b'0')).min(1_000_000_000);
            i += 1;
        }
        if i == first {
            return None;
        }
        exp10 += if negative { -e } else { e };
    }
    if b.get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
    {
        return None;
    }
    let v = match convert(sig, n_sig, exp10) {
        Some(v) if neg => -v,
        Some(v) => v,
        None => {
            let token = &b[start..i];
            let (v, n): (f64, usize) = fast_float2::parse_partial(token).ok()?;
            if n != token.len() {
                return None;
            }
            v
        }
    };
    v.is_finite().then_some((v, i))
}

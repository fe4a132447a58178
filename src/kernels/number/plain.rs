//! Plain decimals as CSV cells hold them (`-12.345`: optional minus, digits, optional
//! point and digits, no exponent), read a word at a time.

use super::reference;
use super::swar::{digit_count, load8, prefix_value};
use super::tables::{POW10_U64, small_quotient};

/// Parse a plain decimal (`-12.345`: optional minus, digits, optional fraction; at most 19
/// digits, no exponent) at the start of `b`. Returns the value and the bytes used, or
/// `None` when the text needs the general parser. Exact: the significand (≤ 2^53) and the
/// power of ten (≤ 10^22) are both exact doubles, so one IEEE division rounds correctly,
/// giving the same bits as any correct parser.
///
/// Reads the digits eight bytes at a time while eight bytes are there (the common case
/// inside a chunk), else one at a time ([`reference::plain_decimal`], which gives the same
/// answer for every input).
#[inline]
pub(crate) fn parse_plain(b: &[u8]) -> Option<(f64, usize)> {
    let neg = b.first() == Some(&b'-');
    let mut i = usize::from(neg);
    // Digits before the point, then after it.
    let (mut mant, mut nd) = (0u64, 0usize);
    match read_digits(b, &mut i, &mut mant, &mut nd) {
        Digits::Read(_) => {}
        Digits::TooMany => return None,
        Digits::NearEnd => return reference::plain_decimal(b),
    }
    let mut frac = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        match read_digits(b, &mut i, &mut mant, &mut nd) {
            Digits::Read(n) => frac = n,
            Digits::TooMany => return None,
            Digits::NearEnd => return reference::plain_decimal(b),
        }
    }
    if nd == 0 || mant > (1u64 << 53) {
        return None;
    }
    let v = small_quotient(mant, frac);
    Some((if neg { -v } else { v }, i))
}

/// What [`read_digits`] found.
enum Digits {
    /// A run of this many digits, ended inside the input.
    Read(usize),
    /// More than 19 significant digits in all: not a plain decimal for the fast path.
    TooMany,
    /// Fewer than eight bytes left before the run ended: read the field byte by byte.
    NearEnd,
}

/// Reads the run of ASCII digits at `*i` eight bytes at a time, appending them to
/// `mant` and counting them in `nd`; `*i` ends after the run.
#[inline(always)]
fn read_digits(b: &[u8], i: &mut usize, mant: &mut u64, nd: &mut usize) -> Digits {
    let start = *i;
    loop {
        let Some(w) = load8(b, *i) else {
            return Digits::NearEnd;
        };
        let n = digit_count(w);
        if *nd + n > 19 {
            return Digits::TooMany;
        }
        if n > 0 {
            *mant = *mant * POW10_U64[n] + prefix_value(w, n);
        }
        *nd += n;
        *i += n;
        if n < 8 {
            return Digits::Read(*i - start);
        }
    }
}

/// Parse the plain decimal that is exactly `l[start..end]` (`-?d*.?d*`, at most 7 digits
/// before the point and 8 after, at least one digit), reading whole words (8 bytes from
/// `start` and from the point must be inside `l`). Exact like [`parse_plain`]: at most 15
/// digits, so the significand is below 2^53. `None` for anything else (which the caller
/// then reads another way).
#[inline(always)]
pub(crate) fn parse_field(l: &[u8], start: usize, end: usize) -> Option<f64> {
    let neg = *l.get(start)? == b'-';
    let i = start + usize::from(neg);
    let w1 = load8(l, i)?;
    let n1 = digit_count(w1);
    if n1 == 8 {
        return None;
    }
    let (mant, frac) = if i + n1 == end {
        if n1 == 0 {
            return None;
        }
        (prefix_value(w1, n1), 0)
    } else {
        if l.get(i + n1) != Some(&b'.') {
            return None;
        }
        let j = i + n1 + 1;
        let w2 = load8(l, j)?;
        let n2 = digit_count(w2);
        if j + n2 != end || n1 + n2 == 0 {
            return None;
        }
        (
            prefix_value(w1, n1) * POW10_U64[n2] + prefix_value(w2, n2),
            n2,
        )
    };
    let v = small_quotient(mant, frac);
    Some(f64::from_bits(v.to_bits() | (u64::from(neg) << 63)))
}

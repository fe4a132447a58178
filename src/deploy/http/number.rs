//! JSON numbers read straight from the request body into `f64`, exactly as `serde_json`
//! (with `float_roundtrip`) reads them, in one pass over the token.
//!
//! Plain decimals (`-`? digits, optionally `.` digits, no exponent, at most 19 digits) are
//! read in one step where the CPU has SSSE3 (detected at run time): two 16-byte masks of
//! digits and points give the token's end and its point, and the fraction's last 16
//! digits are combined by multiply-adds ([`scan_compact_row`] reads a whole row of them
//! in one call). Every other token, and every token without SSSE3, is read digit run by
//! digit run, eight digits at a time from one little-endian word (a SWAR check that all
//! eight are digits, or the position of the first one that is not, then three
//! multiplications). Either way the decimal significand and exponent are converted
//! exactly:
//!
//! - significand ≤ 2^53 and |exponent| ≤ 22: one multiplication or division of two exact
//!   doubles (Clinger's fast path), so one correctly rounded operation;
//! - up to 19 significant digits and exponent in 0..=22: the exact product with 5^e in
//!   128 bits, rounded once by the integer-to-float conversion, then scaled by 2^e;
//! - up to 19 significant digits and exponent in -22..=-1 (what clients that print
//!   doubles with 17 digits send): the significand times a 128-bit reciprocal of 5^k,
//!   which brackets the exact quotient within one unit of the 128-bit result; when that
//!   bracket lies strictly inside one rounding interval the rounding is decided from it,
//!   else (a tie, an exactly representable quotient, or a value within 2^-63 of one)
//!   the token goes to the general parser;
//! - anything else goes to `fast-float2`, which is exact as well.

/// Exact powers of ten as `f64` (10^0 … 10^22 are all representable).
static POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// 10^n for n in 0..=19 (the scale of a run of n digits).
static POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Largest decimal exponent (in magnitude) of the exact conversions.
const MAX_EXP10: usize = 22;

/// For k in 1..=22: `(ceil(2^(127 + L) / 5^k), L)` with `L` the bit length of 5^k, so the
/// reciprocal has its top bit set (index 0 unused).
static RECIP5: [(u128, u32); MAX_EXP10 + 1] = recip5_table();

const fn recip5_table() -> [(u128, u32); MAX_EXP10 + 1] {
    let mut table = [(0u128, 0u32); MAX_EXP10 + 1];
    let mut k = 1;
    while k <= MAX_EXP10 {
        let d = 5u64.pow(k as u32);
        let len = 64 - d.leading_zeros();
        // Long division of 2^(127 + len) by d, one bit at a time (d < 2^52, so the
        // remainder doubled still fits; the quotient is below 2^128 because d is not
        // a power of two).
        let top = 127 + len as i32;
        let mut pos = top;
        let mut q: u128 = 0;
        let mut r: u64 = 0;
        while pos >= 0 {
            r = r * 2 + (pos == top) as u64;
            q <<= 1;
            if r >= d {
                r -= d;
                q |= 1;
            }
            pos -= 1;
        }
        if r != 0 {
            q += 1;
        }
        table[k] = (q, len);
        k += 1;
    }
    table
}

/// `m / 10^k` correctly rounded, for `2^53 < m < 2^64` and `k` in 1..=22; `None` when the
/// quotient is too close to a rounding boundary to decide from 128 bits.
#[inline(always)]
fn div_pow10(m: u64, k: usize) -> Option<f64> {
    let (inv, len) = RECIP5[k];
    // P = m * inv (192 bits); h = floor(P / 2^64). With T = m * 2^(127 + len) / 5^k the
    // exact (real) value, P - m < T <= P, so T / 2^64 lies in (h - 1, h + 1).
    let m = u128::from(m);
    let h = m * (inv >> 64) + ((m * (inv & u128::from(u64::MAX))) >> 64);
    let bits = 128 - h.leading_zeros();
    // Keep 54 bits (53 and the rounding bit); `low` is what lies below them.
    let shift = bits - 54;
    let top = (h >> shift) as u64;
    let low = h & ((1u128 << shift) - 1);
    // With 1 <= low <= 2^shift - 2, T / 2^(64 + shift) lies strictly between `top` and
    // `top + 1`: its leading 54 bits are `top`, and it is not a tie, so rounding to 53
    // bits gives (top + 1) / 2 whichever the rounding bit is.
    if low == 0 || low == (1u128 << shift) - 1 {
        return None;
    }
    let mantissa = (top + 1) >> 1;
    // value = mantissa * 2^(shift + 1 + 64 - 127 - len) * 2^-k; the exponent lies in
    // -73..=8 for the inputs allowed here, so the scaling is exact.
    let e2 = shift as i32 + 1 + 64 - 127 - len as i32 - k as i32;
    Some(mantissa as f64 * f64::from_bits(((e2 + 1023) as u64) << 52))
}

/// The value of a decimal `significand × 10^exp10` with `digits` digits read into the
/// significand (leading zeros may be counted: only `digits <= 19` matters, which means it
/// did not wrap), when one of the exact conversions applies.
#[inline(always)]
fn convert(significand: u64, digits: usize, exp10: i64) -> Option<f64> {
    if digits > 19 || exp10.unsigned_abs() > MAX_EXP10 as u64 {
        return None;
    }
    let k = exp10.unsigned_abs() as usize;
    if significand <= 1 << 53 {
        let m = significand as f64;
        return Some(if exp10 >= 0 {
            m * POW10[k]
        } else {
            m / POW10[k]
        });
    }
    if exp10 >= 0 {
        // 5^22 < 2^52, so the product fits in 128 bits; `as` rounds to nearest, ties to even.
        let exact = u128::from(significand) * u128::from(5u64.pow(k as u32));
        return Some(exact as f64 * f64::from_bits(((k as i64 + 1023) as u64) << 52));
    }
    div_pow10(significand, k)
}

/// The eight bytes at `b[i..i + 8]` as a little-endian word.
#[inline]
fn word(b: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// A high bit in every byte of `v` that is not an ASCII digit. Carries only run towards
/// later bytes, so the lowest set bit is exact (bits above it may be spurious).
#[inline]
fn non_digits(v: u64) -> u64 {
    (v.wrapping_add(0x4646_4646_4646_4646) | v.wrapping_sub(0x3030_3030_3030_3030))
        & 0x8080_8080_8080_8080
}

/// The value of eight ASCII digits in a word (the first digit in the lowest byte).
#[inline]
fn value_of_eight(v: u64) -> u64 {
    let d = v.wrapping_sub(0x3030_3030_3030_3030);
    let pairs = d.wrapping_mul(10).wrapping_add(d >> 8) & 0x00ff_00ff_00ff_00ff;
    let quads = pairs.wrapping_mul(100).wrapping_add(pairs >> 16) & 0x0000_ffff_0000_ffff;
    quads.wrapping_mul(10_000).wrapping_add(quads >> 32) & 0xffff_ffff
}

/// The value of the first `n` (1..=7) bytes of a word, all ASCII digits: they are moved
/// to the top of the word and the bytes below filled with `'0'`.
#[inline]
fn value_of_first(v: u64, n: usize) -> u64 {
    let s = (8 - n) * 8;
    value_of_eight((v << s) | (0x3030_3030_3030_3030u64 >> (64 - s)))
}

/// The value of the eight ASCII digits at `b[i..i + 8]`, if they are all digits.
#[cfg(test)]
fn eight_digits(b: &[u8], i: usize) -> Option<u64> {
    let v = word(b, i)?;
    (non_digits(v) == 0).then(|| value_of_eight(v))
}

/// Read the run of digits at `b[i..]` into `significand` (wrapping past 19 digits);
/// returns the end of the run and the number of digits read.
#[inline]
fn digit_run(b: &[u8], mut i: usize, significand: &mut u64) -> (usize, usize) {
    let start = i;
    while let Some(v) = word(b, i) {
        let bad = non_digits(v);
        if bad == 0 {
            *significand = significand
                .wrapping_mul(100_000_000)
                .wrapping_add(value_of_eight(v));
            i += 8;
            continue;
        }
        let n = (bad.trailing_zeros() / 8) as usize;
        if n > 0 {
            *significand = significand
                .wrapping_mul(POW10_U64[n])
                .wrapping_add(value_of_first(v, n));
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
#[cfg(target_arch = "x86_64")]
#[inline]
fn digits_value(b: &[u8], mut from: usize, to: usize, mut significand: u64) -> Option<u64> {
    while to - from >= 8 {
        significand = significand * 100_000_000 + value_of_eight(word(b, from)?);
        from += 8;
    }
    let n = to - from;
    if n > 0 {
        significand = significand * POW10_U64[n] + value_of_first(word(b, from)?, n);
    }
    Some(significand)
}

/// The plain decimals (`-`? digits, optionally `.` digits, no exponent, at most 19 digits
/// in all, the token and the byte after it within the next 32 bytes) in one step: two
/// 16-byte loads give the masks of digits and points, so the token's end and its point
/// are found without a loop; the fraction's last 16 digits are combined by SSSE3
/// multiply-adds, the rest read bytewise. `None` leaves the token to
/// [`scan_number_general`] (which also refuses what is not JSON).
///
/// # Safety
/// The CPU must support SSSE3.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3")]
#[inline]
unsafe fn scan_plain_ssse3(b: &[u8], start: usize) -> Option<(f64, usize)> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8,
        _mm_sub_epi8,
    };
    let neg = b.get(start) == Some(&b'-');
    let p = start + usize::from(neg);
    let window = b.get(p..p + 32)?;
    // SAFETY: SSE2 is part of x86_64; the loads read 32 bytes of `window`, unaligned.
    let (digits, points) = unsafe {
        let lo = _mm_loadu_si128(window.as_ptr().cast::<__m128i>());
        let hi = _mm_loadu_si128(window.as_ptr().add(16).cast::<__m128i>());
        let zero = _mm_set1_epi8(b'0' as i8);
        let nine = _mm_set1_epi8(9);
        let point = _mm_set1_epi8(b'.' as i8);
        let digit_mask = |v: __m128i| {
            let d = _mm_sub_epi8(v, zero);
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, nine), d)) as u32 & 0xffff
        };
        let point_mask = |v: __m128i| _mm_movemask_epi8(_mm_cmpeq_epi8(v, point)) as u32 & 0xffff;
        (
            digit_mask(lo) | (digit_mask(hi) << 16),
            point_mask(lo) | (point_mask(hi) << 16),
        )
    };
    let other = !(digits | points);
    if other == 0 {
        return None; // 32 bytes of digits and points
    }
    let end = other.trailing_zeros() as usize;
    // The byte after the token must not continue a number (an exponent, a sign, a letter).
    let next = window[end];
    if next.is_ascii_alphanumeric() || matches!(next, b'+' | b'-') {
        return None;
    }
    let points_in = points & ((1u32 << end) - 1);
    let (int_len, frac_len) = if points_in == 0 {
        (end, 0)
    } else {
        let at = points_in.trailing_zeros() as usize;
        if points_in != 1 << at || end - at < 2 {
            return None; // several points, or none followed by a digit
        }
        (at, end - at - 1)
    };
    // An integer part of one or more digits, with no leading zero unless it is `0`.
    if int_len == 0 || int_len + frac_len > 19 || (int_len > 1 && window[0] == b'0') {
        return None;
    }
    let int_value = if int_len == 1 {
        u64::from(window[0] - b'0')
    } else {
        digits_value(window, 0, int_len, 0)?
    };
    let significand = if frac_len == 0 {
        int_value
    } else if p + end >= 16 {
        // The fraction's last (up to 16) digits end the 16 bytes before the token's end
        // (those bytes are in `b`: p + end >= 16); a longer fraction's first one or two
        // digits are read bytewise (19 digits at most in all, so nothing overflows).
        let tail = frac_len.min(16);
        let mut head = int_value;
        for &c in &window[int_len + 1..int_len + 1 + frac_len - tail] {
            head = head * 10 + u64::from(c - b'0');
        }
        // SAFETY: SSSE3 is enabled for this function; the slice is 16 bytes.
        let fraction = unsafe { last_digits_ssse3(&b[p + end - 16..p + end], tail) };
        head * POW10_U64[tail] + fraction
    } else {
        digits_value(window, int_len + 1, end, int_value)?
    };
    let v = convert(significand, int_len + frac_len, -(frac_len as i64))?;
    Some((if neg { -v } else { v }, p + end))
}

/// 16 zero bytes then 16 bytes of ones: the 16 bytes from `n` keep the last `n`.
#[cfg(target_arch = "x86_64")]
static KEEP_LAST: [u8; 32] = {
    let mut t = [0u8; 32];
    let mut i = 16;
    while i < 32 {
        t[i] = 0xff;
        i += 1;
    }
    t
};

/// The value of the last `n` bytes of `bytes` (16 bytes, the last `n` of them ASCII
/// digits, `1 <= n <= 16`): the bytes before them are masked off, and three
/// multiply-adds combine the digits into two 8-digit halves.
///
/// # Safety
/// The CPU must support SSSE3, and `bytes.len() >= 16`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3")]
#[inline]
unsafe fn last_digits_ssse3(bytes: &[u8], n: usize) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_madd_epi16,
        _mm_maddubs_epi16, _mm_packs_epi32, _mm_set1_epi8, _mm_set1_epi32, _mm_sub_epi8,
    };
    // SAFETY (for the block): 16-byte unaligned loads within `bytes` and `KEEP_LAST`
    // (n <= 16, so KEEP_LAST[n..n + 16] is in bounds).
    unsafe {
        let v = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
        let keep = _mm_loadu_si128(KEEP_LAST.as_ptr().add(n).cast::<__m128i>());
        let d = _mm_and_si128(_mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8)), keep);
        // Pairs (10·a + b), then quadruples (100·ab + cd), then 8-digit halves.
        let pairs = _mm_maddubs_epi16(d, _mm_set1_epi32(0x010a_010a));
        let quads = _mm_madd_epi16(pairs, _mm_set1_epi32(0x0001_0064));
        let quads = _mm_packs_epi32(quads, quads);
        let halves = _mm_madd_epi16(quads, _mm_set1_epi32(0x0001_2710));
        let both = _mm_cvtsi128_si64(halves) as u64;
        (both & 0xffff_ffff) * 100_000_000 + (both >> 32)
    }
}

/// Read the JSON number starting at `b[start]` in one pass: check the JSON grammar (`-`?
/// then `0` or a non-zero digit run, `.` + digits, `e` + sign? + digits, and nothing that
/// could continue a number after it) and return the value and the end of the token.
/// `None` when the token is not a JSON number or its value is out of the `f64` range
/// (serde_json refuses those too).
#[inline]
pub(super) fn scan_number(b: &[u8], start: usize) -> Option<(f64, usize)> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("ssse3") {
        // SAFETY: SSSE3 was detected (the standard library caches the answer).
        if let Some(found) = unsafe { scan_plain_ssse3(b, start) } {
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
pub(super) fn scan_compact_row(b: &[u8], start: usize, values: &mut [f64]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("ssse3") {
        // SAFETY: SSSE3 was detected.
        return unsafe { compact_row_ssse3(b, start, values) };
    }
    compact_row_with(b, start, values, scan_number_general)
}

/// [`scan_compact_row`] with the plain-decimal reader compiled for SSSE3.
///
/// # Safety
/// The CPU must support SSSE3.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3")]
unsafe fn compact_row_ssse3(b: &[u8], start: usize, values: &mut [f64]) -> Option<usize> {
    compact_row_with(b, start, values, |b, at| {
        // SAFETY: this function is compiled for SSSE3 and only called when it is there.
        unsafe { scan_plain_ssse3(b, at) }.or_else(|| scan_number_general(b, at))
    })
}

/// The loop of [`scan_compact_row`] over a number reader.
#[inline(always)]
fn compact_row_with(
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
fn scan_number_general(b: &[u8], start: usize) -> Option<(f64, usize)> {
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
        Some(b'1'..=b'9') => (i, digits) = digit_run(b, i, &mut significand),
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
            let (end, n) = digit_run(b, i, &mut significand);
            if end == zeros_from {
                return None; // no digit after the point
            }
            i = end;
            digits = n;
            exp10 -= n as i64;
        } else {
            let (end, n) = digit_run(b, i + 1, &mut significand);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a small deterministic generator for the random cases.
    fn next(state: &mut u64, n: u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n
    }

    /// A random JSON number: sign, integer part, fraction and exponent of random lengths.
    fn random_number(state: &mut u64) -> String {
        let mut s = String::new();
        if next(state, 2) == 0 {
            s.push('-');
        }
        let int_digits = next(state, 22);
        if int_digits == 0 {
            s.push('0');
        } else {
            s.push(char::from(b'1' + next(state, 9) as u8));
            for _ in 1..int_digits {
                s.push(char::from(b'0' + next(state, 10) as u8));
            }
        }
        if next(state, 3) > 0 {
            s.push('.');
            for _ in 0..1 + next(state, 22) {
                s.push(char::from(b'0' + next(state, 10) as u8));
            }
        }
        if next(state, 3) == 0 {
            s.push(if next(state, 2) == 0 { 'e' } else { 'E' });
            match next(state, 3) {
                0 => s.push('-'),
                1 => s.push('+'),
                _ => {}
            }
            let range = if next(state, 4) == 0 { 400 } else { 30 };
            s.push_str(&next(state, range).to_string());
        }
        s
    }

    /// The token alone, and followed by each kind of byte that ends a number in JSON and
    /// enough bytes for the 32-byte fast path: the same value and end every time, and both
    /// paths agree.
    fn check(c: &str) {
        let expected = c.parse::<f64>().unwrap();
        let pad = "0".repeat(40);
        for text in [
            c.to_string(),
            format!("{c},{pad}"),
            format!("{c}]{pad}"),
            format!("{c} {pad}"),
            format!("{c}}}{pad}"),
        ] {
            // Also after 16 other bytes, so the fraction can be read ending at the token.
            let after = format!("[[[[[[[[[[[[[[[[{text}");
            for (text, at) in [(text.as_str(), 0), (after.as_str(), 16)] {
                match scan_number(text.as_bytes(), at) {
                    Some((v, end)) => {
                        assert_eq!(v.to_bits(), expected.to_bits(), "{text}");
                        assert_eq!(end, at + c.len(), "{text}");
                    }
                    None => assert!(!expected.is_finite(), "{text} refused"),
                }
            }
            let general = scan_number_general(text.as_bytes(), 0);
            assert_eq!(
                general.map(|(v, e)| (v.to_bits(), e)),
                scan_number(text.as_bytes(), 0).map(|(v, e)| (v.to_bits(), e)),
                "{text}"
            );
        }
    }

    #[test]
    fn eight_digits_at_a_time() {
        for s in ["00000000", "12345678", "99999999", "10000001", "07350912"] {
            assert_eq!(
                eight_digits(s.as_bytes(), 0),
                Some(s.parse().unwrap()),
                "{s}"
            );
        }
        for s in [
            "1234567", "1234567a", "/2345678", ":2345678", "1234 678", "-1234567",
        ] {
            assert_eq!(eight_digits(s.as_bytes(), 0), None, "{s}");
        }
        assert_eq!(eight_digits(b"x12345678", 1), Some(12_345_678));
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
                    let (at, n) = digit_run(text.as_bytes(), pad, &mut sig);
                    assert_eq!((at, n), (pad + len, len), "{text}");
                    if len <= 19 && len > 0 {
                        assert_eq!(sig, digits.parse::<u64>().unwrap(), "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn reciprocal_table_brackets_the_exact_quotients() {
        for (k, &(inv, len)) in RECIP5.iter().enumerate().skip(1) {
            let d = 5u128.pow(k as u32);
            assert_eq!(len, 128 - d.leading_zeros(), "k = {k}");
            assert!(inv >> 127 == 1, "k = {k}: top bit set");
            // inv * d >= 2^(127 + len) > (inv - 1) * d, checked in 256 bits as
            // (hi, lo) pairs of the products with d < 2^52.
            let mul = |a: u128| -> (u128, u128) {
                let lo = (a & u128::from(u64::MAX)) * d;
                let hi = (a >> 64) * d + (lo >> 64);
                (hi >> 64, (hi << 64) | (lo & u128::from(u64::MAX)))
            };
            let target = (1u128 << (127 + len - 128), 0u128);
            assert!(mul(inv) >= target, "k = {k}");
            assert!(mul(inv - 1) < target, "k = {k}");
        }
    }

    #[test]
    fn numbers_read_exactly_as_the_standard_parser() {
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "1",
            "-1",
            "0.1",
            "-0.0",
            "1e10",
            "1E-7",
            "2.5e+3",
            "9007199254740992",
            "9007199254740993",
            "9007199254740993.0",
            "9007199254740993.00",
            "9007199254740995.000",
            "4503599627370496.5",
            "4503599627370497.5",
            "-9007199254740992e-22",
            "9007199254740992e22",
            "9007199254740993e22",
            "9007199254740992e23",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "1234567890123456789",
            "12345678901234567890",
            "9999999999999999999",
            "9999999999999999999e-22",
            "9999999999999999999e22",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "0.30000000000000004",
            "0.1000000000000000055511151231257827021181583404541015625",
            "123.456e-5",
            "0e0",
            "0.000000000000000000000000000000000000000000001e40",
            "1.50",
            "52000.000",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.2250738585072011e-308",
            "1.7976931348623157e308",
            "3.141592653589793238462643383279",
            "18446744073709551615",
            "18446744073709551616",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        cases.extend((0..20_000).map(|_| random_number(&mut state)));
        // What clients send when they print doubles: the shortest round-trip text of random
        // doubles of many magnitudes (mostly 15–17 significant digits).
        for _ in 0..30_000 {
            let bits = next(&mut state, u64::MAX);
            let v = f64::from_bits(bits);
            if v.is_finite() {
                cases.push(format!("{v}"));
                cases.push(format!("{v:e}"));
            }
            let scale = 10f64.powi(next(&mut state, 30) as i32 - 15);
            let u = (next(&mut state, 1 << 53) as f64 / (1u64 << 53) as f64 - 0.5) * scale;
            cases.push(format!("{u}"));
        }
        // 16–19 significant digits with every exponent the exact conversions take.
        for _ in 0..30_000 {
            let digits = 16 + next(&mut state, 4) as usize;
            let mut s: String = (0..digits)
                .map(|_| char::from(b'0' + next(&mut state, 10) as u8))
                .collect();
            s.replace_range(0..1, &(1 + next(&mut state, 9)).to_string());
            let e = next(&mut state, 45) as i64 - 22;
            cases.push(format!("{s}e{e}"));
            let point = 1 + next(&mut state, digits as u64 - 1) as usize;
            s.insert(point, '.');
            cases.push(s);
        }
        for c in &cases {
            check(c);
        }
    }

    #[test]
    fn ties_and_near_ties_go_the_exact_way() {
        // Exact midpoints between neighbouring doubles written with 16–19 digits and a
        // negative exponent: the reciprocal cannot decide these and must hand them over.
        let mut state = 0x5eed_5eedu64;
        for _ in 0..20_000 {
            let m = (1u64 << 52) + next(&mut state, 1 << 52);
            // m + 1/2 at scale 1 is the midpoint of m and m + 1 (53-bit doubles).
            let mid = format!("{m}.5");
            check(&mid);
            // The same value with trailing zeros (more digits, same value).
            check(&format!("{m}.50"));
            // Just off the midpoint on either side.
            check(&format!("{m}.499"));
            check(&format!("{m}.501"));
            let k = 1 + next(&mut state, 3) as usize;
            let scaled = format!("{m}5e-{k}");
            check(&scaled);
        }
    }

    #[test]
    fn the_reciprocal_decides_all_but_ties() {
        // Undecided are the quotients whose bits below the 54th are (nearly) all zero:
        // exact ties and exactly representable values (a multiple of 5^k with enough
        // trailing zero bits), which random significands rarely are.
        let mut state = 0xdead_beefu64;
        let mut undecided = 0;
        for _ in 0..100_000 {
            let wide = (next(&mut state, 1 << 32) << 32) | next(&mut state, 1 << 32);
            // Significands of 17 to 20 digits.
            let m = wide.max((1 << 53) + 1);
            let k = 1 + next(&mut state, MAX_EXP10 as u64) as usize;
            let expected = format!("{m}e-{k}").parse::<f64>().unwrap();
            match div_pow10(m, k) {
                Some(got) => assert_eq!(got.to_bits(), expected.to_bits(), "{m}e-{k}"),
                None => undecided += 1,
            }
        }
        assert!(undecided < 200, "{undecided} of 100000 undecided");
        // Exact midpoints cannot be decided from the bracket.
        for m in [(1u64 << 53) + 1, (1u64 << 53) + 3, (1 << 54) + 2] {
            assert_eq!(div_pow10(m * 10, 1), None, "{m}0e-1");
            assert_eq!(div_pow10(m * 100, 2), None, "{m}00e-2");
        }
    }

    #[test]
    fn compact_rows_are_read_whole_or_left_alone() {
        let mut state = 0x0c0f_fee0u64;
        for width in 1..=40usize {
            for _ in 0..200 {
                let cells: Vec<String> = (0..width).map(|_| random_number(&mut state)).collect();
                let row = format!("[{}]", cells.join(","));
                // After 16 bytes, and followed by more JSON, as inside a request body.
                let body = format!("{{\"data\": [[1],{row},[2]]}}");
                let start = body.find(&row).unwrap() + 1;
                let mut values = vec![0.0; width];
                let expected: Vec<f64> = cells.iter().map(|c| c.parse().unwrap()).collect();
                match scan_compact_row(body.as_bytes(), start, &mut values) {
                    Some(end) => {
                        assert_eq!(end, start + row.len() - 1, "{row}");
                        for (v, e) in values.iter().zip(&expected) {
                            assert_eq!(v.to_bits(), e.to_bits(), "{row}");
                        }
                    }
                    // Only values out of the f64 range are refused.
                    None => assert!(expected.iter().any(|e| !e.is_finite()), "{row}"),
                }
                // Too few or too many values for the row: left to the caller.
                let mut more = vec![0.0; width + 1];
                assert_eq!(scan_compact_row(body.as_bytes(), start, &mut more), None);
                if width > 1 {
                    let mut fewer = vec![0.0; width - 1];
                    assert_eq!(scan_compact_row(body.as_bytes(), start, &mut fewer), None);
                }
            }
        }
        for odd in [
            "[1, 2]",
            "[1 ,2]",
            "[1,2 ]",
            "[1,2,]",
            "[1,,2]",
            "[1,\"2\"]",
            "[1,null]",
            "[1,[2]]",
            "[1,2}",
            "[01,2]",
            "[1,2",
            "[1.5e,2]",
        ] {
            let mut values = [0.0; 2];
            let got = scan_compact_row(odd.as_bytes(), 1, &mut values);
            assert_eq!(got, None, "{odd}");
        }
        let mut none: [f64; 0] = [];
        assert_eq!(scan_compact_row(b"[]", 1, &mut none), None);
    }

    #[test]
    fn malformed_numbers_are_refused() {
        let pad = ",".to_string() + &"0".repeat(40);
        for bad in [
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "1e+",
            "--1",
            "1e400",
            "-1e400",
            "0x1",
            "1.e5",
            "-.5",
            "0.",
            "1a",
            "1.5.5",
            "-01.5",
            "00",
            "1..5",
            "1.5e",
            "1.5-",
            "1.5+1",
            "-",
            "--",
            "-a",
            "1.2.",
            "123456789012345678.",
            "0.5x",
        ] {
            for text in [bad.to_string(), format!("{bad}{pad}")] {
                let ok = scan_number(text.as_bytes(), 0).is_some_and(|(_, end)| end == bad.len());
                assert!(!ok, "{text} must not be accepted");
            }
        }
    }
}

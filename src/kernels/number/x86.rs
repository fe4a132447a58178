//! The SSSE3 / SSE4.1 number readers (x86_64, detected at run time): a whole plain decimal
//! from one or two 16-byte loads. Each gives the same answer as the scalar readers, bit for
//! bit (tested in `super::tests`).

use super::json::{compact_row_with, scan_number_general};
use super::swar::append_digits;
use super::tables::{POW10_U64, convert, small_quotient};
use crate::kernels::simd::{Block16, Sse41};
use std::arch::x86_64::{
    __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_madd_epi16,
    _mm_maddubs_epi16, _mm_min_epu8, _mm_movemask_epi8, _mm_packs_epi32, _mm_packus_epi32,
    _mm_set1_epi8, _mm_set1_epi32, _mm_setr_epi8, _mm_setr_epi16, _mm_shuffle_epi8, _mm_sub_epi8,
};

/// The plain decimals (`-`? digits, optionally `.` digits, no exponent, at most 19 digits
/// in all, the token and the byte after it within the next 32 bytes) in one step: two
/// 16-byte loads give the masks of digits and points, so the token's end and its point
/// are found without a loop; the fraction's last 16 digits are combined by SSSE3
/// multiply-adds, the rest read a word at a time. `None` leaves the token to
/// [`scan_number_general`] (which also refuses what is not JSON).
///
/// # Safety
/// The CPU must support SSSE3.
#[target_feature(enable = "ssse3")]
#[inline]
pub(super) unsafe fn scan_plain_ssse3(b: &[u8], start: usize) -> Option<(f64, usize)> {
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
        append_digits(window, 0, int_len, 0)?
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
        let last: &[u8; 16] = b[p + end - 16..p + end].try_into().ok()?;
        // SAFETY: SSSE3 is enabled for this function (its caller's contract).
        let fraction = unsafe { last_digits_ssse3(last, tail) };
        head * POW10_U64[tail] + fraction
    } else {
        append_digits(window, int_len + 1, end, int_value)?
    };
    let v = convert(significand, int_len + frac_len, -(frac_len as i64))?;
    Some((if neg { -v } else { v }, p + end))
}

/// 16 zero bytes then 16 bytes of ones: the 16 bytes from `n` keep the last `n`.
static KEEP_LAST: [u8; 32] = {
    let mut t = [0u8; 32];
    let mut i = 16;
    while i < 32 {
        t[i] = 0xff;
        i += 1;
    }
    t
};

/// The value of the last `n` bytes of `bytes` (the last `n` of them ASCII digits,
/// `1 <= n <= 16`): the bytes before them are masked off, and three multiply-adds combine
/// the digits into two 8-digit halves.
///
/// # Safety
/// The CPU must support SSSE3.
#[target_feature(enable = "ssse3")]
#[inline]
unsafe fn last_digits_ssse3(bytes: &[u8; 16], n: usize) -> u64 {
    let keep: &[u8; 16] = KEEP_LAST[n.min(16)..n.min(16) + 16]
        .try_into()
        .unwrap_or(&[0xff; 16]);
    // SAFETY: unaligned 16-byte loads of exactly `bytes` and `keep`.
    let (v, keep) = unsafe {
        (
            _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>()),
            _mm_loadu_si128(keep.as_ptr().cast::<__m128i>()),
        )
    };
    let d = _mm_and_si128(_mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8)), keep);
    // Pairs (10·a + b), then quadruples (100·ab + cd), then 8-digit halves.
    let pairs = _mm_maddubs_epi16(d, _mm_set1_epi32(0x010a_010a));
    let quads = _mm_madd_epi16(pairs, _mm_set1_epi32(0x0001_0064));
    let quads = _mm_packs_epi32(quads, quads);
    let halves = _mm_madd_epi16(quads, _mm_set1_epi32(0x0001_2710));
    let both = _mm_cvtsi128_si64(halves) as u64;
    (both & 0xffff_ffff) * 100_000_000 + (both >> 32)
}

/// [`super::scan_compact_row`] with the plain-decimal reader compiled for SSSE3.
///
/// # Safety
/// The CPU must support SSSE3.
#[target_feature(enable = "ssse3")]
pub(super) unsafe fn compact_row_ssse3(
    b: &[u8],
    start: usize,
    values: &mut [f64],
) -> Option<usize> {
    compact_row_with(b, start, values, |b, at| {
        // SAFETY: this function is compiled for SSSE3 and only called when it is there.
        unsafe { scan_plain_ssse3(b, at) }.or_else(|| scan_number_general(b, at))
    })
}

/// Shuffle indices for `_mm_shuffle_epi8`, entry `(neg * 16 + len) * 16 + point` for a
/// field of `len` (< 16) bytes with a minus sign first when `neg` is 1 and its point at
/// byte `point` (`len` when it has none): the digits' byte offsets, in order,
/// right-aligned; the other entries have their top bit set (the shuffle writes zeros).
static SHUFFLE: [[u8; 16]; 512] = shuffle_table();

const fn shuffle_table() -> [[u8; 16]; 512] {
    let mut t = [[0x80u8; 16]; 512];
    let mut neg = 0usize;
    while neg < 2 {
        let mut len = neg;
        while len < 16 {
            let mut point = neg;
            while point <= len {
                let n_digits = len - neg - if point < len { 1 } else { 0 };
                let entry = &mut t[(neg * 16 + len) * 16 + point];
                let (mut i, mut c) = (neg, 0usize);
                while i < len {
                    if i != point {
                        entry[16 - n_digits + c] = i as u8;
                        c += 1;
                    }
                    i += 1;
                }
                point += 1;
            }
            len += 1;
        }
        neg += 1;
    }
    t
}

impl Sse41 {
    /// The plain decimal that is exactly the first `len` (< 16) bytes of `v` (`-?d*.?d*`,
    /// at least one digit; `in_field` must be `(1 << len) - 1`), or `None` for anything
    /// else. At most 15 digits, so the significand is an exact double, and one division
    /// by the exact power of ten rounds correctly: the same bits as any correct parser.
    ///
    /// A byte shuffle from a table drops the sign and the point and right-aligns the
    /// digits; multiply-adds combine them. Inlined into callers compiled through
    /// [`Sse41::run`] (or the AVX2 token's `run`), where it is a handful of instructions.
    #[inline(always)]
    pub(crate) fn parse_decimal16(self, v: Block16, len: usize, in_field: u32) -> Option<f64> {
        // SAFETY: the token proves the processor has SSSE3 and SSE4.1.
        unsafe { parse16(v.0, len, in_field) }
    }
}

/// See [`Sse41::parse_decimal16`].
///
/// # Safety
/// The CPU must support SSSE3 and SSE4.1.
#[inline]
#[target_feature(enable = "ssse3,sse4.1")]
unsafe fn parse16(v: __m128i, len: usize, in_field: u32) -> Option<f64> {
    debug_assert!(len < 16 && in_field == (1 << len) - 1);
    let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
    // Digits are the bytes whose value less '0' is at most 9 (unsigned).
    let digits = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)) as u32;
    let points = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8))) as u32 & in_field;
    let neg = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8))) as u32 & 1;
    let has_point = u32::from(points != 0);
    // Every byte a digit but a leading minus and at most one point, and some digit.
    if (digits | points | neg) & in_field != in_field
        || points & points.wrapping_sub(1) != 0
        || len as u32 <= neg + has_point
    {
        return None;
    }
    let point = (points | (1 << len)).trailing_zeros() as usize;
    let frac = len - point - has_point as usize;
    // In bounds: `len` and `point` are below 16.
    let index = &SHUFFLE[((neg as usize * 16 + len) * 16 + point) & 511];
    // SAFETY: an unaligned load of exactly the 16 bytes of `index`.
    let index = unsafe { _mm_loadu_si128(index.as_ptr().cast::<__m128i>()) };
    let run = _mm_shuffle_epi8(d, index);
    // Pairs, quads, then two 8-digit halves (the first in the low lane).
    let pairs = _mm_maddubs_epi16(
        run,
        _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1),
    );
    let quads = _mm_madd_epi16(pairs, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    let quads = _mm_packus_epi32(quads, quads);
    let halves = _mm_madd_epi16(
        quads,
        _mm_setr_epi16(10_000, 1, 10_000, 1, 10_000, 1, 10_000, 1),
    );
    let w = _mm_cvtsi128_si64(halves) as u64;
    let mant = (w & 0xFFFF_FFFF) * 100_000_000 + (w >> 32);
    let x = small_quotient(mant, frac & 15);
    Some(f64::from_bits(x.to_bits() | (u64::from(neg) << 63)))
}

//! The one set of power tables and the exact decimal-to-binary conversions every number
//! reader here ends in.

/// Exact powers of ten as `f64` (10^0 … 10^22 are all representable).
pub(crate) static POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// 10^n for n in 0..=19 (the scale of a run of n digits).
pub(crate) static POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Largest decimal exponent (in magnitude) of the exact conversions.
pub(crate) const MAX_EXP10: usize = 22;

/// For k in 1..=22: `(ceil(2^(127 + L) / 5^k), L)` with `L` the bit length of 5^k, so the
/// reciprocal has its top bit set (index 0 unused).
pub(crate) static RECIP5: [(u128, u32); MAX_EXP10 + 1] = recip5_table();

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

/// `mant / 10^frac` for a significand below 2^53 and `frac` in 0..=22: both exact doubles,
/// so one IEEE division rounds correctly (the same bits as any correct parser). The signed
/// conversion is one instruction and exact below 2^53.
#[inline(always)]
pub(crate) fn small_quotient(mant: u64, frac: usize) -> f64 {
    mant as i64 as f64 / POW10[frac]
}

/// `m / 10^k` correctly rounded, for `2^53 < m < 2^64` and `k` in 1..=22; `None` when the
/// quotient is too close to a rounding boundary to decide from 128 bits.
#[inline(always)]
pub(crate) fn div_pow10(m: u64, k: usize) -> Option<f64> {
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
/// did not wrap), when one of the exact conversions applies:
///
/// - significand ≤ 2^53 and |exponent| ≤ 22: one multiplication or division of two exact
///   doubles (Clinger's fast path), so one correctly rounded operation;
/// - up to 19 significant digits and exponent in 0..=22: the exact product with 5^e in
///   128 bits, rounded once by the integer-to-float conversion, then scaled by 2^e;
/// - up to 19 significant digits and exponent in -22..=-1: the significand times a
///   128-bit reciprocal of 5^k ([`div_pow10`]), or `None` when that cannot decide.
#[inline(always)]
pub(crate) fn convert(significand: u64, digits: usize, exp10: i64) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn power_tables_are_exact() {
        for (n, (&f, &u)) in POW10.iter().zip(&POW10_U64).enumerate() {
            assert_eq!(f, format!("1e{n}").parse::<f64>().unwrap(), "10^{n}");
            assert_eq!(u, 10u64.pow(n as u32), "10^{n}");
        }
        for (n, &f) in POW10.iter().enumerate() {
            assert_eq!(f as u128, 10u128.pow(n as u32), "10^{n} is exact");
        }
    }

    /// xorshift64*: a small deterministic generator for the random cases.
    fn next(state: &mut u64, n: u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n
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
}

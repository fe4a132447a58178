//! Byte-buffer writes a safe `extend_from_slice` would make a `memcpy` call of.

/// Append the first `n` bytes of `w` to `out` (at most 16: a longer `n` is taken as 16).
/// All sixteen are copied, a fixed-size copy of two instructions, and the length then set
/// to keep `n`; the bytes in `out` are those `out.extend_from_slice(&w[..n])` gives.
#[inline(always)]
pub(crate) fn append_prefix16(out: &mut Vec<u8>, w: &[u8; 16], n: usize) {
    out.reserve(16);
    let len = out.len();
    // SAFETY: `reserve` left at least 16 writable bytes after `len`; all of them are
    // written, and `n.min(16)` of them kept.
    unsafe {
        std::ptr::copy_nonoverlapping(w.as_ptr(), out.as_mut_ptr().add(len), 16);
        out.set_len(len + n.min(16));
    }
}

/// The most bytes `ryu` writes for an `f64`.
const RYU_MAX: usize = 24;

/// Append `v` formatted by `ryu` (shortest round-trip text; `fmt` for NaN and the
/// infinities), the bytes `out.extend_from_slice(fmt.format(v).as_bytes())` gives. Finite
/// values are written straight into `out`'s spare capacity: `ryu::Buffer` and a copy cost a
/// `memcpy` call per number, measurably more (about 4% of a batch job's output stage).
#[inline(always)]
pub(crate) fn append_f64(out: &mut Vec<u8>, v: f64, fmt: &mut ryu::Buffer) {
    if !v.is_finite() {
        out.extend_from_slice(fmt.format(v).as_bytes());
        return;
    }
    out.reserve(RYU_MAX);
    let len = out.len();
    // SAFETY: `reserve` left at least RYU_MAX (24) writable bytes after `len`, the most
    // ryu writes for a finite f64; `format64` initialised the `n` bytes it reports.
    unsafe {
        let n = ryu::raw::format64(v, out.as_mut_ptr().add(len));
        out.set_len(len + n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_append_as_ryu_formats_them() {
        let mut fmt = ryu::Buffer::new();
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut cases = vec![
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-320,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            cases.push(f64::from_bits(state));
        }
        let (mut got, mut want) = (b"x".to_vec(), b"x".to_vec());
        for v in cases {
            append_f64(&mut got, v, &mut fmt);
            got.push(b',');
            want.extend_from_slice(ryu::Buffer::new().format(v).as_bytes());
            want.push(b',');
        }
        assert_eq!(got, want);
    }

    #[test]
    fn prefix_appends_match_extend_from_slice() {
        let w: [u8; 16] = *b"abcdefghijklmnop";
        for start in [0usize, 1, 15, 16, 100] {
            for n in 0..=20usize {
                let mut got = vec![b'x'; start];
                append_prefix16(&mut got, &w, n);
                let mut want = vec![b'x'; start];
                want.extend_from_slice(&w[..n.min(16)]);
                assert_eq!(got, want, "start {start}, n {n}");
                // The next append lands right after (nothing beyond `n` survives).
                append_prefix16(&mut got, &w, 1);
                want.push(b'a');
                assert_eq!(got, want, "start {start}, n {n}");
            }
        }
    }
}

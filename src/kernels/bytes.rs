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

#[cfg(test)]
mod tests {
    use super::*;

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

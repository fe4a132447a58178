//! Rows of `f64` appended to a buffer in place, written in any order, without zeroing them
//! first.

use std::mem::MaybeUninit;

/// The slots of a row being appended (see [`append_row`]): each written slot is recorded,
/// so the row is kept only when every slot was written.
pub(crate) struct RowSlots<'a> {
    slots: &'a mut [MaybeUninit<f64>],
    /// Bit `k` set once slot `k` is written (rows of at most 64 values).
    written: u64,
    /// The slots were zeroed first (rows of more than 64 values).
    zeroed: bool,
}

impl RowSlots<'_> {
    /// Write `x` into slot `k`; `None` when the row has no slot `k`.
    #[inline(always)]
    pub(crate) fn set(&mut self, k: usize, x: f64) -> Option<()> {
        self.slots.get_mut(k)?.write(x);
        self.written |= 1u64 << (k & 63);
        Some(())
    }
}

/// Append a row of `n` values to `values`, written through `fill`: the row is kept, and
/// `fill`'s result returned, when `fill` returns `Some` and has written every slot;
/// otherwise `values` is left as it was and the answer is `None`. Rows of at most 64 values
/// are written straight into the spare capacity (no zeroing); longer ones are zeroed first.
#[inline(always)]
pub(crate) fn append_row<R>(
    values: &mut Vec<f64>,
    n: usize,
    fill: impl FnOnce(&mut RowSlots<'_>) -> Option<R>,
) -> Option<R> {
    values.reserve(n);
    let base = values.len();
    let zeroed = n > 64;
    let slots = values.spare_capacity_mut().get_mut(..n)?;
    if zeroed {
        for s in slots.iter_mut() {
            s.write(0.0);
        }
    }
    let mut row = RowSlots {
        slots,
        written: 0,
        zeroed,
    };
    let r = fill(&mut row)?;
    let full = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    if !(row.zeroed || row.written == full) {
        return None;
    }
    // SAFETY: the `n` slots after `base` are reserved capacity, and every one of them is
    // initialised: either zeroed above, or (n <= 64) each written through `set`, which
    // records slot `k` in bit `k` (the check just made).
    unsafe { values.set_len(base + n) };
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_only_when_every_slot_was_written() {
        for n in [0usize, 1, 5, 63, 64, 65, 130] {
            let mut v = vec![7.0];
            // Every slot, in reverse order.
            let r = append_row(&mut v, n, |row| {
                for k in (0..n).rev() {
                    row.set(k, k as f64)?;
                }
                Some(n)
            });
            assert_eq!(r, Some(n));
            let want: Vec<f64> = std::iter::once(7.0)
                .chain((0..n).map(|k| k as f64))
                .collect();
            assert_eq!(v, want, "n = {n}");
            // One slot missing: dropped when the row is short enough to check, else the
            // slot stays zero.
            let before = v.clone();
            let r = append_row(&mut v, n, |row| {
                for k in 1..n {
                    row.set(k, 1.0)?;
                }
                Some(())
            });
            if n == 0 || n > 64 {
                assert_eq!(r, Some(()), "n = {n}");
                assert_eq!(v.len(), before.len() + n);
                if n > 0 {
                    assert_eq!(v[before.len()], 0.0);
                }
            } else {
                assert_eq!(r, None, "n = {n}");
                assert_eq!(v, before, "n = {n}");
            }
            // A slot out of range, or a refusal: nothing kept.
            let before = v.clone();
            assert_eq!(append_row(&mut v, n, |row| row.set(n, 1.0)), None);
            assert_eq!(append_row(&mut v, n, |_| None::<()>), None);
            assert_eq!(v, before, "n = {n}");
        }
    }
}

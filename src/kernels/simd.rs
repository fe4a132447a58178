//! Processor-feature tokens and sixteen-byte blocks: the safe face of the SIMD
//! instructions the rest of the crate uses.
//!
//! A token (`Sse41`, `Avx2Bmi`, `Avx`, `Avx2`) can only be made by detecting its features
//! at run time, so holding one proves the processor has them. [`Task`]s run through a
//! token's `run` are compiled with those features enabled (the task's `run` is inlined
//! into a `#[target_feature]` function), and a token's methods call the feature's
//! instructions. Both are safe to call: the token is the proof the `unsafe` needs.

/// Work to run compiled for a processor feature set (see [`Sse41::run`]). Mark the
/// implementation of [`Task::run`] `#[inline(always)]`, so that it (and what it inlines) is
/// compiled into the feature-enabled function rather than called from it.
pub(crate) trait Task {
    /// What the work returns.
    type Output;
    /// Do the work.
    fn run(self) -> Self::Output;
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx, Avx2, Avx2Bmi, Block16, Sse41};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Task;
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// Proof that the processor has SSSE3 and SSE4.1.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Sse41(());

    impl Sse41 {
        /// The token, when the processor has SSSE3 and SSE4.1.
        pub(crate) fn detect() -> Option<Self> {
            (std::is_x86_feature_detected!("ssse3") && std::is_x86_feature_detected!("sse4.1"))
                .then_some(Sse41(()))
        }

        /// The AVX2 token, when the processor also has AVX2, BMI1 and BMI2.
        pub(crate) fn avx2_bmi(self) -> Option<Avx2Bmi> {
            (std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2"))
            .then_some(Avx2Bmi(()))
        }

        /// Run `task` compiled for SSSE3 and SSE4.1.
        #[inline(always)]
        pub(crate) fn run<T: Task>(self, task: T) -> T::Output {
            // SAFETY: the token exists, so the processor has SSSE3 and SSE4.1.
            unsafe { run_sse41(task) }
        }
    }

    /// Proof that the processor has AVX2, BMI1 and BMI2 (and with them SSSE3 and SSE4.1).
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Avx2Bmi(());

    impl Avx2Bmi {
        /// The SSSE3 and SSE4.1 token (AVX2 processors have both).
        pub(crate) fn sse41(self) -> Sse41 {
            Sse41(())
        }

        /// Run `task` compiled for AVX2, BMI1 and BMI2 (VEX encoding: fewer instructions
        /// for the same results).
        #[inline(always)]
        pub(crate) fn run<T: Task>(self, task: T) -> T::Output {
            // SAFETY: the token exists, so the processor has AVX2, BMI1 and BMI2.
            unsafe { run_avx2_bmi(task) }
        }
    }

    /// Proof that the processor has AVX.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Avx(());

    impl Avx {
        /// The token, when the processor has AVX.
        pub(crate) fn detect() -> Option<Self> {
            std::is_x86_feature_detected!("avx").then_some(Avx(()))
        }
    }

    /// Proof that the processor has AVX2.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Avx2(());

    impl Avx2 {
        /// The token, when the processor has AVX2.
        pub(crate) fn detect() -> Option<Self> {
            std::is_x86_feature_detected!("avx2").then_some(Avx2(()))
        }

        /// Run `task` compiled for AVX2.
        #[inline(always)]
        pub(crate) fn run<T: Task>(self, task: T) -> T::Output {
            // SAFETY: the token exists, so the processor has AVX2.
            unsafe { run_avx2(task) }
        }
    }

    /// # Safety
    /// The processor must have SSSE3 and SSE4.1.
    #[target_feature(enable = "ssse3,sse4.1")]
    unsafe fn run_sse41<T: Task>(task: T) -> T::Output {
        task.run()
    }

    /// # Safety
    /// The processor must have AVX2, BMI1 and BMI2.
    #[target_feature(enable = "avx2,bmi1,bmi2")]
    unsafe fn run_avx2_bmi<T: Task>(task: T) -> T::Output {
        task.run()
    }

    /// # Safety
    /// The processor must have AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2<T: Task>(task: T) -> T::Output {
        task.run()
    }

    /// Sixteen bytes in a vector register (SSE2, part of the x86_64 baseline).
    #[derive(Clone, Copy)]
    pub(crate) struct Block16(pub(in crate::kernels) __m128i);

    impl Block16 {
        /// Load the sixteen bytes of `b`.
        #[inline(always)]
        pub(crate) fn load(b: &[u8; 16]) -> Self {
            // SAFETY: SSE2 is part of the x86_64 baseline; an unaligned load of exactly
            // the 16 bytes of `b`.
            Block16(unsafe { _mm_loadu_si128(b.as_ptr().cast::<__m128i>()) })
        }

        /// Bit `i` set where byte `i` is `c`.
        #[inline(always)]
        pub(crate) fn eq(self, c: u8) -> u32 {
            mask(eq(self.0, c))
        }

        /// Bit `i` set where byte `i` is `a` or `b`.
        #[inline(always)]
        pub(crate) fn eq2(self, a: u8, b: u8) -> u32 {
            mask(or(eq(self.0, a), eq(self.0, b)))
        }

        /// Bit `i` set where byte `i` is one of the four.
        #[inline(always)]
        pub(crate) fn eq4(self, [a, b, c, d]: [u8; 4]) -> u32 {
            let v = self.0;
            mask(or(or(eq(v, a), eq(v, b)), or(eq(v, c), eq(v, d))))
        }
    }

    /// The bytes of `v` equal to `c`.
    #[inline(always)]
    pub(crate) fn eq(v: __m128i, c: u8) -> __m128i {
        // SAFETY: SSE2, part of the x86_64 baseline.
        unsafe { _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8)) }
    }

    /// The bitwise or of `a` and `b`.
    #[inline(always)]
    fn or(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: SSE2, part of the x86_64 baseline.
        unsafe { _mm_or_si128(a, b) }
    }

    /// The top bits of the 16 bytes of `m`.
    #[inline(always)]
    pub(crate) fn mask(m: __m128i) -> u32 {
        // SAFETY: SSE2, part of the x86_64 baseline.
        unsafe { _mm_movemask_epi8(m) as u32 }
    }
}

/// Bit masks of the commas, line feeds, and quotes or carriage returns in 16 bytes.
#[inline(always)]
pub(crate) fn classify16(block: &[u8; 16]) -> (u32, u32, u32) {
    #[cfg(target_arch = "x86_64")]
    {
        let v = Block16::load(block);
        (v.eq(b','), v.eq(b'\n'), v.eq2(b'"', b'\r'))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (mut c, mut n, mut q) = (0u32, 0u32, 0u32);
        for (i, &b) in block.iter().enumerate() {
            c |= u32::from(b == b',') << i;
            n |= u32::from(b == b'\n') << i;
            q |= u32::from(b == b'"' || b == b'\r') << i;
        }
        (c, n, q)
    }
}

/// Bit `i` set where byte `i` of `block` is a comma, a quote, a line feed or a carriage
/// return (what makes a CSV field need quotes).
#[inline(always)]
pub(crate) fn csv_specials16(block: &[u8; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        Block16::load(block).eq4([b',', b'"', b'\n', b'\r'])
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut m = 0u32;
        for (i, &b) in block.iter().enumerate() {
            m |= u32::from(matches!(b, b',' | b'"' | b'\n' | b'\r')) << i;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn byte_masks_agree_with_a_byte_loop() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        let pick = b",\n\r\"a0.-";
        for _ in 0..50_000 {
            let mut b = [0u8; 16];
            for x in &mut b {
                *x = if rng.random_range(0..4) == 0 {
                    rng.random::<u8>()
                } else {
                    pick[rng.random_range(0..pick.len())]
                };
            }
            let bits = |f: &dyn Fn(u8) -> bool| {
                b.iter()
                    .enumerate()
                    .fold(0u32, |m, (i, &c)| m | (u32::from(f(c)) << i))
            };
            let want = (
                bits(&|c| c == b','),
                bits(&|c| c == b'\n'),
                bits(&|c| c == b'"' || c == b'\r'),
            );
            assert_eq!(classify16(&b), want, "{b:?}");
            assert_eq!(
                csv_specials16(&b),
                bits(&|c| matches!(c, b',' | b'"' | b'\n' | b'\r')),
                "{b:?}"
            );
        }
    }
}

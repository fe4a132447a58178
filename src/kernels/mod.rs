//! Kernels: the one module allowed `unsafe`.
//!
//! Everything here is pure computation on plain data — byte slices in, numbers out; `f64`
//! slices in, sums out — behind a safe API. It is where the crate's SIMD, unchecked writes
//! and processor-feature dispatch live, each next to a plain reference implementation it is
//! tested against bit for bit:
//!
//! | module    | what                                                                 | reference        |
//! |-----------|----------------------------------------------------------------------|------------------|
//! | `number`  | decimal text to `f64` for CSV cells and JSON tokens (SWAR, SSSE3/SSE4.1) | `number::reference`, `str::parse` |
//! | `simd`    | processor-feature tokens, sixteen-byte blocks and their byte masks   | byte loops       |
//! | `fused`   | the dot product of fused linear prediction (SSE2, AVX)               | a portable twin  |
//! | `bytes`   | appends to byte buffers without a `memcpy` call (fixed-size copies, `ryu` into spare capacity) | `extend_from_slice`, `ryu::Buffer` |
//!
//! Tree traversal and histogram kernels of the tree learners belong here as `tree` too.
//!
//! ## Rules
//!
//! - The crate root is `#![deny(unsafe_code)]`; this module alone is allowed `unsafe`.
//! - Every `unsafe fn` has a `# Safety` section, every `unsafe {}` block a `// SAFETY:`
//!   comment saying why its contract holds (`clippy::missing_safety_doc` and
//!   `clippy::undocumented_unsafe_blocks` are on at the crate root).
//! - The API is safe: a function relying on an index or a length checks it, or is itself
//!   `unsafe`. Processor features are proved by tokens (`simd::Sse41` and friends), which
//!   can only be made by detecting the feature at run time.
//! - Every SIMD path gives the same bits as its reference (tests here).
//!
//! ## Place in the layer order
//!
//! Kernels import nothing from the crate but `error` (they need not even that today): plain
//! slices in, numbers out. So they sit right above the foundation — layer 1.5, below `data`
//! and `model` — and every layer above may call them: `model` (fused prediction), `deploy`
//! (the CSV and JSON readers), `train`.

pub(crate) mod bytes;
pub(crate) mod fused;
pub(crate) mod number;
pub(crate) mod simd;
pub(crate) mod tree;

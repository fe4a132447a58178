//! Kernels: the crate's only `unsafe` code (SIMD and unchecked indexing), as plain functions
//! on slices behind safe entry points, each with a plain reference it is tested against.

pub(crate) mod tree;

//! Training: the `Trainer` trait and built-in algorithms.

pub mod trees;

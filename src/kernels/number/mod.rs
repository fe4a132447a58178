//! Number parsing, in one place: decimal text to `f64`, exactly (the same bits as
//! `str::parse::<f64>`), for CSV cells and JSON tokens.
//!
//! | file            | what                                                                   |
//! |-----------------|------------------------------------------------------------------------|
//! | `tables.rs`     | the one power-of-ten table, the 128-bit reciprocals of 5^k, and the exact conversion of a significand and a decimal exponent |
//! | `swar.rs`       | the one set of digit helpers: eight digits checked and combined as a 64-bit word |
//! | `reference.rs`  | the plain scalar reference, one byte at a time                         |
//! | `plain.rs`      | CSV plain decimals (`-12.345`) a word at a time                        |
//! | `json.rs`       | JSON numbers (full grammar, exponents), digit runs a word at a time    |
//! | `x86.rs`        | SSSE3 / SSE4.1: a whole plain decimal from one or two 16-byte loads     |
//!
//! Every reader returns `None` for what it does not take (the caller then tries a more
//! general one); whatever it does take, it reads to the correctly rounded double. The tests
//! below run every variant on the same random tokens against the reference and against
//! `str::parse::<f64>`.

mod json;
mod plain;
pub(crate) mod reference;
mod swar;
mod tables;
#[cfg(target_arch = "x86_64")]
mod x86;

pub(crate) use json::{scan_compact_row, scan_number};
pub(crate) use plain::{parse_field, parse_plain};

#[cfg(test)]
mod tests;

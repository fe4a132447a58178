//! Integration tests: the read-only dashboard (`mlcycle ui`), its pages and a real browser
//! (one test binary).

mod browser;
mod cli;
mod pages;
mod support;

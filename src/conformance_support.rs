//! What every conformance suite uses to report a broken property: a short message naming
//! the suite, the property and why, never a Debug dump of whole values.

use std::fmt::Display;

/// Longest piece of a value quoted in a report.
const QUOTE_CHARS: usize = 160;

/// Stop the suite: `property` of `suite`'s contract is broken, for the reason `why`.
#[track_caller]
pub(crate) fn broken(suite: &str, property: &str, why: impl Display) -> ! {
    panic!("{suite} conformance: broken property `{property}`: {why}")
}

/// Check `holds`; otherwise report `property` as broken with the reason `why()`.
#[track_caller]
pub(crate) fn check<W: Display>(suite: &str, property: &str, holds: bool, why: impl FnOnce() -> W) {
    if !holds {
        broken(suite, property, why());
    }
}

/// Unwrap the result of a step the property needs; an error breaks the property, quoted
/// by its message.
#[track_caller]
pub(crate) fn step<T>(suite: &str, property: &str, what: &str, r: crate::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => broken(suite, property, format!("{what} failed: {}", quote(&e))),
    }
}

/// A short account of a result for a report: `Ok(<type>)` or `Err(<error kind>: message)`,
/// cut to a readable length.
pub(crate) fn outcome<T>(r: &crate::Result<T>) -> String {
    match r {
        Ok(_) => format!("Ok({})", short_type_name::<T>()),
        Err(e) => format!("Err({}: {})", error_kind(e), quote(e)),
    }
}

/// The variant name of an error (`Conflict`, `SchemaMismatch`, ...).
pub(crate) fn error_kind(e: &crate::Error) -> String {
    let debug = format!("{e:?}");
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(debug.len());
    debug[..end].to_string()
}

/// `value`'s display, cut to [`QUOTE_CHARS`] characters.
pub(crate) fn quote(value: &impl Display) -> String {
    let s = value.to_string();
    match s.char_indices().nth(QUOTE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let head = full.split('<').next().unwrap_or(full);
    head.rsplit("::").next().unwrap_or(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn outcomes_are_short_and_name_the_error_kind() {
        let ok: crate::Result<Vec<u8>> = Ok(vec![0; 10_000]);
        assert_eq!(outcome(&ok), "Ok(Vec)");
        let err: crate::Result<()> = Err(Error::Conflict("x".repeat(1_000)));
        let s = outcome(&err);
        assert!(s.starts_with("Err(Conflict: "), "{s}");
        assert!(s.chars().count() < QUOTE_CHARS + 40, "{s}");
    }

    #[test]
    fn a_broken_property_is_named_in_the_panic() {
        let e = std::panic::catch_unwind(|| {
            check(
                "deployer",
                "predict echoes the request id",
                false,
                || "answered `b` for `a`",
            )
        })
        .unwrap_err();
        let msg = e.downcast_ref::<String>().unwrap();
        assert_eq!(
            msg,
            "deployer conformance: broken property `predict echoes the request id`: answered `b` for `a`"
        );
    }
}

/// `value`'s Debug form, cut to [`QUOTE_CHARS`] characters.
pub(crate) fn short_debug(value: &impl std::fmt::Debug) -> String {
    quote(&format!("{value:?}"))
}

/// `assert_eq!` for a suite: on failure, reports the broken property (the message given,
/// else the compared expressions) with both values cut short, through [`broken`].
/// A suite shadows `assert_eq!` with it:
/// `macro_rules! assert_eq { ($($t:tt)+) => { suite_assert_eq!("registry", $($t)+) } }`.
macro_rules! suite_assert_eq {
    ($suite:expr, $left:expr, $right:expr $(,)?) => {
        match (&$left, &$right) {
            (l, r) => {
                if !(*l == *r) {
                    $crate::conformance_support::broken(
                        $suite,
                        concat!(stringify!($left), " == ", stringify!($right)),
                        format!(
                            "got {}, expected {}",
                            $crate::conformance_support::short_debug(l),
                            $crate::conformance_support::short_debug(r)
                        ),
                    );
                }
            }
        }
    };
    ($suite:expr, $left:expr, $right:expr, $($arg:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if !(*l == *r) {
                    $crate::conformance_support::broken(
                        $suite,
                        &format!($($arg)+),
                        format!(
                            "`{}` is {}, expected {}",
                            stringify!($left),
                            $crate::conformance_support::short_debug(l),
                            $crate::conformance_support::short_debug(r)
                        ),
                    );
                }
            }
        }
    };
}
pub(crate) use suite_assert_eq;

#[cfg(test)]
mod suite_assert_tests {
    #[test]
    fn a_failed_equality_is_reported_short() {
        let big = vec![7u64; 10_000];
        let e = std::panic::catch_unwind(|| {
            super::suite_assert_eq!(
                "registry",
                big.len(),
                3,
                "versions are numbered {}",
                "1, 2, 3"
            );
        })
        .unwrap_err();
        let msg = e.downcast_ref::<String>().unwrap();
        assert_eq!(
            msg,
            "registry conformance: broken property `versions are numbered 1, 2, 3`: `big.len()` is 10000, expected 3"
        );
        let e = std::panic::catch_unwind(|| {
            super::suite_assert_eq!("audit log", big, vec![1u64]);
        })
        .unwrap_err();
        let msg = e.downcast_ref::<String>().unwrap();
        assert!(
            msg.starts_with(
                "audit log conformance: broken property `big == vec![1u64]`: got [7, 7"
            ),
            "{msg}"
        );
        assert!(msg.chars().count() < 450, "{msg}");
    }
}

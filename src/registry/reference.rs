use super::types::{is_reserved_alias, validate_alias, validate_name};
use crate::{Error, Result};
use std::fmt;

/// A parsed model reference: `name@alias`, `name/3`, `name@latest`, or the MLflow forms
/// `models:/name@alias`, `models:/name/3`. A bare `name` means `name@latest`; `name@v3`
/// (the reserved alias spelling) means version 3.
///
/// ```
/// use mlcycle::registry::ModelRef;
/// assert_eq!(
///     ModelRef::parse("models:/churn@production").unwrap(),
///     ModelRef::Alias { name: "churn".into(), alias: "production".into() },
/// );
/// assert_eq!(
///     ModelRef::parse("churn/3").unwrap(),
///     ModelRef::Version { name: "churn".into(), version: 3 },
/// );
/// assert_eq!(ModelRef::parse("churn@latest").unwrap(), ModelRef::Latest { name: "churn".into() });
/// assert!(ModelRef::parse("../etc@x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// A specific version.
    Version {
        /// Model name.
        name: String,
        /// Version number.
        version: u32,
    },
    /// Whatever an alias points to.
    Alias {
        /// Model name.
        name: String,
        /// Alias.
        alias: String,
    },
    /// The highest version.
    Latest {
        /// Model name.
        name: String,
    },
}

impl ModelRef {
    /// Parse a reference.
    pub fn parse(s: &str) -> Result<ModelRef> {
        let body = s.strip_prefix("models:/").unwrap_or(s);
        let bad = |why: &str| {
            Error::invalid(
                format!("model reference `{}`", crate::data::truncate_for_message(s)),
                format!("{why}; use NAME@ALIAS, NAME/VERSION or models:/NAME@ALIAS"),
            )
        };
        let r = if let Some((name, alias)) = body.split_once('@') {
            if alias.eq_ignore_ascii_case("latest") {
                ModelRef::Latest { name: name.into() }
            } else if is_reserved_alias(alias) {
                // `v<digits>`: the reserved spelling of a version number.
                let version: u32 = alias[1..]
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("the version is not a positive number"))?;
                ModelRef::Version {
                    name: name.into(),
                    version,
                }
            } else if alias.is_empty() {
                return Err(bad("the alias is empty"));
            } else {
                ModelRef::Alias {
                    name: name.into(),
                    alias: alias.into(),
                }
            }
        } else if let Some((name, v)) = body.split_once('/') {
            if v.eq_ignore_ascii_case("latest") {
                ModelRef::Latest { name: name.into() }
            } else {
                let version: u32 = v
                    .strip_prefix('v')
                    .unwrap_or(v)
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("the version is not a positive number"))?;
                ModelRef::Version {
                    name: name.into(),
                    version,
                }
            }
        } else {
            ModelRef::Latest { name: body.into() }
        };
        validate_name(r.name())?;
        if let ModelRef::Alias { alias, .. } = &r {
            validate_alias(alias)?;
        }
        Ok(r)
    }

    /// The model name.
    pub fn name(&self) -> &str {
        match self {
            ModelRef::Version { name, .. }
            | ModelRef::Alias { name, .. }
            | ModelRef::Latest { name } => name,
        }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelRef::Version { name, version } => write!(f, "{name}/{version}"),
            ModelRef::Alias { name, alias } => write!(f, "{name}@{alias}"),
            ModelRef::Latest { name } => write!(f, "{name}@latest"),
        }
    }
}

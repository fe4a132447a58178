//! Shared helpers of the fitted tree models: input checks, exact float serialisation, argmax.

use ndarray::ArrayView2;

use crate::{Error, Result};

/// How non-finite feature values are treated during validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NanPolicy {
    /// NaN and ±inf are rejected.
    Reject,
    /// NaN is allowed (missing value), ±inf is rejected.
    AllowNan,
}

/// Check feature values for NaN / infinity according to `nan`.
pub(crate) fn check_features(x: ArrayView2<f64>, nan: NanPolicy) -> Result<()> {
    for ((i, j), &v) in x.indexed_iter() {
        if !v.is_finite() {
            if v.is_nan() {
                if nan == NanPolicy::Reject {
                    return Err(Error::Data(format!(
                        "x[{i}, {j}] is NaN; this learner does not support missing values \
                         (impute them, or use the gradient-boosted trees learner)"
                    )));
                }
            } else {
                return Err(Error::Data(format!(
                    "x[{i}, {j}] = {v} is infinite; only finite values{} are supported",
                    if nan == NanPolicy::AllowNan {
                        " and NaN (missing)"
                    } else {
                        ""
                    }
                )));
            }
        }
    }
    Ok(())
}

/// Check a prediction input's column count.
pub(crate) fn check_predict_shape(x: ArrayView2<f64>, n_features: usize) -> Result<()> {
    if x.ncols() != n_features {
        return Err(Error::SchemaMismatch(format!(
            "x has {} columns but the model was trained on {n_features} features",
            x.ncols()
        )));
    }
    Ok(())
}

/// Index of the largest value; ties go to the lowest index.
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate().skip(1) {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Serialise an `f64` as its shortest round-trip decimal string, so that any serde format
/// (including JSON, which cannot hold `inf`/`NaN` and may parse floats inexactly) gives back the
/// exact same bits.
pub(crate) mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse::<f64>()
            .map_err(|e| D::Error::custom(format!("bad float `{s}`: {e}")))
    }
}

/// [`exact_f64`] for `Vec<f64>`.
pub(crate) mod exact_f64_vec {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _, ser::SerializeSeq};

    pub(crate) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&format!("{x:?}"))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v = <Vec<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        v.iter()
            .map(|s| {
                s.parse::<f64>()
                    .map_err(|e| D::Error::custom(format!("bad float `{s}`: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct W {
        #[serde(with = "exact_f64")]
        a: f64,
        #[serde(with = "exact_f64_vec")]
        b: Vec<f64>,
    }

    #[test]
    fn exact_float_roundtrip() {
        let vals = vec![
            0.1,
            1.0 / 3.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            1e300,
            -0.0,
            123456789.12345679,
        ];
        for &a in &vals {
            let w = W { a, b: vals.clone() };
            let s = serde_json::to_string(&w).unwrap();
            let back: W = serde_json::from_str(&s).unwrap();
            assert_eq!(back.a.to_bits(), a.to_bits());
            for (x, y) in back.b.iter().zip(&vals) {
                assert_eq!(x.to_bits(), y.to_bits());
            }
        }
        let w = W {
            a: f64::NAN,
            b: vec![],
        };
        let back: W = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert!(back.a.is_nan());
    }
}

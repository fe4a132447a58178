//! For tests, demos and simulations — not for production code paths.
//!
//! - [`synthetic`]: a seeded synthetic credit-default problem ([`CreditDefault`]) that can
//!   also produce drifted data ([`DriftSpec`]); the data of the demo, the doc examples and
//!   the test suite.
//! - [`scenario`]: a harness that simulates days of production traffic under a
//!   [`SimulatedClock`](crate::clock::SimulatedClock), on your own data or the synthetic
//!   one, running the lifecycle's monitoring cycle every evening.
//!
//! Nothing here is in the [prelude](crate::prelude): import it by path.

pub mod scenario;
pub mod synthetic;

pub use synthetic::{CreditDefault, DriftSpec, FeatureShift, NewCategory};

use crate::data::Dataset;

/// The first `n` rows of `data` as an MLflow `/invocations` body in the `dataframe_split`
/// orientation: categories as their labels, missing values as `null` — what a client sends.
///
/// ```
/// use mlcycle::testing::{CreditDefault, DriftSpec, mlflow_split};
/// let data = CreditDefault::new(1).sample(10, &DriftSpec::none(), 0).unwrap();
/// let body = mlflow_split(&data, 2);
/// assert_eq!(body["dataframe_split"]["data"].as_array().unwrap().len(), 2);
/// assert_eq!(body["dataframe_split"]["columns"].as_array().unwrap().len(),
///            data.schema().features.len());
/// ```
pub fn mlflow_split(data: &Dataset, n: usize) -> serde_json::Value {
    let schema = data.schema();
    let rows: Vec<Vec<serde_json::Value>> = (0..n.min(data.n_rows()))
        .map(|r| {
            (0..schema.features.len())
                .map(|c| {
                    let v = data.features()[[r, c]];
                    if schema.features[c].is_categorical() {
                        serde_json::json!(schema.decode_cell(c, v))
                    } else if v.is_nan() {
                        serde_json::Value::Null
                    } else {
                        serde_json::json!(v)
                    }
                })
                .collect()
        })
        .collect();
    let columns: Vec<&str> = schema.features.iter().map(|c| c.name.as_str()).collect();
    serde_json::json!({ "dataframe_split": { "columns": columns, "data": rows } })
}

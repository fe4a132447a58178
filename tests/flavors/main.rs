//! Integration tests: model flavors (application-registered flavors, stored artifacts of
//! earlier versions, the custom-flavor example) and native LightGBM / XGBoost model files.

mod custom_flavor_example;
mod flavor_registry;
mod import_native;

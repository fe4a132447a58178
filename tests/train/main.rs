//! Integration tests: train (one test binary per area).

mod foundation;
mod model_predict_fused;
mod model_predict_gbdt;
mod train_cli;
mod train_lifecycle;
mod train_logistic;
mod train_models;
mod tree_artifact_fixture;
mod trees;
mod user_inputs;

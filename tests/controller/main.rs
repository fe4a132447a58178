//! Integration tests: the controller (`mlcycle::controller`) and `mlcycle run`.

mod cli_canary;
mod cli_datasets;
mod cli_monitor;
mod cli_operate;
mod cli_run;
mod simulated;

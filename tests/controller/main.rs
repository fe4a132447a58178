//! Integration tests: the controller (`mlcycle::controller`) and `mlcycle run`.

mod cli_run;
mod simulated;

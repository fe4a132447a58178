//! Two-sample statistical tests and distances used for drift detection (pure functions, no I/O).

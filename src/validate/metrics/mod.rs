//! Model-quality metrics (pure functions, no I/O).

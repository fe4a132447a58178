//! Tree-based learners: decision tree, random forest, histogram gradient boosting (pure, no I/O).

//! Explanations: TreeSHAP against shap's fixtures, exact linear contributions, permutation
//! importance against scikit-learn's, split-count and gain importance of tree models, and the
//! `mlcycle explain` command.

mod cli;
mod linear;
mod permutation;
mod tree_importance;
mod tree_shap;

//! Explanations: TreeSHAP against shap's fixtures, exact linear contributions, permutation
//! importance against scikit-learn's, and the `mlcycle explain` command.

mod cli;
mod linear;
mod permutation;
mod tree_shap;

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

//! Audit reports: the model, signing, and the HTML page.

pub mod model;

pub use model::*;

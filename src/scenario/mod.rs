//! Scenario files: TOML in, a validated [`Plan`] out.

pub mod plan;

pub use plan::*;

//! The load generator: executes the schedule (open loop) or runs closed-loop users.

pub mod client;
mod clients;
pub mod generator;
pub mod http;
pub mod rng;
pub mod rows;
pub mod schedule;
mod send;
mod slots;
mod stream;
pub mod timer;

//! The load generator: executes the schedule (open loop), runs closed-loop users and
//! client populations, and retries as a phase's clients would.

mod backoff;
mod budget;
pub mod client;
mod clients;
mod closed;
pub mod generator;
pub mod http;
mod policy;
mod retry;
pub mod rng;
pub mod rows;
pub mod schedule;
mod send;
mod slots;
mod stream;
pub mod timer;

//! fpmlab: reproduce php-fpm saturation incidents on a real nginx + php-fpm stack and turn
//! them into numbers. `main.rs` only parses the command line and calls [`app::main`].

pub mod affinity;
pub mod app;
pub mod attribution;
pub mod bottleneck;
pub mod cli;
pub mod clock;
pub mod compare;
pub mod cpu_per_request;
pub mod events;
pub mod fleet_view;
pub mod incident;
pub mod load;
pub mod metric;
pub mod model;
pub mod probe;
pub mod procfs;
pub mod progress;
pub mod record;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod stack;
pub mod thin;
pub mod thresholds;
pub mod tls;
pub mod tune;
pub mod units;

//! fpmlab: reproduce php-fpm saturation incidents on a real nginx + php-fpm stack and turn
//! them into numbers.

pub mod clock;
pub mod probe;
pub mod scenario;
pub mod stack;

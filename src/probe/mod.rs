//! Server-side sampling on the run's timeline (php-fpm status, accept queue, workers).

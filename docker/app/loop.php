<?php
// Runaway request (seeds 000, 001): a loop that never finishes on its own, like a
// collectRates() that reloads the quote that calls collectRates(). Only a limit stops it:
// php's max_execution_time (CPU time: 500 + "Maximum execution time" in the logs) or
// fpm's request_terminate_timeout (wall time: the worker is killed, nginx answers 502).
// The work is fixed CPU arithmetic, never a wall-clock spin, so max_execution_time sees it.
//
// ?cap_s=N (1..600, default 300): a last-resort bound of about N s of CPU, so a stack run
// with every limit off still gets its worker back. Reaching it answers 200 "loop hit the cap".
require __DIR__ . '/lib.php';

$cap_s = isset($_GET['cap_s']) ? fpmlab_int_param('cap_s', 600) : 300;
$chunk_units = 50;
$rounds = intdiv($cap_s * 1000, $chunk_units);
$x = 0;
for ($i = 0; $i < $rounds; $i++) {
    $x ^= fpmlab_cpu_work($chunk_units);
}
fpmlab_respond(sprintf('loop hit the cap: cap_s=%d result=%d (no limit stopped it)', $cap_s, $x));

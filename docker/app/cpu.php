<?php
// CPU-bound work, in one of two units (exactly one of the parameters):
//   ?ms=N (0..30000): exactly N ms of this worker's CPU time, read from its own CPU clock
//     (getrusage): the same demand on any machine, a fast CPU simply computes more in it.
//   ?units=N (0..30000): a fixed computation of N units, about N ms of CPU on the machine
//     fpmlab calibrated (see lib.php): the same work, so it costs more on a slower machine.
require __DIR__ . '/lib.php';

$cpu_before = fpmlab_cpu_ms();
$has_ms = isset($_GET['ms']);
if ($has_ms === isset($_GET['units'])) {
    fpmlab_respond('give either ms (0 to 30000: ms of CPU time) or units (0 to 30000: a fixed computation)', 400);
    exit;
}
if ($has_ms) {
    $ms = fpmlab_int_param('ms', 30000);
    [$iterations, $result] = fpmlab_cpu_burn_ms($cpu_before, $ms);
    $cpu_ms = fpmlab_cpu_ms() - $cpu_before;
    fpmlab_respond(sprintf('cpu ms=%d cpu_ms=%.3f iterations=%d result=%d', $ms, $cpu_ms, $iterations, $result));
} else {
    $units = fpmlab_int_param('units', 30000);
    $result = fpmlab_cpu_work($units);
    $cpu_ms = fpmlab_cpu_ms() - $cpu_before;
    fpmlab_respond(sprintf('cpu units=%d result=%d cpu_ms=%.3f', $units, $result, $cpu_ms));
}

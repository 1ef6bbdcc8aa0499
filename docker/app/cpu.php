<?php
// CPU-bound work: ?units=N (0..30000), about N ms of CPU time (see lib.php).
require __DIR__ . '/lib.php';

$units = fpmlab_int_param('units', 30000);
$cpu_before = fpmlab_cpu_ms();
$result = fpmlab_cpu_work($units);
$cpu_ms = fpmlab_cpu_ms() - $cpu_before;
fpmlab_respond(sprintf('cpu units=%d result=%d cpu_ms=%.3f', $units, $result, $cpu_ms));

<?php
// I/O wait: ?ms=N (0..60000) of usleep, holding a worker without using CPU.
require __DIR__ . '/lib.php';

$ms = fpmlab_int_param('ms', 60000);
usleep($ms * 1000);
fpmlab_respond(sprintf('io ms=%d', $ms));

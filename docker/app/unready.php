<?php
// An instance put behind the load balancer before it is ready (seed 004: a new worker
// answered 401 until it had synced its accounts). For the first ?for_s=N seconds (0..3600,
// default 5) after the php-fpm pool started it answers ?status=401 (default) or 503, then
// 200. The start is the fpm master's own start time (from /proc), so it restarts with
// every stack the harness brings up and needs nothing from the driver.
require __DIR__ . '/lib.php';

$for_s = isset($_GET['for_s']) ? fpmlab_int_param('for_s', 3600) : 5;
$status = isset($_GET['status']) ? fpmlab_int_param('status', 599) : 401;
if ($status !== 401 && $status !== 503) {
    fpmlab_respond('status must be 401 or 503', 400);
    exit;
}
$started = fpmlab_pool_started();
if ($started === null) {
    fpmlab_respond('cannot read the php-fpm master start time from /proc (fix: run php-fpm with /proc mounted)', 500);
    exit;
}
$age = microtime(true) - $started;
if ($age < $for_s) {
    fpmlab_respond(sprintf('unready: accounts not synced yet (%.2f s after the pool started, ready at %d s)', $age, $for_s), $status);
} else {
    fpmlab_respond(sprintf('ready (%.2f s after the pool started)', $age));
}

/**
 * Epoch seconds at which this worker's parent (the php-fpm master) started, or null.
 * /proc/PID/stat's starttime counts clock ticks since boot (CLOCK_BOOTTIME, as /proc/uptime
 * does); USER_HZ is 100 on every Linux architecture php-fpm runs on.
 */
function fpmlab_pool_started(): ?float
{
    $fields = static function (string $path): ?array {
        $stat = @file_get_contents($path);
        if ($stat === false || ($close = strrpos($stat, ')')) === false) {
            return null;
        }
        // Fields after "pid (comm)": state ppid pgrp ... ; starttime is the 20th of these.
        return preg_split('/\s+/', trim(substr($stat, $close + 1)));
    };
    $self = $fields('/proc/self/stat');
    $master = $self === null ? null : $fields('/proc/' . (int) $self[1] . '/stat');
    $uptime = @file_get_contents('/proc/uptime');
    if ($master === null || !isset($master[19]) || $uptime === false) {
        return null;
    }
    return microtime(true) - (float) explode(' ', $uptime)[0] + ((int) $master[19]) / 100.0;
}

<?php
// Shared helper of the fpmlab app: parameter checks and the timing headers every script sends.
// Scripts require this file first, do their work, then call fpmlab_respond(). Nothing is
// printed before that: output_buffering is 0, so any early output would send the headers
// before the timings are known.

declare(strict_types=1);

// Taken when the script starts executing (the require is the first statement of every script).
define('FPMLAB_SCRIPT_START', microtime(true));

// Iterations of fpmlab_cpu_work()'s loop per unit, so that 1 unit ~ 1 ms of CPU time on the
// machine at hand: fpmlab times this loop with the host's PHP before it starts a stack
// (src/stack/calibrate.rs) and passes the count to the pool as FPMLAB_CPU_ITERATIONS_PER_UNIT.
// Without it (the app served by hand), the reference value: measured 2026-11-22 through
// php-fpm on a 2 vCPU Intel Xeon @ 2.10GHz VM (Debian 12, php-fpm 8.2 with opcache, no JIT).
define(
    'FPMLAB_CPU_ITERATIONS_PER_UNIT',
    max(1, (int) (getenv('FPMLAB_CPU_ITERATIONS_PER_UNIT') ?: 150000))
);

/**
 * Reads an integer query parameter in [0, $max]. Anything else (missing, signed, decimal,
 * out of range) is answered with 400 and a plain message, and the script ends.
 */
function fpmlab_int_param(string $name, int $max): int
{
    $raw = $_GET[$name] ?? null;
    if (!is_string($raw) || preg_match('/^[0-9]{1,9}$/', $raw) !== 1 || (int) $raw > $max) {
        fpmlab_respond("$name must be an integer from 0 to $max", 400);
        exit;
    }
    return (int) $raw;
}

/**
 * A fixed amount of integer arithmetic: $units * FPMLAB_CPU_ITERATIONS_PER_UNIT steps of a
 * linear congruential generator. Never a wall-clock spin: under CPU contention a spin
 * until time T does less work, while this does the same work and takes longer, as real
 * code does (and as php's max_execution_time, which counts CPU time, sees it).
 */
function fpmlab_cpu_work(int $units): int
{
    $x = 1;
    $n = $units * FPMLAB_CPU_ITERATIONS_PER_UNIT;
    for ($i = 0; $i < $n; $i++) {
        // Operands stay below 2^31, so the product never overflows to float.
        $x = ($x * 1103515245 + 12345) & 0x7fffffff;
    }
    return $x;
}

// Loop iterations between two reads of the CPU clock in fpmlab_cpu_burn_ms(): tens of µs
// of work on any machine of the last decade, so the overshoot past the asked CPU time stays
// that small, while the clock read (a getrusage system call, about 1 µs) stays a few percent
// of the work it checks.
const FPMLAB_CPU_CHECK_EVERY = 2000;

/**
 * Works until this process has used $ms milliseconds of CPU time (user + system, its own
 * clock) since $cpu_start_ms, a reading of fpmlab_cpu_ms(). Unlike fpmlab_cpu_work(), the
 * demand is exact in CPU time on any machine: a faster CPU does more iterations in it. Still
 * never a wall-clock spin and never a sleep: while the CPU is contended the process is not
 * running, its CPU clock stands still, and the request takes longer in wall time, as real
 * code does; max_execution_time (CPU time) sees exactly the CPU it used.
 *
 * @return array{0: int, 1: int} the iterations done and the loop's result (so the work
 *   cannot be optimised away)
 */
function fpmlab_cpu_burn_ms(float $cpu_start_ms, int $ms): array
{
    $until = $cpu_start_ms + $ms;
    $x = 1;
    $iterations = 0;
    while (fpmlab_cpu_ms() < $until) {
        for ($i = 0; $i < FPMLAB_CPU_CHECK_EVERY; $i++) {
            $x = ($x * 1103515245 + 12345) & 0x7fffffff;
        }
        $iterations += FPMLAB_CPU_CHECK_EVERY;
    }
    return [$iterations, $x];
}

/** CPU time (user + system) this process has used so far, in milliseconds. */
function fpmlab_cpu_ms(): float
{
    $r = getrusage();
    return ($r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']) * 1000.0
        + ($r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec']) / 1000.0;
}

/** Sends the status, the timing headers and a one-line plain-text body. */
function fpmlab_respond(string $body, int $status = 200): void
{
    $end = microtime(true);
    http_response_code($status);
    header('Content-Type: text/plain; charset=utf-8');
    header(sprintf('X-Fpm-Request-Time-Float: %.6f', $_SERVER['REQUEST_TIME_FLOAT']));
    header(sprintf('X-Fpm-Script-Start: %.6f', FPMLAB_SCRIPT_START));
    header(sprintf('X-Fpm-Script-End: %.6f', $end));
    header('X-Fpm-Pid: ' . getmypid());
    header('X-Fpm-Peak-Memory-Bytes: ' . memory_get_peak_usage(true));
    $id = $_SERVER['HTTP_X_FPMLAB_ID'] ?? null;
    if (is_string($id) && $id !== '') {
        // Keep only printable ASCII: header() refuses line breaks, and the id is opaque.
        header('X-Fpmlab-Id: ' . preg_replace('/[^\x21-\x7e]/', '', $id));
    }
    echo $body, "\n";
}

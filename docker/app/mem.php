<?php
// Memory-hungry work: ?mb=N (0..1024) MiB allocated and really written, so the pages are
// resident (not just reserved), held for ?hold_ms=M (0..10000, default 0) ms, then freed.
//
// The memory is taken in 4 MiB strings (str_repeat writes every byte). Blocks that large are
// "huge" to php's allocator and counted at their size, so php's memory accounting grows by
// N MiB (within 1 MiB), against both limits a scenario may set:
// - php's memory_limit below what the script needs: a fatal error, "Allowed memory size of
//   ... exhausted", and a 500;
// - a container memory limit (stack.memory, docker) below what the busy workers hold
//   together: the kernel's OOM killer kills a worker, nginx answers 502.
require __DIR__ . '/lib.php';

$mb = fpmlab_int_param('mb', 1024);
$hold_ms = isset($_GET['hold_ms']) ? fpmlab_int_param('hold_ms', 10000) : 0;

const FPMLAB_MEM_STEP_MB = 4;
$held = [];
for ($left = $mb; $left > 0; $left -= FPMLAB_MEM_STEP_MB) {
    $held[] = str_repeat(chr(65 + count($held) % 26), min($left, FPMLAB_MEM_STEP_MB) * 1048576);
}
usleep($hold_ms * 1000);
$bytes = array_sum(array_map('strlen', $held));
unset($held);
fpmlab_respond(sprintf('mem mb=%d hold_ms=%d held_bytes=%d', $mb, $hold_ms, $bytes));

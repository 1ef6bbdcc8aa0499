<?php
// "The ORM loads every row and filters in PHP" (seeds 000, 003): ?rows=N (0..5000000)
// builds N rows in memory, as an ORM hydrating a whole table would, keeps the few that
// belong to one user, and sorts them. Cost in CPU and memory grows with N: a few ms with
// test-sized data, hundreds of ms with production-sized data, and past a point
// memory_limit (500 + "Allowed memory size ... exhausted").
//
// ?user=U (0..999, default 7): the user whose rows are kept (1 row in 1000 belongs to each).
require __DIR__ . '/lib.php';

$n = fpmlab_int_param('rows', 5000000);
$user = isset($_GET['user']) ? fpmlab_int_param('user', 999) : 7;

// Hydration: every row becomes an array with a few columns, as an ORM entity would.
$rows = [];
for ($i = 0; $i < $n; $i++) {
    $rows[] = [
        'id' => $i,
        'user_id' => ($i * 7919) % 1000,
        'keepsake' => 'keepsake-' . $i,
        'collected_at' => 1700000000 + $i,
    ];
}
// The filter the database should have done.
$mine = array_values(array_filter($rows, static fn(array $r): bool => $r['user_id'] === $user));
usort($mine, static fn(array $a, array $b): int => $b['collected_at'] <=> $a['collected_at']);
$peak_mib = memory_get_peak_usage(true) / 1048576;
unset($rows);
fpmlab_respond(sprintf('orm rows=%d user=%d kept=%d peak_mib=%.1f', $n, $user, count($mine), $peak_mib));

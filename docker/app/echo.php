<?php
// Echo: what the request carried, as one JSON line on the worker's stderr, which php-fpm
// writes into its log (catch_workers_output): the method, path, X-Fpmlab-Id, every header,
// the cookies, the body's length and SHA-256 (never the body itself, so a line stays
// under php-fpm's log_limit), and REQUEST_TIME_FLOAT (when the worker took the request:
// tests/replay.rs compares it with each replayed request's intended time). tests/your_traffic.rs compares each line with what the
// scenario and its data file said for that request. The response says the same.
require __DIR__ . '/lib.php';

// Bounded: a body past 16 MiB is read no further (fpmlab caps body files at 10 MiB).
$body = (string) file_get_contents('php://input', false, null, 0, 16 * 1024 * 1024);
$headers = function_exists('getallheaders') ? getallheaders() : [];
// Only what the generator can set: the stack's own values (Host) stay out of the line.
unset($headers['Host']);
$line = json_encode([
    'id' => $_SERVER['HTTP_X_FPMLAB_ID'] ?? null,
    'method' => $_SERVER['REQUEST_METHOD'] ?? null,
    'uri' => $_SERVER['REQUEST_URI'] ?? null,
    'headers' => $headers,
    'cookies' => $_COOKIE,
    'body_bytes' => strlen($body),
    'body_sha256' => hash('sha256', $body),
    'request_time_float' => sprintf('%.6F', $_SERVER['REQUEST_TIME_FLOAT'] ?? 0),
], JSON_UNESCAPED_SLASHES);
file_put_contents('php://stderr', "fpmlab-echo $line\n");
fpmlab_respond($line);

<?php
// fpmlab's request agent: php-fpm loads it before every script of the main pool through the
// pool's own configuration (php_admin_value[auto_prepend_file]), the way an APM extension
// hooks every request, so any application is measured without a line of its code changing.
//
// It reports, in one response header sent with the application's own headers:
//   X-Fpmlab-Agent: rt=<REQUEST_TIME_FLOAT> start=<agent start> end=<response leaves> pid=<pid> mem=<peak bytes>
// `end` is the script's end, or, for an application that sends its response before it ends
// (a flush, streaming, fastcgi_finish_request), the moment the first bytes leave. A worker that dies, a script cut before it answers, or one that ends in
// a fatal error (max_execution_time, memory_limit) gets no such header: the request is then
// "unreported by the app", as an APM would miss it.
//
// Requested as /fpmlab-health (nginx routes it here, to the main pool, with FPMLAB_HEALTH=1)
// it answers "ok" itself: the load balancer's deep health check through php-fpm, which every
// application has.

if (defined('FPMLAB_AGENT')) {
    // The health route names this file as the script as well: it already ran as the prepend.
    return;
}
define('FPMLAB_AGENT', microtime(true));

if (($_SERVER['FPMLAB_HEALTH'] ?? '') === '1') {
    header('Content-Type: text/plain');
    header('Cache-Control: no-store');
    echo "ok\n";
    exit;
}

// A request may ask not to be measured (to measure the agent's own cost beside it).
if (($_SERVER['HTTP_X_FPMLAB_AGENT'] ?? '') !== 'off') {
    // The script's end: the first shutdown function (registered before the application can
    // register any) runs right after the script's last statement, before PHP flushes the
    // output and sends the head, so the header still goes out with it.
    register_shutdown_function('fpmlab_agent_header');
    // An application that sends its response before it ends (a flush, streaming,
    // fastcgi_finish_request) passes through this buffer of ours, under any it opens: its
    // handler runs when the first bytes leave, while the head can still take the header
    // (ob_gzhandler adds its own the same way). Unlike header_register_callback, which holds
    // one callback that an application may take over, every application leaves it in place.
    ob_start(static function (string $buffer): string {
        fpmlab_agent_header();
        return $buffer;
    });
}

function fpmlab_agent_header(): void
{
    static $done = false;
    if ($done || headers_sent()) {
        return;
    }
    $done = true;
    // A script ended by a fatal error (max_execution_time, memory_limit, an uncaught
    // error) did not finish: like an APM, the agent does not report it.
    $last = error_get_last();
    $fatal = E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR;
    if ($last !== null && ($last['type'] & $fatal) !== 0) {
        return;
    }
    header(sprintf(
        'X-Fpmlab-Agent: rt=%.6f start=%.6f end=%.6f pid=%d mem=%d',
        $_SERVER['REQUEST_TIME_FLOAT'],
        FPMLAB_AGENT,
        microtime(true),
        getmypid(),
        memory_get_peak_usage(true)
    ));
}

// The application's own auto_prepend_file, if it set one (app.php_ini), runs after ours.
$fpmlab_app_prepend = getenv('FPMLAB_APP_PREPEND');
if (is_string($fpmlab_app_prepend) && $fpmlab_app_prepend !== '') {
    unset($fpmlab_app_prepend);
    require getenv('FPMLAB_APP_PREPEND');
} else {
    unset($fpmlab_app_prepend);
}

<?php
// Health through php-fpm: answers only when a worker of the main pool picks it up.
require __DIR__ . '/lib.php';

fpmlab_respond('ok');

<?php
// Trivial request: the cost of the stack itself.
require __DIR__ . '/lib.php';

fpmlab_respond('hello');

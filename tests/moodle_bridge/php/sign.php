<?php
// Test helper: prints the plugin's Standard Webhooks headers as JSON.
// Usage: php sign.php SECRET ID TIMESTAMP BODY_FILE
define('MOODLE_INTERNAL', true);
require(__DIR__ . '/../../../moodle_bridge/moodle_plugin/local_badgehub/classes/signer.php');

[, $secret, $id, $timestamp, $bodyfile] = $argv;
$headers = \local_badgehub\signer::headers($secret, $id, (int) $timestamp, file_get_contents($bodyfile));
echo json_encode($headers, JSON_UNESCAPED_SLASHES), "\n";

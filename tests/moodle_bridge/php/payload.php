<?php
// Test helper: reads {siteurl, course, user, timecompleted, competencies, now} as JSON on stdin and
// prints the body the plugin would send (payload::encode of payload::course_completed).
define('MOODLE_INTERNAL', true);
require(__DIR__ . '/../../../moodle_bridge/moodle_plugin/local_badgehub/classes/payload.php');

$in = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
echo \local_badgehub\payload::encode(\local_badgehub\payload::course_completed($in['siteurl'], $in['course'],
    $in['user'], $in['timecompleted'], $in['competencies'], $in['now']));

<?php
// This file is part of Badge Hub's Moodle bridge (GPL v3 or later).

/**
 * Event observers: a course completion queues a signed webhook to Badge Hub.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$observers = [
    [
        'eventname' => '\core\event\course_completed',
        'callback' => '\local_badgehub\observer::course_completed',
        // Queue after the completion's transaction commits, so the task never reads a rolled-back row.
        'internal' => false,
    ],
];

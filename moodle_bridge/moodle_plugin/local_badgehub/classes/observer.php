<?php
// This file is part of Badge Hub's Moodle bridge (GPL v3 or later).

namespace local_badgehub;

/**
 * Event observers.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class observer {
    /**
     * A learner completed a course: queue the webhook as an ad-hoc task, so sending never slows the
     * request that completed the course and failures are retried by Moodle's task backoff.
     *
     * The event's relateduserid is the learner, objectid the course_completions row.
     *
     * @param \core\event\course_completed $event
     */
    public static function course_completed(\core\event\course_completed $event): void {
        global $DB;
        if (!get_config('local_badgehub', 'endpoint')) {
            return;
        }
        $completion = $event->get_record_snapshot('course_completions', $event->objectid);
        if (!$completion) {
            $completion = $DB->get_record('course_completions', ['id' => $event->objectid], '*', MUST_EXIST);
        }
        $timecompleted = (int) ($completion->timecompleted ?: $event->timecreated);
        $task = new task\send_completion();
        $task->set_custom_data([
            'completionid' => (int) $event->objectid,
            'courseid' => (int) $event->courseid,
            'userid' => (int) $event->relateduserid,
            'timecompleted' => $timecompleted,
            'webhookid' => payload::message_id((int) $event->objectid, $timecompleted),
        ]);
        // Same custom data = same completion: don't queue it twice.
        \core\task\manager::queue_adhoc_task($task, true);
    }
}

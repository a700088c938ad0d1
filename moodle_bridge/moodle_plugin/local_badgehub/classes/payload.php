<?php
// This file is part of Badge Hub's Moodle bridge (GPL v3 or later).

namespace local_badgehub;

/**
 * The course_completed payload. The same shape is built by the hub's sync
 * (moodle_bridge/events.py, completion_payload); the hub's tests check both agree.
 *
 * Pure PHP with no Moodle dependency: the task gathers the records, this class only shapes them.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class payload {
    /** @var string event type, the LearningEvent's event_type */
    const TYPE = 'course_completed';

    /**
     * Build the payload.
     *
     * @param string $siteurl $CFG->wwwroot (no trailing slash)
     * @param array $course id, shortname, idnumber, fullname
     * @param array $user id, idnumber, email, firstname, lastname, fullname (null when not shared)
     * @param int|null $timecompleted course_completions.timecompleted, Unix seconds
     * @param array $competencies achieved competencies: each id, idnumber, shortname
     * @param int $now Unix seconds, for the envelope's timestamp
     * @return array {type, timestamp, data: {site, course, user, completion, competencies}}
     */
    public static function course_completed(string $siteurl, array $course, array $user, ?int $timecompleted,
            array $competencies, int $now): array {
        $blanktonull = function($value) {
            return ($value === '' || $value === null) ? null : (string) $value;
        };
        return [
            'type' => self::TYPE,
            'timestamp' => self::iso($now),
            'data' => [
                'site' => ['url' => rtrim($siteurl, '/')],
                'course' => [
                    'id' => (int) $course['id'],
                    'shortname' => (string) $course['shortname'],
                    'idnumber' => (string) ($course['idnumber'] ?? ''),
                    'fullname' => (string) $course['fullname'],
                ],
                'user' => [
                    'id' => (int) $user['id'],
                    'idnumber' => $blanktonull($user['idnumber'] ?? null),
                    'email' => $blanktonull($user['email'] ?? null),
                    'firstname' => $user['firstname'] ?? null,
                    'lastname' => $user['lastname'] ?? null,
                    'fullname' => $user['fullname'] ?? null,
                ],
                'completion' => [
                    'timecompleted' => $timecompleted ?: null,
                    'completed_at' => $timecompleted ? self::iso($timecompleted) : null,
                ],
                'competencies' => array_values(array_map(function($c) {
                    return ['id' => (int) $c['id'], 'idnumber' => (string) $c['idnumber'],
                        'shortname' => (string) $c['shortname']];
                }, $competencies)),
            ],
        ];
    }

    /**
     * JSON body as sent (UTF-8 unescaped, slashes unescaped: the signature covers these exact bytes).
     *
     * @param array $payload from course_completed()
     * @return string
     */
    public static function encode(array $payload): string {
        return json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
    }

    /**
     * A stable message id: the same completion keeps the same webhook-id over every retry.
     *
     * @param int $completionid course_completions.id
     * @param int $timecompleted Unix seconds
     * @return string
     */
    public static function message_id(int $completionid, int $timecompleted): string {
        return 'msg_moodle_completion_' . $completionid . '_' . $timecompleted;
    }

    /**
     * Unix seconds to ISO 8601 UTC with Z.
     *
     * @param int $time
     * @return string
     */
    public static function iso(int $time): string {
        return gmdate('Y-m-d\TH:i:s\Z', $time);
    }
}

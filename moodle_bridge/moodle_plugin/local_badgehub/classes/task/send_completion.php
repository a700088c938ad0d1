<?php
// This file is part of Badge Hub's Moodle bridge (GPL v3 or later).

namespace local_badgehub\task;

use local_badgehub\payload;
use local_badgehub\signer;

/**
 * Sends one course completion to Badge Hub as a signed webhook. Throwing makes Moodle retry the task
 * later with its growing backoff (up to a day between tries); the webhook-id stays the same, so the
 * hub recognises a redelivery.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class send_completion extends \core\task\adhoc_task {
    /**
     * Task name shown in the task logs.
     *
     * @return string
     */
    public function get_name() {
        return get_string('task_send_completion', 'local_badgehub');
    }

    /**
     * Build, sign and POST the payload.
     *
     * @throws \moodle_exception when the hub cannot be reached or does not answer 2xx (retried)
     */
    public function execute() {
        global $CFG, $DB;
        require_once($CFG->libdir . '/filelib.php');

        $data = $this->get_custom_data();
        $config = get_config('local_badgehub');
        if (empty($config->endpoint) || empty($config->secret)) {
            mtrace(get_string('notconfigured', 'local_badgehub'));
            return;
        }
        $course = $DB->get_record('course', ['id' => $data->courseid], 'id, shortname, idnumber, fullname', MUST_EXIST);
        $user = $DB->get_record('user', ['id' => $data->userid], '*', MUST_EXIST);

        $person = ['id' => (int) $user->id];
        if (!empty($config->includeidentity)) {
            $person += [
                'idnumber' => $user->idnumber,
                'email' => $user->email,
                'firstname' => $user->firstname,
                'lastname' => $user->lastname,
                'fullname' => fullname($user),
            ];
        }
        $competencies = !empty($config->sendcompetencies) ? self::achieved_competencies($course->id, $user->id) : [];

        $now = time();
        $body = payload::encode(payload::course_completed($CFG->wwwroot, (array) $course, $person,
            (int) $data->timecompleted, $competencies, $now));
        $headers = ['Content-Type: application/json'];
        foreach (signer::headers($config->secret, $data->webhookid, $now, $body) as $name => $value) {
            $headers[] = $name . ': ' . $value;
        }

        // Moodle's curl class applies the site's outgoing HTTP security (curlsecurityblockedhosts,
        // curlsecurityallowedport): a hub on a private address or an odd port must be allowed there.
        $curl = new \curl();
        $curl->setHeader($headers);
        $curl->post($config->endpoint, $body, ['CURLOPT_CONNECTTIMEOUT' => 10, 'CURLOPT_TIMEOUT' => 30]);
        $info = $curl->get_info();
        $code = (int) ($info['http_code'] ?? 0);
        if ($curl->get_errno() || $code < 200 || $code >= 300) {
            throw new \moodle_exception('sendfailed', 'local_badgehub', '',
                (object) ['code' => $code, 'error' => $curl->error]);
        }
        mtrace("Badge Hub accepted completion {$data->completionid} (HTTP {$code}).");
    }

    /**
     * Course competencies (in course order) the learner is rated proficient in, in this course.
     *
     * @param int $courseid
     * @param int $userid
     * @return array each ['id', 'idnumber', 'shortname']
     */
    public static function achieved_competencies(int $courseid, int $userid): array {
        if (!\core_competency\api::is_enabled()) {
            return [];
        }
        $out = [];
        foreach (\core_competency\course_competency::list_competencies($courseid) as $competency) {
            $rating = \core_competency\user_competency_course::get_record(
                ['courseid' => $courseid, 'userid' => $userid, 'competencyid' => $competency->get('id')]);
            if ($rating && $rating->get('proficiency')) {
                $out[] = ['id' => $competency->get('id'), 'idnumber' => $competency->get('idnumber'),
                    'shortname' => $competency->get('shortname')];
            }
        }
        return $out;
    }
}

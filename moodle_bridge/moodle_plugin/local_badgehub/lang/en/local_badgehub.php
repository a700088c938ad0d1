<?php
// This file is part of Badge Hub's Moodle bridge (GPL v3 or later).

/**
 * English strings.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$string['pluginname'] = 'Badge Hub bridge';
$string['endpoint'] = 'Badge Hub webhook URL';
$string['endpoint_desc'] = 'The hub\'s webhook address for this site, e.g. https://badges.example.org/hooks/moodle-push. Moodle\'s outgoing HTTP security (curlsecurityblockedhosts, curlsecurityallowedport) must allow it.';
$string['secret'] = 'Signing secret';
$string['secret_desc'] = 'The connector\'s Standard Webhooks secret from Badge Hub, starting with whsec_.';
$string['includeidentity'] = 'Send e-mail, names and ID number';
$string['includeidentity_desc'] = 'When off, only the Moodle user id is sent; the hub then recognises learners by their LTI launches from this site.';
$string['sendcompetencies'] = 'Send achieved competencies';
$string['sendcompetencies_desc'] = 'Add the course competencies the learner is rated proficient in (idnumbers) to each completion.';
$string['sendfailed'] = 'Badge Hub did not accept the webhook (HTTP {$a->code}) {$a->error}';
$string['notconfigured'] = 'Badge Hub bridge is not configured (URL or secret missing); completion not sent.';
$string['task_send_completion'] = 'Send a course completion to Badge Hub';
$string['privacy:metadata:badgehub'] = 'Course completions are sent to Badge Hub, which awards Open Badges for them.';
$string['privacy:metadata:badgehub:userid'] = 'The Moodle user id.';
$string['privacy:metadata:badgehub:idnumber'] = 'The user\'s ID number.';
$string['privacy:metadata:badgehub:email'] = 'The user\'s e-mail address.';
$string['privacy:metadata:badgehub:fullname'] = 'The user\'s first, last and full name.';
$string['privacy:metadata:badgehub:timecompleted'] = 'When the course was completed.';
$string['privacy:metadata:badgehub:competencies'] = 'The course competencies the user is proficient in.';

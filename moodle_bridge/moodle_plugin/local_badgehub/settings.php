<?php
// This file is part of Badge Hub's Moodle bridge (GPL v3 or later).

/**
 * Admin settings: Site administration > Plugins > Local plugins > Badge Hub bridge.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

if ($hassiteconfig) {
    $settings = new admin_settingpage('local_badgehub', get_string('pluginname', 'local_badgehub'));
    $ADMIN->add('localplugins', $settings);

    $settings->add(new admin_setting_configtext('local_badgehub/endpoint',
        get_string('endpoint', 'local_badgehub'), get_string('endpoint_desc', 'local_badgehub'), '', PARAM_URL));
    $settings->add(new admin_setting_configpasswordunmask('local_badgehub/secret',
        get_string('secret', 'local_badgehub'), get_string('secret_desc', 'local_badgehub'), ''));
    $settings->add(new admin_setting_configcheckbox('local_badgehub/includeidentity',
        get_string('includeidentity', 'local_badgehub'), get_string('includeidentity_desc', 'local_badgehub'), 1));
    $settings->add(new admin_setting_configcheckbox('local_badgehub/sendcompetencies',
        get_string('sendcompetencies', 'local_badgehub'), get_string('sendcompetencies_desc', 'local_badgehub'), 1));
}

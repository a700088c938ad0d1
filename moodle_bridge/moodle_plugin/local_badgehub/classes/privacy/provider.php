<?php
// This file is part of Badge Hub's Moodle bridge (GPL v3 or later).

namespace local_badgehub\privacy;

use core_privacy\local\metadata\collection;

/**
 * Privacy API: the plugin stores nothing itself but sends completions to an external system.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class provider implements \core_privacy\local\metadata\provider {
    /**
     * Describe the data sent to Badge Hub.
     *
     * @param collection $collection
     * @return collection
     */
    public static function get_metadata(collection $collection): collection {
        $collection->add_external_location_link('badgehub', [
            'userid' => 'privacy:metadata:badgehub:userid',
            'idnumber' => 'privacy:metadata:badgehub:idnumber',
            'email' => 'privacy:metadata:badgehub:email',
            'fullname' => 'privacy:metadata:badgehub:fullname',
            'timecompleted' => 'privacy:metadata:badgehub:timecompleted',
            'competencies' => 'privacy:metadata:badgehub:competencies',
        ], 'privacy:metadata:badgehub');
        return $collection;
    }
}

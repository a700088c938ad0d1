<?php
// This file is part of Badge Hub's Moodle bridge.
//
// This program is free software: you can redistribute it and/or modify it under the terms of the GNU
// General Public License as published by the Free Software Foundation, either version 3 of the License,
// or (at your option) any later version (as Moodle plugins must be).

/**
 * Version information.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$plugin->component = 'local_badgehub';
$plugin->version = 2026112900;
$plugin->requires = 2022112800; // Moodle 4.1: PHP 8 and the ad-hoc task API used here.
$plugin->supported = [401, 501];
$plugin->maturity = MATURITY_BETA;
$plugin->release = '0.1.0';

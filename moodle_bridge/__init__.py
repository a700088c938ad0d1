"""Moodle integration: Web Services client, completion sync, competency mapping, the Moodle plugin."""

from __future__ import annotations

import pytest

from hub.errors import ConfigurationError
from hub.settings import load_settings


def test_defaults_generate_secrets_into_instance_folder(tmp_path, caplog):
    s = load_settings({"HUB_INSTANCE_PATH": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'badgehub.db'}"
    assert s.base_url == "http://127.0.0.1:5000" and s.job_mode == "thread"
    assert (tmp_path / "key_encryption_key").stat().st_mode & 0o777 == 0o600
    assert "HUB_KEY_ENCRYPTION_KEY was not set" in caplog.text
    again = load_settings({"HUB_INSTANCE_PATH": str(tmp_path)})
    assert again.key_encryption_key == s.key_encryption_key and again.secret_key == s.secret_key
    assert s.lti_allow_private_hosts is False  # dynamic registration calls public addresses only


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("on", True), ("0", False), ("", False)])
def test_lti_allow_private_hosts(tmp_path, raw, value):
    env = {"HUB_INSTANCE_PATH": str(tmp_path), "HUB_LTI_ALLOW_PRIVATE_HOSTS": raw}
    assert load_settings(env).lti_allow_private_hosts is value


@pytest.mark.parametrize(
    "env, message",
    [
        ({"HUB_BASE_URL": "ftp://x"}, "HUB_BASE_URL"),
        ({"HUB_KEY_ENCRYPTION_KEY": "short"}, "Fernet"),
        ({"HUB_JOB_MODE": "later"}, "HUB_JOB_MODE"),
        ({"HUB_MAX_BODY_BYTES": "lots"}, "whole number"),
        ({"HUB_LOG_LEVEL": "LOUD"}, "log level"),
        ({"HUB_LTI_ALLOW_PRIVATE_HOSTS": "maybe"}, "HUB_LTI_ALLOW_PRIVATE_HOSTS"),
        ({"HUB_DB_CONNECT_TIMEOUT_SECONDS": "1"}, "at least 2"),
        ({"HUB_DB_STATEMENT_TIMEOUT_MS": "-5"}, "at least 0"),
    ],
)
def test_bad_values_fail_fast(tmp_path, env, message):
    with pytest.raises(ConfigurationError, match=message):
        load_settings({"HUB_INSTANCE_PATH": str(tmp_path), **env})


def test_database_timeouts(tmp_path):
    default = load_settings({"HUB_INSTANCE_PATH": str(tmp_path)})
    assert (default.db_connect_timeout_seconds, default.db_statement_timeout_ms) == (3, 30_000)
    env = {
        "HUB_INSTANCE_PATH": str(tmp_path),
        "HUB_DB_CONNECT_TIMEOUT_SECONDS": "7",
        "HUB_DB_STATEMENT_TIMEOUT_MS": "0",
    }
    chosen = load_settings(env)
    assert (chosen.db_connect_timeout_seconds, chosen.db_statement_timeout_ms) == (7, 0)


# ---- settings that take effect, or the app does not start --------------------------------------------


def test_session_lifetime_and_cookie_name_follow_their_settings(tmp_path):
    """Flask's own defaults (31 days, ``session``) are replaced, not kept by a ``setdefault``."""
    from datetime import timedelta

    from hub import create_app

    settings = load_settings({"HUB_INSTANCE_PATH": str(tmp_path)})
    assert (settings.session_hours, settings.session_cookie_name) == (12, "badgehub_session")
    app = create_app(settings.with_(job_mode="sync"))
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=12)
    assert app.config["SESSION_COOKIE_NAME"] == "badgehub_session"
    custom = load_settings(
        {"HUB_INSTANCE_PATH": str(tmp_path), "HUB_SESSION_HOURS": "2", "HUB_SESSION_COOKIE_NAME": "hub_s"}
    )
    app = create_app(custom.with_(job_mode="sync"))
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=2)
    assert app.config["SESSION_COOKIE_NAME"] == "hub_s"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_SESSION_HOURS": "0"}, "HUB_SESSION_HOURS must be at least 1"),
        ({"HUB_SESSION_HOURS": "12h"}, "HUB_SESSION_HOURS must be a whole number"),
        ({"HUB_SESSION_COOKIE_NAME": "my session"}, "HUB_SESSION_COOKIE_NAME must be a cookie name"),
        ({"HUB_SESSION_COOKIE_NAME": "a;b"}, "HUB_SESSION_COOKIE_NAME must be a cookie name"),
        ({"HUB_SESSION_COOKIE_NAME": "remember_token"}, "HUB_SESSION_COOKIE_NAME must be a cookie name"),
        ({"HUB_SESSION_COOKIE_NAME": "__Host-s"}, "HUB_SESSION_COOKIE_NAME must be a cookie name"),
    ],
)
def test_session_settings_that_cannot_take_effect_are_refused_at_start(tmp_path, env, message):
    with pytest.raises(ConfigurationError, match=message):
        load_settings({"HUB_INSTANCE_PATH": str(tmp_path), **env})


def test_a_setting_an_extension_overrode_stops_the_start(tmp_path):
    from hub import check_settings_applied, create_app

    settings = load_settings({"HUB_INSTANCE_PATH": str(tmp_path), "HUB_JOB_MODE": "sync"})
    app = create_app(settings)
    app.config["SESSION_COOKIE_NAME"] = "session"  # as a library's init_app might
    with pytest.raises(ConfigurationError, match="HUB_SESSION_COOKIE_NAME does not take effect"):
        check_settings_applied(app, settings)

"""Messages translated where they are shown (hub.i18n): lazy texts, English for logs, storage, JSON safety.

A small Flask app with the hub's real catalogues; no database is involved.
"""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
from flask import Flask, jsonify
from flask_babel import force_locale
from flask_babel.speaklater import LazyString

from hub import i18n
from hub.errors import ImageError, NotFound, ValidationError
from hub.frameworks.importers import ImportRefused, RowError
from hub.i18n import N_, dump_text, english, joined, load_text, number, plain
from hub.i18n import lazy as _l


@pytest.fixture
def app(tmp_path):
    app = Flask(__name__)
    app.extensions["hub"] = SimpleNamespace(settings=SimpleNamespace(default_locale="pl"))
    i18n.init_app(app, tmp_path)
    return app


def _no_lazy_left(value) -> bool:
    if isinstance(value, LazyString):
        return False
    if isinstance(value, dict):
        return all(_no_lazy_left(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_no_lazy_left(v) for v in value)
    return True


def test_lazy_text_renders_in_the_current_language_and_english_elsewhere(app):
    text = _l("the image must be a PNG or an SVG file")
    assert str(text) == "the image must be a PNG or an SVG file"  # outside a request: untranslated
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert str(text) == "obraz musi być plikiem PNG lub SVG"
        assert text.english == english(text) == "the image must be a PNG or an SVG file"
        assert f"Nie udało się: {text}" == "Nie udało się: obraz musi być plikiem PNG lub SVG"
    with app.test_request_context("/?lang=en", headers={"Accept-Language": "pl"}):
        assert str(text) == "the image must be a PNG or an SVG file"


def test_variables_numbers_and_lists_follow_the_language(app):
    size = _l(
        "the image is %(size)s bytes; the limit is %(limit)s bytes", size=number(3_000_000), limit=number(2_097_152)
    )
    fields = _l("unknown issuer fields: %(fields)s", fields=joined(["colour", "motto"]))
    nested = _l("%(field)s is required", field=_l("name"))
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert str(size) == "obraz ma 3\xa0000\xa0000 B; limit wynosi 2\xa0097\xa0152 B"
        assert str(fields) == "nieznane pola wystawcy: colour, motto"
        assert str(nested) == "pole „nazwa” jest wymagane"
        assert size.english == "the image is 3,000,000 bytes; the limit is 2,097,152 bytes"
        assert nested.english == "name is required"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(size) == "the image is 3,000,000 bytes; the limit is 2,097,152 bytes"


def test_stored_messages_come_back_in_the_readers_language(app):
    message = _l("no badge '%(badge)s' at this issuer", badge="Pływak")
    stored = json.loads(json.dumps(dump_text(message)))  # what a JSON column keeps
    assert stored == {"msgid": "no badge '%(badge)s' at this issuer", "vars": {"badge": "Pływak"}}
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert str(load_text(stored)) == "ten wystawca nie ma odznaki „Pływak”"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(load_text(stored)) == "no badge 'Pływak' at this issuer"
    assert load_text("an old plain reason") == "an old plain reason"  # rows written before stay readable
    counted = json.loads(json.dumps(dump_text(_l("limit must be between 1 and %(max)s", max=number(5000)))))
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(load_text(counted)) == "limit must be between 1 and 5,000"


def test_errors_keep_english_for_logs_and_title_fallback(app, caplog):
    exc = ImageError(_l("the image is empty"))
    bare = NotFound()
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert str(exc.detail) == "obraz jest pusty"
        assert str(exc) == "the image is empty"  # logs and tracebacks: English
        assert str(bare.detail) == "Nie znaleziono"  # no detail: the translated title
        assert str(bare) == "Not found"
        with caplog.at_level(logging.WARNING):
            logging.getLogger("test").warning("refused: %s", exc)
    assert caplog.records[-1].getMessage() == "refused: the image is empty"
    assert exc.title == "Invalid image" and N_("Invalid image") == "Invalid image"  # a msgid, translated when shown


def test_import_errors_keep_where_and_translate_the_message(app):
    refused = ImportRefused(
        _l(
            "%(what)s: invalid rows: %(n)s; nothing was imported",
            what=_l("framework %(framework)s", framework="x"),
            n=1,
        ),
        [RowError("line 3", _l("preferredLabel is empty"))],
    )
    assert str(refused) == "framework x: invalid rows: 1; nothing was imported\nline 3: preferredLabel is empty"
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        extra = plain(refused.extra)
        assert extra == {"errors": [{"where": "line 3", "message": "preferredLabel jest puste"}]}
        assert str(refused.detail) == "rama x: błędnych wierszy: 1; niczego nie zaimportowano"


def test_jsonify_never_meets_a_lazy_string(app):
    exc = ValidationError(
        _l("%(field)s is required", field=_l("name")), field="name", errors=[{"m": _l("code is empty")}]
    )
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        body = plain({"detail": exc.detail, **exc.extra})
        assert _no_lazy_left(body)
        assert body == {"detail": "pole „nazwa” jest wymagane", "field": "name", "errors": [{"m": "kod jest pusty"}]}
        assert json.loads(jsonify(body).get_data()) == body
        # Should a lazy text slip through anyway, the app's JSON provider writes it as plain text.
        assert json.loads(jsonify(detail=exc.detail).get_data()) == {"detail": "pole „nazwa” jest wymagane"}
        with force_locale("en"):
            assert str(exc.detail) == "name is required"


def test_user_input_in_a_message_is_escaped_in_html_and_plain_in_json(app):
    from flask import render_template_string

    message = _l("no badge '%(badge)s' at this issuer", badge="<script>alert(1)</script>")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        html = render_template_string("<p>{{ m }}</p>", m=message)
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        body = json.loads(jsonify(detail=message).get_data())
        assert body == {"detail": "no badge '<script>alert(1)</script>' at this issuer"}


def test_an_app_without_flask_babel_gets_english():
    bare = Flask("bare")  # e.g. a test app serving the hub's blueprints only
    with bare.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert str(_l("%(field)s is required", field=_l("name"))) == "name is required"
        assert str(number(5000)) == "5,000"

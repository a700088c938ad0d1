"""Polish and English through Flask-Babel (https://python-babel.github.io/flask-babel/).

Language order: an explicit choice for this request (``g.hub_locale``: an LTI launch's ``locale`` claim,
a console user's choice or setting; or ``?lang=pl|en``), else the API caller's setting (the token's
user's ``locale``), else ``Accept-Language``, else ``HUB_DEFAULT_LOCALE``. Error messages follow the same
order (see "messages translated where they are shown" below).
Catalogues live as ``.po`` files in ``hub/translations``; they are compiled to ``.mo`` into the
instance folder at start-up when a ``.po`` is newer, by each process into its own temporary file renamed into
place (so workers starting together never see half a catalogue; no binaries in the repository, and an editable
install works without a build step).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request
from flask_babel import Babel
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape

log = logging.getLogger(__name__)
LOCALES = ("pl", "en")
SOURCE = Path(__file__).parent / "translations"
DOMAIN = "messages"


def select_locale() -> str:
    """The request's language code (``pl`` or ``en``)."""
    caller = g.get("hub_principal")  # set by the API's authentication (hub.accounts.access.Principal)
    for chosen in (
        g.get("hub_locale"),
        request.args.get("lang") if request else None,
        getattr(caller, "locale", None),
    ):
        if chosen:
            chosen = chosen.replace("_", "-").split("-")[0].lower()
            if chosen in LOCALES:
                return chosen
    from hub.context import current_context

    default = current_context().settings.default_locale
    if not request:
        return default
    return request.accept_languages.best_match(LOCALES, default=default)


def set_locale(code: str | None) -> None:
    """Choose the language for the rest of this request (e.g. from an LTI ``locale`` claim ``pl-PL``)."""
    g.hub_locale = code


def compile_catalogues(target: Path) -> Path:
    """Compile every ``hub/translations/<lang>/LC_MESSAGES/messages.po`` into ``target`` if stale.

    Returns ``target`` (a Babel translation directory: ``<target>/<lang>/LC_MESSAGES/messages.mo``).
    Safe to call from many processes at once on the same ``target`` (each compiles into a private
    temporary file and renames it into place). Raises ``OSError`` if ``target`` cannot be written.
    """
    for po in SOURCE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo = target / po.relative_to(SOURCE).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parts[-3])
        # Several processes (gunicorn workers, the worker, a CLI command) may compile at the same moment:
        # each writes its own temporary file next to the target and renames it into place (atomic on
        # POSIX and Windows), so a reader sees the old catalogue or the new one, never half of one.
        fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=f".{mo.stem}-", suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                write_mo(fh, catalog)
                os.fchmod(fh.fileno(), 0o644)  # mkstemp makes 0600; the catalogue is not a secret
            os.replace(tmp, mo)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("compiled %s", mo)
    return target


def init_app(app: Flask, instance_path: Path) -> Babel:
    """Configure Flask-Babel on ``app`` with catalogues compiled into ``instance_path/translations``."""
    directory = compile_catalogues(instance_path / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    babel = Babel(app, locale_selector=select_locale)
    flask_default = app.json.default

    def json_default(value):
        # A lazy text in a JSON body is plain text in the current language. (Flask's own fallback uses
        # ``__html__``, which for the hub's lazy texts is HTML-escaped.)
        return str(value) if isinstance(value, LazyString) else flask_default(value)

    app.json.default = json_default

    @app.context_processor
    def _lang():
        from flask_babel import get_locale

        return {"lang": str(get_locale() or "en")}

    return babel


_loaded: dict[tuple[str, str], object] = {}


def translations(instance_path: Path, locale: str):
    """The ``babel.support.Translations`` for ``locale`` outside a request (e-mails sent by jobs, PDF
    certificates), from the same catalogues as the pages; cached per process.

    Unknown locales get the untranslated (English) strings.
    """
    from babel.support import NullTranslations, Translations

    key = (str(instance_path), locale)
    found = _loaded.get(key)
    if found is None:
        directory = compile_catalogues(Path(instance_path) / "translations")
        found = (
            Translations.load(str(directory), [locale], domain=DOMAIN)
            if locale in LOCALES and locale != "en"
            else NullTranslations()
        )
        _loaded[key] = found
    return found


# ---- messages translated where they are shown ----------------------------------------------------------
#
# Services raise errors whose messages people read in the console, on error pages and in problem JSON,
# while the same messages go to the log and into stored records (event reasons, bulk-job errors) in
# English. A service writes ``_l("the image is %(size)s bytes", size=number(n))`` (``from hub.i18n import
# lazy as _l``, so Babel extracts the message id); the text is rendered when it is shown: ``str()`` in the
# current request's language (``HUB_DEFAULT_LOCALE`` in an app context without a request, English with no
# app or an app without Flask-Babel), :func:`english` in English
# whatever the request, :func:`dump_text` as JSON for storage (:func:`load_text` renders it again later, in
# the reader's language). Placeholders are always ``%(name)s``; numbers pass through :func:`number`.


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it: Babel extracts it, and the code that
    shows it translates it then (e.g. problem titles, translated by :mod:`hub.web.errors`)."""
    return message


class Lazy(LazyString):
    """Base of the hub's lazy texts (a Flask-Babel ``LazyString``, so Jinja, ``jsonify`` and ``%``
    formatting render it in the current language)."""

    def __init__(self):
        super().__init__(str, "")  # LazyString's own slots; __str__ is overridden

    def __str__(self) -> str:  # pragma: no cover - every subclass renders
        raise NotImplementedError

    def __html__(self) -> Markup:
        """Escaped for HTML: variables may hold user input (a CSV cell, a payload field). Flask-Babel's
        ``LazyString`` would hand its text to Jinja as markup, unescaped."""
        return escape(str(self))

    @property
    def english(self) -> str:
        """The text in English, whatever the current language."""
        raise NotImplementedError  # pragma: no cover

    def to_json(self):
        """A JSON-safe form, turned back into a lazy text by :func:`load_text`."""
        raise NotImplementedError  # pragma: no cover


class LazyText(Lazy):
    """A gettext message id with ``%(name)s`` variables (text, numbers or other lazy texts)."""

    def __init__(self, msgid: str, **variables):
        self.msgid, self.variables = msgid, variables
        super().__init__()

    def __str__(self) -> str:
        from flask_babel import get_translations

        if not _babel_ready():
            return self.english
        text = get_translations().ugettext(self.msgid)
        if not self.variables:
            return text
        try:
            return text % self.variables
        except (KeyError, ValueError, TypeError):  # a catalogue entry with broken placeholders
            log.error("translation of %r does not match its placeholders", self.msgid)
            return self.english

    @property
    def english(self) -> str:
        if not self.variables:
            return self.msgid
        return self.msgid % {k: _english_value(v) for k, v in self.variables.items()}

    def to_json(self) -> dict:
        return {"msgid": self.msgid, "vars": {k: dump_text(v) for k, v in self.variables.items()}}


class LazyNumber(Lazy):
    """A number written the current language's way (``2 097 152`` in Polish, ``2,097,152`` in English)."""

    def __init__(self, value: int | float):
        self.value = value
        super().__init__()

    def __str__(self) -> str:
        from flask_babel import get_locale

        return _format_number(self.value, str(get_locale() or "en") if _babel_ready() else "en")

    @property
    def english(self) -> str:
        return _format_number(self.value, "en")

    def to_json(self) -> dict:
        return {"number": self.value}


class LazyJoin(Lazy):
    """Texts joined by ``sep`` (each one rendered in the current language)."""

    def __init__(self, values, sep: str = ", "):
        self.values, self.sep = list(values), sep
        super().__init__()

    def __str__(self) -> str:
        return self.sep.join(map(str, self.values))

    @property
    def english(self) -> str:
        return self.sep.join(english(v) for v in self.values)

    def to_json(self) -> dict:
        return {"join": [dump_text(v) for v in self.values], "sep": self.sep}


def _babel_ready() -> bool:
    """Whether Flask-Babel can answer here (an app that set it up); elsewhere texts are English."""
    from flask import current_app, has_app_context

    return not has_app_context() or "babel" in current_app.extensions


def _format_number(value, locale: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=locale)


def lazy(msgid: str, **variables) -> LazyText:
    """A message translated when shown (import it as ``_l`` so Babel extracts ``msgid``)."""
    return LazyText(msgid, **variables)


def number(value: int | float) -> LazyNumber:
    """``value`` formatted for the language it is shown in (for message variables)."""
    return LazyNumber(value)


def joined(values, sep: str = ", ") -> LazyJoin:
    """``values`` (lazy texts or strings) joined by ``sep`` when shown."""
    return LazyJoin(values, sep)


def _english_value(value):
    if isinstance(value, Lazy):
        return value.english
    if isinstance(value, LazyString):  # Flask-Babel's own lazy_gettext
        from flask_babel import force_locale

        with force_locale("en"):
            return str(value)
    return value


def english(value) -> str:
    """``value`` as English text, whatever the current request's language: for log lines and stored
    records that operators grep. Plain strings come back unchanged."""
    return str(_english_value(value))


def dump_text(value):
    """A JSON-safe form of ``value`` for storage: lazy texts as ``{"msgid", "vars"}`` (rendered again by
    :func:`load_text` in the reader's language), other lazy strings in English, anything else as is."""
    if isinstance(value, Lazy):
        return value.to_json()
    if isinstance(value, LazyString):
        return english(value)
    return value


def load_text(value):
    """The inverse of :func:`dump_text`: a lazy text for a stored message, plain values unchanged
    (records stored before messages were translatable hold plain English strings)."""
    if isinstance(value, dict):
        if "msgid" in value:
            return LazyText(str(value["msgid"]), **{k: load_text(v) for k, v in (value.get("vars") or {}).items()})
        if "number" in value:
            return LazyNumber(value["number"])
        if "join" in value:
            return LazyJoin([load_text(v) for v in value["join"]], value.get("sep", ", "))
    return value


def plain(value):
    """``value`` with every lazy string rendered (in the current language), through dicts, lists and
    tuples: what may go to ``jsonify`` or a JSON column."""
    if isinstance(value, LazyString):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value

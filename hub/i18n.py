"""Polish and English through Flask-Babel (https://python-babel.github.io/flask-babel/).

Language order: an explicit choice for this request (``g.hub_locale``: an LTI launch's ``locale`` claim,
a signed-in user's setting; or ``?lang=pl|en``), else ``Accept-Language``, else ``HUB_DEFAULT_LOCALE``.
Catalogues live as ``.po`` files in ``hub/translations``; they are compiled to ``.mo`` into the
instance folder at start-up when a ``.po`` is newer (no binaries in the repository, and an editable
install works without a build step).
"""

from __future__ import annotations

import logging
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request
from flask_babel import Babel

log = logging.getLogger(__name__)
LOCALES = ("pl", "en")
SOURCE = Path(__file__).parent / "translations"
DOMAIN = "messages"


def select_locale() -> str:
    """The request's language code (``pl`` or ``en``)."""
    chosen = g.get("hub_locale") or (request.args.get("lang") if request else None)
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

    Returns ``target`` (a Babel translation directory).
    """
    for po in SOURCE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo = target / po.relative_to(SOURCE).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parts[-3])
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog)
        tmp.replace(mo)  # atomic: several workers may start at once
        log.info("compiled %s", mo)
    return target


def init_app(app: Flask, instance_path: Path) -> Babel:
    """Configure Flask-Babel on ``app`` with catalogues compiled into ``instance_path/translations``."""
    directory = compile_catalogues(instance_path / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    babel = Babel(app, locale_selector=select_locale)

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

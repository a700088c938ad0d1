"""Every translatable string has a Polish translation; pages follow the chosen language."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.conftest import completion, post_event

REPO = Path(__file__).resolve().parents[2]
PO = REPO / "hub" / "translations" / "pl" / "LC_MESSAGES" / "messages.po"


def extracted_ids() -> set[str]:
    with (REPO / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    ids = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(REPO),
        method_map,
        options_map,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "N_": None},
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def test_every_string_has_a_polish_translation():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="pl")
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string) and not m.fuzzy
    }
    missing = sorted(extracted_ids() - translated)
    assert not missing, f"no Polish translation for: {missing} (add them to {PO.relative_to(REPO)})"


def test_translations_keep_the_placeholders():
    """A Polish text with other ``%(name)s`` placeholders than its English id would fail when shown."""
    import re

    placeholder = re.compile(r"%\((\w+)\)[sd]")
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="pl")
    wrong = []
    for m in catalog:
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        texts = m.string if isinstance(m.string, tuple) else (m.string,)
        if not m.id or not all(texts):
            continue
        expected = set(placeholder.findall(ids[-1]))
        wrong += [ids[0] for t in texts if set(placeholder.findall(t)) != expected]
    assert not wrong, f"placeholders differ from the English text: {wrong}"


def test_page_language_follows_accept_language_and_choice(client, ctx, factory):
    factory.setup()
    post_event(client, completion())
    from hub.badges.models import Assertion

    with ctx.db.session_scope() as s:
        aid = s.query(Assertion).one().public_id
    html = {"Accept": "text/html"}
    pl = client.get(f"/assertions/{aid}", headers={**html, "Accept-Language": "pl-PL,pl;q=0.9"}).get_data(as_text=True)
    en = client.get(f"/assertions/{aid}", headers={**html, "Accept-Language": "en-GB"}).get_data(as_text=True)
    assert 'lang="pl"' in pl and "Ważna" in pl and "zweryfikowany odbiorca" in pl
    assert 'lang="en"' in en and "Valid" in en
    assert ">29 listopada 2025</time>" in pl and ">November 29, 2025</time>" in en  # dates written the language's way
    chosen = client.get(f"/assertions/{aid}?lang=en", headers={**html, "Accept-Language": "pl"}).get_data(as_text=True)
    assert "Verify it yourself" in chosen
    default = client.get(f"/assertions/{aid}", headers=html).get_data(as_text=True)
    assert "Ważna" in default  # HUB_DEFAULT_LOCALE is pl

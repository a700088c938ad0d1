"""Text people typed, kept from reordering the text around it: Unicode bidirectional isolation (UAX #9,
https://unicode.org/reports/tr9/#Explicit_Directional_Isolates).

A name such as ``Ola\u202egnp.exe`` carries U+202E RIGHT-TO-LEFT OVERRIDE; written into a sentence as it
is, the override runs on past the name and reverses what follows it. Between U+2068 FIRST STRONG ISOLATE
and U+2069 POP DIRECTIONAL ISOLATE its effect ends with the name. HTML pages use ``<bdi>`` (the template
global ``bdi`` in :mod:`hub.web.public`); plain text (e-mail subjects and bodies, ``<title>``, the PDF
certificate, whose renderer applies UAX #9 with isolates) uses :func:`isolate`; the console's audit log
shows the controls themselves (:func:`visible_controls`).
"""

from __future__ import annotations

import json
import re
import unicodedata

FSI, PDI = "\u2068", "\u2069"

#: The explicit bidi formatting characters: embeddings and overrides (U+202A-U+202E), isolates
#: (U+2066-U+2069), the implicit marks (LRM, RLM, ALM).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


#: Bidi classes that can move the text after them: right-to-left letters, Arabic digits, and the
#: explicit embeddings, overrides and isolates.
_MOVING = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def isolate(text: str | None) -> str:
    """``text`` between FSI and PDI (``""`` for None or empty), so nothing in it reorders the text around
    it."""
    if not text:
        return ""
    return f"{FSI}{text}{PDI}"


def isolate_if_needed(text: str | None) -> str | None:
    """:func:`isolate` for text that has a right-to-left letter or a bidi control in it; any other text
    (and None) is returned unchanged, so left-to-right names stay byte for byte what was typed (e-mail
    subjects, the PDF certificate)."""
    if not text or (text.isascii() and BIDI_CONTROLS.search(text) is None):
        return text
    if BIDI_CONTROLS.search(text) or any(unicodedata.bidirectional(c) in _MOVING for c in text):
        return isolate(text)
    return text


def visible_controls(text: str) -> str:
    """``text`` with each bidi formatting character written as its ``\\uXXXX`` escape (for a reader who
    must see exactly what was stored, e.g. the audit log)."""
    return BIDI_CONTROLS.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def visible_json(value) -> str:
    """``value`` as JSON text (non-ASCII kept) with its bidi formatting characters escaped
    (:func:`visible_controls`)."""
    return visible_controls(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))

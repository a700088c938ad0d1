"""Fonts for certificates: names and texts in every script, each glyph from a font that has it.

The families, all SIL Open Font License 1.1 and installed by the project's own dependencies:

- ``DejaVuSans`` (``hub/data/fonts``): Latin, Greek, Cyrillic, Vietnamese, and Arabic and Hebrew letters;
  the first family of every certificate, so Polish text looks as it always has.
- ``NotoSans``, ``NotoSansArabic``, ``NotoSansHebrew``, ``NotoSansDevanagari``, ``NotoSansThai`` and the
  other Noto Sans families of the PyPI package ``manimgx-fonts`` (Noto's TrueType files as Noto publishes
  them, variable fonts whose default instance is Regular);
- ``NotoSansCJK``: Chinese, Japanese and Korean from ``manimgx-fonts-cjk`` (Noto Sans CJK SC, a CFF2
  OpenType collection, which ReportLab cannot read: for each document the hub converts just the
  characters it needs to TrueType outlines with fontTools, see :func:`cjk_family`).

How a glyph is chosen: :func:`families_for` lists, for one document's text, DejaVu Sans first and then
each family that draws a character DejaVu lacks (Unicode script by script, :data:`SCRIPT_FAMILIES`);
the list becomes the CSS ``font-family`` and xhtml2pdf splits every text run by coverage, taking each
character from the first family of the list that has it (``Context._byCoverage``). A plain Polish
certificate lists DejaVu Sans alone and costs nothing more. Right-to-left text is reordered by
xhtml2pdf's Unicode Bidirectional Algorithm and Arabic letters are joined by ``arabic-reshaper``; with
``uharfbuzz`` installed ReportLab also shapes the Noto fonts (Devanagari conjuncts, Thai marks).

Bold: DejaVu Sans has a bold face; a Noto family's bold is its Regular (the variable fonts are not
instanced), so a bold name in another script is drawn regular rather than not at all.

Templates may name any family of :func:`bundled_families` in their CSS (the default list is the
template variable ``font``). :func:`undrawable` names the characters no bundled font can draw, which the
hub reports on the award instead of printing boxes silently.

Cost: every family is registered with ReportLab once per process, when a document first needs it
(a few milliseconds each; Noto Sans CJK's character map, ~0.2 s, the first time a CJK text comes); a
CJK document's converted font is kept per character set (:data:`CJK_FONTS_KEPT` of them).
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import unicodedata
from collections import OrderedDict
from functools import cache
from importlib import resources
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from xhtml2pdf import default as xhtml2pdf_default

log = logging.getLogger(__name__)

HUB_DIR = Path(__file__).resolve().parent.parent
FONT_DIR = HUB_DIR / "data" / "fonts"
BASE_FAMILY = "DejaVuSans"
CJK_FAMILY = "NotoSansCJK"
#: The face of ``NotoSansCJK-VF.otf.ttc`` used for Han characters (Simplified Chinese forms).
CJK_FACE = "Noto Sans CJK SC"
CJK_FONTS_KEPT = 256

#: Noto families of ``manimgx-fonts`` by file, in the order they are tried after DejaVu Sans.
NOTO_FILES = {
    "NotoSans": "NotoSans[wght].ttf",
    "NotoSansArabic": "NotoSansArabic[wght].ttf",
    "NotoSansHebrew": "NotoSansHebrew[wght].ttf",
    "NotoSansDevanagari": "NotoSansDevanagari[wght].ttf",
    "NotoSansThai": "NotoSansThai[wght].ttf",
    "NotoSansBengali": "NotoSansBengali[wght].ttf",
    "NotoSansGujarati": "NotoSansGujarati[wght].ttf",
    "NotoSansGurmukhi": "NotoSansGurmukhi[wght].ttf",
    "NotoSansTamil": "NotoSansTamil[wght].ttf",
    "NotoSansTelugu": "NotoSansTelugu[wght].ttf",
    "NotoSansKannada": "NotoSansKannada[wght].ttf",
    "NotoSansMalayalam": "NotoSansMalayalam[wght].ttf",
    "NotoSansOriya": "NotoSansOriya[wght].ttf",
    "NotoSansSinhala": "NotoSansSinhala[wght].ttf",
    "NotoSansArmenian": "NotoSansArmenian[wght].ttf",
    "NotoSansGeorgian": "NotoSansGeorgian[wght].ttf",
    "NotoSansEthiopic": "NotoSansEthiopic[wght].ttf",
    "NotoSansKhmer": "NotoSansKhmer[wght].ttf",
    "NotoSansLao": "NotoSansLao[wght].ttf",
    "NotoSansMyanmar": "NotoSansMyanmar[wght].ttf",
    "NotoSansSymbols": "NotoSansSymbols[wght].ttf",
}

_lock = threading.RLock()
_cjk_fonts: OrderedDict[frozenset[str], str] = OrderedDict()


def _alias(family: str, regular: str, bold: str | None = None) -> None:
    for b in (0, 1):
        for i in (0, 1):
            addMapping(family, b, i, (bold or regular) if b else regular)
    # xhtml2pdf resolves CSS font-family names through this table (lower-case keys).
    xhtml2pdf_default.DEFAULT_FONT[family.lower()] = family


@cache
def register_base() -> str:
    """Register DejaVu Sans (regular, bold) with ReportLab and xhtml2pdf once; returns its family name.

    Also turns off ReportLab's ASCII85 stream encoding for the process (binary Flate streams are a
    quarter smaller and skip an encoding pass); the hub has no other ReportLab output.
    """
    with _lock:
        rl_config.useA85 = 0
        pdfmetrics.registerFont(TTFont(BASE_FAMILY, str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(f"{BASE_FAMILY}-Bold", str(FONT_DIR / "DejaVuSans-Bold.ttf")))
        _alias(BASE_FAMILY, BASE_FAMILY, f"{BASE_FAMILY}-Bold")
    return BASE_FAMILY


def _noto_dir() -> Path | None:
    try:
        return Path(str(resources.files("manimgx_fonts")))
    except ModuleNotFoundError:  # pragma: no cover - a dependency; reported by undrawable()
        return None


def _cjk_file() -> Path | None:
    try:
        return Path(str(resources.files("manimgx_fonts_cjk"))) / "NotoSansCJK-VF.otf.ttc"
    except ModuleNotFoundError:  # pragma: no cover
        return None


@cache
def _noto(family: str) -> TTFont | None:
    """The registered ReportLab font of a Noto family (registered on first use), None when missing."""
    folder = _noto_dir()
    path = folder / NOTO_FILES[family] if folder else None
    if path is None or not path.exists():
        log.warning("font %s is not installed (package manimgx-fonts)", family)
        return None
    with _lock:
        font = TTFont(family, str(path))
        pdfmetrics.registerFont(font)
        _alias(family, family)
    return font


@cache
def _base_chars() -> frozenset[int]:
    register_base()
    return frozenset(pdfmetrics.getFont(BASE_FAMILY).face.charToGlyph)


@cache
def _noto_chars(family: str) -> frozenset[int]:
    folder = _noto_dir()
    path = folder / NOTO_FILES[family] if folder else None
    if path is None or not path.exists():
        return frozenset()
    from fontTools.ttLib import TTFont as FTFont

    with FTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap())


@cache
def _cjk_source():
    """(fontTools face of Noto Sans CJK SC, its cmap) read lazily once per process; None when missing."""
    path = _cjk_file()
    if path is None or not path.exists():
        log.warning("font %s is not installed (package manimgx-fonts-cjk)", CJK_FAMILY)
        return None
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    face = next(f for f in collection.fonts if f["name"].getDebugName(4) == CJK_FACE)
    return face, face.getBestCmap()


def _is_cjk(code: int) -> bool:
    return (
        0x1100 <= code <= 0x11FF  # Hangul Jamo
        or 0x2E80 <= code <= 0x2FDF  # CJK radicals, Kangxi
        or 0x3000 <= code <= 0x9FFF  # CJK punctuation, kana, Bopomofo, Hangul compatibility, Han
        or 0xA960 <= code <= 0xA97F
        or 0xAC00 <= code <= 0xD7FF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFE30 <= code <= 0xFE4F
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x20000 <= code <= 0x3FFFF  # Han extensions
    )


def _plan(text: str) -> tuple[list[str], set[str], set[str]]:
    """(Noto families needed, CJK characters, characters nothing bundled draws) for ``text``."""
    base = _base_chars()
    families: list[str] = []
    cjk: set[str] = set()
    missing: set[str] = set()
    for char in set(text):
        code = ord(char)
        if code in base or char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
            continue
        if _is_cjk(code):
            source = _cjk_source()
            if source is not None and code in source[1]:
                cjk.add(char)
                continue
        for family in NOTO_FILES:
            if code in _noto_chars(family):
                if family not in families:
                    families.append(family)
                break
        else:
            missing.add(char)
    if "NotoSansArabic" not in families and any("\u0600" <= c <= "\u06ff" for c in text):
        # xhtml2pdf joins Arabic letters into presentation forms (DejaVu Sans has most of them) and
        # may write ligatures DejaVu lacks, such as U+FDF2 (Allah): Noto Sans Arabic draws those.
        families.append("NotoSansArabic")
    families.sort(key=list(NOTO_FILES).index)
    return families, cjk, missing


def undrawable(text: str) -> list[str]:
    """The characters of ``text`` that no bundled font can draw (sorted, each once); [] when all can.

    Spaces, control and format characters (bidi isolates, joiners) are never counted.
    """
    return sorted(_plan(text)[2])


def families_for(text: str) -> str:
    """The CSS ``font-family`` list for a document whose text is ``text``: DejaVu Sans, then the Noto
    families its other characters need (registered on first use), then a CJK font made for its CJK
    characters. Characters nothing draws are left to xhtml2pdf (which logs them); see :func:`undrawable`."""
    register_base()
    families, cjk, _missing = _plan(text)
    names = [BASE_FAMILY]
    names += [f for f in families if _noto(f) is not None]
    if cjk:
        names.append(cjk_family(frozenset(cjk)))
    return ", ".join(names)


def bundled_families() -> list[str]:
    """Family names an issuer's template may use in its CSS (registered when this is called)."""
    register_base()
    return [BASE_FAMILY, *(f for f in NOTO_FILES if _noto(f) is not None)]


def _convert_cjk(chars: frozenset[str], weight: int, ps_name: str) -> bytes:
    """A TrueType (``glyf``) font with just ``chars`` from Noto Sans CJK SC at ``weight`` (CSS weight:
    400 Regular, 700 Bold; the variable font's default is its lightest), outlines converted from CFF2
    cubic to quadratic curves (fontTools ``cu2qu``, max error 1 font unit). ``ps_name`` is its
    PostScript name, which ReportLab keeps faces by: one per converted font."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    face, cmap = _cjk_source()
    glyphs = face.getGlyphSet(location={"wght": weight})
    hmtx = face["hmtx"]
    order = [".notdef"]
    char_map = {}
    for char in sorted(chars):
        name = cmap[ord(char)]
        char_map[ord(char)] = name
        if name not in order:
            order.append(name)
    outlines, metrics = {}, {}
    for name in order:
        pen = TTGlyphPen(None)
        glyphs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        outlines[name] = pen.glyph()
        width, _lsb = hmtx[name]
        metrics[name] = (width, getattr(outlines[name], "xMin", 0))
    head = face["head"]
    hhea = face["hhea"]
    os2 = face["OS/2"]
    fb = FontBuilder(head.unitsPerEm, isTTF=True)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap(char_map)
    fb.setupGlyf(outlines)
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent)
    fb.setupNameTable(
        {"familyName": "Noto Sans CJK SC", "styleName": "Bold" if weight >= 700 else "Regular", "psName": ps_name}
    )
    fb.setupOS2(
        sTypoAscender=os2.sTypoAscender,
        sTypoDescender=os2.sTypoDescender,
        usWinAscent=os2.usWinAscent,
        usWinDescent=os2.usWinDescent,
        fsType=0,
    )
    fb.setupPost()
    out = io.BytesIO()
    fb.save(out)
    return out.getvalue()


def cjk_family(chars: frozenset[str]) -> str:
    """The registered family name of a font drawing ``chars`` in Noto Sans CJK SC (made once per
    character set, the last :data:`CJK_FONTS_KEPT` kept), e.g. ``NotoSansCJK-1a2b3c4d5e``."""
    with _lock:
        found = _cjk_fonts.get(chars)
        if found is not None:
            _cjk_fonts.move_to_end(chars)
            return found
        name = f"{CJK_FAMILY}-{hashlib.sha256(''.join(sorted(chars)).encode()).hexdigest()[:10]}"
        for font_name, weight in ((name, 400), (f"{name}-Bold", 700)):
            pdfmetrics.registerFont(TTFont(font_name, io.BytesIO(_convert_cjk(chars, weight, font_name))))
        _alias(name, name, f"{name}-Bold")
        _cjk_fonts[chars] = name
        while len(_cjk_fonts) > CJK_FONTS_KEPT:
            _old, old_name = _cjk_fonts.popitem(last=False)
            for font_name in (old_name, f"{old_name}-Bold"):  # ReportLab has no unregister
                pdfmetrics._fonts.pop(font_name, None)  # noqa: SLF001
                pdfmetrics._dynFaceNames.pop(font_name, None)  # noqa: SLF001
            xhtml2pdf_default.DEFAULT_FONT.pop(old_name.lower(), None)
        return name

"""Reading what a baked badge carries, with a reason for every way it can fail.

PNG (https://www.imsglobal.org/spec/ob/v2p0/baking/ and OB 3.0 §5.3): an ``iTXt`` chunk with keyword
``openbadges`` (OB 2.0) or ``openbadgecredential`` (OB 3.0); ``tEXt``/``zTXt`` with those keywords are
read too (some bakers use them). An empty chunk, two chunks with the keyword, a compressed chunk that
inflates beyond the size limit and a header announcing more pixels than ``HUB_MAX_IMAGE_PIXELS`` (a
decompression bomb) are each refused with their own code. Pixels are never decoded.

SVG: ``<openbadges:assertion>`` (namespace ``http://openbadges.org``) or ``<openbadges:credential>``
(``https://purl.imsglobal.org/ob/v3p0``), JSON in its text or a JWS/URL in its ``verify`` attribute.
Parsed with defusedxml (no DTDs, entities or external references); an SVG with scripts or event
handlers is refused.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET

from hub.credentials.baking import OB2_SVG_NS, OB3_SVG_NS, PNG_SIGNATURE
from hub.i18n import lazy as _l
from hub.i18n import number

PNG_KEYWORDS = {"openbadges": "ob2", "openbadgecredential": "ob3"}


class UnbakeError(Exception):
    """The image cannot be read: ``reason`` (lazy text) and ``code`` (``png-truncated``,
    ``png-empty-chunk``, ``png-duplicate-chunk``, ``png-too-many-pixels``, ``png-inflate-too-large``,
    ``svg-unsafe``, ``svg-script``, ``no-baked-data``, ...)."""

    def __init__(self, reason, code: str):
        super().__init__(code)
        self.reason, self.code = reason, code


@dataclass(frozen=True)
class Baked:
    """What an image carries: ``version`` (``ob2`` or ``ob3``), ``text`` (JSON, JWS or URL) and
    ``where`` (``png-itxt``, ``png-text``, ``svg-text``, ``svg-verify``)."""

    version: str
    text: str
    where: str


def _inflate(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error:
        raise UnbakeError(_l("a compressed PNG text chunk is corrupt"), "png-corrupt-chunk") from None
    if len(out) > limit or d.unconsumed_tail:
        raise UnbakeError(
            _l("a compressed PNG text chunk inflates beyond %(limit)s bytes", limit=number(limit)),
            "png-inflate-too-large",
        )
    return out


def _png_text(ctype: bytes, data: bytes, limit: int) -> tuple[str, bytes] | None:
    """``(keyword, text bytes)`` of a tEXt/zTXt/iTXt chunk (PNG 3 §11.3.3), or None if not one."""
    keyword, sep, rest = data.partition(b"\x00")
    if not sep:
        return None
    name = keyword.decode("latin-1")
    if name not in PNG_KEYWORDS:
        return name, b""
    if ctype == b"tEXt":
        return name, rest
    if ctype == b"zTXt":
        return name, _inflate(rest[1:], limit)
    if len(rest) < 2:
        raise UnbakeError(_l("the Open Badges PNG chunk is truncated"), "png-truncated")
    compressed, rest = rest[0], rest[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) != 3:
        raise UnbakeError(_l("the Open Badges PNG chunk is truncated"), "png-truncated")
    return name, _inflate(parts[2], limit) if compressed else parts[2]


def unbake_png(png: bytes, *, max_pixels: int, max_bytes: int) -> Baked:
    """The Open Badges data of a baked PNG.

    Raises:
        UnbakeError: see the class; ``no-baked-data`` when the PNG carries none.
    """
    if not png.startswith(PNG_SIGNATURE):
        raise UnbakeError(_l("not a PNG file"), "png-not-png")
    pos, found = len(PNG_SIGNATURE), []
    while pos < len(png):
        if pos + 12 > len(png):
            raise UnbakeError(_l("the PNG file is truncated"), "png-truncated")
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        ctype, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if pos + 12 + length > len(png):
            raise UnbakeError(_l("the PNG file is truncated"), "png-truncated")
        pos += 12 + length
        if ctype == b"IHDR":
            width, height = struct.unpack(">II", data[:8]) if len(data) >= 8 else (0, 0)
            if width * height > max_pixels:
                raise UnbakeError(
                    _l(
                        "the PNG claims %(pixels)s pixels, more than %(limit)s (a decompression bomb)",
                        pixels=number(width * height),
                        limit=number(max_pixels),
                    ),
                    "png-too-many-pixels",
                )
        elif ctype in (b"iTXt", b"tEXt", b"zTXt"):
            got = _png_text(ctype, data, max_bytes)
            if got and got[0] in PNG_KEYWORDS:
                found.append((got[0], got[1], ctype))
        elif ctype == b"IEND":
            break
    if not found:
        raise UnbakeError(_l("the PNG carries no Open Badges data (no openbadges chunk)"), "no-baked-data")
    if len(found) > 1:
        raise UnbakeError(
            _l("the PNG has %(n)s Open Badges chunks; a baked badge has exactly one", n=len(found)),
            "png-duplicate-chunk",
        )
    keyword, text, ctype = found[0]
    try:
        value = text.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise UnbakeError(_l("the Open Badges PNG chunk is not UTF-8 text"), "png-not-utf8") from None
    if not value:
        raise UnbakeError(_l("the Open Badges PNG chunk is empty"), "png-empty-chunk")
    return Baked(PNG_KEYWORDS[keyword], value, "png-itxt" if ctype == b"iTXt" else "png-text")


_SCRIPT_ATTR = re.compile(r"^on[a-z]+$", re.I)


def unbake_svg(svg: bytes) -> Baked:
    """The Open Badges data of a baked SVG (``verify`` attribute preferred over the element text for a
    JWS; JSON text otherwise).

    Raises:
        UnbakeError: unsafe or not well-formed XML (``svg-unsafe``), a script (``svg-script``), no or
            an empty element (``no-baked-data``, ``svg-empty-element``), two elements (``svg-duplicate``).
    """
    try:
        root = SafeET.fromstring(svg)
    except Exception as exc:  # defusedxml: ParseError, EntitiesForbidden, DTDForbidden, ExternalReferenceForbidden
        reason = type(exc).__name__
        return _raise(_l("not a well-formed, safe SVG (%(why)s)", why=reason), "svg-unsafe")
    if not str(root.tag).endswith("svg"):
        _raise(_l("the root element is not <svg>"), "svg-not-svg")
    for el in root.iter():
        tag = str(el.tag).rsplit("}", 1)[-1].lower()
        attrs = {k.rsplit("}", 1)[-1]: v for k, v in el.attrib.items()}
        scripted = any(_SCRIPT_ATTR.match(k) for k in attrs) or any(
            v.strip().lower().startswith("javascript:") for k, v in attrs.items() if k == "href"
        )
        if tag in ("script", "foreignobject") or scripted:
            _raise(_l("the SVG contains a script; it is refused"), "svg-script")
    elements = [
        (v, el)
        for v, ns, tag in (("ob2", OB2_SVG_NS, "assertion"), ("ob3", OB3_SVG_NS, "credential"))
        for el in root.iter(f"{{{ns}}}{tag}")
    ]
    if not elements:
        _raise(_l("the SVG carries no Open Badges data (no openbadges:assertion element)"), "no-baked-data")
    if len(elements) > 1:
        _raise(
            _l("the SVG has %(n)s Open Badges elements; a baked badge has exactly one", n=len(elements)),
            "svg-duplicate",
        )
    version, el = elements[0]
    verify, text = (el.get("verify") or "").strip(), (el.text or "").strip()
    if text:
        return Baked(version, text, "svg-text")
    if verify:
        return Baked(version, verify, "svg-verify")
    return _raise(_l("the SVG's Open Badges element is empty"), "svg-empty-element")


def _raise(reason, code: str):
    raise UnbakeError(reason, code)

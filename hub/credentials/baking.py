"""Baking badge data into images and reading it back.

PNG: one uncompressed ``iTXt`` chunk with a keyword (``openbadges`` for OB 2.0,
``openbadgecredential`` for OB 3.0), replacing any chunk with that keyword the image had.
SVG: an ``<openbadges:assertion>`` (OB 2.0) or ``<openbadges:credential>`` (OB 3.0) element, first child
of the root, with JSON in CDATA or a JWS in ``verify``.
Specs: https://www.imsglobal.org/spec/ob/v2p0/baking/ and
https://www.imsglobal.org/spec/ob/v3p0/#baking. PNG chunk layout: https://www.w3.org/TR/png-3/#11iTXt.

Chunks are spliced directly (no re-encoding), so baking costs a copy of the file, not a decode.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator

import defusedxml.ElementTree as SafeET

from hub.errors import ImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OB2_SVG_NS = "http://openbadges.org"
OB3_SVG_NS = "https://purl.imsglobal.org/ob/v3p0"


def _chunks(png: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """Yield ``(type, data, raw_chunk_bytes)`` for every chunk.

    Raises:
        ImageError: not a PNG, or a truncated chunk.
    """
    if not png.startswith(PNG_SIGNATURE):
        raise ImageError("not a PNG file")
    pos = len(PNG_SIGNATURE)
    while pos < len(png):
        if pos + 12 > len(png):
            raise ImageError("truncated PNG chunk")
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        end = pos + 12 + length
        if end > len(png):
            raise ImageError("truncated PNG chunk")
        yield png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length], png[pos:end]
        pos = end


def _itxt_keyword(data: bytes) -> bytes:
    return data.split(b"\x00", 1)[0]


def _itxt_chunk(keyword: str, text: str) -> bytes:
    # keyword \0 compression-flag(0) compression-method(0) language-tag \0 translated-keyword \0 text
    data = keyword.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + text.encode("utf-8")
    crc = zlib.crc32(b"iTXt" + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", crc)


def bake_png(png: bytes, keyword: str, text: str) -> bytes:
    """Return ``png`` with exactly one uncompressed iTXt chunk ``keyword`` holding ``text``.

    The chunk goes right after IHDR; any iTXt/tEXt/zTXt chunk with the same keyword is dropped.

    Raises:
        ImageError: ``png`` is not a well-formed PNG.
    """
    out = [PNG_SIGNATURE]
    kw = keyword.encode("latin-1")
    for ctype, data, raw in _chunks(png):
        if ctype in (b"iTXt", b"tEXt", b"zTXt") and _itxt_keyword(data) == kw:
            continue
        out.append(raw)
        if ctype == b"IHDR":
            out.append(_itxt_chunk(keyword, text))
    return b"".join(out)


def unbake_png(png: bytes, keyword: str) -> str | None:
    """Read the text of the iTXt chunk ``keyword`` (decompressing if flagged), or None.

    Raises:
        ImageError: ``png`` is not a well-formed PNG.
    """
    kw = keyword.encode("latin-1")
    for ctype, data, _raw in _chunks(png):
        if ctype == b"iTXt" and _itxt_keyword(data) == kw:
            rest = data[len(kw) + 1 :]
            compressed, _method = rest[0], rest[1]
            _lang, _translated, text = rest[2:].split(b"\x00", 2)
            return (zlib.decompress(text) if compressed else text).decode("utf-8")
    return None


_ROOT_OPEN = re.compile(rb"<svg\b[^>]*?>", re.S)


def _svg_element(tag: str, ns: str, verify: str | None, json_text: str | None) -> str:
    attr = f' verify="{_xml_attr(verify)}"' if verify else ""
    if json_text is None:
        return f'<openbadges:{tag} xmlns:openbadges="{ns}"{attr}/>'
    if "]]>" in json_text:  # cannot occur inside CDATA; JSON can escape ">" as \u003e
        json_text = json_text.replace("]]>", "]]\\u003e")
    return f'<openbadges:{tag} xmlns:openbadges="{ns}"{attr}><![CDATA[{json_text}]]></openbadges:{tag}>'


def _xml_attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


_EXISTING = {
    "assertion": re.compile(rb"<(\w+):assertion\b.*?(?:/>|</\1:assertion>)", re.S),
    "credential": re.compile(rb"<(\w+):credential\b.*?(?:/>|</\1:credential>)", re.S),
}


def bake_svg(svg: bytes, *, tag: str, ns: str, verify: str | None = None, json_text: str | None = None) -> bytes:
    """Insert ``<openbadges:{tag}>`` as the first child of the SVG root, replacing an existing one.

    ``tag`` is ``assertion`` (OB 2.0, ``ns`` = :data:`OB2_SVG_NS`) or ``credential`` (OB 3.0,
    :data:`OB3_SVG_NS`). Give ``json_text`` (placed in CDATA) and/or ``verify`` (URL or JWS).

    Raises:
        ImageError: not well-formed, safe SVG.
    """
    try:
        root = SafeET.fromstring(svg)
    except Exception as exc:  # defusedxml raises several types (ParseError, EntitiesForbidden, ...)
        raise ImageError(f"not a well-formed, safe SVG: {exc}") from None
    if not root.tag.endswith("svg"):
        raise ImageError("the root element is not <svg>")
    svg = _EXISTING[tag].sub(b"", svg)
    m = _ROOT_OPEN.search(svg)
    if m is None or m.group(0).endswith(b"/>"):
        raise ImageError("the SVG root has no content")
    element = _svg_element(tag, ns, verify, json_text).encode("utf-8")
    return svg[: m.end()] + element + svg[m.end() :]


def unbake_svg(svg: bytes, *, tag: str, ns: str) -> tuple[str | None, str | None] | None:
    """Read ``(verify, json_text)`` from the baked element, or None when there is none.

    Raises:
        ImageError: not well-formed, safe SVG.
    """
    try:
        root = SafeET.fromstring(svg)
    except Exception as exc:
        raise ImageError(f"not a well-formed, safe SVG: {exc}") from None
    el = root.find(f"{{{ns}}}{tag}")
    if el is None:
        return None
    text = (el.text or "").strip() or None
    return el.get("verify"), text

"""PNG/SVG baking: exactly one iTXt chunk, replaced not duplicated, Polish letters intact."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from hub.credentials.baking import OB2_SVG_NS, OB3_SVG_NS, bake_png, bake_svg, unbake_png, unbake_svg
from hub.demo import BADGE_SVG, badge_png
from hub.errors import ImageError

TEXT = '{"name": "Zażółć gęślą jaźń"}'


def chunks(png: bytes):
    pos, out = 8, []
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        out.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def test_png_round_trip_and_single_uncompressed_chunk():
    baked = bake_png(badge_png(), "openbadges", TEXT)
    assert unbake_png(baked, "openbadges") == TEXT
    itxt = [d for t, d in chunks(baked) if t == b"iTXt"]
    assert len(itxt) == 1
    assert itxt[0].startswith(b"openbadges\x00\x00\x00")  # keyword, compression flag 0, method 0
    Image.open(io.BytesIO(baked)).verify()  # still a valid PNG (CRCs right)


def test_rebaking_replaces_the_existing_chunk():
    once = bake_png(badge_png(), "openbadges", "first")
    twice = bake_png(once, "openbadges", TEXT)
    assert [t for t, _ in chunks(twice)].count(b"iTXt") == 1
    assert unbake_png(twice, "openbadges") == TEXT


def test_other_keyword_is_kept_and_compressed_chunks_read():
    ob3 = bake_png(badge_png(), "openbadgecredential", "v3")
    both = bake_png(ob3, "openbadges", "v2")
    assert unbake_png(both, "openbadgecredential") == "v3" and unbake_png(both, "openbadges") == "v2"
    data = b"openbadges\x00\x01\x00\x00\x00" + zlib.compress(TEXT.encode())
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    png = badge_png()
    png = png[:33] + chunk + png[33:]
    assert unbake_png(png, "openbadges") == TEXT


def test_png_errors():
    with pytest.raises(ImageError):
        bake_png(b"GIF89a", "openbadges", "x")
    with pytest.raises(ImageError):
        unbake_png(badge_png()[:40], "openbadges")


def test_svg_round_trip_hosted_and_signed():
    baked = bake_svg(BADGE_SVG.encode(), tag="assertion", ns=OB2_SVG_NS, verify="https://h/a/1", json_text=TEXT)
    assert unbake_svg(baked, tag="assertion", ns=OB2_SVG_NS) == ("https://h/a/1", TEXT)
    again = bake_svg(baked, tag="assertion", ns=OB2_SVG_NS, verify="a.b.c")
    assert again.count(b"openbadges:assertion") == 1
    assert unbake_svg(again, tag="assertion", ns=OB2_SVG_NS) == ("a.b.c", None)
    v3 = bake_svg(BADGE_SVG.encode(), tag="credential", ns=OB3_SVG_NS, json_text=TEXT)
    assert unbake_svg(v3, tag="credential", ns=OB3_SVG_NS) == (None, TEXT)


def test_svg_cdata_terminator_in_json_is_escaped():
    baked = bake_svg(BADGE_SVG.encode(), tag="assertion", ns=OB2_SVG_NS, json_text='{"a": "]]>"}')
    assert unbake_svg(baked, tag="assertion", ns=OB2_SVG_NS)[1] == '{"a": "]]\\u003e"}'


def test_unsafe_svg_is_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><svg>&b;</svg>'
    with pytest.raises(ImageError):
        bake_svg(bomb, tag="assertion", ns=OB2_SVG_NS, json_text="{}")

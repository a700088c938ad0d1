from __future__ import annotations

import io

import pytest
from PIL import Image

from hub.badges.images import check_image
from hub.demo import BADGE_SVG, badge_png
from hub.errors import ImageError

LIMITS = {"max_bytes": 2 * 1024 * 1024, "max_pixels": 4096 * 4096}


def png_of(w, h) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (w, h)).save(buf, "PNG")
    return buf.getvalue()


def test_png_and_svg_accepted():
    assert check_image(badge_png(), **LIMITS) == "image/png"
    assert check_image(BADGE_SVG.encode(), **LIMITS) == "image/svg+xml"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"GIF89a....", "PNG or an SVG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "script"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"></svg>', "event handler"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil/x.png"/></svg>', "external"),
        (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg>&x;</svg>', "forbidden XML"),
        (b"<svg><unclosed></svg>", "well-formed"),
    ],
)
def test_bad_images_refused(data, message):
    with pytest.raises(ImageError, match=message):
        check_image(data, **LIMITS)


def test_size_and_pixel_limits():
    with pytest.raises(ImageError, match="limit is 100 bytes"):
        check_image(badge_png(), max_bytes=100, max_pixels=10**8)
    with pytest.raises(ImageError, match="pixels"):
        check_image(png_of(300, 300), max_bytes=10**7, max_pixels=300 * 299)


def test_decompression_bomb_refused():
    bomb = png_of(12000, 12000)  # ~18 KB on disk, 144 Mpixel decoded
    with pytest.raises(ImageError):
        check_image(bomb, max_bytes=10**7, max_pixels=10**9)


def svg(body: str) -> bytes:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10">'
        f"{body}</svg>"
    ).encode()


@pytest.mark.parametrize(
    "body, message",
    [
        # SMIL setting a link target: ran script in Chromium when opened at /credentials/<id>/baked.svg
        ('<a><set attributeName="href" to="javascript:alert(1)"/><text>x</text></a>', "animates a link target"),
        ('<a><animate attributeName="xlink:href" values="javascript:alert(1)"/></a>', "animates a link target"),
        ('<a><set attributeName="HREF" to="#ok"/></a>', "animates a link target"),
        ('<a href="#a"><animate attributeName="x" values="1;java&#9;script:alert(1)"/></a>', "javascript: value"),
        ('<animateMotion attributeName="y" from=" JavaScript:x()"/>', "javascript: value"),
        ('<discard attributeName="href"/>', "animates a link target"),
        ('<animateTransform attributeName="href" type="rotate"/>', "animates a link target"),
        # CSS that loads something
        ('<style>@import "https://evil.example/x.css";</style>', "external resource"),
        ("<style>@import url(//evil.example/x.css);</style>", "external resource"),
        ("<style>rect { fill: url(https://evil.example/x.svg#p) }</style>", "external resource"),
        ("<style><![CDATA[rect { background: u\\72l(https://evil.example/x.png) }]]></style>", "external resource"),
        ('<style>@font-face { font-family: f; src: url("https://evil.example/f.woff") }</style>', "external resource"),
        ('<style>rect { background: image-set("https://evil.example/x.png" 1x) }</style>', "external resource"),
        ("<style>rect { fill: url(https://evil.example/x.svg</style>", "external resource"),
        ('<rect style="fill: url(https://evil.example/p.svg#a)"/>', "external resource"),
        ("<rect style=\"@import 'https://evil.example/x.css'; fill: red\"/>", "external resource"),
        ('<rect fill="url(https://evil.example/p.svg#a)"/>', "external resource"),
        # documents inside the image
        ('<iframe xmlns="http://www.w3.org/1999/xhtml" src="javascript:alert(1)"/>', "<iframe>"),
        ('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>', "<foreignobject>"),
        ('<embed xmlns="http://www.w3.org/1999/xhtml" src="x.swf"/>', "<embed>"),
        ('<object xmlns="http://www.w3.org/1999/xhtml" data="x.html"/>', "<object>"),
        ('<a xlink:href="javascript:alert(1)"><text>x</text></a>', "external resource"),
        ('<a href=" javascript:alert(1)"><text>x</text></a>', "external resource"),
    ],
)
def test_unsafe_svg_refused(body, message):
    with pytest.raises(ImageError, match=message):
        check_image(svg(body), **LIMITS)


@pytest.mark.parametrize(
    "body",
    [
        '<defs><linearGradient id="g"/></defs><rect fill="url(#g)" style="fill: url(#g); stroke: red"/>',
        "<style>@namespace svg url(http://www.w3.org/2000/svg); rect { fill: url('#g') }</style>",
        "<style>rect { fill: url(data:image/png;base64,iVBORw0KGgo=) }</style>",
        '<circle r="4"><animate attributeName="r" values="4;5;4" dur="2s" repeatCount="indefinite"/></circle>',
        '<a href="#top"><set attributeName="fill" to="red" begin="1s"/><text>x</text></a>',
    ],
)
def test_safe_svg_features_accepted(body):
    assert check_image(svg(body), **LIMITS) == "image/svg+xml"

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

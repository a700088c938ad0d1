"""The sharing preview image: 1200x628 PNG (1.91:1, the ratio OpenGraph ``og:image`` and Twitter's
``summary_large_image`` card show uncropped), drawn with Pillow and DejaVu Sans."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hub.i18n import translations

WIDTH, HEIGHT = 1200, 628
FONT_DIR = Path(__file__).resolve().parent.parent / "data" / "fonts"
PREVIEW_VERSION = "1"


@dataclass(frozen=True)
class Card:
    """What the preview shows; ``recipient_name`` only when the learner allows it."""

    badge_name: str
    issuer_name: str
    recipient_name: str | None
    badge_image: bytes
    badge_image_type: str
    revoked: bool
    locale: str

    def fingerprint(self) -> str:
        doc = {k: v for k, v in asdict(self).items() if k != "badge_image"}
        h = hashlib.sha256(json.dumps(doc, sort_keys=True).encode() + PREVIEW_VERSION.encode())
        h.update(hashlib.sha256(self.badge_image).digest())
        return h.hexdigest()


@cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) <= width:
            line = trial
            continue
        if line:
            lines.append(line)
        line = word
        if len(lines) == max_lines:
            break
    if line and len(lines) < max_lines:
        lines.append(line)
    if len(lines) == max_lines and " ".join(lines) != " ".join(text.split()):
        lines[-1] = lines[-1].rstrip(".,;: ") + "…"
    return lines


def _badge(card: Card, size: int) -> Image.Image | None:
    if card.badge_image_type != "image/png":
        return None  # Pillow does not draw SVG; the card shows the text alone
    img = Image.open(io.BytesIO(card.badge_image)).convert("RGBA")
    img.thumbnail((size, size))
    return img


def render(card: Card, instance_path: Path) -> bytes:
    """The preview PNG of ``card`` (labels in ``card.locale``)."""
    _ = translations(instance_path, card.locale).gettext
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (246, 248, 251))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, WIDTH, 14), fill=(20, 54, 93))
    badge = _badge(card, 380)
    x = 60
    if badge is not None:
        canvas.paste(badge, (60 + (380 - badge.width) // 2, (HEIGHT - badge.height) // 2), badge)
        x = 480
    width = WIDTH - x - 60
    y = 90
    draw.text((x, y), card.issuer_name.upper()[:60], font=_font(26), fill=(85, 85, 85))
    y += 60
    for line in _wrap(draw, card.badge_name, _font(56, True), width, 3):
        draw.text((x, y), line, font=_font(56, True), fill=(20, 54, 93))
        y += 70
    y += 20
    if card.recipient_name:
        draw.text((x, y), _("Issued to %(name)s") % {"name": card.recipient_name}, font=_font(30), fill=(27, 27, 27))
        y += 50
    label, colour = (_("Revoked"), (161, 17, 17)) if card.revoked else (_("Verified Open Badge"), (11, 77, 28))
    draw.text((x, HEIGHT - 110), label, font=_font(30, True), fill=colour)
    buf = io.BytesIO()
    canvas.save(buf, "PNG", optimize=False)
    return buf.getvalue()

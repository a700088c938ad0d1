"""PDF certificate generation per certificate, default template, next to xhtml2pdf rendering a plain
one-paragraph page in the same run.

    .venv/bin/python bench/pdf.py [--n 200]

Prints p50/p99 (ms) of: the whole certificate (content -> HTML -> PDF -> embedded credentials ->
PAdES signature, uncached), the plain one-paragraph baseline, and each stage on its own (where the
time goes); a certificate whose name is in Devanagari, Chinese and Thai (HTML -> PDF, Noto fonts
registered) and the one-off conversion of a CJK font for a new character set; the
certificate/baseline ratio; the cached path; and peak RSS. Target: p50 < 50 ms.

The badge is a 512 x 512 RGBA PNG and the issuer has a 400 x 120 logo, as real ones are (an 8 px
test image hides the cost of images). Print-size images and the prepared signer are made once per
badge/issuer and process, so the certificate rows are the steady state; their one-off cost is in
the "once per" rows.
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import hub.models  # noqa: E402,F401
from hub.certificates import keys, render, sign  # noqa: E402
from hub.certificates import services as certificates  # noqa: E402
from hub.certificates.sign import sign_pdf  # noqa: E402
from tests.hub.credentials.ob3_support import make_assertion, make_world  # noqa: E402

PLAIN = "<html><body><p>One plain paragraph of text, in the default font.</p></body></html>"


def png(width: int, height: int) -> bytes:
    """A badge-like RGBA PNG: concentric rings on a transparent background, some text."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for i in range(0, min(width, height) // 2, 4):
        draw.ellipse((i, i, width - i, height - i), fill=(20 + i % 200, 60 + (i * 3) % 180, 140, 255))
    draw.text((width // 3, height // 2), "ODZNAKA", fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def timings(fn, n: int, warmup: int = 10) -> list[float]:
    """Milliseconds per call for ``n`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200, help="certificates per measurement")
    args = ap.parse_args()

    w = make_world(Path(tempfile.mkdtemp()))
    s, ctx = w.session, w.ctx
    a = make_assertion(s, w.badge)
    a.recipient_name = "Zażółć Gęślą Jaźń"
    w.badge.image, w.badge.image_type = png(512, 512), "image/png"
    w.issuer.image, w.issuer.image_type = png(400, 120), "image/png"
    w.badge.alignments = [
        {"targetName": "Komunikacja „w praktyce” – poziom", "targetFramework": "PRK", "targetCode": "5"}
    ]
    s.flush()
    instance = ctx.settings.instance_path
    content = certificates.content_for(s, ctx, a)
    material = keys.load_material(ctx, keys.signing_row(s, ctx, w.issuer))
    html = render.html(content, instance)
    unsigned = render.html_to_pdf(html)
    atts = certificates.attachments(s, ctx, a)

    rows = {
        "certificate (uncached, all stages)": timings(lambda: certificates.build_pdf(s, ctx, a, content), args.n),
        "xhtml2pdf one paragraph (baseline)": timings(lambda: render.html_to_pdf(PLAIN), args.n),
        "  stage: content from DB": timings(lambda: certificates.content_for(s, ctx, a), args.n),
        "  stage: template + QR -> HTML": timings(lambda: render.html(content, instance), args.n),
        "  stage: QR code alone": timings(lambda: render.qr_png(content.verify_url), args.n),
        "  stage: xhtml2pdf HTML -> PDF": timings(lambda: render.html_to_pdf(html), args.n),
        "  stage: OB 3.0 + OB 2.0 documents": timings(lambda: certificates.attachments(s, ctx, a), args.n),
        "  stage: embed + PAdES sign": timings(
            lambda: sign_pdf(unsigned, material, atts, reason="bench", location="bench"), args.n
        ),
    }
    rows["  once per badge: badge image -> print JPEG"] = timings(
        lambda: (render._print_images.clear(), render.print_image(content.badge_image, "image/png", 120, 120)), args.n
    )
    rows["  once per issuer: prepare signer"] = timings(
        lambda: (sign._prepared_cache.clear(), sign._prepared(material)), args.n
    )
    # Names in other scripts (hub/certificates/fonts.py): the Noto families join the font list and a CJK
    # font is converted once per character set; the steady state is what most certificates pay.
    from dataclasses import replace

    from hub.certificates import fonts

    scripts = replace(content, recipient_name="अर्जुन शर्मा 王小明 สมชาย")
    rows["certificate, Devanagari + CJK + Thai name"] = timings(
        lambda: render.html_to_pdf(render.html(scripts, instance)), args.n
    )
    counter = iter(range(10**6))
    rows["  once per CJK character set: convert font"] = timings(
        lambda: fonts.cjk_family(frozenset({"王", chr(0x4E00 + next(counter))})), args.n
    )
    certificates.certificate_pdf(s, ctx, a)
    rows["certificate (cached)"] = timings(lambda: certificates.certificate_pdf(s, ctx, a), args.n)

    print(f"PDF certificate benchmark, n={args.n} per row, Python {sys.version.split()[0]}")
    print(f"{'':44} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in rows.items():
        print(f"{name:44} {pct(values, 50):8.1f} {pct(values, 99):8.1f}")
    cert = pct(rows["certificate (uncached, all stages)"], 50)
    base = pct(rows["xhtml2pdf one paragraph (baseline)"], 50)
    print(f"ratio certificate / one-paragraph baseline (p50): {cert / base:.2f}x")
    print(f"target p50 < 50 ms: {'met' if cert < 50 else 'NOT met'} ({cert:.1f} ms)")
    print(f"certificate size: {len(certificates.build_pdf(s, ctx, a, content)) / 1024:.0f} KiB")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

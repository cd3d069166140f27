"""The enrollment JWT as a QR code, for mobile tunnelers that scan it."""

from __future__ import annotations

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(text: str) -> SafeString:
    """An inline SVG QR code of `text`, drawn on the server: no script, no CDN.

    Safe to mark so: segno writes the SVG itself, and the JWT it encodes is in the
    modules' geometry, not in the markup.
    """
    qr = segno.make(text, error="m", micro=False)
    svg = qr.svg_inline(scale=3, border=2, dark="#000", light="#fff", svgclass="jwt-qr")
    return mark_safe(svg)  # noqa: S308 - markup made by segno, see above

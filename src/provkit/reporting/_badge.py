"""A provider's conformance verdict as a small SVG badge, for a README or a results page.

Plain SVG written by provkit, in the two-part style of common CI badges: "provkit" on the
left, the outcome on the right in green, red, yellow or grey. Text widths are estimated from
character classes, close enough for the fonts badges are drawn in.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from provkit.reporting._verdict import FAIL, PARTIAL, PASS, ProviderVerdict

COLOURS = {PASS: "#2da44e", FAIL: "#d73a49", PARTIAL: "#dbab09"}
GREY = "#6e7781"
LABEL_COLOUR = "#555"
_HEIGHT = 20
_PADDING = 6


def badge_message(provider: ProviderVerdict, suite_version: str) -> str:
    """The badge's right-hand text: what the provider's verdict says, in a few words."""
    totals = provider.totals
    if provider.outcome == PASS:
        return f"conforms to suite {suite_version}"
    if provider.outcome == FAIL:
        return f"{totals.failed} of {totals.ran} tests fail"
    if provider.outcome == PARTIAL:
        return f"partial run: {totals.passed} passed"
    return provider.verdict.split(":", 1)[0].lower()


def badge_svg(provider: ProviderVerdict, suite_version: str, label: str = "provkit") -> str:
    """The badge of ``provider``'s verdict; its title is the whole verdict line."""
    message = badge_message(provider, suite_version)
    colour = COLOURS.get(provider.outcome, GREY)
    left = round(text_width(label)) + 2 * _PADDING
    right = round(text_width(message)) + 2 * _PADDING
    width = left + right
    title = escape(f"{provider.provider}: {provider.verdict}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_HEIGHT}" '
        f'role="img" aria-label="{escape(label)}: {escape(message)}">'
        f"<title>{title}</title>"
        f'<rect width="{left}" height="{_HEIGHT}" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="{_HEIGHT}" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:g}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2:g}" y="14">{escape(message)}</text>'
        "</g></svg>\n"
    )


def badge_file_name(spec: str) -> str:
    """A file name for ``spec``'s badge: ``mypkg.module-Factory.svg``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", spec).strip("-") + ".svg"


def text_width(text: str) -> float:
    """Estimated width in pixels of ``text`` at 11 px Verdana."""
    return sum(_char_width(c) for c in text)


def _char_width(char: str) -> float:
    if char in "il.,:;'|!" or char == " ":
        return 3.9
    if char in "fjrt()[]-/":
        return 4.9
    if char in "mwMW%":
        return 10.7
    if char.isupper() or char.isdigit():
        return 7.6
    return 6.9

"""The report's colours, read from the page itself: marks >= 3:1, text >= 4.5:1 (WCAG 2.1).

Every bar, edge, estimate dot and zero line of the interval charts is drawn in a colour that
keeps a contrast ratio of at least 3:1 against the backgrounds it sits on (1.4.11, non-text
contrast), and every text colour at least 4.5:1 (1.4.3), in the light and the dark scheme. The
grey bars of the old page (#8c959f at 55 % opacity on white) were about 1.7:1.
"""

from __future__ import annotations

import re

import pytest

import ablens
from ablens.report import render_report


def _luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour ``#rrggbb``."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio, (L1 + 0.05) / (L2 + 0.05) with L1 the lighter."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_wcag_formula_on_published_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    # The old grey bar: #8c959f at opacity .55 over white blends to about #c0c5cb.
    blended = "#" + "".join(
        f"{round(0.55 * int('8c959f'[i : i + 2], 16) + 0.45 * 255):02x}" for i in (0, 2, 4)
    )
    assert contrast(blended, "#ffffff") == pytest.approx(1.7, abs=0.05)


@pytest.fixture(scope="module")
def page():
    data = {
        "control": ablens.Moments.from_summary(1_000, mean={"x": 1.0}, variance={"x": 1.0}),
        "b": ablens.Moments.from_summary(1_000, mean={"x": 1.2}, variance={"x": 1.0}),
    }
    return render_report(ablens.analyze(data, [ablens.Mean("x")], control="control"))


def _schemes(page: str) -> dict[str, dict[str, str]]:
    css = re.search(r"<style>(\.ablens-report \{.*?)</style>", page, re.DOTALL).group(1)
    light = re.match(r"\.ablens-report \{([^}]*)\}", css).group(1)
    dark = re.search(
        r"@media \(prefers-color-scheme: dark\) \{ \.ablens-report \{([^}]*)\} \}", css
    ).group(1)

    def variables(block: str) -> dict[str, str]:
        return dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6});", block))

    return {"light": variables(light), "dark": variables(dark)}


def _chart_colours(page: str) -> set[str]:
    """The variables the interval charts (svg.ci) are drawn with; no opacity softens them."""
    css = re.search(r"<style>(\.ablens-report \{.*?)</style>", page, re.DOTALL).group(1)
    rules = re.findall(r"[^{}]*svg\.ci[^{]*\{([^}]*)\}", css)
    assert len(rules) >= 6
    assert not any("opacity" in rule for rule in rules)
    return set(re.findall(r"(?:fill|stroke): var\(--([\w-]+)\)", "".join(rules))) - {"bg"}


MARK_BACKGROUNDS = ("bg", "soft")
TEXT = ("fg", "muted", "good", "bad", "warn")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_mark_has_3_to_1_against_the_background(page, scheme):
    colours = _schemes(page)[scheme]
    marks = _chart_colours(page)
    assert marks == {"neutral", "good", "bad", "fg"}  # bars, edges, zero line and axis, dot
    ratios = {
        (mark, ground): contrast(colours[mark], colours[ground])
        for mark in marks
        for ground in MARK_BACKGROUNDS
    }
    assert min(ratios.values()) >= 3.0, ratios
    # The estimate dot is ringed in the background colour, so it stands out on any bar.
    assert ".ablens-report svg.ci .point { fill: var(--fg); stroke: var(--bg);" in page


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_has_4_5_to_1(page, scheme):
    colours = _schemes(page)[scheme]
    ratios = {
        (text, ground): contrast(colours[text], colours[ground])
        for text in TEXT
        for ground in MARK_BACKGROUNDS
    }
    # Badges and banners: their text on their own tint; tooltips: their text on their fill.
    for text, ground in [
        ("good", "good-bg"),
        ("bad", "bad-bg"),
        ("warn", "warn-bg"),
        ("fg", "warn-bg"),
        ("fg", "bad-bg"),
        ("tip-fg", "tip-bg"),
    ]:
        ratios[text, ground] = contrast(colours[text], colours[ground])
    assert min(ratios.values()) >= 4.5, {k: round(v, 2) for k, v in ratios.items() if v < 4.5}


def test_both_schemes_define_the_same_colours(page):
    schemes = _schemes(page)
    assert set(schemes["light"]) == set(schemes["dark"])
    assert len(schemes["light"]) >= 12

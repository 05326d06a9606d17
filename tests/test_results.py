"""Rendering an `AnalysisResult`: text, markdown, HTML, dict/JSON and dataframes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ablens import Mean, Moments, Proportion, analyze, render
from ablens.results import SCHEMA_VERSION

SCRIPT = "<script>alert('x')</script>"


def _data(seed: int = 11) -> dict[str, Moments]:
    rng = np.random.default_rng(seed)
    data = {}
    for arm, n, rate, scale in (
        ("control", 4000, 0.10, 5.0),
        ("bold", 4100, 0.13, 5.6),
        ("subtle", 3950, 0.10, 5.0),
    ):
        data[arm] = Moments.from_columns(
            {
                "converted": rng.random(n) < rate,
                "revenue": rng.gamma(2.0, scale, n),
                "latency": rng.normal(200.0, 30.0, n) + (15.0 if arm == "bold" else 0.0),
            }
        )
    return data


METRICS = [
    Proportion("converted", name="conversion"),
    Mean("revenue", alternative="greater", role="secondary"),
    Mean("latency", name=SCRIPT, role="guardrail", direction="decrease"),
    Proportion("converted", name="conversion (exact)", test="fisher", role="secondary"),
]


@pytest.fixture(scope="module")
def result():
    return analyze(_data(), METRICS, control="control", correction="bonferroni")


def test_to_dict_document(result):
    document = result.to_dict()
    assert document["schema_version"] == SCHEMA_VERSION == 1
    assert document["control"] == "control"
    assert document["arms"] == ["control", "bold", "subtle"]
    assert document["counts"] == {"control": 4000, "bold": 4100, "subtle": 3950}
    assert document["alpha"] == 0.05
    assert document["correction"] == "bonferroni"
    assert document["family"] == "metric"
    assert document["srm"] == result.srm.to_dict()
    assert document["srm"]["mismatch"] is False
    assert len(document["comparisons"]) == len(METRICS) * 2
    first = document["comparisons"][0]
    c = result.comparisons[0]
    assert first["metric"] == "conversion"
    assert first["treatment"] == "bold"
    assert first["p_value"] == c.result.p_value
    assert first["adjusted_p_value"] == c.adjusted_p_value
    assert first["adjusted_alpha"] == c.adjusted_alpha == 0.05 / 2  # Bonferroni over 2 arms
    assert first["effect"] == c.result.effect
    assert first["effect_ci_lower"] == c.result.effect_ci_lower
    assert first["outcome"] == c.outcome == "better"
    assert first["significant"] is True


def test_to_dict_is_strict_json_with_infinities_as_none(result):
    text = json.dumps(result.to_dict(), allow_nan=False)
    parsed = json.loads(text)
    revenue = [c for c in parsed["comparisons"] if c["metric"] == "revenue"]
    assert len(revenue) == 2
    for row in revenue:
        # One-sided "greater": the upper bounds are infinite in the result, None in JSON.
        assert row["effect_ci_upper"] is None
        assert row["relative_ci_upper"] is None
        assert row["adjusted_effect_ci_upper"] is None
        assert row["effect_ci_lower"] is not None
        assert row["alternative"] == "greater"
    assert math.isinf(result.comparison("revenue", "bold").result.effect_ci_upper)
    exact = [c for c in parsed["comparisons"] if c["metric"] == "conversion (exact)"]
    assert [row["statistic"] for row in exact] == [None, None]
    assert all(row["test"] == "fisher" for row in exact)


def test_to_records_match_comparisons(result):
    records = result.to_records()
    # Each comparison's own dictionary, with None where only other results have a key.
    assert records == [{k: c.to_dict().get(k) for k in records[0]} for c in result.comparisons]
    assert records == result.to_dict()["comparisons"]


def _same(actual, expected) -> bool:
    if expected is None:
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    if isinstance(expected, bool):
        return bool(actual) is expected
    return actual == expected


def test_to_pandas_has_one_row_per_comparison_with_the_same_numbers(result):
    frame = result.to_pandas()
    records = result.to_dict()["comparisons"]
    assert len(frame) == len(result.comparisons) == 8
    assert list(frame.columns) == list(records[0])
    for i, record in enumerate(records):
        row = frame.iloc[i].to_dict()
        mismatched = {k: (row[k], v) for k, v in record.items() if not _same(row[k], v)}
        assert mismatched == {}
    assert frame["p_value"].dtype == np.float64
    assert frame["adjusted_alpha"].tolist() == [c.adjusted_alpha for c in result.comparisons]


def test_to_polars_has_one_row_per_comparison_with_the_same_numbers(result):
    frame = result.to_polars()
    records = result.to_dict()["comparisons"]
    assert frame.height == 8
    assert frame.columns == list(records[0])
    assert frame.to_dicts() == records


def test_str_names_every_metric_arm_and_the_srm(result):
    text = str(result)
    for metric in METRICS:
        assert metric.name in text
    for arm in ("bold", "subtle"):
        assert arm in text
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["metric", "arm"]
    assert "p (bonferroni)" in lines[0]
    assert "effect [95% bonferroni-adjusted CI]" in lines[0]
    assert "intervals adjusted to match" in text
    assert set(lines[1]) <= {"-", " "}
    assert len([line for line in lines[2:] if line.startswith(("conversion", "revenue"))]) == 6
    assert "Units: control 4,000, bold 4,100, subtle 3,950." in text
    assert "Sample ratio ok" in text
    assert "p-values adjusted by bonferroni over each metric family" in text
    bold_conversion = next(line for line in lines if line.startswith("conversion  "))
    assert "bold" in bold_conversion
    assert "pp" in bold_conversion  # proportions show effects in percentage points
    assert bold_conversion.endswith("better")


def test_str_flags_a_worse_guardrail(result):
    c = result.comparison(SCRIPT, "bold")
    assert c.outcome == "worse"
    line = next(line for line in str(result).splitlines() if line.startswith(SCRIPT))
    assert "bold" in line
    assert line.endswith("WORSE")


def test_markdown(result):
    markdown = result.to_markdown()
    lines = markdown.splitlines()
    assert lines[0].startswith("| metric | arm | control | arm value |")
    assert lines[1] == "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    table_rows = [line for line in lines[2:] if line.startswith("| ")]
    assert len(table_rows) == 8
    assert all(row.count(" | ") == 6 for row in table_rows)
    assert "- Sample ratio ok" in markdown
    assert markdown.endswith("\n")


def test_markdown_escapes_pipes():
    data = _data()
    r = analyze(data, [Mean("revenue", name="a|b")], control="control")
    row = r.to_markdown().splitlines()[2]
    assert row.startswith("| a\\|b | bold |")


def test_html_escapes_metric_names(result):
    html = result.to_html()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert html.startswith('<div class="ablens-result"><table class="ablens">')
    assert html.endswith("</ul></div>")
    assert html.count("<tr") == 1 + 8
    assert html.count('<tr class="worse">') == sum(c.outcome == "worse" for c in result.comparisons)
    assert html.count('<tr class="better">') == sum(
        c.outcome == "better" for c in result.comparisons
    )


def test_html_escapes_arm_labels():
    data = _data()
    data = {"control": data["control"], "<b>&co</b>": data["bold"]}
    html = analyze(data, [Mean("revenue")], control="control").to_html()
    assert "<b>" not in html
    assert "&lt;b&gt;&amp;co&lt;/b&gt;" in html


def test_repr_html_is_to_html(result):
    assert result._repr_html_() == result.to_html()


def test_headers_follow_alpha_and_control_label():
    data = _data()
    data["base"] = data.pop("control")
    r = analyze(data, [Mean("revenue")], control="base", alpha=0.1, correction=None)
    header = str(r).splitlines()[0]
    assert "base (control)" in header
    assert "effect [90% CI]" in header
    assert "p-value" in header
    assert "adjusted" not in str(r)


def test_adjusted_intervals_are_displayed(result):
    c = result.comparison(SCRIPT, "subtle")
    assert c.adjusted_effect_ci is not None
    lo, hi = c.adjusted_effect_ci
    assert render.format_interval(lo, hi) in str(result)
    assert render.format_interval(*c.result.effect_ci) not in str(result)


# --------------------------------------------------------------------------- render helpers


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (0.0123456, {}, "0.01235"),
        (1234567.0, {}, "1.235e+06"),
        (2.5, {"signed": True}, "+2.5"),
        (-2.5, {"signed": True}, "-2.5"),
        (0.0, {"signed": True}, "+0"),
        (3.14159, {"digits": 2}, "3.1"),
        (math.inf, {}, "∞"),
        (-math.inf, {}, "-∞"),
        (math.inf, {"signed": True}, "∞"),
        (math.nan, {}, "—"),
        (None, {}, "—"),
    ],
)
def test_format_number(value, kwargs, expected):
    assert render.format_number(value, **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (0.0312, {}, "+3.12%"),
        (-0.5, {"signed": False}, "-50%"),
        (0.5, {"signed": False}, "50%"),
        (-0.0123456, {}, "-1.23%"),
        (0.0123456, {"digits": 5}, "+1.2346%"),
        (math.inf, {}, "∞"),
        (-math.inf, {}, "-∞"),
        (math.nan, {}, "—"),
        (None, {}, "—"),
    ],
)
def test_format_percent(value, kwargs, expected):
    assert render.format_percent(value, **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0123, "+1.23pp"),
        (-0.004, "-0.4pp"),
        (0.0, "+0pp"),
        (3.24e-117, "+<0.001pp"),  # 3.24e-115 pp: zero to any reader, never in exponent form
        (-9.99e-6, "-<0.001pp"),
        (1e-5, "+0.001pp"),  # the floor itself still prints as a number
        (math.inf, "∞"),
        (-math.inf, "-∞"),
        (math.nan, "—"),
        (None, "—"),
    ],
)
def test_format_points(value, expected):
    assert render.format_points(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0123456, "0.01235"),
        (1.0, "1"),
        (1e-10, "1e-10"),
        (9.99e-11, "<1e-10"),
        (1e-14, "<1e-10"),
        (0.0, "<1e-10"),
        (math.nan, "—"),
        (None, "—"),
    ],
)
def test_format_pvalue(value, expected):
    assert render.format_pvalue(value) == expected


@pytest.mark.parametrize(
    ("lower", "upper", "percent", "expected"),
    [
        (-0.01, 0.05, True, "[-1%, +5%]"),
        (-0.01, 0.05, False, "[-0.01, +0.05]"),
        (1.5, math.inf, False, "[+1.5, ∞]"),
        (-math.inf, 0.2, True, "[-∞, +20%]"),
        (math.nan, None, False, "[—, —]"),
    ],
)
def test_format_interval(lower, upper, percent, expected):
    assert render.format_interval(lower, upper, percent=percent) == expected


def test_table_text_aligns_columns():
    text = render.table_text(["name", "value"], [["a", "1"], ["long name", "12345"]])
    assert text.splitlines() == [
        "name       value",
        "---------  -----",
        "a              1",
        "long name  12345",
    ]


def test_table_html_escapes_and_classes():
    html = render.table_html(["a&b"], [["<i>"], ["x"]], row_classes=["better", ""], caption="<cap>")
    assert html == (
        '<table class="ablens"><caption>&lt;cap&gt;</caption><thead><tr><th>a&amp;b</th></tr>'
        '</thead><tbody><tr class="better"><td>&lt;i&gt;</td></tr><tr><td>x</td></tr>'
        "</tbody></table>"
    )


def test_each_arms_estimate_variance_is_kept_for_difference_tests():
    """``control_variance`` / ``treatment_variance``: s^2 / n of each arm (Welch), p(1-p)/n (z)."""
    rng = np.random.default_rng(3)
    control, treatment = rng.normal(10, 2, 400), rng.normal(10.5, 3, 600)
    data = {
        "control": Moments.from_columns({"x": control, "y": (control > 10).astype(float)}),
        "treatment": Moments.from_columns({"x": treatment, "y": (treatment > 10).astype(float)}),
    }
    result = analyze(data, [Mean("x"), Proportion("y")], control="control")
    mean, proportion = (c.result for c in result.comparisons)
    assert mean.control_variance == pytest.approx(control.var(ddof=1) / 400, rel=1e-12)
    assert mean.treatment_variance == pytest.approx(treatment.var(ddof=1) / 600, rel=1e-12)
    assert math.sqrt(mean.control_variance + mean.treatment_variance) == pytest.approx(
        mean.standard_error, rel=1e-12
    )
    rate = float((control > 10).mean())
    assert proportion.control_variance == pytest.approx(rate * (1 - rate) / 400, rel=1e-12)
    assert mean.to_dict()["control_variance"] == mean.control_variance


def test_to_dict_carries_every_number_of_the_result_subclass() -> None:
    """A Fisher comparison's odds ratio and both standard errors reach the JSON and frames."""
    data = {
        arm: Moments.from_columns({"c": np.r_[np.ones(k), np.zeros(100 - k)]})
        for arm, k in (("control", 10), ("treatment", 20))
    }
    result = analyze(
        data, [Proportion("c", test="fisher"), Mean("c", name="mean")], control="control"
    )
    comparison = result.comparisons[0]
    row = comparison.to_dict()
    test = comparison.result
    assert row["odds_ratio"] == test.odds_ratio  # type: ignore[attr-defined]
    assert row["odds_ratio_ci_lower"] == test.odds_ratio_ci_lower  # type: ignore[attr-defined]
    assert row["pooled_standard_error"] == test.pooled_standard_error  # type: ignore[attr-defined]
    assert row["unpooled_standard_error"] == test.unpooled_standard_error  # type: ignore[attr-defined]
    assert "control_estimate" not in row  # named control_value above
    mean_row = result.to_records()[1]
    assert mean_row.keys() == row.keys()  # one set of columns for the frames
    assert mean_row["odds_ratio"] is None


def test_table_text_fits_a_width_as_one_block_per_row():
    headers = ["metric", "arm", "lift [95% CI]", "p-value"]
    rows = [
        ["conversion", "new_checkout", "+5.58% [+2.49%, +8.76%]", "0.0003375  better"],
        ["p90 minutes on site", "new_checkout", "-0.697% [-2.5%, +1.14%]", "0.4537"],
    ]
    wide = render.table_text(headers, rows)
    assert render.table_text(headers, rows, width=200) == wide  # fits: unchanged
    assert len(wide.splitlines()) == 4
    narrow = render.table_text(headers, rows, width=40)
    assert narrow == (
        "conversion\n"
        "  arm            new_checkout\n"
        "  lift [95% CI]  +5.58% [+2.49%, +8.76%]\n"
        "  p-value        0.0003375  better\n"
        "\n"
        "p90 minutes on site\n"
        "  arm            new_checkout\n"
        "  lift [95% CI]  -0.697% [-2.5%, +1.14%]\n"
        "  p-value        0.4537"
    )
    tiny = render.table_text(headers, rows, width=30)
    assert max(len(line) for line in tiny.splitlines()) <= 30
    # A wrapped cell continues under itself, never under the header.
    assert "  lift [95% CI]  +5.58%\n                 [+2.49%,\n                 +8.76%]" in tiny
    assert render.wrap_lines("a b c", None) == "a b c"

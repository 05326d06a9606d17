"""The adjustment options of the moment metrics: common slope, ``vcov``, ``reference``.

* `Mean`, `Proportion` and `Ratio` with ``adjustment="common-slope"``, a ``vcov`` and a
  ``reference`` give exactly the direct call of the statistics function (whose numbers
  tests/stats/test_r_ancova.py checks against R).
* An analysis plan accepts the new keys and refuses bad values with the key's path.
* Bad combinations (``vcov`` with CUPED, a t reference without covariates) fail early.
* The readout states the variance reductions with two significant digits: a 0.4 % reduction
  never reads "0%".
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import ablens
from ablens import (
    InputError,
    Mean,
    Moments,
    Proportion,
    Ratio,
    common_slope_test,
    cuped_test,
    regression_adjusted_test,
)
from ablens.analysis_plan import PlanError, plan_from_dict
from ablens.metrics.base import kind_named


def _arm(rng: np.random.Generator, n: int, effect: float) -> Moments:
    x1 = rng.normal(0, 1, n)
    x2 = rng.exponential(1, n)
    y = 10 + effect + 2 * x1 - x2 + rng.standard_t(4, n) * (1 + 0.5 * np.abs(x1))
    sessions = 1.0 + rng.poisson(3, n)
    orders = rng.binomial(sessions.astype(int), 0.2).astype(float)
    converted = (rng.uniform(size=n) < 0.3 + 0.1 * (x1 > 0)).astype(float)
    return Moments.from_columns(
        {"y": y, "x1": x1, "x2": x2, "orders": orders, "sessions": sessions, "conv": converted}
    )


@pytest.fixture(scope="module")
def arms() -> tuple[Moments, Moments]:
    rng = np.random.default_rng(14)
    return _arm(rng, 300, 0.0), _arm(rng, 280, 0.3)


@pytest.mark.parametrize("vcov", ["classical", "HC0", "HC1", "HC2", "HC3"])
@pytest.mark.parametrize("reference", ["normal", "t"])
def test_common_slope_metrics_are_the_statistics_functions(
    arms: tuple[Moments, Moments], vcov: str, reference: str
) -> None:
    control, treatment = arms
    options = {"adjustment": "common-slope", "vcov": vcov, "reference": reference}
    covariates = ("x1", "x2")
    cases = [
        (Mean("y", covariates=covariates, **options), {"column": "y"}),
        (Proportion("conv", covariates=covariates, **options), {"column": "conv"}),
        (
            Ratio("orders", "sessions", covariates=covariates, **options),
            {"numerator": "orders", "denominator": "sessions"},
        ),
    ]
    for metric, outcome in cases:
        got = metric.compare(control, treatment, confidence_level=0.9)
        want = common_slope_test(
            control,
            treatment,
            covariates,
            **outcome,
            confidence_level=0.9,
            vcov=vcov,  # type: ignore[arg-type]
            reference=reference,  # type: ignore[arg-type]
        )
        assert got == want
        assert got.test in kind_named(metric.metric_kind.name).test_titles


def test_regression_and_cuped_metrics_pass_vcov_and_reference(
    arms: tuple[Moments, Moments],
) -> None:
    control, treatment = arms
    lin = Mean("y", covariates=("x1",), adjustment="regression", vcov="HC3", reference="t")
    assert lin.compare(control, treatment, confidence_level=0.95) == regression_adjusted_test(
        control, treatment, ["x1"], column="y", vcov="HC3", reference="t"
    )
    cuped = Mean("y", covariates="x1", reference="t")
    result = cuped.compare(control, treatment, confidence_level=0.95)
    assert result == cuped_test(control, treatment, "x1", column="y", reference="t")
    assert result.test == "cuped-t"
    assert result.df is not None
    assert result.cuped_theta is not None
    titles = Mean.metric_kind.test_titles
    assert titles["cuped-t"] == "CUPED-adjusted Welch t test (pooled slope)"
    assert titles["common-slope-HC2-t"] == (
        "ANCOVA with a common slope, lm(y ~ treated + x), HC2 standard error, t test (n - 2 - k df)"
    )
    assert titles["ancova"] == "regression adjustment with per-arm slopes (Lin 2013), z test"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"covariates": ("x1",), "vcov": "HC4"}, r"vcov == 'HC4', must be one of"),
        ({"covariates": ("x1",), "reference": "z"}, r"reference == 'z', must be one of"),
        ({"covariates": ("x1",), "adjustment": "ancova"}, r"adjustment == 'ancova', must be"),
        ({"covariates": ("x1",), "vcov": "HC2"}, r"vcov == 'HC2' applies to adjustment="),
        ({"vcov": "HC2", "adjustment": "regression"}, r"vcov == 'HC2' applies to adjustment="),
        ({"reference": "t"}, r"reference == 't' applies to covariate-adjusted comparisons"),
        (
            {"covariates": ("x1", "x2")},
            r"CUPED takes one: use adjustment='regression' or 'common-slope'",
        ),
    ],
)
def test_bad_adjustment_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    makers = [
        lambda: Mean("y", **kwargs),  # type: ignore[arg-type]
        lambda: Proportion("conv", **kwargs),  # type: ignore[arg-type]
    ]
    if kwargs != {"reference": "t"}:  # an unadjusted ratio takes the t reference (ratio_test)
        makers.append(lambda: Ratio("orders", "sessions", **kwargs))  # type: ignore[arg-type]
    for make in makers:
        with pytest.raises(InputError, match=message):
            make()


def _plan(metric: dict[str, object]) -> dict[str, object]:
    return {
        "experiment_id": "e14",
        "source": {"path": "users.parquet"},
        "control": "a",
        "metrics": [metric],
    }


def test_a_plan_accepts_the_new_keys() -> None:
    metric = {
        "kind": "ratio",
        "numerator": "orders",
        "denominator": "sessions",
        "covariates": ["x1", "x2"],
        "adjustment": "common-slope",
        "vcov": "HC3",
        "reference": "t",
    }
    spec = plan_from_dict(_plan(metric)).metrics[0]
    built = spec.to_metric()
    assert isinstance(built, Ratio)
    assert (built.adjustment, built.vcov, built.reference) == ("common-slope", "HC3", "t")
    assert spec.to_dict()["vcov"] == "HC3"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"vcov": "HC5"}, "metrics[0].vcov == 'HC5', must be one of"),
        ({"reference": "student"}, "metrics[0].reference == 'student', must be one of"),
        ({"adjustment": "cuped", "vcov": "HC1"}, "vcov == 'HC1' applies to adjustment="),
    ],
)
def test_a_plan_refuses_bad_values(extra: dict[str, object], message: str) -> None:
    metric = {"kind": "mean", "column": "y", "covariates": ["x1"], **extra}
    with pytest.raises(PlanError) as error:
        plan_from_dict(_plan(metric))
    assert message in str(error.value)


def test_readout_shows_a_small_variance_reduction_with_its_digits() -> None:
    """A covariate with correlation ~0.065 removes ~0.4 % of the variance: not "by 0%"."""
    rng = np.random.default_rng(4)
    arms = {}
    for arm, effect in (("control", 0.0), ("treatment", 0.1)):
        x = rng.normal(0, 1, 20_000)
        y = 0.065 * x + rng.normal(effect, 1, 20_000)
        arms[arm] = Moments.from_columns({"y": y, "x": x})
    result = ablens.analyze(arms, [Mean("y", covariates="x")], control="control")
    reduction = result.comparisons[0].result.variance_reduction
    per_unit = result.comparisons[0].result.unit_variance_reduction
    assert reduction is not None
    assert per_unit is not None
    assert 0.001 < reduction < 0.01
    text = str(result)
    line = next(row for row in text.splitlines() if "covariate adjustment" in row)
    shown = re.search(
        r"cut the variance of the effect by (\d+\.\d+)% \(and cut that of the per-unit "
        r"values by (\d+\.\d+)%\)\.",
        line,
    )
    assert shown is not None, line
    # Two significant digits: the shown percent is the reduction rounded to 0.01 points.
    assert float(shown.group(1)) == pytest.approx(100 * reduction, abs=0.005 + 1e-12)
    assert float(shown.group(2)) == pytest.approx(100 * per_unit, abs=0.005 + 1e-12)
    assert "by 0%" not in text
    document = result.to_dict()
    comparison = document["comparisons"][0]
    assert comparison["unit_variance_reduction"] == per_unit
    assert comparison["cuped_theta"] == result.comparisons[0].result.cuped_theta

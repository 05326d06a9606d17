"""Common-slope ANCOVA, HC variances, t references and CUPED's extras against R.

The fixture ``tests/fixtures/r/ancova.json`` is written by ``Rscript tests/fixtures/r/ancova.R``
(run from the repository root) from raw data stored in it:

* `common_slope_test`: ``lm(y ~ treated + x1 + ...)``: the coefficient of ``treated``, its
  ``summary.lm`` standard error, t, residual df and p-value; the HC variances of
  ``sandwich::vcovHC``;
* `regression_adjusted_test` (Lin, 2013) with ``vcov`` and ``reference``: the interacted
  ``lm(y ~ treated * (I(x1 - c1) + ...))`` and ``vcovHC``, the per-arm ``lm`` fits;
* `cuped_test` with ``reference="t"``: ``t.test(y_adj_t, y_adj_c)`` (Welch) on the adjusted
  values, ``theta`` from ``coef(lm(y ~ x))`` and both variance reductions from ``var()``.

From moments alone, ablens computes the HC variances at the arm level (each unit's squared
residual and hat value replaced by their means over its arm; see docs/methodology/adjustment.md);
the exact ``vcovHC`` from the rows is checked in test_r_ancova_hc.py. Every
case checks that value to 1e-9 relative against R's computation of it from the rows; on the two
designed data sets (equal covariate means in both arms, constant hat values within each arm) it
is also checked to 1e-9 against ``sandwich::vcovHC`` itself, and on the 1,000 + 1,100-unit set to
within 1 % (an O(n^-1/2) difference, the order of the sampling error of either estimate).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from ablens import (
    Moments,
    common_slope_test,
    cuped_test,
    regression_adjusted_test,
    sandwich_design,
)
from ablens.errors import InputError
from rfixtures import load_r_fixture

RTOL = 1e-9
ATOL = 1e-12
# The arm-level HC variance against vcovHC at 1,000 and 1,100 units per arm (observed <= 0.3 %).
LARGE_RTOL = 1e-2
EXACT_DATASETS = ("designed_one", "designed_two")

REFERENCE: dict[str, Any] = load_r_fixture("ancova.json")
RESULT_FIELDS = (
    "control_estimate",
    "treatment_estimate",
    "effect",
    "effect_ci_lower",
    "effect_ci_upper",
    "standard_error",
    "relative_effect",
    "variance_reduction",
    "unit_variance_reduction",
)


@functools.cache
def _arms(name: str) -> tuple[Moments, Moments]:
    data = REFERENCE["datasets"][name]
    return Moments.from_columns(data["control"]), Moments.from_columns(data["treatment"])


def _close(actual: float | None, expected: float, rtol: float = RTOL) -> bool:
    return actual is not None and actual == pytest.approx(expected, rel=rtol, abs=ATOL, nan_ok=True)


def _with_methods(cases: list[dict[str, Any]]) -> list[Any]:
    return [
        pytest.param(case, method, id=f"{case['id']}-{method}")
        for case in cases
        for method in ("delta-log", "fieller")
    ]


def _check(result: Any, expected: dict[str, Any], method: str) -> None:
    """Every field, the df and the lift's interval; all disagreements reported at once."""
    pairs = [(name, getattr(result, name), expected[name]) for name in RESULT_FIELDS]
    test = expected["by_method"][method]  # a relative margin is tested by the method's pivot
    pairs += [(name, getattr(result, name), test[name]) for name in ("statistic", "p_value")]
    lower, upper = expected["relative_ci"][method]
    pairs += [
        ("relative_ci_lower", result.relative_ci_lower, lower),
        ("relative_ci_upper", result.relative_ci_upper, upper),
    ]
    if "cuped_theta" in expected:
        pairs.append(("cuped_theta", result.cuped_theta, expected["cuped_theta"]))
    mismatches = [
        f"{name}: python {actual!r} != R {wanted!r}"
        for name, actual, wanted in pairs
        if not _close(actual, wanted)
    ]
    wanted_df = expected.get("df")
    if wanted_df is None:
        if result.df is not None:
            mismatches.append(f"df: python {result.df!r} != None (normal reference)")
    elif not _close(result.df, wanted_df):
        mismatches.append(f"df: python {result.df!r} != R {wanted_df!r}")
    assert not mismatches, "\n".join(mismatches)


def _expected_test(base: str, options: dict[str, Any]) -> str:
    """From moments alone an HC variance is the arm-level approximation, and named so."""
    vcov = options.get("vcov", "classical")
    name = base if vcov == "classical" else f"{base}-{vcov}-arm-level"
    return f"{name}-t" if options["reference"] == "t" else name


# ---------------------------------------------------------------------------------------------
# The fixture


def test_fixture_records_its_provenance_and_cases() -> None:
    generated = REFERENCE["generated_with"]
    assert generated["r_version"].startswith("R version")
    assert set(generated["packages"]) >= {"stats", "jsonlite", "sandwich"}
    for key in ("common_slope_tests", "lin_tests"):
        cases = REFERENCE[key]
        assert {c["options"]["vcov"] for c in cases} == {"classical", "HC0", "HC1", "HC2", "HC3"}
        assert {c["options"]["reference"] for c in cases} == {"normal", "t"}
        assert {c["options"]["alternative"] for c in cases} == {"two-sided", "greater", "less"}
        assert {c["options"]["margin_type"] for c in cases} == {"absolute", "relative"}
        assert {len(c["covariates"]) for c in cases} == {1, 2}
        assert {c["dataset"] for c in cases} >= {*EXACT_DATASETS, "mean_large", "ratio_medium"}
    assert {c["options"]["reference"] for c in REFERENCE["cuped_tests"]} == {"normal", "t"}


# ---------------------------------------------------------------------------------------------
# Common slope: lm(y ~ treated + x)


@pytest.mark.parametrize(("case", "method"), _with_methods(REFERENCE["common_slope_tests"]))
def test_common_slope_test_matches_r(case: dict[str, Any], method: str) -> None:
    control, treatment = _arms(case["dataset"])
    result = common_slope_test(
        control,
        treatment,
        case["covariates"],
        **case["metric"],
        **case["options"],
        relative_method=method,
    )
    _check(result, case["expected"], method)
    assert result.test == _expected_test("common-slope", case["options"])


def _exact_cases(key: str, datasets: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(case, id=case["id"])
        for case in REFERENCE[key]
        if case["dataset"] in datasets
        and case["options"]["alternative"] == "two-sided"
        and case["options"]["margin"] == 0
    ]


@pytest.mark.parametrize("case", _exact_cases("common_slope_tests", EXACT_DATASETS))
def test_common_slope_variance_is_vcovhc_on_designed_data(case: dict[str, Any]) -> None:
    """Equal covariate means and constant hat values: the arm level is the exact sandwich."""
    control, treatment = _arms(case["dataset"])
    result = common_slope_test(
        control, treatment, case["covariates"], **case["metric"], **case["options"]
    )
    assert _close(result.standard_error**2, case["exact_variance"])


@pytest.mark.parametrize("case", _exact_cases("common_slope_tests", ("mean_large",)))
def test_common_slope_variance_approaches_vcovhc(case: dict[str, Any]) -> None:
    control, treatment = _arms(case["dataset"])
    result = common_slope_test(
        control, treatment, case["covariates"], **case["metric"], **case["options"]
    )
    assert result.standard_error**2 == pytest.approx(case["exact_variance"], rel=LARGE_RTOL)


# ---------------------------------------------------------------------------------------------
# Lin (2013) with a vcov and a reference


@pytest.mark.parametrize(("case", "method"), _with_methods(REFERENCE["lin_tests"]))
def test_regression_adjusted_test_options_match_r(case: dict[str, Any], method: str) -> None:
    control, treatment = _arms(case["dataset"])
    result = regression_adjusted_test(
        control,
        treatment,
        case["covariates"],
        **case["metric"],
        **case["options"],
        relative_method=method,
    )
    _check(result, case["expected"], method)
    assert result.test == _expected_test("ancova", case["options"])


@pytest.mark.parametrize("case", _exact_cases("lin_tests", EXACT_DATASETS))
def test_lin_variance_is_vcovhc_on_designed_data(case: dict[str, Any]) -> None:
    control, treatment = _arms(case["dataset"])
    result = regression_adjusted_test(
        control, treatment, case["covariates"], **case["metric"], **case["options"]
    )
    assert _close(result.standard_error**2, case["exact_variance"])


@pytest.mark.parametrize("case", _exact_cases("lin_tests", ("mean_large",)))
def test_lin_variance_approaches_vcovhc(case: dict[str, Any]) -> None:
    control, treatment = _arms(case["dataset"])
    result = regression_adjusted_test(
        control, treatment, case["covariates"], **case["metric"], **case["options"]
    )
    assert result.standard_error**2 == pytest.approx(case["exact_variance"], rel=LARGE_RTOL)


@pytest.mark.parametrize("name", sorted(REFERENCE["datasets"]))
def test_lin_hc2_from_moments_is_the_classical_variance(name: str) -> None:
    """At the arm level, 1 / (1 - mean h) = n_a / (n_a - 1 - k): HC2 is lm's per-arm variance."""
    control, treatment = _arms(name)
    covariates = ["pre_orders"] if "ratio" in name else ["x1"]
    metric: dict[str, Any] = (
        {"numerator": "orders", "denominator": "sessions"} if "ratio" in name else {"column": "y"}
    )
    classical = regression_adjusted_test(control, treatment, covariates, **metric)
    hc2 = regression_adjusted_test(control, treatment, covariates, **metric, vcov="HC2")
    assert hc2.standard_error == pytest.approx(classical.standard_error, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# CUPED: theta, the Welch t reference and both variance reductions


@pytest.mark.parametrize(("case", "method"), _with_methods(REFERENCE["cuped_tests"]))
def test_cuped_test_t_reference_and_extras_match_r(case: dict[str, Any], method: str) -> None:
    control, treatment = _arms(case["dataset"])
    result = cuped_test(
        control,
        treatment,
        case["covariate"],
        **case["metric"],
        **case["options"],
        relative_method=method,
    )
    _check(result, case["expected"], method)
    assert result.test == _expected_test("cuped", case["options"])


# ---------------------------------------------------------------------------------------------
# Bad input


def _small() -> tuple[Moments, Moments]:
    return _arms("mean_small")


@pytest.mark.parametrize(
    "function", [common_slope_test, regression_adjusted_test], ids=["common", "lin"]
)
def test_unknown_vcov_or_reference_is_refused(function: Any) -> None:
    control, treatment = _small()
    with pytest.raises(InputError, match=r"vcov == 'HC4', must be one of"):
        function(control, treatment, ["x1"], column="y", vcov="HC4")
    with pytest.raises(InputError, match=r"vcov == 'hc2', must be one of"):
        function(control, treatment, ["x1"], column="y", vcov="hc2")
    with pytest.raises(InputError, match=r"reference == 'z', must be one of"):
        function(control, treatment, ["x1"], column="y", reference="z")


def test_cuped_unknown_reference_is_refused() -> None:
    control, treatment = _small()
    with pytest.raises(InputError, match=r"reference == 'welch', must be one of"):
        cuped_test(control, treatment, "x1", column="y", reference="welch")


def test_common_slope_needs_enough_units() -> None:
    one = Moments.from_columns({"y": [1.0], "x1": [0.5]})
    two = Moments.from_columns({"y": [1.0, 2.0], "x1": [0.5, 1.5]})
    three = Moments.from_columns({"y": [1.0, 2.0, 4.0], "x1": [0.5, 1.5, 1.0]})
    with pytest.raises(InputError, match=r"have 1 and 3 unit\(s\), must have >= 2 each"):
        common_slope_test(one, three, ["x1"], column="y")
    with pytest.raises(InputError, match=r"covariates is empty"):
        common_slope_test(three, three, [], column="y")
    # 2 + 2 units and one covariate leave n - 2 - k = 1 residual df: the minimum, accepted.
    assert common_slope_test(two, two, ["x1"], column="y", reference="t").df == 1.0


def test_t_reference_degrees_of_freedom_at_the_minimum() -> None:
    """Lin with 2 covariates on arms of 4 units leaves 1 residual df per arm; common slope
    with 2 covariates on 3 + 2 units leaves n - 2 - k = 1."""
    rows_c = {"y": [1.0, 2.0, 4.0, 3.5], "x1": [0.5, 1.5, 1.0, 2.0], "x2": [1.0, 0.0, 2.0, 1.5]}
    rows_t = {"y": [2.0, 2.5, 5.0, 3.0], "x1": [0.0, 1.0, 2.0, 1.5], "x2": [2.0, 1.0, 0.0, 1.0]}
    control, treatment = Moments.from_columns(rows_c), Moments.from_columns(rows_t)
    lin = regression_adjusted_test(control, treatment, ["x1", "x2"], column="y", reference="t")
    assert lin.df is not None
    assert lin.df >= 1
    small_c = Moments.from_columns({k: v[:3] for k, v in rows_c.items()})
    small_t = Moments.from_columns({k: v[:2] for k, v in rows_t.items()})
    fit = common_slope_test(small_c, small_t, ["x1", "x2"], column="y", reference="t")
    assert fit.df == 1.0
    with pytest.raises(
        InputError, match=r"an arm has 3 unit\(s\), must have >= 4 to fit 2 covariate"
    ):
        regression_adjusted_test(small_c, treatment, ["x1", "x2"], column="y", reference="t")


def test_hc2_with_a_mean_leverage_of_one_is_refused() -> None:
    # The control's two units carry all the covariate's within-arm variation: their hat values
    # are 1/2 + 1/2 = 1, and HC2/HC3 would divide by 1 - h = 0.
    control = Moments.from_columns({"y": [1.0, 2.0], "x1": [0.0, 1.0]})
    treatment = Moments.from_columns({"y": [2.0, 2.5, 5.0], "x1": [5.0, 5.0, 5.0]})
    assert common_slope_test(control, treatment, ["x1"], column="y", vcov="HC1").df is None
    for vcov in ("HC2", "HC3"):
        with pytest.raises(InputError, match=rf"mean leverage is 1, must be < 1 for vcov='{vcov}'"):
            common_slope_test(control, treatment, ["x1"], column="y", vcov=vcov)


def test_t_reference_on_constant_adjusted_values_is_refused() -> None:
    # y is an exact linear function of x in both arms: no residual variance to take a df from.
    control = Moments.from_columns({"y": [1.0, 2.0, 3.0], "x1": [1.0, 2.0, 3.0]})
    treatment = Moments.from_columns({"y": [2.0, 3.0, 4.0], "x1": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match=r"do not vary in either arm"):
        regression_adjusted_test(control, treatment, ["x1"], column="y", reference="t")
    with pytest.raises(InputError, match=r"do not vary in either arm"):
        cuped_test(control, treatment, "x1", column="y", reference="t")


# ---------------------------------------------------------------------------------------------
# The exact sandwich from the rows, on every data set of this fixture (12 to 1,100 per arm)


def _hc_cases(key: str) -> list[Any]:
    return [
        pytest.param(case, id=case["id"])
        for case in REFERENCE[key]
        if case["options"]["vcov"] != "classical"
        and case["options"]["alternative"] == "two-sided"
        and case["options"]["margin"] == 0
        and case["options"]["reference"] == "normal"
    ]


@pytest.mark.parametrize(
    ("key", "case"),
    [
        pytest.param(key, *param.values, id=param.id)
        for key in ("common_slope_tests", "lin_tests")
        for param in _hc_cases(key)
    ],
)
def test_hc_variance_from_the_rows_is_vcovhc(key: str, case: dict[str, Any]) -> None:
    data = REFERENCE["datasets"][case["dataset"]]
    control, treatment = _arms(case["dataset"])
    adjustment = "common-slope" if key == "common_slope_tests" else "regression"
    design = sandwich_design(
        control, treatment, case["covariates"], adjustment=adjustment, **case["metric"]
    )
    vcov = case["options"]["vcov"]
    shares = design.shares(data["control"], data["treatment"], vcov)
    function = common_slope_test if adjustment == "common-slope" else regression_adjusted_test
    result = function(
        control, treatment, case["covariates"], **case["metric"], vcov=vcov, hc_shares=shares
    )
    assert _close(result.standard_error**2, case["exact_variance"])
    assert (
        result.test == ("common-slope" if adjustment == "common-slope" else "ancova") + f"-{vcov}"
    )

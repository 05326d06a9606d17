"""Exact HC0-HC3 variances of adjusted effects against R's ``sandwich::vcovHC``.

The fixture ``tests/fixtures/r/ancova_hc.json`` is written by ``Rscript
tests/fixtures/r/ancova_hc.R`` from raw data stored in it (12 to 150 units per arm,
heteroskedastic, 1 to 3 covariates; means, a 0/1 metric and a linearized ratio): for
``lm(y ~ treated + x1 + ...)`` (common slope) and Lin's ``lm(y ~ treated * (I(x1 - c1) + ...))``,
``vcovHC(fit, type)["treated", "treated"]``, each arm's share of it, and the arm-level
approximation ablens gives from moments alone.

Checked to 1e-9 relative: the exact shares from arrays (`SandwichDesign.shares`), the tests fed
with them (effect, variance, p-values with normal and t references), `ablens.analyze` on pandas
and DuckDB tables (one extra query in the engine), and the arm-level value, test name and note
from moments alone.
"""

from __future__ import annotations

import functools
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

import ablens
import ablens.data.sandwich
from ablens import (
    HCShares,
    Moments,
    common_slope_test,
    compute_sandwich_shares,
    regression_adjusted_test,
    sandwich_design,
)
from ablens.errors import DataError, InputError
from rfixtures import load_r_fixture

RTOL = 1e-9
REFERENCE: dict[str, Any] = load_r_fixture("ancova_hc.json")
CASES = [pytest.param(case, id=case["id"]) for case in REFERENCE["cases"]]
TESTS = {"regression": regression_adjusted_test, "common-slope": common_slope_test}
BASE_NAMES = {"regression": "ancova", "common-slope": "common-slope"}


@functools.cache
def _columns(name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    data = REFERENCE["datasets"][name]
    return tuple(  # type: ignore[return-value]
        {k: np.asarray(v, dtype=np.float64) for k, v in data[arm].items()}
        for arm in ("control", "treatment")
    )


@functools.cache
def _arms(name: str) -> tuple[Moments, Moments]:
    control, treatment = _columns(name)
    return Moments.from_columns(control), Moments.from_columns(treatment)


@functools.cache
def _table(name: str) -> pd.DataFrame:
    control, treatment = _columns(name)
    frames = [
        pd.DataFrame({"variant": label, **columns})
        for label, columns in (("control", control), ("treatment", treatment))
    ]
    return pd.concat(frames, ignore_index=True)


def _metric(case: dict[str, Any]) -> ablens.Metric:
    options = {
        "covariates": tuple(case["covariates"]),
        "adjustment": case["adjustment"],
        "vcov": case["vcov"],
    }
    kind = REFERENCE["datasets"][case["dataset"]]["kind"]
    if kind == "ratio":
        return ablens.Ratio("orders", "sessions", name="m", **options)
    if kind == "proportion":
        return ablens.Proportion("y", name="m", **options)
    return ablens.Mean("y", name="m", **options)


def _close(actual: float | None, expected: float) -> bool:
    return actual is not None and actual == pytest.approx(expected, rel=RTOL, abs=1e-15)


def _design(case: dict[str, Any]) -> ablens.SandwichDesign:
    control, treatment = _arms(case["dataset"])
    return sandwich_design(
        control, treatment, case["covariates"], adjustment=case["adjustment"], **case["metric"]
    )


def test_fixture_covers_small_heteroskedastic_and_several_covariates() -> None:
    generated = REFERENCE["generated_with"]
    assert generated["r_version"].startswith("R version")
    assert "sandwich" in generated["packages"]
    cases = REFERENCE["cases"]
    assert {c["vcov"] for c in cases} == {"HC0", "HC1", "HC2", "HC3"}
    assert {c["adjustment"] for c in cases} == {"regression", "common-slope"}
    assert {len(c["covariates"]) for c in cases} == {1, 2, 3}
    sizes = {
        len(_columns(c["dataset"])[0]["pre_orders" if "ratio" in c["id"] else "x1"]) for c in cases
    }
    assert min(sizes) <= 15
    # The arm-level value is off by more than 1e-9 wherever it is checked to be exact here.
    assert min(abs(c["arm_level_variance"] / c["variance"] - 1) for c in cases) > 1e-4


@pytest.mark.parametrize("case", CASES)
def test_exact_shares_from_arrays_match_vcovhc(case: dict[str, Any]) -> None:
    control_rows, treatment_rows = _columns(case["dataset"])
    shares = _design(case).shares(control_rows, treatment_rows, case["vcov"])
    assert _close(shares.control, case["control_share"])
    assert _close(shares.treatment, case["treatment_share"])
    control, treatment = _arms(case["dataset"])
    test = TESTS[case["adjustment"]]
    common = {"vcov": case["vcov"], "hc_shares": shares, **case["metric"]}
    normal = test(control, treatment, case["covariates"], **common)
    assert normal.test == f"{BASE_NAMES[case['adjustment']]}-{case['vcov']}"
    assert not any("arm-level" in note for note in normal.notes)
    assert _close(normal.effect, case["effect"])
    assert _close(normal.standard_error**2, case["variance"])
    assert _close(normal.p_value, case["p_value_normal"])
    with_t = test(control, treatment, case["covariates"], reference="t", **common)
    assert _close(with_t.df, case["df_t"])
    assert _close(with_t.p_value, case["p_value_t"])


@pytest.mark.parametrize("case", CASES)
def test_moments_alone_give_the_arm_level_value_named_and_noted(case: dict[str, Any]) -> None:
    control, treatment = _arms(case["dataset"])
    result = TESTS[case["adjustment"]](
        control, treatment, case["covariates"], vcov=case["vcov"], **case["metric"]
    )
    assert result.test == f"{BASE_NAMES[case['adjustment']]}-{case['vcov']}-arm-level"
    assert _close(result.standard_error**2, case["arm_level_variance"])
    assert any(note.startswith(f"vcov={case['vcov']!r} is the arm-level") for note in result.notes)


def _engine_tables(name: str) -> list[Any]:
    return [_table(name), duckdb.from_df(_table(name))]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("case", CASES)
def test_analyze_on_a_table_is_exact(case: dict[str, Any], engine: str) -> None:
    table = _table(case["dataset"])
    data = table if engine == "pandas" else duckdb.from_df(table)
    result = ablens.analyze(data, [_metric(case)], control="control").comparison("m").result
    assert result.test == f"{BASE_NAMES[case['adjustment']]}-{case['vcov']}"
    assert _close(result.effect, case["effect"])
    assert _close(result.standard_error**2, case["variance"])
    assert _close(result.control_variance, case["control_share"])
    assert not any("arm-level" in note for note in result.notes)


def test_analyze_from_moments_keeps_the_arm_level_value_with_its_note() -> None:
    case = REFERENCE["cases"][0]
    control, treatment = _arms(case["dataset"])
    result = ablens.analyze(
        {"control": control, "treatment": treatment}, [_metric(case)], control="control"
    ).comparison("m")
    assert result.result.test.endswith("-arm-level")
    assert _close(result.result.standard_error**2, case["arm_level_variance"])
    assert "arm-level approximation of sandwich::vcovHC" in " ".join(result.result.notes)


def test_analyze_segments_and_corrections_use_the_exact_value() -> None:
    case = next(c for c in REFERENCE["cases"] if c["dataset"] == "medium_two")
    table = _table("medium_two")
    doubled = pd.concat([table.assign(site="a"), table.assign(site="b")], ignore_index=True)
    result = ablens.analyze(
        doubled, [_metric(case)], control="control", segments=["site"], correction="holm"
    )
    for segment in ("site=a", "site=b"):
        exact = result.segments[segment].comparison("m").result
        assert _close(exact.standard_error**2, case["variance"])
    # Over both sites (every unit twice) the variance is another one, but still summed exactly.
    assert not result.comparison("m").result.test.endswith("-arm-level")
    assert result.comparison("m").adjusted_p_value is not None


def test_compute_sandwich_shares_direct() -> None:
    case = next(c for c in REFERENCE["cases"] if c["vcov"] == "HC3")
    shares = compute_sandwich_shares(
        duckdb.from_df(_table(case["dataset"])),
        variant="variant",
        control="control",
        treatment="treatment",
        design=_design(case),
        vcov="HC3",
    )
    assert shares.vcov == "HC3"
    assert _close(shares.control, case["control_share"])
    assert _close(shares.treatment, case["treatment_share"])


# ---------------------------------------------------------------------------------------------
# Bad input


def _first() -> tuple[dict[str, Any], Moments, Moments]:
    case = REFERENCE["cases"][0]
    control, treatment = _arms(case["dataset"])
    return case, control, treatment


def test_hc_shares_must_match_the_vcov() -> None:
    _, control, treatment = _first()
    shares = HCShares("HC2", 0.1, 0.2)
    with pytest.raises(InputError, match=r"computed for vcov='HC2', must be for vcov='HC3'"):
        common_slope_test(control, treatment, ["x1"], column="y", vcov="HC3", hc_shares=shares)
    with pytest.raises(InputError, match=r"hc_shares is given with vcov='classical'"):
        common_slope_test(control, treatment, ["x1"], column="y", hc_shares=shares)
    with pytest.raises(InputError, match=r"hc_shares is a tuple, must be an HCShares"):
        regression_adjusted_test(
            control,
            treatment,
            ["x1"],
            column="y",
            vcov="HC2",
            hc_shares=(0.1, 0.2),  # type: ignore[arg-type]
        )
    with pytest.raises(InputError, match=r"hc_shares holds \[-0.1, 0.2\], must be finite"):
        regression_adjusted_test(
            control, treatment, ["x1"], column="y", vcov="HC2", hc_shares=HCShares("HC2", -0.1, 0.2)
        )


def test_sandwich_design_and_shares_refuse_bad_input() -> None:
    case, control, treatment = _first()
    with pytest.raises(InputError, match=r"adjustment == 'cuped', must be one of"):
        sandwich_design(control, treatment, ["x1"], column="y", adjustment="cuped")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"covariates is empty"):
        sandwich_design(control, treatment, [], column="y")
    design = sandwich_design(control, treatment, ["x1"], column="y")
    rows_c, rows_t = _columns(case["dataset"])
    with pytest.raises(InputError, match=r"vcov == 'classical', must be one of"):
        design.shares(rows_c, rows_t, "classical")
    with pytest.raises(InputError, match=r"control has no column 'x1'"):
        design.shares({"y": rows_c["y"]}, rows_t, "HC0")
    with pytest.raises(InputError, match=r"treatment has \[3\] row\(s\) per column, must have"):
        design.shares(rows_c, {k: v[:3] for k, v in rows_t.items()}, "HC0")


def test_unit_leverage_is_refused_for_hc2_and_hc3() -> None:
    # The control's third unit alone sets x2's slope in its arm: its hat value is 1.
    rows_c = {"y": [1.0, 2.0, 4.0, 3.0], "x1": [0.0, 1.0, 2.0, 3.0], "x2": [0.0, 0.0, 1.0, 0.0]}
    rows_t = {
        "y": [2.0, 4.0, 3.0, 5.0, 1.0],
        "x1": [0.5, 1.0, 2.5, 2.0, 0.0],
        "x2": [1.0, 0.0, 1.0, 0.0, 1.0],
    }
    control, treatment = Moments.from_columns(rows_c), Moments.from_columns(rows_t)
    design = sandwich_design(control, treatment, ["x1", "x2"], column="y")
    assert design.shares(rows_c, rows_t, "HC1").control >= 0
    for vcov in ("HC2", "HC3"):
        with pytest.raises(InputError, match=rf"control arm has leverage 1.*vcov='{vcov}'"):
            design.shares(rows_c, rows_t, vcov)  # type: ignore[arg-type]


def test_compute_sandwich_shares_refuses_bad_input() -> None:
    case = REFERENCE["cases"][0]
    design = _design(case)
    table = _table(case["dataset"])
    common: dict[str, Any] = {"variant": "variant", "control": "control", "design": design}
    with pytest.raises(InputError, match=r"vcov == 'HC4', must be one of"):
        compute_sandwich_shares(table, treatment="treatment", vcov="HC4", **common)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"design is a dict, must be a SandwichDesign"):
        compute_sandwich_shares(
            table,
            variant="variant",
            control="control",
            treatment="treatment",
            design={},
            vcov="HC0",  # type: ignore[arg-type]
        )
    with pytest.raises(DataError, match=r"arm 'other' has no rows"):
        compute_sandwich_shares(table, treatment="other", vcov="HC0", **common)
    with pytest.raises(DataError, match=r"arm 'treatment' has \d+ rows, the design \d+"):
        compute_sandwich_shares(table.iloc[:-1], treatment="treatment", vcov="HC0", **common)
    holes = table.assign(x1=table["x1"].where(table.index != 0))
    with pytest.raises(DataError, match=r"column 'x1' has 1 NULL value\(s\) in arm 'control'"):
        compute_sandwich_shares(holes, treatment="treatment", vcov="HC0", **common)


def test_an_engine_that_cannot_sum_falls_back_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import ablens.analysis  # noqa: PLC0415 - the module whose engine call is replaced

    def fails(*args: object, **kwargs: object) -> HCShares:
        raise RuntimeError("no such function: POWER\nsecond line")

    monkeypatch.setattr(ablens.data.sandwich, "compute_sandwich_shares", fails)
    case = REFERENCE["cases"][0]
    result = ablens.analyze(_table(case["dataset"]), [_metric(case)], control="control")
    comparison = result.comparison("m").result
    assert comparison.test.endswith("-arm-level")
    assert _close(comparison.standard_error**2, case["arm_level_variance"])
    assert comparison.notes[-1] == (
        f"the exact {case['vcov']} sum over the rows could not run in this engine (RuntimeError: "
        "no such function: POWER); the arm-level approximation is shown"
    )
    assert any("arm-level approximation of sandwich::vcovHC" in n for n in comparison.notes)


def test_data_errors_in_the_extra_pass_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import ablens.analysis  # noqa: PLC0415 - the module whose engine call is replaced

    def refuses(*args: object, **kwargs: object) -> HCShares:
        raise DataError("column 'x1' has 1 NULL value(s)")

    monkeypatch.setattr(ablens.data.sandwich, "compute_sandwich_shares", refuses)
    case = REFERENCE["cases"][0]
    with pytest.raises(DataError, match="NULL"):
        ablens.analyze(_table(case["dataset"]), [_metric(case)], control="control")

"""Metric combinations end to end: ratio covariates, post-stratified ratios, CUPED within strata.

* `Ratio` with a ratio covariate, `PostStratified` with a covariate and `PostStratifiedRatio`
  (with none, a column or a ratio covariate) give the same analysis from a pandas table, a
  polars table and DuckDB as the statistics functions on `Moments.from_columns` of the same rows:
  the engine's queries compute every cross-moment they declare, per stratum too.
* Consistency: one stratum without a covariate is the plain delta-method `ratio_test`; one
  stratum with a column covariate is `cuped_test` of a mean.
* Analysis plans accept the new keys, and reject them where they do not apply.
* Bad input fails with an `InputError` naming the argument and the fix.
"""

from __future__ import annotations

import numpy as np
import pytest

import ablens
from ablens import (
    InputError,
    Moments,
    PostStratified,
    PostStratifiedRatio,
    Ratio,
    cuped_ratio_test,
    cuped_test,
    ratio_test,
)
from ablens.analysis_plan import PlanError, plan_from_dict
from ablens.stats import post_stratified_test

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
duckdb = pytest.importorskip("duckdb")

RTOL = ATOL = 1e-12
ARMS = ("control", "treatment")
PLATFORMS = ("android", "ios", "web", "new")
NUMERIC = ("revenue", "sessions", "pre_revenue", "pre_sessions")
RATIO_COVARIATE = {"covariate_numerator": "pre_revenue", "covariate_denominator": "pre_sessions"}


def _columns(seed: int = 2018, units: int = 3_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    variant = rng.choice(np.array(ARMS), size=units)
    platform = rng.choice(np.array(PLATFORMS), size=units, p=[0.4, 0.3, 0.2, 0.1])
    level = np.select([platform == "ios", platform == "web"], [2.5, 0.6], 1.0)
    activity = rng.gamma(2.0, 1.5 * level)
    spend = np.round(rng.gamma(2.0, 2.0 * level), 2)
    sessions = 1 + rng.poisson(activity)
    new = platform == "new"
    pre_sessions = np.where(new, 0, 1 + rng.poisson(activity))
    lift = np.where(variant == "treatment", 1.05, 1.0)
    return {
        "user": np.arange(units),
        "variant": variant,
        "platform": platform,
        "revenue": np.round(sessions * spend * lift * rng.gamma(4.0, 0.25, units), 2),
        "sessions": sessions.astype(np.float64),
        "pre_revenue": np.round(pre_sessions * spend * rng.gamma(4.0, 0.25, units), 2),
        "pre_sessions": pre_sessions.astype(np.float64),
    }


COLUMNS = _columns()
METRICS = [
    Ratio("revenue", "sessions", name="ratio cuped", **RATIO_COVARIATE),
    PostStratified("revenue", "platform", name="mean | platform cuped", covariates="pre_revenue"),
    PostStratifiedRatio("revenue", "sessions", "platform", name="ratio | platform"),
    PostStratifiedRatio(
        "revenue", "sessions", "platform", name="ratio | platform cuped", covariates="pre_revenue"
    ),
    PostStratifiedRatio(
        "revenue", "sessions", "platform", name="ratio | platform ratio cuped", **RATIO_COVARIATE
    ),
]


def _moments(arm: str, platform: str | None = None) -> Moments:
    keep = COLUMNS["variant"] == arm
    if platform is not None:
        keep &= COLUMNS["platform"] == platform
    return Moments.from_columns({c: COLUMNS[c][keep] for c in NUMERIC})


def _strata(arm: str) -> dict[str, Moments]:
    return {p: _moments(arm, p) for p in PLATFORMS}


def _direct(name: str):
    if name == "ratio cuped":
        return cuped_ratio_test(
            _moments("control"),
            _moments("treatment"),
            "revenue",
            "sessions",
            "pre_revenue",
            "pre_sessions",
        )
    c, t = _strata("control"), _strata("treatment")
    arguments = {
        "mean | platform cuped": {"column": "revenue", "covariate": "pre_revenue"},
        "ratio | platform": {"numerator": "revenue", "denominator": "sessions"},
        "ratio | platform cuped": {
            "numerator": "revenue",
            "denominator": "sessions",
            "covariate": "pre_revenue",
        },
        "ratio | platform ratio cuped": {
            "numerator": "revenue",
            "denominator": "sessions",
            **RATIO_COVARIATE,
        },
    }[name]
    return post_stratified_test(c, t, **arguments)


def _table(engine: str):
    frame = pd.DataFrame(COLUMNS)
    if engine == "pandas":
        return frame
    if engine == "polars":
        return pl.DataFrame(COLUMNS)
    return duckdb.from_df(frame)


@pytest.fixture(scope="module")
def analyses():
    return {
        engine: ablens.analyze(_table(engine), METRICS, control="control", unit="user")
        for engine in ("pandas", "polars", "duckdb")
    }


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
@pytest.mark.parametrize("metric", [m.name for m in METRICS])
def test_analysis_equals_direct_stats_call(analyses, engine, metric):
    result = analyses[engine].comparison(metric).result
    expected = _direct(metric)
    for field in ("effect", "standard_error", "p_value", "relative_effect", "variance_reduction"):
        assert getattr(result, field) == pytest.approx(
            getattr(expected, field), rel=RTOL, abs=ATOL
        ), field
    assert result.test == expected.test
    assert result.notes == expected.notes


def test_tests_and_notes(analyses):
    by_name = {c.metric: c.result for c in analyses["duckdb"].comparisons}
    assert by_name["ratio cuped"].test == "cuped"
    assert by_name["ratio | platform"].test == "post-stratified"
    assert by_name["ratio | platform ratio cuped"].test == "post-stratified-cuped"
    # new users have no pre-period: that stratum is left unadjusted, and said so
    assert by_name["ratio | platform cuped"].notes == (
        "covariate 'pre_revenue' is constant in stratum(s) new, not adjusted",
    )
    for result in by_name.values():
        assert result.variance_reduction > 0


def test_ratio_covariate_from_precomputed_moments():
    data = {arm: _moments(arm) for arm in ARMS}
    result = ablens.analyze(data, METRICS[:1], control="control").comparisons[0].result
    assert result.effect == pytest.approx(_direct("ratio cuped").effect, rel=RTOL)


@pytest.mark.parametrize("metric", METRICS[1:], ids=lambda m: m.name)
def test_post_stratified_metrics_ask_for_the_table(metric):
    data = {arm: _moments(arm) for arm in ARMS}
    with pytest.raises(InputError, match="needs the table itself"):
        ablens.analyze(data, [metric], control="control")


def test_required_columns_and_pairs():
    ratio = METRICS[0]
    assert ratio.required_columns() == ("revenue", "sessions", "pre_revenue", "pre_sessions")
    assert set(ratio.required_pairs()) == {
        ("revenue", "sessions"),
        ("revenue", "pre_revenue"),
        ("revenue", "pre_sessions"),
        ("sessions", "pre_revenue"),
        ("sessions", "pre_sessions"),
        ("pre_revenue", "pre_sessions"),
    }
    assert METRICS[1].required_pairs() == (("revenue", "pre_revenue"),)
    assert METRICS[2].required_pairs() == (("revenue", "sessions"),)
    assert set(METRICS[4].required_pairs()) == set(ratio.required_pairs())


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_required_moments_suffice(metric):
    """Moments with exactly the declared columns and cross-moments are enough (NaN elsewhere)."""

    def declared(moments: Moments) -> Moments:
        columns = list(metric.required_columns())
        sub = moments.select(columns)
        keep = np.full((len(columns),) * 2, np.nan)
        np.fill_diagonal(keep, np.diag(sub.comoment))
        for a, b in metric.required_pairs():
            i, j = columns.index(a), columns.index(b)
            keep[i, j] = keep[j, i] = sub.comoment[i, j]
        return Moments(sub.count, sub.columns, sub.mean, keep, sub.mean_low)

    if isinstance(metric, Ratio):
        result = metric.compare(
            declared(_moments("control")), declared(_moments("treatment")), confidence_level=0.95
        )
    else:
        result = metric.compare_strata(
            {p: declared(m) for p, m in _strata("control").items()},
            {p: declared(m) for p, m in _strata("treatment").items()},
            confidence_level=0.95,
        )
    assert result.effect == pytest.approx(_direct(metric.name).effect, rel=RTOL)


# ------------------------------------------------------------------------------- consistency
def test_one_stratum_without_covariate_is_the_delta_method():
    c, t = _moments("control"), _moments("treatment")
    stratified = post_stratified_test(
        {"all": c}, {"all": t}, numerator="revenue", denominator="sessions"
    )
    plain = ratio_test(c, t, "revenue", "sessions")
    for field in ("effect", "standard_error", "p_value", "relative_ci_lower"):
        assert getattr(stratified, field) == pytest.approx(getattr(plain, field), rel=1e-12)
    assert stratified.variance_reduction == pytest.approx(0.0, abs=1e-12)


def test_one_stratum_with_a_column_covariate_is_cuped_of_a_mean():
    c, t = _moments("control"), _moments("treatment")
    stratified = post_stratified_test({0: c}, {0: t}, "revenue", covariate="pre_revenue")
    cuped = cuped_test(c, t, "pre_revenue", column="revenue")
    for field in ("effect", "standard_error", "p_value", "variance_reduction"):
        assert getattr(stratified, field) == pytest.approx(getattr(cuped, field), rel=1e-12)


def test_imbalanced_ratio_covariate_is_noted():
    c, t = _moments("control"), _moments("treatment")
    rows = COLUMNS["variant"] == "treatment"
    leaky = {k: COLUMNS[k][rows] for k in NUMERIC}
    leaky["pre_revenue"] = leaky["pre_revenue"] * 1.5  # moved by the treatment
    result = cuped_ratio_test(
        c, Moments.from_columns(leaky), "revenue", "sessions", "pre_revenue", "pre_sessions"
    )
    assert result.notes[0].startswith("covariate 'pre_revenue / pre_sessions' differs between arms")
    assert not cuped_ratio_test(c, t, "revenue", "sessions", "pre_revenue", "pre_sessions").notes


# ------------------------------------------------------------------------------- plans
BASE_PLAN = {"experiment_id": "x", "source": {"path": "users.parquet"}, "control": "control"}


def test_plan_accepts_the_new_keys():
    plan = plan_from_dict(
        {
            **BASE_PLAN,
            "metrics": [
                {"kind": "ratio", "numerator": "revenue", "denominator": "sessions",
                 **RATIO_COVARIATE},
                {"kind": "post-stratified", "column": "revenue", "stratum": "platform",
                 "covariates": "pre_revenue"},
                {"kind": "post-stratified-ratio", "numerator": "revenue",
                 "denominator": "sessions", "stratum": "platform", **RATIO_COVARIATE},
            ],
        }
    )  # fmt: skip
    metrics = [spec.to_metric() for spec in plan.metrics]
    assert metrics[0] == Ratio("revenue", "sessions", **RATIO_COVARIATE)
    assert metrics[1] == PostStratified("revenue", "platform", covariates=("pre_revenue",))
    assert metrics[2] == PostStratifiedRatio("revenue", "sessions", "platform", **RATIO_COVARIATE)
    assert plan.metrics[2].columns() == (
        "revenue",
        "sessions",
        "platform",
        "pre_revenue",
        "pre_sessions",
    )
    again = plan_from_dict(plan.to_dict())
    assert again == plan


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (
            {"kind": "mean", "column": "revenue", **RATIO_COVARIATE},
            "covariate_numerator is not a key of a 'mean' metric",
        ),
        (
            {"kind": "ratio", "numerator": "r", "denominator": "s", "covariate_numerator": "p"},
            "covariate_denominator is missing; a ratio covariate needs both",
        ),
        (
            {"kind": "post-stratified", "column": "r", "stratum": "p", "covariates": ["a", "b"]},
            "post-stratification adjusts by one",
        ),
    ],
)
def test_plan_rejects_misplaced_keys(metric, message):
    with pytest.raises(PlanError, match=message):
        plan_from_dict({**BASE_PLAN, "metrics": [metric]})


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Ratio("r", "s", covariate_numerator="p"),
            "covariate_denominator is missing",
        ),
        (
            lambda: Ratio("r", "s", covariate_denominator="q"),
            "covariate_numerator is missing",
        ),
        (
            lambda: Ratio("r", "s", covariate_numerator="p", covariate_denominator="p"),
            "covariate_numerator and covariate_denominator are the same column",
        ),
        (
            lambda: Ratio("r", "s", covariate_numerator="r", covariate_denominator="q"),
            "covariate_numerator is 'r', which is a column of the metric",
        ),
        (
            lambda: Ratio("r", "s", covariates=("x",), **RATIO_COVARIATE),
            "give covariates or a ratio covariate",
        ),
        (
            lambda: Ratio("r", "s", adjustment="regression", **RATIO_COVARIATE),
            "adjustment == 'regression' with a ratio covariate",
        ),
        (
            lambda: PostStratified("r", "p", covariates=("a", "b")),
            "covariates has 2 columns; post-stratification adjusts by one",
        ),
        (
            lambda: PostStratified("r", "p", covariates="p"),
            "covariates has 'p', which is the metric's own or stratum column",
        ),
        (
            lambda: PostStratifiedRatio("r", "s", "s"),
            "stratum is 's', which is a column of the ratio",
        ),
        (
            lambda: PostStratifiedRatio("r", "s", "p", covariates="x", **RATIO_COVARIATE),
            "give covariates or a ratio covariate",
        ),
        (
            lambda: PostStratifiedRatio("r", "r", "p"),
            "numerator and denominator are the same column",
        ),
    ],
)
def test_metrics_reject_bad_input(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_a_ratio_covariate_is_not_an_argument_of_a_mean():
    with pytest.raises(TypeError, match="covariate_numerator"):
        ablens.Mean("revenue", **RATIO_COVARIATE)  # type: ignore[call-arg]


def _small(values: dict[str, list[float]]) -> Moments:
    return Moments.from_columns({k: np.asarray(v, dtype=np.float64) for k, v in values.items()})


TWO = {"r": [1.0, 2.0, 4.0], "s": [1.0, 2.0, 2.0], "p": [1.0, 3.0, 2.0], "q": [1.0, 1.0, 2.0]}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, r"give either column, or both numerator and denominator \(got none of them\)"),
        ({"column": "r", "numerator": "r", "denominator": "s"}, "give either column"),
        ({"numerator": "r"}, r"\(got numerator\)"),
        (
            {"column": "r", "covariate": "p", "covariate_numerator": "p"},
            "give covariate .* not both",
        ),
        (
            {"numerator": "r", "denominator": "s", "covariate_numerator": "p"},
            "covariate_denominator is missing",
        ),
        (
            {"column": "r", "covariate_numerator": "p", "covariate_denominator": "q"},
            "a ratio covariate .* adjusts a ratio metric; for a mean give covariate=",
        ),
        ({"column": "r", "covariate": "r"}, "the covariate repeats a column of the metric"),
        ({"column": "zz"}, "column == 'zz', must be one of"),
    ],
)
def test_post_stratified_test_rejects_bad_arguments(arguments, message):
    arm = {"a": _small(TWO), "b": _small(TWO)}
    with pytest.raises(InputError, match=message):
        post_stratified_test(arm, arm, **arguments)


def test_a_stratum_with_a_single_unit():
    one = _small({k: v[:1] for k, v in TWO.items()})
    control = {"a": _small(TWO), "b": one}
    treatment = {"a": _small(TWO), "b": _small(TWO)}
    with pytest.raises(InputError, match=r"stratum 'b' has 1 unit\(s\) in an arm, must have >= 2"):
        post_stratified_test(control, treatment, numerator="r", denominator="s")


def test_strata_that_differ_between_arms():
    with pytest.raises(InputError, match="every stratum needs both arms"):
        post_stratified_test({"a": _small(TWO)}, {"b": _small(TWO)}, "r")


def test_zero_mean_denominators():
    zero = {**TWO, "s": [0.0, 0.0, 0.0], "q": [0.0, 0.0, 0.0]}
    arm = {"a": _small(zero)}
    with pytest.raises(InputError, match="mean of denominator column 's' is 0"):
        post_stratified_test(arm, arm, numerator="r", denominator="s")
    good = {"a": _small({**TWO, "q": [0.0, 0.0, 0.0]})}
    with pytest.raises(InputError, match="mean of covariate_denominator column 'q' is 0"):
        post_stratified_test(
            good, good, numerator="r", denominator="s", covariate_numerator="p",
            covariate_denominator="q",
        )  # fmt: skip


def test_a_covariate_constant_in_every_stratum():
    constant = {**TWO, "p": [5.0, 5.0, 5.0]}
    arm = {"a": _small(constant), "b": _small(constant)}
    with pytest.raises(InputError, match="covariate 'p' does not vary within any stratum"):
        post_stratified_test(arm, arm, "r", covariate="p")


def test_a_covariate_that_encodes_the_arm():
    control = {"a": _small({**TWO, "p": [0.0, 0.0, 0.0]})}
    treatment = {"a": _small({**TWO, "p": [1.0, 1.0, 1.0]})}
    with pytest.raises(InputError, match="encodes the assignment"):
        post_stratified_test(control, treatment, "r", covariate="p")


def test_missing_cross_moment_names_the_pair():
    arm = Moments.from_summary(
        50, mean={"r": 1.0, "s": 2.0, "p": 1.0, "q": 2.0},
        variance={"r": 1.0, "s": 1.0, "p": 1.0, "q": 1.0},
        covariance={("r", "s"): 0.5, ("r", "p"): 0.3, ("s", "p"): 0.2, ("r", "q"): 0.1},
    )  # fmt: skip
    with pytest.raises(InputError, match="cross-moment of 's' and 'q' was not computed"):
        cuped_ratio_test(arm, arm, "r", "s", "p", "q")


def test_cuped_ratio_test_needs_three_units_per_arm():
    two = _small({k: v[:2] for k, v in TWO.items()})
    with pytest.raises(InputError, match=r"an arm has 2 unit\(s\), must have >= 3 for CUPED"):
        cuped_ratio_test(two, _small(TWO), "r", "s", "p", "q")

"""`ablens.analyze`: every treatment against control, corrections, SRM, and its input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ablens
from ablens import InputError, Mean, Moments, Proportion, analyze

ARMS = ("control", "t1", "t2")
SIZES = {"control": 3000, "t1": 3100, "t2": 2900}
LIFTS = {"control": 0.0, "t1": 0.15, "t2": 0.03}


def _raw_data(seed: int = 20240611) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    raw = {}
    for arm in ARMS:
        n, lift = SIZES[arm], LIFTS[arm]
        raw[arm] = {
            "converted": (rng.random(n) < 0.10 * (1 + lift)).astype(float),
            "revenue": rng.gamma(2.0, 5.0 * (1 + lift), n),
            "orders": rng.poisson(0.4 * (1 + lift), n).astype(float),
            "sessions": 1.0 + rng.poisson(3.0, n),
        }
    return raw


RAW = _raw_data()
DATA = {arm: Moments.from_columns(columns) for arm, columns in RAW.items()}


@pytest.fixture
def data() -> dict[str, Moments]:
    return dict(DATA)


METRICS = [
    Proportion("converted", name="conversion", role="primary"),
    Mean("revenue", role="primary"),
    Mean("orders", role="secondary"),
    Mean("sessions", role="guardrail", direction="decrease"),
]


def _direct(metric_name: str, treatment: str, confidence_level: float = 0.95):
    """The comparison computed with the stats functions from the arms' numbers.

    Proportions use the raw success counts; means use each arm's `Moments` (the numbers the
    analysis is given), so the two computations must agree exactly.
    """
    if metric_name == "conversion":
        c, t = RAW["control"]["converted"], RAW[treatment]["converted"]
        return ablens.proportion_test(
            int(c.sum()), len(c), int(t.sum()), len(t), confidence_level=confidence_level
        )
    column = metric_name
    c_m, t_m = DATA["control"], DATA[treatment]
    return ablens.mean_test(
        c_m.count,
        c_m.mean_of(column),
        c_m.variance(column),
        t_m.count,
        t_m.mean_of(column),
        t_m.variance(column),
        confidence_level=confidence_level,
        mean_difference=t_m.mean_minus(c_m, column),  # what Mean uses: both parts of the means
    )


# --------------------------------------------------------------------------- comparisons


def test_every_metric_and_treatment_is_compared_in_order(data):
    result = analyze(data, METRICS, control="control")
    assert result.arms == ARMS
    assert result.counts == tuple(SIZES[a] for a in ARMS)
    assert [(c.metric, c.treatment) for c in result.comparisons] == [
        (m.name, t) for m in METRICS for t in ("t1", "t2")
    ]
    assert [c.kind for c in result.comparisons[::2]] == ["proportion", "mean", "mean", "mean"]
    assert all(c.control == "control" for c in result.comparisons)
    assert all(c.alpha == 0.05 for c in result.comparisons)


@pytest.mark.parametrize("treatment", ["t1", "t2"])
@pytest.mark.parametrize("metric", ["conversion", "revenue", "orders", "sessions"])
def test_comparison_equals_direct_stats_call(data, metric, treatment):
    result = analyze(data, METRICS, control="control", correction=None)
    comparison = result.comparison(metric, treatment)
    assert comparison.result == _direct(metric, treatment)
    assert comparison.control_count == SIZES["control"]
    assert comparison.treatment_count == SIZES[treatment]
    assert comparison.adjusted_p_value is None
    assert comparison.p_value == comparison.result.p_value


def test_alpha_sets_confidence_level_of_every_interval(data):
    result = analyze(data, METRICS, control="control", alpha=0.1)
    for c in result.comparisons:
        assert c.result.confidence_level == pytest.approx(0.9, abs=1e-15)
        assert c.alpha == 0.1
    assert result.comparison("revenue", "t1").result == _direct("revenue", "t1", 1.0 - 0.1)


def test_proportion_successes_recovered_exactly_from_moments(data):
    result = analyze(data, METRICS, control="control")
    for treatment in ("t1", "t2"):
        r = result.comparison("conversion", treatment).result
        assert r.control_estimate == RAW["control"]["converted"].sum() / SIZES["control"]
        assert r.treatment_estimate == RAW[treatment]["converted"].sum() / SIZES[treatment]


def test_treatment_with_real_lift_is_significant(data):
    result = analyze(data, METRICS, control="control")
    revenue = result.comparison("revenue", "t1")
    assert revenue.significant
    assert revenue.outcome == "better"
    assert revenue.result.effect > 0


# --------------------------------------------------------------------------- corrections


@pytest.mark.parametrize("method", ["holm", "bonferroni", "bh", "hommel", "holm-sidak", "bky"])
def test_family_metric_adjusts_each_metric_across_arms(data, method):
    result = analyze(data, METRICS, control="control", correction=method, family="metric")
    assert result.correction == method
    assert result.family == "metric"
    for metric in METRICS:
        group = [c for c in result.comparisons if c.metric == metric.name]
        raw = [c.result.p_value for c in group]
        expected = ablens.adjust_pvalues(raw, method)
        assert [c.adjusted_p_value for c in group] == expected.tolist()
        assert all(c.family_size == 2 for c in group)
        assert all(c.correction == method for c in group)
        assert all(c.p_value == c.adjusted_p_value for c in group)
        thresholds = ablens.adjusted_alphas(raw, method, 0.05)
        assert [c.adjusted_alpha for c in group] == thresholds.tolist()


@pytest.mark.parametrize("method", ["bonferroni", "holm", "holm-sidak", "bh", "bky"])
def test_adjusted_alpha_is_each_comparisons_threshold(data, method):
    result = analyze(data, METRICS, control="control", correction=method, family="experiment")
    raw = [c.result.p_value for c in result.comparisons]
    m = len(raw)
    rank = {i: r + 1 for r, i in enumerate(sorted(range(m), key=lambda i: raw[i]))}
    for i, c in enumerate(result.comparisons):
        step = {
            "bonferroni": 0.05 / m,
            "holm": 0.05 / (m - rank[i] + 1),
            "holm-sidak": 1 - 0.95 ** (1 / (m - rank[i] + 1)),
            "bh": rank[i] * 0.05 / m,
        }
        if method in step:
            assert c.adjusted_alpha == pytest.approx(step[method], rel=1e-12)
        else:  # BKY's stage two runs BH at a level at least q / (1 + q)
            assert c.adjusted_alpha >= rank[i] * (0.05 / 1.05) / m * (1 - 1e-12)
        assert c.to_dict()["adjusted_alpha"] == c.adjusted_alpha


def test_family_experiment_adjusts_all_comparisons_together(data):
    result = analyze(data, METRICS, control="control", correction="holm", family="experiment")
    raw = [c.result.p_value for c in result.comparisons]
    expected = ablens.adjust_pvalues(raw, "holm")
    assert [c.adjusted_p_value for c in result.comparisons] == expected.tolist()
    assert all(c.family_size == 8 for c in result.comparisons)
    # A larger family is never more lenient than the per-metric one.
    per_metric = analyze(data, METRICS, control="control", correction="holm", family="metric")
    for wide, narrow in zip(result.comparisons, per_metric.comparisons, strict=True):
        assert wide.adjusted_p_value >= narrow.adjusted_p_value


def test_family_primary_adjusts_only_primary_metrics(data):
    result = analyze(data, METRICS, control="control", correction="bonferroni", family="primary")
    primary = [c for c in result.comparisons if c.role == "primary"]
    others = [c for c in result.comparisons if c.role != "primary"]
    assert {c.metric for c in primary} == {"conversion", "revenue"}
    assert {c.role for c in others} == {"secondary", "guardrail"}
    expected = ablens.adjust_pvalues([c.result.p_value for c in primary], "bonferroni")
    assert [c.adjusted_p_value for c in primary] == expected.tolist()
    assert all(c.family_size == 4 for c in primary)
    for c in others:
        assert c.adjusted_p_value is None
        assert c.correction is None
        assert c.family_size == 1
        assert c.adjusted_effect_ci is None
        assert c.adjusted_relative_ci is None
        assert c.p_value == c.result.p_value


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_bonferroni_intervals_are_unadjusted_intervals_at_one_minus_alpha_over_m(data, alpha):
    result = analyze(
        data, METRICS, control="control", alpha=alpha, correction="bonferroni", family="experiment"
    )
    m = len(result.comparisons)
    level = 1.0 - alpha / m
    for c in result.comparisons:
        wider = _direct(c.metric, c.treatment, confidence_level=level)
        assert c.adjusted_effect_ci == pytest.approx(wider.effect_ci, rel=1e-9)
        assert c.adjusted_relative_ci == pytest.approx(wider.relative_ci, rel=1e-9)
        # The simultaneous interval contains the per-comparison one.
        assert c.adjusted_effect_ci[0] < c.result.effect_ci_lower
        assert c.adjusted_effect_ci[1] > c.result.effect_ci_upper


def test_holm_gives_no_adjusted_interval(data):
    result = analyze(data, METRICS, control="control", correction="holm")
    for c in result.comparisons:
        assert c.adjusted_p_value is not None
        assert c.adjusted_effect_ci is None
        assert c.adjusted_relative_ci is None


def test_no_correction_leaves_everything_unadjusted(data):
    result = analyze(data, METRICS, control="control", correction=None)
    assert result.correction is None
    for c in result.comparisons:
        assert (c.correction, c.family_size, c.adjusted_p_value) == (None, 1, None)
        assert c.adjusted_alpha is None
        assert c.adjusted_effect_ci is None


def test_more_than_two_arms_are_corrected_by_holm_by_default(data):
    """``correction="auto"`` (the default): Holm over each metric's arms, as if asked for."""
    default = analyze(data, METRICS, control="control")
    holm = analyze(data, METRICS, control="control", correction="holm")
    assert default.correction == "holm"
    assert default == holm
    assert {c.family_size for c in default.comparisons} == {2}


def test_two_arms_get_no_correction_by_default(data):
    two = {arm: data[arm] for arm in ("control", "t1")}
    result = analyze(two, METRICS, control="control")
    assert result.correction is None
    assert all(c.adjusted_p_value is None for c in result.comparisons)
    assert result == analyze(two, METRICS, control="control", correction=None)


# --------------------------------------------------------------------------- SRM


def test_srm_equals_srm_test_of_counts(data):
    result = analyze(data, METRICS, control="control")
    assert result.srm == ablens.srm_test(SIZES)
    assert result.srm.arms == ARMS
    assert result.srm.observed == (3000, 3100, 2900)
    assert not result.srm.mismatch


def test_srm_uses_weights(data):
    weights = {"t2": 1.0, "control": 2.0, "t1": 1.0}
    result = analyze(data, METRICS, control="control", weights=weights, srm_alpha=0.01)
    expected = ablens.srm_test(SIZES, weights, alpha=0.01)
    assert result.srm == expected
    assert result.srm.weights == pytest.approx((0.5, 0.25, 0.25))
    assert result.srm.alpha == 0.01
    # A 2:1:1 design observed as roughly 1:1:1 is a glaring mismatch.
    assert result.srm.mismatch
    assert result.srm.p_value < 1e-100


# --------------------------------------------------------------------------- outcome


def _two_arm(control_mean: float, treatment_mean: float, n: int = 10_000) -> dict[str, Moments]:
    return {
        "control": Moments.from_summary(n, mean={"x": control_mean}, variance={"x": 1.0}),
        "treatment": Moments.from_summary(n, mean={"x": treatment_mean}, variance={"x": 1.0}),
    }


@pytest.mark.parametrize(
    ("treatment_mean", "direction", "outcome"),
    [
        (10.2, "increase", "better"),
        (10.2, "decrease", "worse"),
        (9.8, "increase", "worse"),
        (9.8, "decrease", "better"),
        (10.001, "increase", "inconclusive"),
        (10.001, "decrease", "inconclusive"),
    ],
)
def test_outcome_respects_direction(treatment_mean, direction, outcome):
    result = analyze(
        _two_arm(10.0, treatment_mean), [Mean("x", direction=direction)], control="control"
    )
    c = result.comparison("x")
    assert c.direction == direction
    assert c.outcome == outcome
    assert c.significant == (outcome != "inconclusive")


def test_outcome_of_one_sided_test_follows_its_alternative():
    data = _two_arm(10.0, 9.8)
    result = analyze(data, [Mean("x", alternative="less", direction="decrease")], control="control")
    assert result.comparison("x").outcome == "better"
    result = analyze(data, [Mean("x", alternative="greater")], control="control")
    assert result.comparison("x").outcome == "inconclusive"
    assert result.comparison("x").result.p_value > 0.99


def test_outcome_uses_adjusted_p_value():
    data = {
        "control": Moments.from_summary(1000, mean={"x": 10.0}, variance={"x": 4.0}),
        "t1": Moments.from_summary(1000, mean={"x": 10.2}, variance={"x": 4.0}),
        "t2": Moments.from_summary(1000, mean={"x": 10.0}, variance={"x": 4.0}),
    }
    raw = analyze(data, [Mean("x")], control="control", correction=None)
    assert 0.025 < raw.comparison("x", "t1").result.p_value < 0.05
    assert raw.comparison("x", "t1").outcome == "better"
    corrected = analyze(data, [Mean("x")], control="control", correction="bonferroni")
    c = corrected.comparison("x", "t1")
    assert c.adjusted_p_value == pytest.approx(2 * c.result.p_value)
    assert c.outcome == "inconclusive"


# --------------------------------------------------------------------------- lookup


def test_comparison_lookup(data):
    result = analyze(data, METRICS, control="control")
    c = result.comparison("orders", "t2")
    assert (c.metric, c.treatment) == ("orders", "t2")
    with pytest.raises(InputError, match=r"metric == 'nope'.*matches 0 comparisons"):
        result.comparison("nope")
    with pytest.raises(InputError, match=r"metric == 'revenue', treatment == None matches 2"):
        result.comparison("revenue")
    with pytest.raises(InputError, match=r"metric == 'revenue', treatment == 't9'"):
        result.comparison("revenue", "t9")


def test_comparison_without_treatment_when_single_treatment():
    result = analyze(_two_arm(1.0, 1.1), [Mean("x", name="lift me")], control="control")
    assert result.comparison("lift me").treatment == "treatment"


def test_custom_metric_kind_is_used():
    class Doubled:
        name = "doubled"
        role = "primary"
        direction = "increase"
        metric_kind = ablens.MetricKind(name="custom", title="Custom")

        def required_columns(self):
            return ("x",)

        def required_pairs(self):
            return ()

        def compare(self, control, treatment, *, confidence_level):
            return Mean("x").compare(control, treatment, confidence_level=confidence_level)

    assert isinstance(Doubled(), ablens.Metric)
    result = analyze(_two_arm(1.0, 1.1), [Doubled()], control="control")
    assert result.comparison("doubled").kind == "custom"


def test_a_metric_without_a_declared_kind_is_named_by_its_class():
    class Doubled:
        name = "doubled"
        role = "primary"
        direction = "increase"

        def required_columns(self):
            return ("x",)

        def required_pairs(self):
            return ()

        def compare(self, control, treatment, *, confidence_level):
            return Mean("x").compare(control, treatment, confidence_level=confidence_level)

    result = analyze(_two_arm(1.0, 1.1), [Doubled()], control="control")
    assert result.comparison("doubled").kind == "doubled"


# ------------------------------------------------------------------ numeric arm labels
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("dtype", ["int64", "float64"])
def test_numeric_variant_column_takes_a_numeric_control(engine, dtype):
    pandas = pytest.importorskip("pandas")
    rng = np.random.default_rng(15)
    frame = pandas.DataFrame(
        {"v": np.repeat([1, 2, 3], 200).astype(dtype), "x": rng.normal(10.0, 2.0, 600)}
    )
    if engine == "duckdb":
        duckdb = pytest.importorskip("duckdb")
        connection = duckdb.connect()
        connection.register("frame", frame)
        data = connection.sql("select * from frame")
    else:
        data = frame
    labels = ("1", "2", "3") if dtype == "int64" else ("1.0", "2.0", "3.0")
    by_text = analyze(data, [Mean("x")], control=labels[1], variant="v")
    for control in (2, 2.0, "2"):
        result = analyze(data, [Mean("x")], control=control, variant="v")
        assert result.control == labels[1]
        assert result.arms[0] == labels[1]
        assert result.to_dict() == by_text.to_dict()
    with pytest.raises(
        InputError, match=r"the control arm 7 matches no arm of the data, whose arms are "
    ):
        analyze(data, [Mean("x")], control=7, variant="v")
    # The expected arms may be numbers too; they are written as the data write them.
    arms = [1, 2, 3] if dtype == "int64" else [1.0, 2.0, 3.0]
    assert analyze(data, [Mean("x")], control=1, variant="v", arms=arms).arms == labels


# --------------------------------------------------------------------------- bad input


def _valid_kwargs(data):
    return {"data": data, "metrics": [Mean("revenue")], "control": "control"}


@pytest.mark.parametrize(
    ("override", "match"),
    [
        (
            {"control": "baseline"},
            r"the control arm 'baseline' is not an arm of the data, whose arms are 'control', ",
        ),
        ({"control": 3}, r"the control arm 3 matches no arm of the data, whose arms are "),
        ({"control": True}, r"control == True, must be an arm label; a string, or a number"),
        ({"control": None}, r"control == None, must be an arm label"),
        ({"control": math.inf}, r"control == inf, must be an arm label; a finite number"),
        ({"control": ""}, r"control == '', must be a non-empty string"),
        ({"metrics": []}, r"metrics is empty"),
        (
            {"metrics": [Mean("revenue"), Mean("orders", name="revenue")]},
            r"metric names \['revenue'\] repeat",
        ),
        ({"alpha": 1.5}, r"alpha == 1\.5, must be in \(0, 1\)"),
        ({"alpha": 0}, r"alpha == 0, must be in \(0, 1\)"),
        ({"alpha": 1}, r"alpha == 1, must be in \(0, 1\)"),
        ({"alpha": math.nan}, r"alpha == nan, must be finite"),
        ({"alpha": "0.05"}, r"alpha == '0\.05', must be a real number"),
        ({"correction": "nope"}, r"correction == 'nope', must be one of 'bonferroni'"),
        ({"family": "nope"}, r"family == 'nope', must be one of 'metric', 'experiment'"),
        ({"weights": {"control": 1.0, "t1": 1.0}}, r"weights has arms \['control', 't1'\]"),
        (
            {"weights": {"control": 1.0, "t1": 1.0, "t2": 1.0, "t3": 1.0}},
            r"weights has arms .*'t3'.*must have exactly the arms",
        ),
        ({"srm_alpha": 0.0}, r"alpha == 0\.0, must be in \(0, 1\)"),
    ],
)
def test_analyze_rejects_bad_arguments(data, override, match):
    kwargs = _valid_kwargs(data) | override
    with pytest.raises(InputError, match=match):
        analyze(**kwargs)


def test_analyze_rejects_single_arm(data):
    with pytest.raises(InputError, match=r"data has only the arm 'control'"):
        analyze({"control": data["control"]}, [Mean("revenue")], control="control")


def test_analyze_rejects_empty_data():
    with pytest.raises(InputError, match=r"data must be a non-empty mapping"):
        analyze({}, [Mean("revenue")], control="control")


def test_analyze_rejects_values_that_are_not_moments(data):
    bad = {"control": data["control"], "t1": {"revenue": [1.0, 2.0]}}
    with pytest.raises(InputError, match=r"data\['t1'\] is a dict, must be a Moments"):
        analyze(bad, [Mean("revenue")], control="control")


def test_analyze_names_a_metric_column_missing_from_the_moments(data):
    with pytest.raises(InputError, match=r"column == 'basket_size', must be one of \("):
        analyze(data, [Mean("basket_size")], control="control")
    with pytest.raises(InputError, match=r"column == 'clicked'"):
        analyze(data, [Proportion("clicked")], control="control")


def test_analyze_rejects_non_binary_proportion_column(data):
    with pytest.raises(ablens.DataError, match=r"column 'revenue' is not a 0/1 flag"):
        analyze(data, [Proportion("revenue")], control="control")

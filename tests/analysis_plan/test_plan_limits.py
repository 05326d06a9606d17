"""Hostile plans: aliases that expand to billions, recursive anchors, deep nesting (issue 20).

Each is refused at once with a `PlanError` at its line, on every reader: `parse_plan`,
`load_plan`, `plan_from_dict` (the CLI and web faces are in tests/hardening).
"""

from __future__ import annotations

import time

import pytest

from ablens.analysis_plan import PlanError, load_plan, parse_plan, plan_from_dict
from ablens.analysis_plan.parser import MAX_PLAN_DEPTH, MAX_PLAN_NODES
from helpers import within  # tests/ is on sys.path (see tests/conftest.py)

VALID = """experiment_id: e1
source: {path: users.parquet}
control: a
arms: [a, b]
metrics: [{kind: mean, column: x}]
"""
VALID_DICT = {
    "experiment_id": "e1",
    "source": {"path": "users.parquet"},
    "control": "a",
    "arms": ["a", "b"],
    "metrics": [{"kind": "mean", "column": "x"}],
}


def billion_laughs(levels: int = 9) -> str:
    """A valid plan plus ``levels`` lines of nested aliases: 9**levels strings once expanded."""
    lines = [
        VALID.rstrip("\n"),
        'description: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    lines += [f"x{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def refused(text: str, *, seconds: float = 1.0) -> PlanError:
    started = time.perf_counter()
    with pytest.raises(PlanError) as caught:
        within(30, lambda: parse_plan(text, name="p.yaml"), "parse_plan")
    # Refused while reading the text: far below the hours the old line-number walk took.
    assert time.perf_counter() - started < seconds
    return caught.value


def test_billion_laughs_is_refused_at_once_with_its_line():
    text = billion_laughs()
    assert len(text) < 1_200  # about a kilobyte, as in the issue
    error = refused(text)
    # Line 11 (x5) expands to 9**6 = 531,441 strings > 100,000: the limit is passed there.
    assert str(error) == (
        "p.yaml:11: the plan uses YAML aliases that expand to more than 100,000 keys and values "
        "(aliases inside aliases multiply); write the values out or use fewer nested aliases"
    )


def test_billion_laughs_is_refused_by_load_plan_too(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    with pytest.raises(PlanError, match=r"laughs\.yaml:11: the plan uses YAML aliases"):
        within(30, lambda: load_plan(path), "load_plan")


def test_a_few_aliases_within_the_limit_still_work():
    # 9**4 = 6,561 strings: an unusual plan, but not a hostile one; it reads (and is then
    # refused only for its unknown keys, each at its line).
    with pytest.raises(PlanError) as caught:
        within(30, lambda: parse_plan(billion_laughs(4), name="p.yaml"), "parse_plan")
    assert caught.value.messages[1].startswith("p.yaml:7: x1 is not a key of a plan")
    assert len(caught.value.messages) == 4  # description must be a string; x1, x2, x3 unknown
    text = VALID.replace("arms: [a, b]", "arms: &arms [a, b]") + "segments: [country]\n"
    assert parse_plan(text).arms == ("a", "b")


def test_a_plan_with_many_plain_values_is_refused_without_mentioning_aliases():
    values = ", ".join(["1"] * (MAX_PLAN_NODES + 1))
    # PyYAML itself takes seconds to read 100,000 values; only the hostile cases are instant.
    error = refused(VALID + f"description: [{values}]\n", seconds=60)
    assert str(error).startswith("p.yaml:6: the plan holds more than 100,000 keys and values")
    assert "alias" not in str(error)


@pytest.mark.parametrize(
    "extra",
    ["extra: &r [*r]", "extra: &r {inner: *r}", "extra: &r [1, [2, {deeper: [*r]}]]"],
)
def test_an_alias_inside_its_own_anchor_is_refused(extra):
    error = refused(VALID + extra + "\n")
    assert str(error) == (
        "p.yaml:6: the alias *r is inside its own anchor &r, so the plan would be infinitely "
        "deep; write the values out instead"
    )


@pytest.mark.parametrize(
    "nested",
    ["[" * 20_000 + "]" * 20_000, "{a: " * 20_000 + "1" + "}" * 20_000, "[" * 20_000],
)
def test_deep_nesting_is_refused_not_a_recursion_error(nested):
    error = refused(VALID + f"extra: {nested}\n")
    assert str(error) == (
        f"p.yaml:6: the plan nests lists and mappings more than {MAX_PLAN_DEPTH} levels deep; "
        "a plan needs a few levels (metrics[0].column): check its brackets"
    )


def test_nesting_just_within_the_limit_reads():
    # The root mapping is level 1 and `extra` adds 48 more: 49 levels.
    nested = "[" * 48 + "]" * 48
    with pytest.raises(PlanError, match=r"^p\.yaml:6: extra is not a key of a plan"):
        parse_plan(VALID + f"extra: {nested}\n", name="p.yaml")


def test_plan_from_dict_refuses_a_mapping_that_holds_itself_or_nests_too_deep():
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(PlanError, match=r"^d: the plan holds itself"):
        within(30, lambda: plan_from_dict(VALID_DICT | {"extra": loop}, name="d"))
    deep: list[object] = []
    inner = deep
    for _ in range(5_000):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    with pytest.raises(PlanError, match=r"^d: the plan nests lists and mappings more than 50"):
        within(30, lambda: plan_from_dict(VALID_DICT | {"extra": deep}, name="d"))
    with pytest.raises(PlanError, match=r"^d: the plan holds more than 100,000 keys and values"):
        within(30, lambda: plan_from_dict(VALID_DICT | {"extra": [1] * 200_000}, name="d"))
    assert plan_from_dict(VALID_DICT).experiment_id == "e1"


def test_a_large_value_is_cut_in_the_message_keeping_the_rule():
    values = ", ".join(f"v{i}" for i in range(5_000))
    with pytest.raises(PlanError) as caught:
        parse_plan(VALID + f"team: [{values}]\n", name="p.yaml")
    (message,) = caught.value.messages
    assert len(message) < 820
    assert message.startswith("p.yaml:6: team == ['v0', 'v1', ")
    assert " ... " in message
    assert message.endswith("'v4998', 'v4999'], must be a non-empty string")

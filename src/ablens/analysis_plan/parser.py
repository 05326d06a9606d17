"""Reading an analysis plan: YAML with line numbers, a mapping, every problem reported at once.

`load_plan` reads a YAML file, `parse_plan` YAML text and `plan_from_dict` a mapping; each
validates every key against the model and reports every problem in one `PlanError`, each message
``file:line: key ...``. A metric's keys are those its kind declares (`ablens.MetricKind`), so a
registered kind is read like a built-in one.

>>> text = '''
... experiment_id: checkout-2026-03
... source: {path: users.parquet}
... control: control
... arms: {control: 50, new_checkout: 50}
... metrics:
...   - {kind: proportion, column: converted, name: conversion, role: primary}
...   - {kind: avg, column: sessions, role: guardrail}
... '''
>>> parse_plan(text, name="plan.yaml")
Traceback (most recent call last):
...
ablens.analysis_plan.PlanError: plan.yaml:8: metrics[1].kind == 'avg', must be one of 'mean', ...
>>> plan = parse_plan(text.replace("avg", "mean"), name="plan.yaml")
>>> [(m.name, m.role) for m in plan.metrics]
[('conversion', 'primary'), ('sessions', 'guardrail')]

Reading YAML needs PyYAML (``pip install 'ablens[cli]'``); `plan_from_dict` needs nothing beyond
the core.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import json
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ablens._validation import optional_import
from ablens.analysis_plan.model import AnalysisPlan, MetricSpec, PlanError, Planned, line_of
from ablens.data.checks import ON_MISMATCH, ExposureCheck
from ablens.data.sources import (
    BACKENDS,
    ENV_NAME,
    ENV_REFERENCE,
    FILE_SUFFIXES,
    FILTER_OPS,
    SECRET_ENV_HINT,
    SECRET_WORDS,
    SOURCE_KINDS,
    WAREHOUSE_PARAMS,
    WAREHOUSE_SECRETS,
    Backend,
    DataSource,
    DuckDBSource,
    PathSource,
    RowFilter,
    SparkSource,
    WarehouseSource,
)
from ablens.errors import AblensError, ConfigError
from ablens.metrics.base import default_role, kind_named, metric_kinds, required_keys
from ablens.stats.srm import DEFAULT_SRM_ALPHA, DEFAULT_SRM_METHOD, SRM_METHODS
from ablens.typing import (
    BAYESIAN_PRIORS,
    CORRECTION_METHODS,
    DEFAULT_SPENDING,
    DIRECTIONS,
    FAMILIES,
    ROLES,
    SEQUENTIAL_METHODS,
    SPENDING_NAMES,
    BayesianPrior,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ablens.metrics.base import PlanKey

__all__ = [
    "TOP_KEYS",
    "KeyChecker",
    "compose_yaml",
    "load_plan",
    "parse_plan",
    "plan_from_dict",
    "read_filter",
    "read_source",
]

#: The keys of a plan, in the order `AnalysisPlan.to_dict` writes them.
TOP_KEYS = (
    "experiment_id",
    "team",
    "description",
    "source",
    "variant",
    "unit",
    "control",
    "arms",
    "metrics",
    "segments",
    "alpha",
    "correction",
    "family",
    "sequential",
    "spending",
    "time",
    "bayesian",
    "srm_alpha",
    "srm_method",
    "planned",
    "exposure",
)
_BAYESIAN_KEYS = ("prior",)
EXPOSURE_KEYS = ("column", "expected", "on_mismatch")
_METRIC_COMMON_KEYS = ("kind", "name", "role", "direction")
PLANNED_KEYS = ("sample_size", "duration_days", "start_date", "power")


# ------------------------------------------------------------------------------- reading
def load_plan(path: str | Path) -> AnalysisPlan:
    """Read and validate a YAML analysis plan (needs PyYAML: ``pip install 'ablens[cli]'``).

    Args:
        path: The plan file.

    Returns:
        The plan, with its file path, the SHA-256 of its bytes and each key's line.

    Raises:
        PlanError: Invalid YAML or an invalid plan; every message is ``file:line: ...``.
        ConfigError: The file cannot be read.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{file}: cannot read the plan: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PlanError(
            [f"{file}: not UTF-8 text ({error.reason} at byte {error.start})"]
        ) from None
    return _parse(text, name=str(file), path=file, sha256=hashlib.sha256(raw).hexdigest())


def parse_plan(text: str, *, name: str = "<plan>") -> AnalysisPlan:
    """Validate a plan given as YAML text; ``name`` prefixes error messages.

    Examples:
        >>> plan = parse_plan(
        ...     '''
        ... experiment_id: e1
        ... source: {duckdb: {file: shop.duckdb, table: users}}
        ... control: control
        ... metrics: [{kind: mean, column: revenue}]
        ... '''
        ... )
        >>> plan.source, plan.metrics[0].name, plan.alpha
        (DuckDBSource(file='shop.duckdb', table='users', sql=None, filter=()), 'revenue', 0.05)
        >>> parse_plan("experiment_id: [unclosed", name="p.yaml")
        Traceback (most recent call last):
        ...
        ablens.analysis_plan.PlanError: p.yaml:1: invalid YAML: ...
    """
    return _parse(text, name=name, path=None, sha256=hashlib.sha256(text.encode()).hexdigest())


def plan_from_dict(data: Mapping[str, Any], *, name: str = "<plan>") -> AnalysisPlan:
    """Validate a plan given as a mapping (no YAML needed; messages carry no line numbers).

    Examples:
        >>> plan = plan_from_dict(
        ...     {
        ...         "experiment_id": "e1",
        ...         "source": {"path": "users.parquet"},
        ...         "control": "a",
        ...         "arms": ["a", "b"],
        ...         "metrics": [{"kind": "ratio", "numerator": "orders", "denominator": "visits"}],
        ...     }
        ... )
        >>> plan.metrics[0].name, plan.arms
        ('orders / visits', ('a', 'b'))
    """
    _check_shape(data, name)
    try:
        canonical = json.dumps(data, sort_keys=True, default=str).encode()
    except TypeError:  # keys of mixed types cannot be sorted; validation reports them below
        canonical = repr(data).encode()
    return _build(
        data, name=name, lines={}, path=None, sha256=hashlib.sha256(canonical).hexdigest()
    )


def _check_shape(data: object, name: str) -> None:
    """Refuse a mapping too deep, too large or holding itself, before anything recurses into it.

    The limits are those of YAML plans: `MAX_PLAN_DEPTH` and `MAX_PLAN_NODES`.
    """
    count = 0
    stack: list[tuple[object, int, frozenset[int]]] = [(data, 1, frozenset())]
    while stack:
        value, depth, parents = stack.pop()
        count += 1
        if count > MAX_PLAN_NODES:
            raise PlanError(
                [f"{name}: the plan holds more than {MAX_PLAN_NODES:,} keys and values"]
            )
        if not isinstance(value, Mapping | list | tuple):
            continue
        if id(value) in parents:
            raise PlanError([f"{name}: the plan holds itself (a list or mapping inside itself)"])
        if depth > MAX_PLAN_DEPTH:
            raise PlanError(
                [f"{name}: the plan nests lists and mappings more than {MAX_PLAN_DEPTH} levels"]
            )
        inner = parents | {id(value)}
        items = [*value.keys(), *value.values()] if isinstance(value, Mapping) else list(value)
        stack.extend((item, depth + 1, inner) for item in items)


def _parse(text: str, *, name: str, path: Path | None, sha256: str) -> AnalysisPlan:
    data, lines = _compose(text, name)
    return _build(data, name=name, lines=lines, path=path, sha256=sha256)


def _compose(text: str, name: str) -> tuple[Any, dict[str, int]]:
    """YAML text -> (Python value, key path -> 1-based line), with duplicate keys refused."""
    yaml = optional_import("yaml", "cli")
    loader = _bounded_loader(yaml)(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except _ShapeError as error:
        raise PlanError([f"{name}:{error.line}: {error}"]) from None
    except yaml.MarkedYAMLError as error:
        raise PlanError([_yaml_message(error, text, name)]) from None
    except yaml.YAMLError as error:
        raise PlanError([f"{name}: invalid YAML: {error}"]) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    problems: list[str] = []
    if node is not None:
        lines[""] = node.start_mark.line + 1
        _walk(node, "", lines, problems, name, yaml)
    if problems:
        raise PlanError(problems)
    return data, lines


#: The most keys and values a plan may hold, counting every expansion of a YAML alias: a real
#: plan holds hundreds; a few lines of nested aliases ("billion laughs") expand to billions,
#: which would take hours to walk.
MAX_PLAN_NODES = 100_000
#: The deepest nesting of lists and mappings a plan may have (a real plan nests 5 deep); YAML's
#: composer and the checks recurse once per level.
MAX_PLAN_DEPTH = 50


class _ShapeError(Exception):
    """A plan too large, too deep or recursive, found while composing it (at ``line``)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@functools.cache
def _bounded_loader(yaml: Any) -> type[Any]:  # noqa: ANN401 - the yaml module
    """PyYAML's SafeLoader, refusing plans too deep, too large or recursive.

    It stops at `MAX_PLAN_DEPTH` levels, at `MAX_PLAN_NODES` keys and values (aliases counted as
    often as they are used) and at an alias inside its own anchor. The counts are kept while
    composing, before any alias is expanded, so a hostile plan is refused in the time it takes
    to read its text.
    """

    class BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.depth = 0
            self.sizes: dict[int, int] = {}  # id(node) -> keys and values under it, expanded
            self.open_anchors: set[str] = set()
            self.aliased = False

        def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401 - yaml nodes
            event = self.peek_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                self.aliased = True
                if event.anchor in self.open_anchors:
                    raise _ShapeError(
                        f"the alias *{event.anchor} is inside its own anchor &{event.anchor}, "
                        "so the plan would be infinitely deep; write the values out instead",
                        line,
                    )
                return super().compose_node(parent, index)
            self.depth += 1
            if self.depth > MAX_PLAN_DEPTH:
                raise _ShapeError(
                    f"the plan nests lists and mappings more than {MAX_PLAN_DEPTH} levels deep; "
                    "a plan needs a few levels (metrics[0].column): check its brackets",
                    line,
                )
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                self.open_anchors.add(anchor)
            node = super().compose_node(parent, index)
            if anchor is not None:
                self.open_anchors.discard(anchor)
            self.depth -= 1
            self.sizes[id(node)] = size = 1 + sum(
                self.sizes.get(id(child), 1) for child in _children(node)
            )
            if size > MAX_PLAN_NODES:
                raise _ShapeError(self._too_large(), line)
            return node

        def _too_large(self) -> str:
            if self.aliased:
                return (
                    f"the plan uses YAML aliases that expand to more than {MAX_PLAN_NODES:,} "
                    "keys and values (aliases inside aliases multiply); write the values out "
                    "or use fewer nested aliases"
                )
            return (
                f"the plan holds more than {MAX_PLAN_NODES:,} keys and values; a plan names "
                "an experiment's settings, not its data"
            )

    return BoundedLoader


def _children(node: Any) -> list[Any]:  # noqa: ANN401 - a yaml.Node
    """The nodes directly under a YAML node: list items, or mapping keys and values."""
    value = node.value
    if not isinstance(value, list):
        return []
    if value and isinstance(value[0], tuple):
        return [part for pair in value for part in pair]
    return value


def _yaml_message(error: Any, text: str, name: str) -> str:  # noqa: ANN401 - a YAMLError
    """``file:line: invalid YAML: problem (context on line n)``; the line is where it broke."""
    mark = error.problem_mark or error.context_mark
    last_line = max(len(text.splitlines()), 1)
    line = "" if mark is None else f":{min(mark.line + 1, last_line)}"
    message = f"{name}{line}: invalid YAML: {error.problem or error.context or 'cannot parse'}"
    if error.problem and error.context and error.context_mark is not None:
        message += f" ({error.context} on line {error.context_mark.line + 1})"
    return message


def _walk(
    node: Any,  # noqa: ANN401 - a yaml.Node
    path: str,
    lines: dict[str, int],
    problems: list[str],
    name: str,
    yaml: Any,  # noqa: ANN401 - the yaml module
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    f"{name}:{line}: {child} is given twice (first on line {seen[key]})"
                )
                continue
            seen[key] = line
            lines[child] = line
            _walk(value_node, child, lines, problems, name, yaml)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, problems, name, yaml)


# ------------------------------------------------------------------------------- validation
_MISSING: Any = object()
#: Longest message about one key: a value quoted in it is cut in the middle beyond this.
_LONGEST_MESSAGE = 800


class _Checker:
    """Collects validation messages, each located at its key's line."""

    def __init__(self, name: str, lines: Mapping[str, int]) -> None:
        self.name = name
        self.lines = lines
        self.errors: list[tuple[int, str]] = []

    def fail(self, key: str, message: str) -> None:
        line = line_of(self.lines, key)
        where = self.name if line is None else f"{self.name}:{line}"
        if len(message) > _LONGEST_MESSAGE:  # a large value quoted whole would bury the rule
            message = f"{message[: _LONGEST_MESSAGE - 200]} ... {message[-180:]}"
        self.errors.append((line or 0, f"{where}: {message}"))

    def mapping(self, value: object, key: str, what: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.fail(key, f"{key or 'the plan'} must be a mapping of {what}, found {_describe(value)}")
        return None

    def keys(
        self, mapping: Mapping[Any, Any], key: str, allowed: Sequence[str], where: str
    ) -> None:
        for name in mapping:
            if name in allowed:
                continue
            path = f"{key}.{name}" if key else str(name)
            from difflib import get_close_matches  # noqa: PLC0415 - error path only

            close = get_close_matches(str(name), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(path, f"{path} is not a key of {where}{hint} (keys: {', '.join(allowed)})")

    def text(
        self, mapping: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> str | None:
        value = mapping.get(key, _MISSING)
        if value is _MISSING or (value is None and not required):
            if required:
                self.fail(path, f"{path} is missing; it is required")
            return None
        if isinstance(value, str) and value:
            return value
        hint = "; quote it" if isinstance(value, bool | int | float | dt.date) else ""
        self.fail(path, f"{path} == {value!r}, must be a non-empty string{hint}")
        return None

    def texts(self, mapping: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = mapping.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(path, f"{path} == {value!r}, must be a list of column names")
            return ()
        out = []
        for index, item in enumerate(value):
            if isinstance(item, str) and item:
                out.append(item)
            else:
                self.fail(f"{path}[{index}]", f"{path}[{index}] == {item!r}, must be a string")
        return tuple(out)

    def choice(
        self,
        mapping: Mapping[str, Any],
        key: str,
        path: str,
        choices: Sequence[str],
        default: str | None,
    ) -> str | None:
        value = mapping.get(key, _MISSING)
        if value is _MISSING or value is None:
            return default
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            self.fail(path, f"{path} == {value!r}, must be one of {options}")
            return default
        return str(value)

    def boolean(
        self,
        mapping: Mapping[str, Any],
        key: str,
        path: str,
        words: Sequence[str] = (),
    ) -> bool | str | None:
        """``true``/``false`` (or one of ``words``); None when absent, null or invalid."""
        value = mapping.get(key, _MISSING)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool):  # before `in words`: True == 1, never a word
            return value
        if isinstance(value, str) and value in words:
            return value
        allowed = ", ".join(["true", "false", *(repr(w) for w in words)])
        rule = f"one of {allowed}" if words else "true or false"
        hint = ""
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            hint = "; write it without quotes"
        self.fail(path, f"{path} == {value!r}, must be {rule}{hint}")
        return None

    def number(
        self,
        mapping: Mapping[str, Any],
        key: str,
        path: str,
        *,
        rule: str,
        accept: Callable[[float], bool],
        whole: bool = False,
    ) -> float | None:
        value = mapping.get(key, _MISSING)
        if value is _MISSING or value is None:
            return None
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (not whole or float(value).is_integer())
            and accept(float(value))
        )
        if not ok:
            self.fail(path, f"{path} == {value!r}, must be {rule}")
            return None
        return float(value)

    def raise_if_any(self) -> None:
        if self.errors:
            raise PlanError([message for _, message in sorted(self.errors, key=lambda e: e[0])])


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"{value!r}"


def _build(
    data: object,
    *,
    name: str,
    lines: Mapping[str, int],
    path: Path | None,
    sha256: str,
) -> AnalysisPlan:
    check = _Checker(name, lines)
    root = check.mapping(data, "", "keys (experiment_id, source, control, metrics, ...)")
    if root is None:
        raise PlanError([message for _, message in check.errors])
    check.keys(root, "", TOP_KEYS, "a plan")
    experiment_id = check.text(root, "experiment_id", "experiment_id", required=True)
    team = check.text(root, "team", "team")
    description = check.text(root, "description", "description")
    source = _read_source(root.get("source", _MISSING), check)
    variant = check.text(root, "variant", "variant") or "variant"
    unit = check.text(root, "unit", "unit")
    control = check.text(root, "control", "control", required=True)
    arms, weights = _read_arms(root.get("arms"), control, check)
    metrics = _read_metrics(root.get("metrics", _MISSING), check)
    segments = check.texts(root, "segments", "segments")
    for index, segment in enumerate(segments):
        if segment in (variant, unit):
            check.fail(
                f"segments[{index}]",
                f"segments[{index}] == {segment!r} is the variant or unit column, "
                "must be a column that describes units (platform, country, ...)",
            )
    in_unit = "a number in (0, 1)"
    alpha = check.number(root, "alpha", "alpha", rule=in_unit, accept=lambda v: 0 < v < 1)
    srm_alpha = check.number(
        root, "srm_alpha", "srm_alpha", rule=in_unit, accept=lambda v: 0 < v < 1
    )
    srm_method = check.choice(root, "srm_method", "srm_method", SRM_METHODS, DEFAULT_SRM_METHOD)
    # Absent: "auto" (Holm with more than two arms); null or "none": no correction.
    correction = check.choice(
        root, "correction", "correction", (*CORRECTION_METHODS, "auto", "none"), "auto"
    )
    if ("correction" in root and root["correction"] is None) or correction == "none":
        correction = None
    family = check.choice(root, "family", "family", FAMILIES, "metric")
    sequential = check.choice(root, "sequential", "sequential", SEQUENTIAL_METHODS, "none")
    spending = check.choice(root, "spending", "spending", SPENDING_NAMES, DEFAULT_SPENDING)
    if root.get("spending") is not None and sequential != "group-sequential":
        check.fail(
            "spending",
            f"spending == {root.get('spending')!r} applies to sequential: group-sequential "
            f"only, and the plan's method is {sequential!r}; remove spending or set "
            "sequential: group-sequential",
        )
    time = check.text(root, "time", "time")
    if time is not None and time in (variant, unit):
        check.fail(
            "time",
            f"time == {time!r} is the variant or unit column, must be the column giving each "
            "unit's look (its exposure day or date)",
        )
    bayesian = _read_bayesian(root.get("bayesian"), check)
    planned = _read_planned(root.get("planned"), check)
    exposure = _read_exposure(root.get("exposure"), arms, variant, unit, check)
    if sequential not in (None, "none") and root.get("time") is None:
        check.fail(
            "sequential",
            f"sequential == {sequential!r} needs time: the column giving each unit's look (its "
            "exposure day or date), so that every look can be read; add e.g. "
            "time: exposure_day, or set sequential: none",
        )
    if sequential == "group-sequential" and planned.sample_size is None:
        check.fail(
            "sequential",
            "sequential == 'group-sequential' needs planned.sample_size: the information "
            "fraction at a look is its units / the planned units",
        )
    check.raise_if_any()
    if experiment_id is None or control is None or source is None:  # pragma: no cover
        raise PlanError([f"{name}: the plan is incomplete"])  # each case failed above
    return AnalysisPlan(
        experiment_id=experiment_id,
        source=source,
        control=control,
        metrics=metrics,
        team=team,
        description=description,
        variant=variant,
        unit=unit,
        arms=arms,
        weights=weights,
        segments=segments,
        alpha=0.05 if alpha is None else alpha,
        correction=correction,  # type: ignore[arg-type]
        family=family,  # type: ignore[arg-type]
        sequential=sequential,  # type: ignore[arg-type]
        spending=spending,  # type: ignore[arg-type]
        srm_alpha=DEFAULT_SRM_ALPHA if srm_alpha is None else srm_alpha,
        srm_method=srm_method,  # type: ignore[arg-type]
        planned=planned,
        time=time,
        bayesian=bayesian,
        exposure=exposure,
        path=path,
        sha256=sha256,
        lines=dict(lines),
    )


_CLEANING_KEYS = ("sql", "filter")


def _read_source(value: object, check: _Checker, key: str = "source") -> DataSource | None:
    """A ``source`` mapping (at ``key``: the plan's ``source``, or a catalog source's)."""
    kinds = SOURCE_KINDS
    if value is _MISSING or value is None:
        check.fail(key, f"{key} is missing; give one of: path, duckdb, warehouse, spark")
        return None
    mapping = check.mapping(value, key, "one of: path, duckdb, warehouse, spark")
    if mapping is None:
        return None
    check.keys(mapping, key, (*kinds, *_CLEANING_KEYS), key)
    given = [k for k in kinds if k in mapping]
    if len(given) != 1:
        if not mapping or all(k in (*kinds, *_CLEANING_KEYS) for k in mapping):
            check.fail(
                key,
                f"{key} has {', '.join(given) or 'nothing'}, must have exactly one of: "
                + ", ".join(kinds),
            )
        return None
    kind = given[0]
    sql = check.text(mapping, "sql", f"{key}.sql")
    row_filter = _read_filter(mapping.get("filter"), check, f"{key}.filter")
    if kind == "path":
        file = check.text(mapping, "path", f"{key}.path", required=True)
        if file is not None and Path(file).suffix.lower() not in FILE_SUFFIXES:
            check.fail(
                f"{key}.path",
                f"{key}.path == {file!r}, must end in one of {', '.join(FILE_SUFFIXES)}",
            )
            return None
        _check_env_references(file, f"{key}.path", check)
        return None if file is None else PathSource(file, sql, row_filter)
    inner = check.mapping(mapping[kind], f"{key}.{kind}", "connection keys")
    if inner is None:
        return None
    if kind == "duckdb":
        check.keys(inner, f"{key}.duckdb", ("file", "table"), f"{key}.duckdb")
        file = check.text(inner, "file", f"{key}.duckdb.file", required=True)
        _check_env_references(file, f"{key}.duckdb.file", check)
        table = _read_table(inner, f"{key}.duckdb", sql, check)
        if file is None or (table is None and sql is None):
            return None
        return DuckDBSource(file, table, sql, row_filter)
    if kind == "spark":
        check.keys(inner, f"{key}.spark", ("table",), f"{key}.spark")
        table = _read_table(inner, f"{key}.spark", sql, check)
        return None if table is None and sql is None else SparkSource(table, sql, row_filter)
    warehouse = _read_warehouse(inner, sql, check, f"{key}.warehouse")
    return None if warehouse is None else replace(warehouse, sql=sql, filter=row_filter)


def _read_table(
    inner: Mapping[str, Any], base: str, sql: str | None, check: _Checker
) -> str | None:
    """The ``table`` of a database source: required, unless ``source.sql`` replaces it."""
    if sql is not None and inner.get("table") is not None:
        check.fail(
            f"{base}.table",
            f"{base}.table and {base.rpartition('.')[0]}.sql are both given; keep one: the sql "
            "reads the tables",
        )
        return None
    if sql is not None:
        return None
    return check.text(inner, "table", f"{base}.table", required=True)


def _check_env_references(file: str | None, key: str, check: _Checker) -> None:
    """Each ``${...}`` in a path must name a variable (its value is read when opened)."""
    for name in ENV_REFERENCE.findall(file or ""):
        if not ENV_NAME.fullmatch(name):
            check.fail(key, f"{key} == {file!r}: ${{{name}}} is not an environment variable name")


def _read_filter(
    value: object, check: _Checker, key: str = "source.filter"
) -> tuple[RowFilter, ...]:
    """``source.filter`` (or the filter at ``key``): ``{column, op, value}`` conditions, all met."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        check.fail(
            key,
            f"{key} == {value!r}, must be a list of conditions like "
            "{column: country, op: in, value: [DE, FR]}",
        )
        return ()
    conditions: list[RowFilter] = []
    for index, item in enumerate(value):
        condition = _read_condition(item, f"{key}[{index}]", check)
        if condition is not None:
            conditions.append(condition)
    return tuple(conditions)


def _read_condition(item: object, path: str, check: _Checker) -> RowFilter | None:
    mapping = check.mapping(item, path, "keys (column, op, value)")
    if mapping is None:
        return None
    errors_before = len(check.errors)
    check.keys(mapping, path, _FILTER_KEYS, "a filter condition")
    column = check.text(mapping, "column", f"{path}.column", required=True)
    op = check.choice(mapping, "op", f"{path}.op", FILTER_OPS, "==") or "=="
    value = mapping.get("value")
    if op in ("is-null", "not-null"):
        if value is not None:
            check.fail(f"{path}.value", f"{path}.value is given, but op {op!r} takes no value")
    elif op in ("in", "not-in"):
        if not isinstance(value, list) or not value:
            check.fail(
                f"{path}.value",
                f"{path}.value == {value!r}, op {op!r} needs a non-empty list of values",
            )
        else:
            for index, item_value in enumerate(value):
                _check_filter_value(item_value, f"{path}.value[{index}]", check)
            value = tuple(value)
    else:
        _check_filter_value(value, f"{path}.value", check, op=op)
    if len(check.errors) > errors_before or column is None:
        return None
    return RowFilter(column, op, value)  # type: ignore[arg-type]


def _check_filter_value(value: object, path: str, check: _Checker, op: str = "in") -> None:
    if value is None:
        hint = "; to keep the rows with (without) NULLs use op: is-null (not-null)"
        check.fail(path, f"{path} is missing, op {op!r} compares with a value{hint}")
    elif isinstance(value, dt.date | dt.datetime):
        check.fail(path, f"{path} == {value!r}, quote the date ('2026-03-02')")
    elif not isinstance(value, str | int | float) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        check.fail(path, f"{path} == {value!r}, must be a string, number or true/false")


_FILTER_KEYS = ("column", "op", "value")


def _read_warehouse(
    inner: Mapping[str, Any], sql: str | None, check: _Checker, base: str = "source.warehouse"
) -> WarehouseSource | None:
    backend = check.choice(inner, "backend", f"{base}.backend", BACKENDS, None)
    if "backend" not in inner:
        check.fail(base, f"{base}.backend is missing; it is one of {', '.join(BACKENDS)}")
    table = _read_table(inner, base, sql, check)
    if backend is None:
        return None
    kind: Backend = backend  # type: ignore[assignment]
    params: dict[str, str | int] = {}
    env: dict[str, str] = {}
    plain = WAREHOUSE_PARAMS[kind]
    secrets = WAREHOUSE_SECRETS[kind]
    allowed = ("backend", "table", *plain, *(f"{p}_env" for p in (*plain, *secrets)))
    for key, value in inner.items():
        if key not in ("backend", "table"):
            _read_warehouse_entry(str(key), value, kind, allowed, params, env, check, base)
    for key in env:
        if key in params:
            check.fail(f"{base}.{key}_env", f"{base}.{key} and {base}.{key}_env are both given")
    if table is None and sql is None:
        return None
    return WarehouseSource(kind, table, params, env)


def _read_warehouse_entry(
    key: str,
    value: object,
    kind: Backend,
    allowed: Sequence[str],
    params: dict[str, str | int],
    env: dict[str, str],
    check: _Checker,
    base: str = "source.warehouse",
) -> None:
    path = f"{base}.{key}"
    if any(word in key.lower() for word in SECRET_WORDS) and not key.endswith("_env"):
        variable = SECRET_ENV_HINT.get(kind, "A_VARIABLE")
        check.fail(
            path,
            f"{path} is a literal secret and is refused: plans are shared and committed; "
            f"write {key}_env: {variable} and set that environment variable instead",
        )
    elif key not in allowed:
        check.keys({key: value}, base, allowed, f"a {kind} warehouse source")
    elif key.endswith("_env"):
        if isinstance(value, str) and ENV_NAME.fullmatch(value):
            env[key[: -len("_env")]] = value
        else:
            check.fail(path, f"{path} == {value!r}, must be an environment variable name")
    elif isinstance(value, str | int) and not isinstance(value, bool) and value != "":
        params[key] = value
    else:
        check.fail(path, f"{path} == {value!r}, must be a string or a whole number")


def _read_arms(
    value: object, control: str | None, check: _Checker
) -> tuple[tuple[str, ...] | None, dict[str, float] | None]:
    if value is None:
        return None, None
    labels: list[str] = []
    weights: dict[str, float] | None = None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and item:
                labels.append(item)
            else:
                check.fail(
                    f"arms[{index}]", f"arms[{index}] == {item!r}, must be a string; quote it"
                )
    elif isinstance(value, Mapping):
        weights = _read_weights(value, labels, check)
    else:
        check.fail(
            "arms",
            f"arms == {value!r}, must be a list of labels or a mapping label -> planned share",
        )
        return None, None
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        check.fail("arms", f"arms repeats {repeated}")
    if len(labels) < 2:
        check.fail(
            "arms", f"arms has {len(labels)} label(s), must have the control and a treatment"
        )
    if control is not None and labels and control not in labels:
        check.fail("control", f"control == {control!r}, must be one of arms {labels}")
    return tuple(labels), weights


def _read_weights(value: Mapping[Any, Any], labels: list[str], check: _Checker) -> dict[str, float]:
    weights: dict[str, float] = {}
    for label, weight in value.items():
        path = f"arms.{label}"
        if not isinstance(label, str) or not label:
            check.fail(path, f"arms has the label {label!r}, must be a string; quote it")
            continue
        labels.append(label)
        ok = (
            isinstance(weight, int | float)
            and not isinstance(weight, bool)
            and math.isfinite(weight)
            and weight > 0
        )
        if ok:
            weights[label] = float(weight)
        else:
            check.fail(path, f"{path} == {weight!r}, must be a planned share > 0")
    return weights


def _read_metrics(value: object, check: _Checker) -> tuple[MetricSpec, ...]:
    if value is _MISSING or value is None:
        check.fail("metrics", "metrics is missing; list at least one metric")
        return ()
    if not isinstance(value, list) or not value:
        check.fail("metrics", f"metrics == {value!r}, must be a non-empty list of metrics")
        return ()
    specs: list[MetricSpec] = []
    names: dict[str, int] = {}
    for index, item in enumerate(value):
        spec = _read_metric(item, f"metrics[{index}]", check)
        if spec is None:
            continue
        if spec.name in names:
            check.fail(
                f"metrics[{index}]",
                f"metrics[{index}] is named {spec.name!r} like metrics[{names[spec.name]}]; "
                "give each metric a unique name",
            )
        names.setdefault(spec.name, index)
        specs.append(spec)
    if specs and len(specs) == len(value) and not any(s.role == "primary" for s in specs):
        check.fail(
            "metrics",
            "metrics has no primary metric; mark the metric that decides the verdict "
            "with role: primary",
        )
    return tuple(specs)


def _read_metric(item: object, path: str, check: _Checker) -> MetricSpec | None:
    mapping = check.mapping(item, path, "keys (kind, column, name, role, ...)")
    if mapping is None:
        return None
    kinds = metric_kinds()
    if "kind" not in mapping:
        check.fail(path, f"{path}.kind is missing; it is one of {', '.join(kinds)}")
        return None
    errors_before = len(check.errors)
    kind = check.choice(mapping, "kind", f"{path}.kind", tuple(kinds), None)
    if kind is None:
        return None
    cls = kinds[kind]
    declared = kind_named(kind).plan_keys
    allowed = (*_METRIC_COMMON_KEYS, *(key.name for key in declared))
    check.keys(mapping, path, allowed, f"a {kind!r} metric")
    for required in required_keys(cls):
        if mapping.get(required) is None:
            check.fail(path, f"{path}.{required} is missing; a {kind!r} metric needs it")
    defaults = {
        name: parameter.default for name, parameter in inspect.signature(cls).parameters.items()
    }
    params: dict[str, Any] = {}
    for key in declared:
        value = _read_key(mapping, key, f"{path}.{key.name}", check)
        if value is None and defaults[key.name] is not inspect.Parameter.empty:
            value = defaults[key.name]
        params[key.name] = value
    role_default = default_role(cls)
    role = check.choice(mapping, "role", f"{path}.role", ROLES, role_default) or role_default
    direction = (
        check.choice(mapping, "direction", f"{path}.direction", DIRECTIONS, "increase")
        or "increase"
    )
    name = check.text(mapping, "name", f"{path}.name") or ""
    if len(check.errors) > errors_before:
        return None
    spec = MetricSpec(
        kind=kind,
        name=name,
        role=role,  # type: ignore[arg-type]
        direction=direction,  # type: ignore[arg-type]
        params=params,
    )
    try:  # the metric class's own checks (a covariate equal to the column, CUPED with two, ...)
        metric = spec.to_metric()
    except AblensError as error:
        check.fail(path, f"{path}: {error}")
        return None
    if not name:
        spec = replace(spec, name=metric.name)
    return spec


def _read_key(mapping: Mapping[str, Any], key: PlanKey, path: str, check: _Checker) -> Any:  # noqa: ANN401 - a value of the key's declared type
    """One declared key of a metric, read by its type (None when absent or invalid)."""
    if key.type == "column":
        return check.text(mapping, key.name, path)
    if key.type == "columns":
        return check.texts(mapping, key.name, path) if key.name in mapping else None
    if key.type == "probability":
        return check.number(
            mapping, key.name, path, rule="a number in (0, 1)", accept=lambda v: 0 < v < 1
        )
    if key.type == "boolean":
        return check.boolean(mapping, key.name, path)
    if key.type == "boolean-or-choice":
        return check.boolean(mapping, key.name, path, key.choices)
    return check.choice(mapping, key.name, path, key.choices, None)


def _read_bayesian(value: object, check: _Checker) -> BayesianPrior | None:
    """``bayesian: true`` (the flat prior), ``false``/absent (none), or ``{prior: flat}``."""
    if value is None or value is False:
        return None
    if value is True:
        return "flat"
    if isinstance(value, str):
        prior = check.choice({"bayesian": value}, "bayesian", "bayesian", BAYESIAN_PRIORS, None)
        return None if prior is None else "flat"
    mapping = check.mapping(value, "bayesian", "keys (prior), or true / false")
    if mapping is None:
        return None
    check.keys(mapping, "bayesian", _BAYESIAN_KEYS, "bayesian")
    prior = check.choice(mapping, "prior", "bayesian.prior", BAYESIAN_PRIORS, "flat")
    return "flat" if prior is None else prior  # type: ignore[return-value]


def _read_planned(value: object, check: _Checker) -> Planned:
    if value is None:
        return Planned()
    mapping = check.mapping(value, "planned", "keys (sample_size, duration_days, start_date)")
    if mapping is None:
        return Planned()
    check.keys(mapping, "planned", PLANNED_KEYS, "planned")
    size = check.number(
        mapping,
        "sample_size",
        "planned.sample_size",
        rule="a whole number of units >= 2",
        accept=lambda v: v >= 2,
        whole=True,
    )
    days = check.number(
        mapping, "duration_days", "planned.duration_days", rule="> 0 days", accept=lambda v: v > 0
    )
    power = check.number(
        mapping, "power", "planned.power", rule="a number in (0, 1)", accept=lambda v: 0 < v < 1
    )
    start = mapping.get("start_date")
    start_date: dt.date | None = None
    if isinstance(start, dt.datetime):
        start_date = start.date()
    elif isinstance(start, dt.date):
        start_date = start
    elif isinstance(start, str):
        try:
            start_date = dt.date.fromisoformat(start)
        except ValueError:
            check.fail(
                "planned.start_date",
                f"planned.start_date == {start!r}, must be a date like 2026-03-02",
            )
    elif start is not None:
        check.fail(
            "planned.start_date", f"planned.start_date == {start!r}, must be a date like 2026-03-02"
        )
    return Planned(
        sample_size=None if size is None else int(size),
        duration_days=days,
        start_date=start_date,
        power=0.8 if power is None else power,
    )


def _read_exposure(
    value: object,
    arms: Sequence[str] | None,
    variant: str,
    unit: str | None,
    check: _Checker,
) -> ExposureCheck | None:
    """``exposure: {column, expected: {arm: value}, on_mismatch: drop|stop}``, or None."""
    if value is None:
        return None
    mapping = check.mapping(value, "exposure", "keys (column, expected, on_mismatch)")
    if mapping is None:
        return None
    errors_before = len(check.errors)
    check.keys(mapping, "exposure", EXPOSURE_KEYS, "exposure")
    column = check.text(mapping, "column", "exposure.column", required=True)
    if column is not None and column in (variant, unit):
        check.fail(
            "exposure.column",
            f"exposure.column == {column!r} is the variant or unit column, must be the column "
            "recording what each unit was exposed to (e.g. landing_page)",
        )
    on_mismatch = check.choice(mapping, "on_mismatch", "exposure.on_mismatch", ON_MISMATCH, "stop")
    expected = _read_expected(mapping.get("expected"), arms, check)
    if len(check.errors) > errors_before or column is None:
        return None
    return ExposureCheck(column, expected, on_mismatch)  # type: ignore[arg-type]


def _read_expected(raw: object, arms: Sequence[str] | None, check: _Checker) -> dict[str, Any]:
    """``exposure.expected``: arm label -> the exposure value of that arm."""
    expected: dict[str, Any] = {}
    if raw is None:
        check.fail("exposure.expected", "exposure.expected is missing; map each arm to its value")
    elif not isinstance(raw, Mapping) or not raw:
        check.fail(
            "exposure.expected",
            f"exposure.expected == {raw!r}, must map each arm to the value exposure.column "
            "holds in it, e.g. {control: old_page, treatment: new_page}",
        )
    else:
        for arm, item in raw.items():
            path = f"exposure.expected.{arm}"
            if not isinstance(arm, str) or not arm:
                check.fail(path, f"exposure.expected has the arm {arm!r}, must be a string")
            elif arms is not None and arm not in arms:
                check.fail(path, f"{path}: {arm!r} is not one of arms {list(arms)}")
            elif isinstance(item, str | int | float | bool) and not (
                isinstance(item, float) and not math.isfinite(item)
            ):
                expected[arm] = item
            else:
                check.fail(path, f"{path} == {item!r}, must be a string, number or boolean")
        if arms is not None:
            absent = [a for a in arms if a not in raw]
            if absent:
                check.fail(
                    "exposure.expected",
                    f"exposure.expected names no value for arm(s) {absent}; give every arm's",
                )
    return expected


# ------------------------------------------------------------------------------- shared readers
# The metric catalog (ablens.catalog) reads its YAML files, keys, sources and filters with the
# plan's own readers, so both refuse the same bombs and word their messages alike.
#: YAML text -> (value, key path -> line), within `MAX_PLAN_DEPTH` and `MAX_PLAN_NODES`.
compose_yaml = _compose
#: Collects ``file:line: key ...`` messages while reading a mapping.
KeyChecker = _Checker
#: A source mapping (path, duckdb, warehouse, spark; sql; filter) at a key path.
read_source = _read_source
#: A list of ``{column, op, value}`` conditions at a key path.
read_filter = _read_filter

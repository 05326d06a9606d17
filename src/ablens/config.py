"""The analysis plan: one YAML file that says what an experiment is and how to read it.

A plan names the experiment, where its data live (a parquet or CSV file, a DuckDB table, a
warehouse table through Ibis, a Spark table), the variant and unit columns, the arms and their
planned split, the metrics with their roles and desired directions, segments, the significance
level and multiple-testing correction, and the planned sample size and duration. `load_plan`
reads and validates it (every error names the file, line and key), `run_plan` computes the
analysis where the data live, and `verdict` turns the result into one of four decisions:

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
ablens.config.PlanError: plan.yaml:8: metrics[1].kind == 'avg', must be one of 'mean', ...
>>> plan = parse_plan(text.replace("avg", "mean"), name="plan.yaml")
>>> [(m.name, m.role) for m in plan.metrics]
[('conversion', 'primary'), ('sessions', 'guardrail')]

Reading YAML needs PyYAML (``pip install 'ablens[cli]'``); the plan model, `plan_from_dict`,
`run_plan` and `verdict` need nothing beyond the core.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ablens import render
from ablens._validation import optional_import
from ablens.errors import AblensError, ConfigError, DataError
from ablens.metrics import (
    ADJUSTMENTS,
    DIRECTIONS,
    ROLES,
    Adjustment,
    Direction,
    MannWhitney,
    Mean,
    PostStratified,
    Proportion,
    Quantile,
    Ratio,
    Role,
)
from ablens.readout import BAYESIAN_PRIORS, BayesianPrior
from ablens.stats.group_sequential import SPENDING_NAMES, SpendingName
from ablens.stats.means import MEAN_TESTS
from ablens.stats.multiplicity import CORRECTION_METHODS, CorrectionMethod
from ablens.stats.proportions import PROPORTION_TESTS
from ablens.stats.srm import DEFAULT_SRM_ALPHA

if TYPE_CHECKING:
    from ablens.metrics import Metric
    from ablens.readout import SequentialReading
    from ablens.results import AnalysisResult, Comparison, Family

__all__ = [
    "BACKENDS",
    "CHECK_STATUSES",
    "FIX_DATA",
    "KEEP_RUNNING",
    "METRIC_KINDS",
    "ROLL_BACK",
    "SEQUENTIAL_METHODS",
    "SHIP",
    "VERDICTS",
    "AnalysisPlan",
    "DataSource",
    "DuckDBSource",
    "HealthCheck",
    "MetricSpec",
    "PathSource",
    "PlanError",
    "Planned",
    "SparkSource",
    "Verdict",
    "WarehouseSource",
    "check_source",
    "load_plan",
    "parse_plan",
    "plan_from_dict",
    "plan_json_schema",
    "run_plan",
    "verdict",
]

MetricKind = Literal["mean", "proportion", "ratio", "quantile", "mann-whitney", "post-stratified"]
METRIC_KINDS: tuple[MetricKind, ...] = (
    "mean",
    "proportion",
    "ratio",
    "quantile",
    "mann-whitney",
    "post-stratified",
)
SequentialMethod = Literal["none", "group-sequential", "msprt", "confidence-sequence"]
SEQUENTIAL_METHODS: tuple[SequentialMethod, ...] = (
    "none",
    "group-sequential",
    "msprt",
    "confidence-sequence",
)
Backend = Literal["postgres", "bigquery", "snowflake"]
BACKENDS: tuple[Backend, ...] = ("postgres", "bigquery", "snowflake")
FAMILIES: tuple[Family, ...] = ("metric", "experiment", "primary")

VerdictLabel = Literal[
    "Ship", "Roll back", "Inconclusive — keep running", "Don't trust — fix the data"
]
SHIP: VerdictLabel = "Ship"
ROLL_BACK: VerdictLabel = "Roll back"
KEEP_RUNNING: VerdictLabel = "Inconclusive — keep running"
FIX_DATA: VerdictLabel = "Don't trust — fix the data"
#: The fixed vocabulary of decisions, in order of precedence.
VERDICTS: tuple[VerdictLabel, ...] = (FIX_DATA, KEEP_RUNNING, ROLL_BACK, SHIP)

FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".txt")

#: Connection parameters each warehouse backend takes (any may instead be read from an
#: environment variable: ``<param>_env: VARIABLE``), and the secret ones, which may only be.
WAREHOUSE_PARAMS: dict[Backend, tuple[str, ...]] = {
    "postgres": ("host", "port", "user", "database", "schema"),
    "bigquery": ("project_id", "dataset_id", "location"),
    "snowflake": ("account", "user", "database", "schema", "warehouse", "role"),
}
WAREHOUSE_SECRETS: dict[Backend, tuple[str, ...]] = {
    "postgres": ("password",),
    "bigquery": (),  # Google's default credentials: GOOGLE_APPLICATION_CREDENTIALS
    "snowflake": ("password",),
}
_SECRET_WORDS = ("password", "passwd", "secret", "token", "private_key", "api_key", "credentials")
_SECRET_ENV_HINT = {"postgres": "PGPASSWORD", "snowflake": "SNOWFLAKE_PASSWORD"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_TOP_KEYS = (
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
    "planned",
)
_BAYESIAN_KEYS = ("prior",)
_METRIC_COMMON_KEYS = ("kind", "name", "role", "direction")
_METRIC_KEYS: dict[MetricKind, tuple[str, ...]] = {
    "mean": ("column", "test", "covariates", "adjustment"),
    "proportion": ("column", "test", "covariates", "adjustment"),
    "ratio": ("numerator", "denominator", "covariates", "adjustment"),
    "quantile": ("column", "probability"),
    "mann-whitney": ("column",),
    "post-stratified": ("column", "stratum"),
}
_METRIC_REQUIRED: dict[MetricKind, tuple[str, ...]] = {
    "mean": ("column",),
    "proportion": ("column",),
    "ratio": ("numerator", "denominator"),
    "quantile": ("column", "probability"),
    "mann-whitney": ("column",),
    "post-stratified": ("column", "stratum"),
}
_METRIC_TESTS: dict[MetricKind, tuple[str, ...]] = {
    "mean": MEAN_TESTS,
    "proportion": PROPORTION_TESTS,
}
#: Kinds whose library class defaults to the secondary role (the others default to primary).
_SECONDARY_BY_DEFAULT = ("quantile", "mann-whitney")
_PLANNED_KEYS = ("sample_size", "duration_days", "start_date", "power")


class PlanError(ConfigError):
    """An analysis plan is invalid; one message per problem, each ``file:line: key ...``.

    Attributes:
        messages: The problems found, in file order.
    """

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)
        super().__init__("\n".join(self.messages))


# ------------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class PathSource:
    """A parquet or CSV file, read by DuckDB (``source: {path: users.parquet}``).

    Attributes:
        path: The file; a relative path is relative to the plan file's folder.
    """

    path: str

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        return {"path": self.path}


@dataclass(frozen=True)
class DuckDBSource:
    """A table of a DuckDB database file, opened read-only.

    Attributes:
        file: The database file; a relative path is relative to the plan file's folder.
        table: Table or view name.
    """

    file: str
    table: str

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        return {"duckdb": {"file": self.file, "table": self.table}}


@dataclass(frozen=True)
class WarehouseSource:
    """A warehouse table read through Ibis; the query runs in the warehouse.

    Attributes:
        backend: "postgres", "bigquery" or "snowflake".
        table: Table name.
        params: Literal, non-secret connection parameters (host, port, user, ...).
        env: Connection parameter -> name of the environment variable holding its value
            (``password_env: PGPASSWORD`` becomes ``{"password": "PGPASSWORD"}``).
    """

    backend: Backend
    table: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping (environment variable names, never their values)."""
        inner: dict[str, Any] = {"backend": self.backend, "table": self.table}
        inner.update(self.params)
        inner.update({f"{key}_env": name for key, name in self.env.items()})
        return {"warehouse": inner}


@dataclass(frozen=True)
class SparkSource:
    """A table of the active (or default) Spark session's catalog.

    Attributes:
        table: Table or view name, as ``spark.table`` takes it.
    """

    table: str

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        return {"spark": {"table": self.table}}


DataSource: TypeAlias = PathSource | DuckDBSource | WarehouseSource | SparkSource


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a plan, as written; `to_metric` builds the ablens metric.

    Attributes:
        kind: "mean", "proportion", "ratio", "quantile", "mann-whitney" or "post-stratified".
        name: Label in results (defaults as the metric class does).
        column: The per-unit column (every kind but ratio).
        numerator: Ratio numerator column.
        denominator: Ratio denominator column.
        stratum: Post-stratification column.
        probability: The quantile, in (0, 1).
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        test: For means "welch", "student" or "z"; for proportions "z", "chi2", "chi2-yates"
            or "fisher"; None for the default.
        covariates: Pre-period columns for variance reduction (mean, proportion, ratio).
        adjustment: "cuped" or "regression".
    """

    kind: MetricKind
    name: str
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    stratum: str | None = None
    probability: float | None = None
    role: Role = "primary"
    direction: Direction = "increase"
    test: str | None = None
    covariates: tuple[str, ...] = ()
    adjustment: Adjustment = "cuped"

    def columns(self) -> tuple[str, ...]:
        """Every column the metric reads."""
        named = (self.column, self.numerator, self.denominator, self.stratum)
        return (*(c for c in named if c is not None), *self.covariates)

    def to_metric(self) -> Metric:
        """The ablens metric object this entry describes."""
        return _build_metric(self, self.name)

    def to_dict(self) -> dict[str, Any]:
        """The plan's mapping for this metric (keys that apply to its kind)."""
        keys = (*_METRIC_COMMON_KEYS, *_METRIC_KEYS[self.kind])
        out: dict[str, Any] = {}
        for key in keys:
            value = getattr(self, key)
            if value is None:
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


def _build_metric(spec: MetricSpec, name: str) -> Metric:
    role, direction, covariates, adjustment = (
        spec.role,
        spec.direction,
        spec.covariates,
        spec.adjustment,
    )
    column = spec.column or ""
    if spec.kind == "mean":
        return Mean(
            column,
            name=name,
            test=spec.test or "welch",  # type: ignore[arg-type]
            role=role,
            direction=direction,
            covariates=covariates,
            adjustment=adjustment,
        )
    if spec.kind == "proportion":
        return Proportion(
            column,
            name=name,
            test=spec.test or "z",  # type: ignore[arg-type]
            role=role,
            direction=direction,
            covariates=covariates,
            adjustment=adjustment,
        )
    if spec.kind == "ratio":
        return Ratio(
            spec.numerator or "",
            spec.denominator or "",
            name=name,
            role=role,
            direction=direction,
            covariates=covariates,
            adjustment=adjustment,
        )
    if spec.kind == "quantile":
        probability = 0.5 if spec.probability is None else spec.probability
        return Quantile(column, probability, name=name, role=role, direction=direction)
    if spec.kind == "mann-whitney":
        return MannWhitney(column, name=name, role=role, direction=direction)
    return PostStratified(column, spec.stratum or "", name=name, role=role, direction=direction)


@dataclass(frozen=True)
class Planned:
    """What the experiment was planned to collect, for the "not enough data" gate.

    Attributes:
        sample_size: Units planned over all arms, or None.
        duration_days: Planned duration in days, or None.
        start_date: The day the experiment started, or None.
        power: The power the sample size was planned for (used to state the detectable
            effect when a result is flat).
    """

    sample_size: int | None = None
    duration_days: float | None = None
    start_date: dt.date | None = None
    power: float = 0.8

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``planned`` mapping."""
        return {
            "sample_size": self.sample_size,
            "duration_days": self.duration_days,
            "start_date": None if self.start_date is None else self.start_date.isoformat(),
            "power": self.power,
        }


@dataclass(frozen=True)
class AnalysisPlan:
    """A validated analysis plan.

    Attributes:
        experiment_id: The experiment's id (tags every query for cost attribution).
        source: Where the data live.
        control: Control arm label.
        metrics: The metrics, in the order results list them.
        team: Team tag for cost attribution, or None.
        description: Free text shown in reports, or None.
        variant: Column holding each unit's arm label.
        unit: Unit id column (each unit must be one row in one arm), or None.
        arms: The arm labels expected (others are an error), or None for whatever is found.
        weights: Planned split per arm (any positive scale) for the sample-ratio check, or
            None for an equal split.
        segments: Columns to break the analysis down by.
        alpha: Significance level.
        correction: Multiple-testing method, or None.
        family: Which comparisons are corrected together: "metric", "experiment", "primary".
        sequential: Sequential method ("none", "group-sequential", "msprt",
            "confidence-sequence"). With one, `ablens.readout.run_readout` reads the primary
            metrics and guardrails at every look of ``time``, and the verdict may stop early.
        time: Column giving each unit's look (its exposure day or date), required by a
            sequential method; None without one.
        spending: Alpha-spending family of the group-sequential method ("obrien-fleming",
            "pocock", "hsd", "power"), as in `ablens.plan`; unused by the other methods.
        bayesian: The prior of the Bayesian reading ("flat"), or None for no Bayesian reading.
        srm_alpha: p-value below which the split is a sample-ratio mismatch.
        planned: Planned sample size, duration and start date.
        path: The file the plan was read from, or None.
        sha256: SHA-256 of the plan file's bytes (of its canonical JSON without a file).
        lines: Key path (``"metrics[2].kind"``) to its line in the file, for error messages.
    """

    experiment_id: str
    source: DataSource
    control: str
    metrics: tuple[MetricSpec, ...]
    team: str | None = None
    description: str | None = None
    variant: str = "variant"
    unit: str | None = None
    arms: tuple[str, ...] | None = None
    weights: Mapping[str, float] | None = None
    segments: tuple[str, ...] = ()
    alpha: float = 0.05
    correction: CorrectionMethod | None = None
    family: Family = "metric"
    sequential: SequentialMethod = "none"
    spending: SpendingName = "obrien-fleming"
    srm_alpha: float = DEFAULT_SRM_ALPHA
    planned: Planned = field(default_factory=Planned)
    time: str | None = None
    bayesian: BayesianPrior | None = None
    path: Path | None = field(default=None, compare=False)
    sha256: str = field(default="", compare=False)
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The plan file's path as given, or ``"<plan>"``."""
        return "<plan>" if self.path is None else str(self.path)

    def where(self, key: str) -> str:
        """``file:line`` of ``key`` (e.g. ``"metrics[1].column"``), for messages."""
        line = _line_of(self.lines, key)
        return self.name if line is None else f"{self.name}:{line}"

    def metric_objects(self) -> list[Metric]:
        """The ablens metrics, ready for `ablens.analyze`."""
        return [spec.to_metric() for spec in self.metrics]

    def to_dict(self) -> dict[str, Any]:
        """The normalized plan as a JSON-ready mapping (defaults filled in)."""
        arms: Any = None
        if self.weights is not None:
            arms = dict(self.weights)
        elif self.arms is not None:
            arms = list(self.arms)
        document = {
            "experiment_id": self.experiment_id,
            "team": self.team,
            "description": self.description,
            "source": self.source.to_dict(),
            "variant": self.variant,
            "unit": self.unit,
            "control": self.control,
            "arms": arms,
            "metrics": [m.to_dict() for m in self.metrics],
            "segments": list(self.segments),
            "alpha": self.alpha,
            "correction": self.correction,
            "family": self.family,
            "sequential": self.sequential,
            "time": self.time,
            "bayesian": None if self.bayesian is None else {"prior": self.bayesian},
            "srm_alpha": self.srm_alpha,
            "planned": self.planned.to_dict(),
        }
        if self.sequential == "group-sequential":  # the only method with a spending family
            document["spending"] = self.spending
        return document


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
        (DuckDBSource(file='shop.duckdb', table='users'), 'revenue', 0.05)
        >>> parse_plan("experiment_id: [unclosed", name="p.yaml")
        Traceback (most recent call last):
        ...
        ablens.config.PlanError: p.yaml:1: invalid YAML: ...
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
    try:
        canonical = json.dumps(data, sort_keys=True, default=str).encode()
    except TypeError:  # keys of mixed types cannot be sorted; validation reports them below
        canonical = repr(data).encode()
    return _build(
        data, name=name, lines={}, path=None, sha256=hashlib.sha256(canonical).hexdigest()
    )


def _parse(text: str, *, name: str, path: Path | None, sha256: str) -> AnalysisPlan:
    data, lines = _compose(text, name)
    return _build(data, name=name, lines=lines, path=path, sha256=sha256)


def _compose(text: str, name: str) -> tuple[Any, dict[str, int]]:
    """YAML text -> (Python value, key path -> 1-based line), with duplicate keys refused."""
    yaml = optional_import("yaml", "cli")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
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


def _parent(key: str) -> str:
    if key.endswith("]"):
        return key[: key.rindex("[")]
    return key.rsplit(".", 1)[0] if "." in key else ""


def _line_of(lines: Mapping[str, int], key: str) -> int | None:
    while True:
        if key in lines:
            return lines[key]
        if not key:
            return None
        key = _parent(key)


# ------------------------------------------------------------------------------- validation
_MISSING: Any = object()


class _Checker:
    """Collects validation messages, each located at its key's line."""

    def __init__(self, name: str, lines: Mapping[str, int]) -> None:
        self.name = name
        self.lines = lines
        self.errors: list[tuple[int, str]] = []

    def fail(self, key: str, message: str) -> None:
        line = _line_of(self.lines, key)
        where = self.name if line is None else f"{self.name}:{line}"
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
    check.keys(root, "", _TOP_KEYS, "a plan")
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
    correction = check.choice(root, "correction", "correction", CORRECTION_METHODS, None)
    family = check.choice(root, "family", "family", FAMILIES, "metric")
    sequential = check.choice(root, "sequential", "sequential", SEQUENTIAL_METHODS, "none")
    spending = check.choice(root, "spending", "spending", SPENDING_NAMES, "obrien-fleming")
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
        planned=planned,
        time=time,
        bayesian=bayesian,
        path=path,
        sha256=sha256,
        lines=dict(lines),
    )


def _read_source(value: object, check: _Checker) -> DataSource | None:
    kinds = ("path", "duckdb", "warehouse", "spark")
    if value is _MISSING or value is None:
        check.fail("source", "source is missing; give one of: path, duckdb, warehouse, spark")
        return None
    mapping = check.mapping(value, "source", "one of: path, duckdb, warehouse, spark")
    if mapping is None:
        return None
    check.keys(mapping, "source", kinds, "source")
    given = [k for k in kinds if k in mapping]
    if len(given) != 1:
        if not mapping or all(k in kinds for k in mapping):
            check.fail(
                "source",
                f"source has {', '.join(given) or 'nothing'}, must have exactly one of: "
                + ", ".join(kinds),
            )
        return None
    kind = given[0]
    if kind == "path":
        file = check.text(mapping, "path", "source.path", required=True)
        if file is not None and Path(file).suffix.lower() not in FILE_SUFFIXES:
            check.fail(
                "source.path",
                f"source.path == {file!r}, must end in one of {', '.join(FILE_SUFFIXES)}",
            )
            return None
        return None if file is None else PathSource(file)
    inner = check.mapping(mapping[kind], f"source.{kind}", "connection keys")
    if inner is None:
        return None
    if kind == "duckdb":
        check.keys(inner, "source.duckdb", ("file", "table"), "source.duckdb")
        file = check.text(inner, "file", "source.duckdb.file", required=True)
        table = check.text(inner, "table", "source.duckdb.table", required=True)
        return None if file is None or table is None else DuckDBSource(file, table)
    if kind == "spark":
        check.keys(inner, "source.spark", ("table",), "source.spark")
        table = check.text(inner, "table", "source.spark.table", required=True)
        return None if table is None else SparkSource(table)
    return _read_warehouse(inner, check)


def _read_warehouse(inner: Mapping[str, Any], check: _Checker) -> WarehouseSource | None:
    base = "source.warehouse"
    backend = check.choice(inner, "backend", f"{base}.backend", BACKENDS, None)
    if "backend" not in inner:
        check.fail(base, f"{base}.backend is missing; it is one of {', '.join(BACKENDS)}")
    table = check.text(inner, "table", f"{base}.table", required=True)
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
            _read_warehouse_entry(str(key), value, kind, allowed, params, env, check)
    for key in env:
        if key in params:
            check.fail(f"{base}.{key}_env", f"{base}.{key} and {base}.{key}_env are both given")
    if table is None:
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
) -> None:
    path = f"source.warehouse.{key}"
    if any(word in key.lower() for word in _SECRET_WORDS) and not key.endswith("_env"):
        variable = _SECRET_ENV_HINT.get(kind, "A_VARIABLE")
        check.fail(
            path,
            f"{path} is a literal secret and is refused: plans are shared and committed; "
            f"write {key}_env: {variable} and set that environment variable instead",
        )
    elif key not in allowed:
        check.keys({key: value}, "source.warehouse", allowed, f"a {kind} warehouse source")
    elif key.endswith("_env"):
        if isinstance(value, str) and _ENV_NAME.fullmatch(value):
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
    if "kind" not in mapping:
        check.fail(path, f"{path}.kind is missing; it is one of {', '.join(METRIC_KINDS)}")
        return None
    errors_before = len(check.errors)
    kind_text = check.choice(mapping, "kind", f"{path}.kind", METRIC_KINDS, None)
    if kind_text is None:
        return None
    kind: MetricKind = kind_text  # type: ignore[assignment]
    allowed = (*_METRIC_COMMON_KEYS, *_METRIC_KEYS[kind])
    check.keys(mapping, path, allowed, f"a {kind!r} metric")
    for key in _METRIC_REQUIRED[kind]:
        if mapping.get(key) is None:
            check.fail(path, f"{path}.{key} is missing; a {kind!r} metric needs it")
    columns = {
        key: check.text(mapping, key, f"{path}.{key}")
        for key in ("column", "numerator", "denominator", "stratum")
        if key in allowed
    }
    probability = None
    if "probability" in allowed:
        probability = check.number(
            mapping,
            "probability",
            f"{path}.probability",
            rule="a number in (0, 1)",
            accept=lambda v: 0 < v < 1,
        )
    test = None
    if "test" in allowed:
        test = check.choice(mapping, "test", f"{path}.test", _METRIC_TESTS[kind], None)
    covariates: tuple[str, ...] = ()
    adjustment = "cuped"
    if "covariates" in allowed:
        covariates = check.texts(mapping, "covariates", f"{path}.covariates")
        adjustment = (
            check.choice(mapping, "adjustment", f"{path}.adjustment", ADJUSTMENTS, "cuped")
            or "cuped"
        )
    default_role = "secondary" if kind in _SECONDARY_BY_DEFAULT else "primary"
    role = check.choice(mapping, "role", f"{path}.role", ROLES, default_role) or default_role
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
        column=columns.get("column"),
        numerator=columns.get("numerator"),
        denominator=columns.get("denominator"),
        stratum=columns.get("stratum"),
        probability=probability,
        role=role,  # type: ignore[arg-type]
        direction=direction,  # type: ignore[arg-type]
        test=test,
        covariates=covariates,
        adjustment=adjustment,  # type: ignore[arg-type]
    )
    try:  # the metric class's own checks (a covariate equal to the column, CUPED with two, ...)
        metric = _build_metric(spec, name)
    except AblensError as error:
        check.fail(path, f"{path}: {error}")
        return None
    if not name:
        spec = replace(spec, name=metric.name)
    return spec


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
    check.keys(mapping, "planned", _PLANNED_KEYS, "planned")
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


# ------------------------------------------------------------------------------- JSON Schema
def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a plan file, for editors and CI checks.

    The same file ships as ``ablens/schema/plan.schema.json`` (a test keeps them equal) and is
    printed by ``ablens plan-schema``. `load_plan` checks everything the schema says and more
    (control among the arms, unique metric names, a primary metric, the metric's own rules).

    Examples:
        >>> schema = plan_json_schema()
        >>> schema["required"], schema["properties"]["sequential"]["enum"][:2]
        (['experiment_id', 'source', 'control', 'metrics'], ['none', 'group-sequential'])
    """
    text = {"type": "string", "minLength": 1}
    unit_interval = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
    columns = {
        "description": "One column name, or a list of them.",
        "oneOf": [text, {"type": "array", "items": text}],
    }
    env_name = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}

    def metric(kind: MetricKind) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "kind": {"const": kind},
            "name": {**text, "description": "Label in results."},
            "role": {"enum": list(ROLES)},
            "direction": {"enum": list(DIRECTIONS), "description": "Which way is good."},
        }
        for key in _METRIC_KEYS[kind]:
            if key == "test":
                properties[key] = {"enum": list(_METRIC_TESTS[kind])}
            elif key == "covariates":
                properties[key] = columns
            elif key == "adjustment":
                properties[key] = {"enum": list(ADJUSTMENTS)}
            elif key == "probability":
                properties[key] = unit_interval
            else:
                properties[key] = text
        return {
            "type": "object",
            "properties": properties,
            "required": ["kind", *_METRIC_REQUIRED[kind]],
            "additionalProperties": False,
        }

    def warehouse(backend: Backend) -> dict[str, Any]:
        properties: dict[str, Any] = {"backend": {"const": backend}, "table": text}
        for param in WAREHOUSE_PARAMS[backend]:
            properties[param] = {"type": ["string", "integer"]}
            properties[f"{param}_env"] = env_name
        for secret in WAREHOUSE_SECRETS[backend]:
            properties[f"{secret}_env"] = {
                **env_name,
                "description": "Environment variable holding the secret (never the secret).",
            }
        return {
            "type": "object",
            "properties": properties,
            "required": ["backend", "table"],
            "additionalProperties": False,
        }

    def one_key(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {key: value},
            "required": [key],
            "additionalProperties": False,
        }

    suffixes = "|".join(re.escape(s) for s in FILE_SUFFIXES)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ablens analysis plan",
        "description": "An A/B-test analysis plan read by `ablens analyze PLAN`.",
        "type": "object",
        "properties": {
            "experiment_id": {**text, "description": "Tags every query for cost attribution."},
            "team": text,
            "description": {"type": "string"},
            "source": {
                "description": "Where the data live: one of path, duckdb, warehouse, spark.",
                "oneOf": [
                    one_key("path", {"type": "string", "pattern": f"(?i)({suffixes})$"}),
                    one_key(
                        "duckdb",
                        {
                            "type": "object",
                            "properties": {"file": text, "table": text},
                            "required": ["file", "table"],
                            "additionalProperties": False,
                        },
                    ),
                    one_key("warehouse", {"oneOf": [warehouse(b) for b in BACKENDS]}),
                    one_key(
                        "spark",
                        {
                            "type": "object",
                            "properties": {"table": text},
                            "required": ["table"],
                            "additionalProperties": False,
                        },
                    ),
                ],
            },
            "variant": {**text, "default": "variant"},
            "unit": text,
            "control": text,
            "arms": {
                "description": "Arm labels (equal split) or label -> planned share.",
                "oneOf": [
                    {"type": "array", "items": text, "minItems": 2, "uniqueItems": True},
                    {
                        "type": "object",
                        "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                        "minProperties": 2,
                    },
                ],
            },
            "metrics": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [metric(k) for k in METRIC_KINDS]},
            },
            "segments": columns,
            "alpha": {**unit_interval, "default": 0.05},
            "correction": {"enum": [*CORRECTION_METHODS, None]},
            "family": {"enum": list(FAMILIES), "default": "metric"},
            "sequential": {
                "enum": list(SEQUENTIAL_METHODS),
                "default": "none",
                "description": "Sequential method; any but none needs time (and "
                "group-sequential needs planned.sample_size).",
            },
            "spending": {
                "enum": list(SPENDING_NAMES),
                "default": "obrien-fleming",
                "description": "Alpha-spending family of sequential: group-sequential.",
            },
            "time": {
                **text,
                "description": "Column giving each unit's look (exposure day or date), for "
                "the sequential method.",
            },
            "bayesian": {
                "description": "Add the Bayesian reading (chance to beat control, expected "
                "loss): true for the flat prior, or {prior: flat}.",
                "oneOf": [
                    {"type": "boolean"},
                    {"enum": list(BAYESIAN_PRIORS)},
                    {
                        "type": "object",
                        "properties": {"prior": {"enum": list(BAYESIAN_PRIORS), "default": "flat"}},
                        "additionalProperties": False,
                    },
                ],
            },
            "srm_alpha": {**unit_interval, "default": DEFAULT_SRM_ALPHA},
            "planned": {
                "type": "object",
                "properties": {
                    "sample_size": {"type": "integer", "minimum": 2},
                    "duration_days": {"type": "number", "exclusiveMinimum": 0},
                    "start_date": {"type": "string", "format": "date"},
                    "power": {**unit_interval, "default": 0.8},
                },
                "additionalProperties": False,
            },
        },
        "required": ["experiment_id", "source", "control", "metrics"],
        "additionalProperties": False,
        "allOf": [
            {
                "if": {
                    "properties": {"sequential": {"enum": list(SEQUENTIAL_METHODS[1:])}},
                    "required": ["sequential"],
                },
                "then": {"required": ["time"]},
            },
            {
                "if": {
                    "properties": {"sequential": {"const": "group-sequential"}},
                    "required": ["sequential"],
                },
                "then": {
                    "required": ["planned"],
                    "properties": {"planned": {"required": ["sample_size"]}},
                },
            },
            {
                "if": {"required": ["spending"]},
                "then": {
                    "required": ["sequential"],
                    "properties": {"sequential": {"const": "group-sequential"}},
                },
            },
        ],
    }


# ------------------------------------------------------------------------------- running
def run_plan(plan: AnalysisPlan, *, data: object = None) -> AnalysisResult:
    """Analyze the plan's experiment where its data live.

    Opens the source (paths relative to the plan file), checks that every column the plan
    names exists (a missing one is reported at its line), then calls `ablens.analyze` with the
    plan's metrics and options.

    Args:
        plan: The plan.
        data: A table to analyze instead of the plan's source (any input `ablens.analyze`
            takes); handy in notebooks and tests.

    Returns:
        The analysis.

    Raises:
        PlanError: A column the plan names is not in the data, or the source cannot be opened.
        DataError: The data fail the checks (NULLs, repeated units, unexpected arms, ...).
    """
    with _open_source(plan, data) as (table, available):
        _check_columns(plan, available)
        return _analyze_table(plan, table)


def _analyze_table(plan: AnalysisPlan, table: object) -> AnalysisResult:
    """`ablens.analyze` of an opened source with the plan's metrics and options."""
    from ablens.analysis import analyze  # noqa: PLC0415 - avoids an import cycle at start-up

    return analyze(
        table,
        plan.metric_objects(),
        control=plan.control,
        variant=plan.variant,
        unit=plan.unit,
        segments=plan.segments,
        arms=plan.arms,
        alpha=plan.alpha,
        correction=plan.correction,
        family=plan.family,
        weights=plan.weights,
        srm_alpha=plan.srm_alpha,
        experiment_id=plan.experiment_id,
        team=plan.team,
    )


def check_source(plan: AnalysisPlan) -> list[str]:
    """Open the plan's data source and check every column the plan names; return its columns.

    Cheap: reads the table's schema, not its rows.

    Raises:
        PlanError: The source cannot be opened, or a column is missing (at its line).
    """
    with _open_source(plan, None) as (_, available):
        _check_columns(plan, available)
        return list(available or ())


def _check_columns(plan: AnalysisPlan, available: Sequence[str] | None) -> None:
    if available is None:
        return
    wanted: list[tuple[str, str]] = [("variant", plan.variant)]
    if plan.unit is not None:
        wanted.append(("unit", plan.unit))
    if plan.time is not None:
        wanted.append(("time", plan.time))
    wanted += [(f"segments[{i}]", s) for i, s in enumerate(plan.segments)]
    for i, spec in enumerate(plan.metrics):
        for key in ("column", "numerator", "denominator", "stratum"):
            value = getattr(spec, key)
            if value is not None:
                wanted.append((f"metrics[{i}].{key}", value))
        wanted += [(f"metrics[{i}].covariates", c) for c in spec.covariates]
    missing = [(key, column) for key, column in wanted if column not in available]
    if missing:
        raise PlanError(
            [
                f"{plan.where(key)}: {key} == {column!r} is not a column of the data; "
                f"available columns: {list(available)}"
                for key, column in missing
            ]
        )


def _resolve(plan: AnalysisPlan, file: str) -> Path:
    path = Path(file).expanduser()
    if not path.is_absolute() and plan.path is not None:
        path = plan.path.parent / path
    return path


@contextmanager
def _open_source(plan: AnalysisPlan, data: object) -> Iterator[tuple[object, Sequence[str] | None]]:
    """Yield (what to pass to `analyze`, the table's column names); close what was opened."""
    if data is not None:
        yield data, None
        return
    source = plan.source
    if isinstance(source, PathSource):
        path = _resolve(plan, source.path)
        if not path.is_file():
            raise PlanError([f"{plan.where('source.path')}: source.path: no such file {path}"])
        duckdb = optional_import("duckdb", "duckdb")
        with duckdb.connect() as connection:
            read = (
                connection.read_parquet
                if path.suffix.lower() in {".parquet", ".pq"}
                else (connection.read_csv)
            )
            columns = list(read(str(path)).columns)
        yield str(path), columns
    elif isinstance(source, DuckDBSource):
        path = _resolve(plan, source.file)
        if not path.is_file():
            raise PlanError(
                [f"{plan.where('source.duckdb.file')}: source.duckdb.file: no such file {path}"]
            )
        duckdb = optional_import("duckdb", "duckdb")
        with duckdb.connect(str(path), read_only=True) as connection:
            try:
                columns = list(connection.table(source.table).columns)
            except duckdb.Error:
                tables = sorted(row[0] for row in connection.sql("SHOW TABLES").fetchall())
                where = plan.where("source.duckdb.table")
                message = f"source.duckdb.table == {source.table!r} is not in {path}"
                raise PlanError([f"{where}: {message}; tables: {tables}"]) from None
            yield (connection, source.table), columns
    elif isinstance(source, WarehouseSource):
        backend = _connect_warehouse(plan, source)
        try:
            table = _table(plan, "source.warehouse.table", source.table, backend.table)
            yield table, list(table.columns)
        finally:
            backend.disconnect()
    else:
        sql = optional_import("pyspark.sql", "spark")
        session = sql.SparkSession.builder.getOrCreate()
        frame = _table(plan, "source.spark.table", source.table, session.table)
        yield frame, list(frame.columns)


def _table(plan: AnalysisPlan, key: str, name: str, read: Callable[[str], Any]) -> Any:  # noqa: ANN401
    """``read(name)``, with a failure (no such table, no access) reported at ``key``'s line."""
    try:
        return read(name)
    except Exception as error:  # each engine raises its own exception types
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PlanError([f"{plan.where(key)}: {key} == {name!r} cannot be read: {first}"]) from None


def _connect_warehouse(plan: AnalysisPlan, source: WarehouseSource) -> Any:  # noqa: ANN401 - ibis
    """An Ibis backend connected with the plan's parameters and secrets from the environment."""
    kwargs: dict[str, Any] = dict(source.params)
    for key, variable in source.env.items():
        value = os.environ.get(variable)
        if value is None:
            where = plan.where(f"source.warehouse.{key}_env")
            message = f"source.warehouse.{key}_env names {variable}, which is not set"
            raise PlanError([f"{where}: {message} in the environment"])
        kwargs[key] = value
    if source.backend == "snowflake" and "schema" in kwargs:
        # Ibis takes Snowflake's database and schema as one "database/schema" string.
        kwargs["database"] = f"{kwargs.get('database', '')}/{kwargs.pop('schema')}"
    ibis = optional_import("ibis", "postgres" if source.backend == "postgres" else "ibis")
    try:
        connect = getattr(ibis, source.backend).connect
    except (AttributeError, ImportError) as error:
        raise ConfigError(
            f"{plan.where('source.warehouse.backend')}: Ibis cannot load its {source.backend} "
            f"backend ({error}); install it: pip install 'ibis-framework[{source.backend}]'"
        ) from None
    try:
        return connect(**kwargs)
    except Exception as error:  # drivers raise their own types (psycopg.OperationalError, ...)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(
            f"{plan.where('source.warehouse')}: cannot connect to {source.backend}: {first}"
        ) from None


# ------------------------------------------------------------------------------- the verdict
CheckStatus = Literal["passed", "failed", "incomplete"]
CHECK_STATUSES: tuple[CheckStatus, ...] = ("passed", "failed", "incomplete")


@dataclass(frozen=True)
class HealthCheck:
    """One health gate: whether it passed, and what it found (and what to do next).

    Attributes:
        name: "sample-ratio", "sample-size" or "guardrails".
        passed: True when the gate passed.
        message: One sentence for people.
        incomplete: For a gate that did not pass: True when nothing is wrong but the data are
            not all in yet (the planned sample or duration not reached, no sequential boundary
            crossed: keep running), False when something is wrong (a sample-ratio mismatch, a
            guardrail worse). See `status`.
    """

    name: str
    passed: bool
    message: str
    incomplete: bool = False

    def __post_init__(self) -> None:
        if self.passed and self.incomplete:
            raise ValueError("a gate that passed cannot be incomplete")

    @property
    def status(self) -> CheckStatus:
        """The gate's state: "passed", "failed" or "incomplete".

        "failed" means something is wrong (the command line exits with 1); "incomplete" that
        the data are not all in yet (exit 0 unless ``--fail-on-incomplete``).
        """
        if self.passed:
            return "passed"
        return "incomplete" if self.incomplete else "failed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "name": self.name,
            "passed": self.passed,
            "status": self.status,
            "message": self.message,
        }


@dataclass(frozen=True)
class Verdict:
    """The decision: a label from the fixed vocabulary and one sentence saying why.

    Unpacks as ``label, reason = verdict(result, plan)``. Two questions a scheduled pipeline
    asks are properties: `healthy` (is something wrong?) and `complete` (is the experiment
    done?); `exit_code` is the command line's answer.

    Attributes:
        label: "Ship", "Roll back", "Inconclusive — keep running" or
            "Don't trust — fix the data".
        reason: One sentence in product language.
        checks: The health gates, in order of precedence.
        notes: Remarks that do not block (metrics without a sequential reading, no guardrails).
    """

    label: VerdictLabel
    reason: str
    checks: tuple[HealthCheck, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        """True when no health gate failed: nothing is wrong with the data or the guardrails.

        A sample still being collected is not a failure (see `complete`).
        """
        return all(check.status != "failed" for check in self.checks)

    @property
    def complete(self) -> bool:
        """True when no gate waits for more data.

        The planned sample and duration are in, or a sequential boundary was crossed.
        """
        return all(check.status != "incomplete" for check in self.checks)

    def exit_code(self, *, fail_on_incomplete: bool = False) -> int:
        """The command line's exit code for this verdict: 0 or 1.

        1 when a gate failed, or, with ``fail_on_incomplete``, when the data are not all in
        yet (`complete` is False); else 0.
        """
        if not self.healthy or (fail_on_incomplete and not self.complete):
            return 1
        return 0

    def __iter__(self) -> Iterator[str]:
        return iter((self.label, self.reason))

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "label": self.label,
            "reason": self.reason,
            "healthy": self.healthy,
            "complete": self.complete,
            "checks": [check.to_dict() for check in self.checks],
            "notes": list(self.notes),
        }


class _Evidence:
    """Each comparison's outcome: its sequential reading's where there is one, else its own."""

    def __init__(self, readings: Sequence[SequentialReading]) -> None:
        self.readings = {(r.metric, r.treatment): r for r in readings if r.looks is not None}

    def reading(self, c: Comparison) -> SequentialReading | None:
        return self.readings.get((c.metric, c.treatment))

    def outcome(self, c: Comparison) -> str:
        reading = self.reading(c)
        return c.outcome if reading is None else reading.outcome

    def p_value(self, c: Comparison) -> float:
        reading = self.reading(c)
        p = c.p_value if reading is None else reading.p_value
        return p if math.isfinite(p) else 1.0

    def movement(self, c: Comparison) -> str:
        """``up 3% [+1.6%, +4.42%] (p=...)``, or the current lift and the sequential sentence."""
        reading = self.reading(c)
        if reading is None:
            return _movement(c)
        verb = "up" if c.result.effect > 0 else "down"
        return f"{verb} {_estimate(c, signed=False)}: {reading.sentence()}"


def verdict(
    result: AnalysisResult,
    plan: AnalysisPlan | None = None,
    *,
    sequential: Sequence[SequentialReading] = (),
    today: dt.date | None = None,
) -> Verdict:
    """Decide: ship, roll back, keep running, or fix the data first.

    Health gates come first and override the metrics, in this order:

    1. **Sample ratio.** A split that differs from the plan (p < ``srm_alpha``, 0.001 by
       default) means assignment or logging is broken: "Don't trust — fix the data"
       (status "failed").
    2. **Sample size.** Fewer units than ``planned.sample_size``, or fewer days than
       ``planned.duration_days`` since ``planned.start_date``: "Inconclusive — keep running",
       with the days remaining where the plan allows an estimate (status "incomplete": not
       wrong, just not done). With sequential readings, a crossed boundary (a primary metric
       either way, or a guardrail the wrong way) lifts this gate: that is the point of a
       sequential design. A fixed-horizon p-value never does.
    3. **Guardrails.** A guardrail significantly worse (in its bad direction): "Roll back"
       (status "failed"). A guardrail with a sequential reading is worse only once its
       boundary is crossed.

    Then the primary metrics: one significantly better in its desired direction, none worse
    and no guardrail worse gives "Ship"; a primary significantly worse gives "Roll back";
    anything else is "Inconclusive — keep running", with the effect the data could have
    detected, because a flat result without power is not evidence of no effect. A comparison
    with a sequential reading is judged by it (its boundary, not its fixed-horizon p-value).

    Args:
        result: The analysis.
        plan: The plan (planned sample, duration, sequential method); optional.
        sequential: The sequential readings (`ablens.readout.sequential_readings`), when the
            plan declares a sequential method.
        today: The date to count days from (default: today, UTC).

    Returns:
        The verdict; ``label, reason = verdict(...)`` unpacks it.

    Examples:
        >>> import ablens
        >>> data = {
        ...     "control": ablens.Moments.from_summary(
        ...         10_000, mean={"spend": 10.0}, variance={"spend": 25.0}
        ...     ),
        ...     "treatment": ablens.Moments.from_summary(
        ...         10_000, mean={"spend": 10.3}, variance={"spend": 25.0}
        ...     ),
        ... }
        >>> result = ablens.analyze(data, [ablens.Mean("spend")], control="control")
        >>> label, reason = verdict(result)
        >>> label
        'Ship'
        >>> print(reason)
        treatment raised spend by 3% [+1.6%, +4.42%] (p=2.219e-05); the plan declares no
        guardrail to check.
    """
    planned = plan.planned if plan is not None else Planned()
    method = plan.sequential if plan is not None else "none"
    today = today or dt.datetime.now(dt.UTC).date()
    evidence = _Evidence(sequential)
    notes: list[str] = []
    if method != "none" and not evidence.readings:
        notes.append(
            f"The plan declares the {method} sequential method, but no look was read; this "
            "readout uses fixed-horizon tests, valid only at the planned sample size."
        )
    for reading in sequential:
        if reading.looks is None:
            notes.append(
                f"{reading.metric} ({reading.treatment}) has no sequential reading ("
                f"{reading.reason}); its fixed-horizon test is valid only at the planned "
                "sample size."
            )
        elif reading.looks.decision == "inconsistent":
            notes.append(
                f"{reading.metric} ({reading.treatment}): the always-valid intervals of "
                "different looks no longer overlap, so the effect is not constant over time "
                "(novelty, a change mid-experiment); read it by period before deciding."
            )
    early = _early_stop(result, evidence)
    checks = [
        _srm_check(result),
        _sample_check(result, planned, today, early, sequential=bool(evidence.readings)),
    ]
    guardrail_worse = [
        c for c in result.comparisons if c.role == "guardrail" and evidence.outcome(c) == "worse"
    ]
    if guardrail_worse:
        worst = min(guardrail_worse, key=evidence.p_value)
        checks.append(
            HealthCheck(
                "guardrails",
                passed=False,
                message=f"{worst.metric}, a guardrail, got worse with {worst.treatment}: "
                f"{evidence.movement(worst)}; look for the cause before any rollout.",
            )
        )
    elif any(c.role == "guardrail" for c in result.comparisons):
        checks.append(HealthCheck("guardrails", passed=True, message="No guardrail got worse."))
    else:
        notes.append("The plan declares no guardrail metric.")
    label, reason = _decide(result, checks, planned, evidence)
    return Verdict(label, reason, tuple(checks), tuple(notes))


def _early_stop(result: AnalysisResult, evidence: _Evidence) -> str | None:
    """The sequential stop that lets the experiment end early, as a sentence, or None.

    A primary metric's boundary crossed either way, or a guardrail's crossed the wrong way.
    """
    stops = [
        (c, reading)
        for c in result.comparisons
        if (reading := evidence.reading(c)) is not None
        and (
            (c.role == "primary" and reading.stopped)
            or (c.role == "guardrail" and reading.outcome == "worse")
        )
    ]
    if not stops:
        return None
    c, reading = min(stops, key=lambda pair: (pair[0].role != "primary", pair[1].p_value))
    return f"for {c.metric} ({c.treatment}) {reading.sentence()}"


def _srm_check(result: AnalysisResult) -> HealthCheck:
    srm = result.srm
    shares = " / ".join(f"{w:.0%}" for w in srm.weights)
    observed = " / ".join(f"{n:,}" for n in srm.observed)
    p_text = _p(srm.p_value)
    if srm.mismatch:
        return HealthCheck(
            "sample-ratio",
            passed=False,
            message=f"The arms got {observed} units where the plan expects {shares} (sample-ratio "
            f"mismatch, {p_text}); find why assignment or logging lost units before "
            "reading any metric.",
        )
    return HealthCheck(
        "sample-ratio",
        passed=True,
        message=f"The split {observed} matches the planned {shares} ({p_text}).",
    )


def _sample_check(
    result: AnalysisResult,
    planned: Planned,
    today: dt.date,
    early: str | None = None,
    *,
    sequential: bool = False,
) -> HealthCheck:
    units = sum(result.counts)
    elapsed = None
    if planned.start_date is not None:
        elapsed = max((today - planned.start_date).days, 0)
    remaining: list[float] = []
    problems: list[str] = []
    if planned.sample_size is not None and units < planned.sample_size:
        share = units / planned.sample_size
        problems.append(f"{units:,} of the planned {planned.sample_size:,} units ({share:.0%})")
        missing = planned.sample_size - units
        if elapsed:
            remaining.append(missing / (units / elapsed))
        elif planned.duration_days:
            remaining.append(missing / (planned.sample_size / planned.duration_days))
    if (
        planned.duration_days is not None
        and elapsed is not None
        and elapsed < planned.duration_days
    ):
        problems.append(f"day {elapsed} of {planned.duration_days:g}")
        remaining.append(planned.duration_days - elapsed)
    if not problems:
        if planned.sample_size is None and planned.duration_days is None:
            return HealthCheck(
                "sample-size",
                passed=True,
                message=f"{units:,} units; the plan sets no sample size to reach.",
            )
        return HealthCheck(
            "sample-size", passed=True, message=f"{units:,} units: the planned sample is in."
        )
    if early is not None:
        return HealthCheck(
            "sample-size",
            passed=True,
            message=f"Early stop allowed: {early}, with {' and '.join(problems)} in; a "
            "sequential design may stop before its planned sample.",
        )
    message = "Only " + " and ".join(problems)
    if remaining:
        days = math.ceil(max(remaining) - 1e-9)
        basis = "at the current traffic" if elapsed else "at the planned traffic"
        message += f"; about {days} more day{'s' if days != 1 else ''} {basis}"
    if sequential:
        message += (
            "; no sequential boundary has been crossed yet, so keep running (the sequential "
            "readout stays valid however often it is read)."
        )
    else:
        message += (
            "; results read before then are not final (looking early without a sequential "
            "method inflates false positives)."
        )
    return HealthCheck("sample-size", passed=False, message=message, incomplete=True)


def _decide(
    result: AnalysisResult,
    checks: Sequence[HealthCheck],
    planned: Planned,
    evidence: _Evidence,
) -> tuple[VerdictLabel, str]:
    by_name = {c.name: c for c in checks}
    if not by_name["sample-ratio"].passed:
        return FIX_DATA, by_name["sample-ratio"].message
    if not by_name["sample-size"].passed:
        return KEEP_RUNNING, by_name["sample-size"].message
    if "guardrails" in by_name and not by_name["guardrails"].passed:
        return ROLL_BACK, by_name["guardrails"].message
    primaries = [c for c in result.comparisons if c.role == "primary"]
    if not primaries:
        return KEEP_RUNNING, "No primary metric is declared, so nothing can decide; mark one."
    has_guardrails = any(c.role == "guardrail" for c in result.comparisons)
    worse_arms = {c.treatment for c in primaries if evidence.outcome(c) == "worse"}
    winners = [
        c for c in primaries if evidence.outcome(c) == "better" and c.treatment not in worse_arms
    ]
    if winners:
        c = min(winners, key=evidence.p_value)
        verb = "raised" if c.result.effect > 0 else "lowered"
        tail = (
            ", and no guardrail got worse"
            if has_guardrails
            else "; the plan declares no guardrail to check"
        )
        others = sorted(worse_arms)
        if others:
            tail += f"; drop {', '.join(others)}, which moved a primary metric the wrong way"
        reading = evidence.reading(c)
        if reading is None:
            return SHIP, f"{c.treatment} {verb} {c.metric} by {_lift(c, signed=False)}{tail}."
        lift = _estimate(c, signed=False)
        return SHIP, f"{c.treatment} {verb} {c.metric} by {lift}: {reading.sentence()}{tail}."
    worse = [c for c in primaries if evidence.outcome(c) == "worse"]
    if worse:
        c = min(worse, key=evidence.p_value)
        return ROLL_BACK, f"{c.treatment} moved {c.metric} the wrong way: {evidence.movement(c)}."
    return KEEP_RUNNING, _flat_reason(primaries, planned, evidence)


def _interval(c: Comparison) -> tuple[float, float]:
    return c.adjusted_relative_ci or c.result.relative_ci


def _lift(c: Comparison, *, signed: bool = True) -> str:
    """``3% [+1.6%, +4.42%] (p=2.219e-05)``: the lift (the effect if no lift), its CI and p."""
    r = c.result
    p_part = _p(c.p_value)
    if math.isfinite(r.relative_effect):
        value = r.relative_effect if signed else abs(r.relative_effect)
        shown = render.format_percent(value, signed=signed)
        return f"{shown} {render.format_interval(*_interval(c), percent=True)} ({p_part})"
    value = r.effect if signed else abs(r.effect)
    return f"{render.format_number(value, signed=signed)} ({p_part})"


def _p(value: float) -> str:
    """``p=0.0123`` or ``p<1e-10``."""
    text = render.format_pvalue(value)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def _movement(c: Comparison) -> str:
    verb = "up" if c.result.effect > 0 else "down"
    return f"{verb} {_lift(c, signed=False)}"


def _estimate(c: Comparison, *, signed: bool = True) -> str:
    """``3%``: the current lift (the effect if no lift), without the fixed-horizon interval."""
    r = c.result
    if math.isfinite(r.relative_effect):
        value = r.relative_effect if signed else abs(r.relative_effect)
        return render.format_percent(value, signed=signed)
    value = r.effect if signed else abs(r.effect)
    return render.format_number(value, signed=signed)


def _flat_reason(
    primaries: Sequence[Comparison], planned: Planned, evidence: _Evidence | None = None
) -> str:
    read = [c for c in primaries if evidence is not None and evidence.reading(c) is not None]
    if evidence is not None and read:
        c = min(read, key=evidence.p_value)
        reading = evidence.reading(c)
        assert reading is not None  # noqa: S101 - filtered just above
        return (
            f"No primary metric crossed its sequential boundary: {c.metric} "
            f"{_estimate(c)} so far, and {reading.sentence()}; a flat result without power "
            "is not evidence of no effect."
        )
    c = min(primaries, key=lambda c: c.p_value)
    text = f"No primary metric moved beyond chance: {c.metric} {_lift(c)}"
    detectable = _detectable(c, planned.power)
    if detectable is not None:
        text += (
            f"; with this much data only a change of about ±{detectable} would be detected "
            f"with {planned.power:.0%} power"
        )
    return text + ", and a flat result without power is not evidence of no effect."


def _detectable(c: Comparison, power: float) -> str | None:
    """The smallest effect detectable with ``power``, from the comparison's standard error."""
    r = c.result
    if not (math.isfinite(r.standard_error) and r.standard_error > 0):
        return None
    from statistics import NormalDist  # noqa: PLC0415 - stdlib, only for flat results

    sides = 2 if r.alternative == "two-sided" else 1
    normal = NormalDist()
    z = normal.inv_cdf(1 - c.alpha / sides) + normal.inv_cdf(power)
    effect = z * r.standard_error
    if r.control_estimate != 0 and math.isfinite(r.control_estimate):
        return render.format_percent(effect / abs(r.control_estimate), signed=False)
    return render.format_number(effect)

"""The metric catalog's objects: sources, metrics, windows, and the catalog that holds them.

Every object is frozen and carries where it was defined (`Location`), so a later error (a
column missing from the warehouse table, a definition changed under a running experiment) can
name the file and line. Everything a query compiler needs is here as plain values: the table
(`TableRef` or a plan source), the columns, the `RowFilter` conditions, the window in days and
the aggregation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ablens.data.sources import DataSource, RowFilter
from ablens.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from ablens.typing import Direction, Role

__all__ = [
    "AGGREGATIONS",
    "FORMATS",
    "NO_EVENTS",
    "Aggregation",
    "Catalog",
    "CatalogChange",
    "CatalogError",
    "CatalogMetric",
    "ExposureSource",
    "FactTable",
    "Location",
    "MetricFormat",
    "NoEvents",
    "Ratio",
    "Source",
    "TableRef",
    "Window",
]

Aggregation = Literal["sum", "count", "count_distinct", "mean", "any", "max"]
#: How a metric turns a unit's event rows in its window into one value per unit.
AGGREGATIONS: tuple[Aggregation, ...] = ("sum", "count", "count_distinct", "mean", "any", "max")
#: Aggregations that read a column (count and any count the rows that meet the filter).
COLUMN_AGGREGATIONS: tuple[Aggregation, ...] = ("sum", "count_distinct", "mean", "max")
NoEvents = Literal["zero", "missing"]
#: What an exposed unit without events in the window counts as.
NO_EVENTS: tuple[NoEvents, ...] = ("zero", "missing")
MetricFormat = Literal["number", "count", "percent", "currency"]
#: How a metric's values are shown.
FORMATS: tuple[MetricFormat, ...] = ("number", "count", "percent", "currency")
SourceKind = Literal["exposure", "facts"]
#: The kinds of catalog source: an exposure (assignment) table, or a fact (event) table.
SOURCE_KINDS: tuple[SourceKind, ...] = ("exposure", "facts")


class CatalogError(ConfigError):
    """A catalog is invalid, or a name is not in it; one message per problem.

    Each message is ``file:line: key ... ; the fix`` when it concerns a definition.

    Attributes:
        messages: The problems found, by file and line.
    """

    __module__ = "ablens.catalog"

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)
        super().__init__("\n".join(self.messages))


@dataclass(frozen=True)
class Location:
    """Where a definition is written: its file and the line of its name.

    Examples:
        >>> str(Location("catalog/metrics.yaml", 12))
        'catalog/metrics.yaml:12'
    """

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class TableRef:
    """A table named on the connection a run is given (``table: analytics.orders``).

    The catalog does not say where the warehouse is: the plan or the run does, so one catalog
    serves DuckDB in tests and BigQuery in production.

    Attributes:
        table: The table (or view) name, qualified as the engine expects.
        filter: Conditions every row read meets (same form as a plan's ``source.filter``).
    """

    table: str
    filter: tuple[RowFilter, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The source's location keys: ``{"table": ..., "filter": [...]}``."""
        out: dict[str, Any] = {"table": self.table}
        if self.filter:
            out["filter"] = [condition.to_dict() for condition in self.filter]
        return out


#: Where a catalog source's rows are: a table on the run's connection, or a plan source.
SourceLocation: TypeAlias = TableRef | DataSource


@dataclass(frozen=True, kw_only=True)
class Source:
    """What every catalog source has: a name, its rows' location, a description, an owner.

    Attributes:
        name: The name metrics and plans refer to it by.
        location: A `TableRef`, or a plan source (`ablens.analysis_plan.PathSource`, ...).
        unit: The column identifying the randomization unit (user, device, ...).
        time: The column of each row's time.
        description: What the table holds.
        owner: Who answers for it.
        defined_at: Where it is defined (ignored when comparing definitions).
    """

    name: str
    location: SourceLocation
    unit: str
    time: str
    description: str | None = None
    owner: str | None = None
    defined_at: Location = field(default=Location("<catalog>", 0), compare=False)

    @property
    def kind(self) -> SourceKind:
        """``"exposure"`` or ``"facts"``."""
        raise NotImplementedError  # pragma: no cover - every concrete source defines it

    def to_dict(self) -> dict[str, Any]:
        """The definition as a catalog file writes it (without its location)."""
        out: dict[str, Any] = {"kind": self.kind, **self.location.to_dict()}
        for key in ("unit", "time", "description", "owner"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True, kw_only=True)
class ExposureSource(Source):
    """An exposure (assignment) table: which unit saw which arm of which experiment, when.

    A unit's first exposure is its earliest ``time`` in the experiment; its metric windows
    count from there.

    Attributes:
        experiment: The column holding the experiment id.
        arm: The column holding the arm label.
    """

    experiment: str
    arm: str

    @property
    def kind(self) -> SourceKind:
        """``"exposure"``."""
        return "exposure"

    def to_dict(self) -> dict[str, Any]:
        """The definition as a catalog file writes it (without its location)."""
        return {**super().to_dict(), "experiment": self.experiment, "arm": self.arm}


@dataclass(frozen=True, kw_only=True)
class FactTable(Source):
    """A fact (event) table: rows of a unit at a time, with the columns metrics may read.

    Attributes:
        columns: The columns metrics may aggregate or filter on (besides unit and time).
    """

    columns: tuple[str, ...]

    @property
    def kind(self) -> SourceKind:
        """``"facts"``."""
        return "facts"

    @property
    def offered(self) -> tuple[str, ...]:
        """Every column a metric may name: the declared columns, the unit and the time."""
        return (*self.columns, self.unit, self.time)

    def to_dict(self) -> dict[str, Any]:
        """The definition as a catalog file writes it (without its location)."""
        return {**super().to_dict(), "columns": list(self.columns)}


@dataclass(frozen=True)
class Window:
    """Days after (or, negative, before) a unit's first exposure: ``start <= t - exposed < end``.

    Attributes:
        start_days: The window's start, in days from the first exposure (may be fractional).
        end_days: Its end (excluded), or None for the end of the analysis.

    Examples:
        >>> str(Window(0, 7)), Window(0, 7).length_days, str(Window(-14, 0)), str(Window(1))
        ('days 0-7', 7.0, 'days -14-0', 'days 1-end')
    """

    start_days: float = 0.0
    end_days: float | None = None

    @property
    def length_days(self) -> float | None:
        """``end - start``, or None when the window is open."""
        return None if self.end_days is None else float(self.end_days - self.start_days)

    def to_list(self) -> list[float | None]:
        """``[start, end]`` as a catalog file writes it."""
        return [_plain_number(self.start_days), _plain_number(self.end_days)]

    def __str__(self) -> str:
        end = "end" if self.end_days is None else f"{_plain_number(self.end_days)}"
        return f"days {_plain_number(self.start_days)}-{end}"


def _plain_number(value: float | None) -> Any:  # noqa: ANN401 - an int, a float or None
    """7.0 -> 7 (as written in YAML), 0.5 -> 0.5."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Ratio:
    """A ratio metric's parts: two metric names (sum of numerators over sum of denominators)."""

    numerator: str
    denominator: str


@dataclass(frozen=True, kw_only=True)
class CatalogMetric:
    """One metric definition of the catalog.

    A simple metric aggregates a fact table's rows per unit (``source``, ``aggregation``,
    ``column``, ``filter``, ``window``); a ratio metric divides two other metrics (``ratio``).

    Attributes:
        name: The name plans refer to it by.
        owner: Who answers for the definition.
        description: What it measures, in product words.
        source: The fact table (None for a ratio).
        aggregation: How rows become one value per unit (None for a ratio).
        column: The column aggregated (None for count and any, and ratios).
        filter: Conditions the rows counted meet.
        window: Days after first exposure whose rows count.
        ratio: Numerator and denominator metrics, for a ratio metric.
        direction: Which way is good: ``"increase"`` or ``"decrease"``.
        format: How values are shown: number, count, percent, currency.
        currency: ISO 4217 code when ``format`` is currency.
        cuped_window: The pre-exposure window of the default CUPED covariate (the same
            metric before exposure), or None for no default covariate.
        role: The default role in a plan (primary, secondary, guardrail), or None.
        margin: Non-inferiority margin of a guardrail, relative to control (0.02 = 2 %).
        no_events: What an exposed unit without rows counts as (None for a ratio).
        defined_at: Where it is defined (ignored when comparing definitions).
    """

    name: str
    owner: str
    description: str | None = None
    source: str | None = None
    aggregation: Aggregation | None = None
    column: str | None = None
    filter: tuple[RowFilter, ...] = ()
    window: Window = Window()
    ratio: Ratio | None = None
    direction: Direction = "increase"
    format: MetricFormat = "number"
    currency: str | None = None
    cuped_window: Window | None = None
    role: Role | None = None
    margin: float | None = None
    no_events: NoEvents | None = "zero"
    defined_at: Location = field(default=Location("<catalog>", 0), compare=False)

    @property
    def is_ratio(self) -> bool:
        """True for a ratio of two metrics."""
        return self.ratio is not None

    @property
    def plan_kind(self) -> str:
        """The plan metric kind analyzing its per-unit values: mean, proportion or ratio.

        Examples:
            >>> CatalogMetric(name="buyers", owner="a", source="o", aggregation="any").plan_kind
            'proportion'
        """
        if self.ratio is not None:
            return "ratio"
        return "proportion" if self.aggregation == "any" else "mean"

    def to_dict(self) -> dict[str, Any]:
        """The definition as a catalog file writes it, defaults filled in (no location)."""
        out: dict[str, Any] = {"owner": self.owner}
        if self.description is not None:
            out["description"] = self.description
        if self.ratio is not None:
            out["ratio"] = {
                "numerator": self.ratio.numerator,
                "denominator": self.ratio.denominator,
            }
        else:
            out["source"] = self.source
            out["aggregation"] = self.aggregation
            if self.column is not None:
                out["column"] = self.column
            if self.filter:
                out["filter"] = [condition.to_dict() for condition in self.filter]
            out["window"] = self.window.to_list()
            out["no_events"] = self.no_events
            if self.cuped_window is not None:
                out["cuped_window"] = self.cuped_window.to_list()
        out["direction"] = self.direction
        out["format"] = self.format
        for key in ("currency", "role", "margin"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class CatalogChange:
    """One definition that differs between two catalog versions.

    Attributes:
        what: ``"metric"`` or ``"source"``.
        name: The definition's name.
        change: ``"added"``, ``"removed"`` or ``"changed"``.
        because: For a definition unchanged in itself: what it depends on that changed
            (``"source orders changed"``); None when its own text changed.
        defined_at: Where it is defined now (None when removed).
    """

    what: Literal["metric", "source"]
    name: str
    change: ChangeKind
    because: str | None = None
    defined_at: Location | None = None

    def __str__(self) -> str:
        where = "" if self.defined_at is None else f" ({self.defined_at})"
        because = "" if self.because is None else f": {self.because}"
        return f"{self.what} {self.name} {self.change}{because}{where}"


def definition_hash(definition: Mapping[str, Any]) -> str:
    """SHA-256 of a definition's canonical JSON (sorted keys): equal text, equal hash."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Catalog:
    """A validated metric catalog; build it with `ablens.catalog.load_catalog`.

    Attributes:
        path: The folder (or file) it was read from.
        sources: Name -> exposure source or fact table, in file order.
        metrics: Name -> metric, in file order.
        files: The YAML files read, relative to ``path``, sorted.
        version: ``git:<commit>`` when the folder is a clean git checkout, else
            ``sha256:<content hash>``; record it with every readout.
        content_hash: SHA-256 over the files' sorted names and bytes (always computed).
        name: The catalog's name (``catalog: {name: ...}``), or None.
        max_window_days: The longest window a metric may declare, or None for no limit.
    """

    path: Path
    sources: Mapping[str, ExposureSource | FactTable]
    metrics: Mapping[str, CatalogMetric]
    files: tuple[str, ...]
    version: str
    content_hash: str
    name: str | None = None
    max_window_days: float | None = None

    def metric(self, name: str) -> CatalogMetric:
        """The metric called ``name``.

        Raises:
            CatalogError: No such metric; the message suggests the closest name.
        """
        found = self.metrics.get(name)
        if found is None:
            raise CatalogError([self._unknown("metric", name, self.metrics)])
        return found

    def source(self, name: str) -> ExposureSource | FactTable:
        """The source (exposure table or fact table) called ``name``.

        Raises:
            CatalogError: No such source; the message suggests the closest name.
        """
        found = self.sources.get(name)
        if found is None:
            raise CatalogError([self._unknown("source", name, self.sources)])
        return found

    def _unknown(self, what: str, name: str, known: Mapping[str, Any]) -> str:
        from difflib import get_close_matches  # noqa: PLC0415 - error path only

        close = get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        names = ", ".join(sorted(known)) or "none"
        return (
            f"{self.path}: {what} {name!r} is not in the catalog{hint} "
            f"(its {what}s: {names}); add it to a catalog file or fix the name"
        )

    def check_columns(self, source: str, columns: Iterable[str], *, table: str) -> None:
        """Check that a source's table has every column its definition names.

        A compiler calls it with the column names read from the engine's schema (no rows)
        before building a query, so that a table without the declared unit column fails by
        the definition's file and line rather than deep in the engine.

        Args:
            source: The source's name.
            columns: The table's column names.
            table: How to name the table in the message (``analytics.orders``).

        Raises:
            CatalogError: A declared column is missing; one message per column.

        Examples:
            >>> from ablens.catalog import load_catalog
            >>> catalog = load_catalog("examples/catalog")
            >>> catalog.check_columns(
            ...     "orders",
            ...     ["uid", "ordered_at", "order_id", "revenue", "status", "country"],
            ...     table="analytics.orders",
            ... )
            Traceback (most recent call last):
            ...
            ablens.catalog.CatalogError: examples/catalog/sources.yaml:15: sources.orders.unit ...
        """
        definition = self.source(source)
        found = list(columns)
        declared: list[tuple[str, str]] = [("unit", definition.unit), ("time", definition.time)]
        if isinstance(definition, ExposureSource):
            declared += [("experiment", definition.experiment), ("arm", definition.arm)]
        else:
            declared += [(f"columns[{i}]", c) for i, c in enumerate(definition.columns)]
        problems = [
            f"{definition.defined_at}: sources.{source}.{key} == {column!r} is not a column of "
            f"the table {table} (its columns: {', '.join(found)}); fix the catalog or the table"
            for key, column in declared
            if column not in found
        ]
        if problems:
            raise CatalogError(problems)

    @property
    def exposure_sources(self) -> tuple[ExposureSource, ...]:
        """The exposure tables, in file order."""
        return tuple(s for s in self.sources.values() if isinstance(s, ExposureSource))

    @property
    def fact_tables(self) -> tuple[FactTable, ...]:
        """The fact tables, in file order."""
        return tuple(s for s in self.sources.values() if isinstance(s, FactTable))

    def requires(self, names: Iterable[str]) -> tuple[CatalogMetric, ...]:
        """The simple metrics that computing ``names`` needs (ratios replaced by their parts).

        Each appears once, in the order first needed; a compiler groups them by ``source``
        into one query per fact table.

        Raises:
            CatalogError: A name is not in the catalog.
        """
        needed: dict[str, CatalogMetric] = {}
        for name in names:
            metric = self.metric(name)
            if metric.ratio is None:
                needed.setdefault(metric.name, metric)
            else:
                for part in (metric.ratio.numerator, metric.ratio.denominator):
                    needed.setdefault(part, self.metric(part))
        return tuple(needed.values())

    def definition_hashes(self) -> dict[str, str]:
        """``"metric:name"``/``"source:name"`` -> SHA-256 of the definition's canonical JSON.

        Small enough to store with every readout; `changed_since` compares against it.
        """
        hashes = {f"source:{n}": definition_hash(s.to_dict()) for n, s in self.sources.items()}
        hashes.update(
            {f"metric:{n}": definition_hash(m.to_dict()) for n, m in self.metrics.items()}
        )
        return hashes

    def changed_since(self, other: Catalog | Mapping[str, str]) -> tuple[CatalogChange, ...]:
        """The definitions that differ from ``other`` (a catalog, or its `definition_hashes`).

        A metric whose own text is unchanged is listed as changed when its source or a ratio
        part changed, with ``because`` saying which. Empty when nothing differs.

        Examples:
            >>> from ablens.catalog import load_catalog
            >>> catalog = load_catalog("examples/catalog")
            >>> catalog.changed_since(catalog)
            ()
            >>> old = dict(catalog.definition_hashes(), **{"source:orders": "0" * 64})
            >>> changes = catalog.changed_since(old)
            >>> print(changes[0])
            source orders changed (examples/catalog/sources.yaml:15)
            >>> changes[1].name, changes[1].because
            ('revenue_7d', 'source orders changed')
        """
        before = other.definition_hashes() if isinstance(other, Catalog) else dict(other)
        now = self.definition_hashes()
        changes: list[CatalogChange] = []
        changed: set[str] = set()
        for key, digest in now.items():
            what, _, name = key.partition(":")
            where = (self.sources[name] if what == "source" else self.metrics[name]).defined_at
            if key not in before:
                changes.append(CatalogChange(what, name, "added", defined_at=where))  # type: ignore[arg-type]
                changed.add(key)
            elif before[key] != digest:
                changes.append(CatalogChange(what, name, "changed", defined_at=where))  # type: ignore[arg-type]
                changed.add(key)
        for key in before:
            if key not in now:
                what, _, name = key.partition(":")
                changes.append(CatalogChange(what, name, "removed"))  # type: ignore[arg-type]
        for name, metric in self.metrics.items():
            if f"metric:{name}" in changed:
                continue
            reasons = self._changed_parts(metric, changed)
            if reasons:
                changes.append(
                    CatalogChange(
                        "metric",
                        name,
                        "changed",
                        because=" and ".join(reasons) + " changed",
                        defined_at=metric.defined_at,
                    )
                )
        return tuple(changes)

    def _changed_parts(self, metric: CatalogMetric, changed: set[str]) -> list[str]:
        if metric.ratio is None:
            key = f"source:{metric.source}"
            return [f"source {metric.source}"] if key in changed else []
        reasons = []
        for part in (metric.ratio.numerator, metric.ratio.denominator):
            inner = self.metrics.get(part)
            own = f"metric:{part}" in changed
            if own or (inner is not None and self._changed_parts(inner, changed)):
                reasons.append(f"metric {part}")
        return reasons

    def to_dict(self) -> dict[str, Any]:
        """The whole catalog: version, settings, every source and metric (JSON-ready)."""
        return {
            "path": str(self.path),
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "max_window_days": self.max_window_days,
            "files": list(self.files),
            "sources": {
                n: {**s.to_dict(), "defined_at": str(s.defined_at)} for n, s in self.sources.items()
            },
            "metrics": {
                n: {**m.to_dict(), "defined_at": str(m.defined_at)} for n, m in self.metrics.items()
            },
        }

"""Reading a catalog folder: every YAML file, every problem at once, each at its file and line.

Each file is read with the analysis plan's YAML reader (`ablens.analysis_plan.parser`: the same
alias-bomb, size and nesting limits, duplicate keys refused) and its key checker; sources are
read by the plan's own source reader. Then the files are checked together: names defined
twice, references to unknown sources and metrics, ratio cycles, windows longer than the
declared maximum, columns a fact table does not offer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from ablens.analysis_plan import PlanError
from ablens.analysis_plan.parser import KeyChecker, compose_yaml, read_filter, read_source
from ablens.catalog.model import (
    AGGREGATIONS,
    COLUMN_AGGREGATIONS,
    FORMATS,
    NO_EVENTS,
    SOURCE_KINDS,
    Catalog,
    CatalogError,
    CatalogMetric,
    ExposureSource,
    FactTable,
    Location,
    MetricFormat,
    Ratio,
    SourceLocation,
    TableRef,
    Window,
)
from ablens.catalog.version import catalog_version, content_hash
from ablens.data.sources import SOURCE_KINDS as LOCATION_KINDS
from ablens.errors import ConfigError
from ablens.typing import DIRECTIONS, ROLES

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "CATALOG_KEYS",
    "FILE_KEYS",
    "METRIC_KEYS",
    "RATIO_ONLY_REFUSED",
    "SOURCE_KEYS",
    "load_catalog",
]

#: The top-level keys of a catalog file.
FILE_KEYS = ("catalog", "sources", "metrics")
#: The keys of the ``catalog:`` block (in at most one file).
CATALOG_KEYS = ("name", "max_window_days")
#: The keys of a source, by kind; ``table`` or one plan source kind says where its rows are.
_LOCATION_KEYS = ("table", *LOCATION_KINDS)
_SOURCE_COMMON = ("kind", "description", "owner", *_LOCATION_KEYS, "filter")
SOURCE_KEYS = {
    "exposure": (*_SOURCE_COMMON, "experiment", "unit", "arm", "time"),
    "facts": (*_SOURCE_COMMON, "unit", "time", "columns"),
}
#: The keys of a metric.
METRIC_KEYS = (
    "description",
    "owner",
    "source",
    "aggregation",
    "column",
    "filter",
    "window",
    "ratio",
    "direction",
    "format",
    "currency",
    "cuped_window",
    "role",
    "margin",
    "no_events",
)
#: Keys of a simple metric that a ratio metric takes from its parts instead.
RATIO_ONLY_REFUSED = (
    "source",
    "aggregation",
    "column",
    "filter",
    "window",
    "cuped_window",
    "no_events",
)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_YAML_SUFFIXES = (".yaml", ".yml")
#: The most YAML files a catalog folder may hold (a real catalog holds tens).
MAX_CATALOG_FILES = 2_000


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a catalog: a folder of YAML files (searched recursively), or one file.

    Args:
        path: The catalog folder (hidden folders such as ``.git`` are skipped) or a YAML file.

    Returns:
        The catalog, with its version (git commit of a clean checkout, else content hash).

    Raises:
        CatalogError: Any file or definition is invalid; every problem is listed, each
            ``file:line: key ...`` with the fix.
        ConfigError: The path does not exist or holds no YAML file.

    Examples:
        >>> catalog = load_catalog("examples/catalog")
        >>> metric = catalog.metric("revenue_7d")
        >>> metric.aggregation, metric.column, str(metric.window), metric.owner
        ('sum', 'revenue', 'days 0-7', 'growth-analytics')
        >>> catalog.metric("revenue_7")
        Traceback (most recent call last):
        ...
        ablens.catalog.CatalogError: examples/catalog: metric 'revenue_7' is not in the ...
    """
    root = Path(path)
    files = _catalog_files(root)
    reader = _Reader()
    base = root if root.is_dir() else root.parent
    for relative in files:
        reader.read_file(base / relative, str(base / relative) if root.is_dir() else str(root))
    reader.check_together()
    reader.raise_if_any()
    digest = content_hash(base, files)
    return Catalog(
        path=root,
        sources=MappingProxyType(reader.sources),  # read-only: a catalog is a value
        metrics=MappingProxyType(reader.metrics),
        files=tuple(files),
        version=catalog_version(root, files, digest),
        content_hash=digest,
        name=reader.settings.get("name"),
        max_window_days=reader.settings.get("max_window_days"),
    )


def _catalog_files(root: Path) -> list[str]:
    if root.is_file():
        return [root.name]
    if not root.is_dir():
        raise ConfigError(f"{root}: no such catalog folder or file; give the catalog's folder")
    found = []
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root)
        hidden = any(part.startswith(".") for part in relative.parts)
        if not hidden and file.suffix.lower() in _YAML_SUFFIXES and file.is_file():
            found.append(relative.as_posix())
        if len(found) > MAX_CATALOG_FILES:
            raise ConfigError(
                f"{root}: holds more than {MAX_CATALOG_FILES:,} YAML files; give the catalog's "
                "own folder"
            )
    if not found:
        raise ConfigError(
            f"{root}: holds no .yaml or .yml file; a catalog is a folder of YAML files with "
            "sources: and metrics:"
        )
    return found


@dataclass
class _Defined:
    """A definition read from one file, with the checker of that file for later messages."""

    name: str
    mapping: Mapping[str, Any]
    check: KeyChecker
    key: str  # its key path in the file: "metrics.revenue_7d"

    @property
    def location(self) -> Location:
        return Location(self.check.name, self.check.lines.get(self.key, 0))


@dataclass
class _Reader:
    """Reads files one by one, then checks them together; collects every message."""

    checks: list[KeyChecker] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # whole-file messages (YAML errors)
    sources: dict[str, ExposureSource | FactTable] = field(default_factory=dict)
    metrics: dict[str, CatalogMetric] = field(default_factory=dict)
    defined_sources: dict[str, _Defined] = field(default_factory=dict)
    defined_metrics: dict[str, _Defined] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    settings_at: _Defined | None = None

    # ----------------------------------------------------------------------- one file
    def read_file(self, file: Path, name: str) -> None:
        try:
            raw = file.read_bytes()
        except OSError as error:
            self.other.append(f"{name}: cannot read the file: {error.strerror or error}")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            self.other.append(f"{name}: not UTF-8 text ({error.reason} at byte {error.start})")
            return
        try:
            data, lines = compose_yaml(text, name)
        except PlanError as error:
            self.other.extend(message.replace("the plan", "the file") for message in error.messages)
            return
        check = KeyChecker(name, lines)
        self.checks.append(check)
        if data is None:
            return  # an empty file (or only comments) defines nothing
        root = check.mapping(data, "", "keys (sources, metrics, catalog)")
        if root is None:
            return
        check.keys(root, "", FILE_KEYS, "a catalog file")
        if "catalog" in root:
            self._read_settings(root["catalog"], check)
        for section, read in (("sources", self._read_source), ("metrics", self._read_metric)):
            value = root.get(section)
            if value is None:
                continue
            mapping = check.mapping(value, section, f"{section[:-1]} name -> definition")
            for item_name, item in (mapping or {}).items():
                key = f"{section}.{item_name}"
                if not isinstance(item_name, str) or not _NAME.fullmatch(item_name):
                    check.fail(
                        key,
                        f"{key}: the name {item_name!r} must start with a letter and hold only "
                        "letters, digits, _ and -; rename it",
                    )
                    continue
                definition = check.mapping(item, key, "keys (see ablens catalog schema)")
                if definition is not None:
                    read(_Defined(item_name, definition, check, key))

    def _read_settings(self, value: object, check: KeyChecker) -> None:
        mapping = check.mapping(value, "catalog", "keys (name, max_window_days)")
        if mapping is None:
            return
        here = _Defined("catalog", mapping, check, "catalog")
        if self.settings_at is not None:
            check.fail(
                "catalog",
                f"catalog: is also given in {self.settings_at.location}; keep one catalog: "
                "block in one file",
            )
            return
        self.settings_at = here
        check.keys(mapping, "catalog", CATALOG_KEYS, "catalog")
        name = check.text(mapping, "name", "catalog.name")
        longest = check.number(
            mapping,
            "max_window_days",
            "catalog.max_window_days",
            rule="a number of days > 0",
            accept=lambda v: v > 0,
        )
        self.settings = {"name": name, "max_window_days": longest}

    def _read_source(self, defined: _Defined) -> None:
        mapping, check, key = defined.mapping, defined.check, defined.key
        kind = check.choice(mapping, "kind", f"{key}.kind", SOURCE_KINDS, None)
        if "kind" not in mapping:
            check.fail(
                key,
                f"{key}.kind is missing; write kind: exposure (an assignment table) or "
                "kind: facts (an event table)",
            )
        errors_before = len(check.errors)
        allowed = (
            SOURCE_KEYS[kind]
            if kind is not None
            else tuple(dict.fromkeys((*SOURCE_KEYS["exposure"], *SOURCE_KEYS["facts"])))
        )
        described = {"exposure": "an exposure source", "facts": "a fact table"}
        # sql is refused with its own message by _read_location
        check.keys(mapping, key, (*allowed, "sql"), described.get(kind or "", "a catalog source"))
        location = _read_location(mapping, key, check)
        description = check.text(mapping, "description", f"{key}.description")
        owner = check.text(mapping, "owner", f"{key}.owner")
        columns: dict[str, str | None] = {}
        needed = ("experiment", "unit", "arm", "time") if kind == "exposure" else ("unit", "time")
        for column_key in needed:
            columns[column_key] = check.text(mapping, column_key, f"{key}.{column_key}")
            if mapping.get(column_key) is None:
                check.fail(key, _missing_column(key, column_key, kind))
        offered: tuple[str, ...] = ()
        if kind == "facts":
            if mapping.get("columns") is None:
                check.fail(
                    key,
                    f"{key}.columns is missing; list the columns metrics may read, e.g. "
                    "columns: [revenue, order_id, country]",
                )
            else:
                offered = check.texts(mapping, "columns", f"{key}.columns")
                repeated = sorted({c for c in offered if offered.count(c) > 1})
                if repeated:
                    check.fail(
                        f"{key}.columns", f"{key}.columns repeats {repeated}; list each once"
                    )
        if kind is None or location is None or len(check.errors) > errors_before:
            self._remember(self.defined_sources, defined, "source")
            return
        common: dict[str, Any] = {
            "name": defined.name,
            "location": location,
            "unit": columns["unit"] or "",
            "time": columns["time"] or "",
            "description": description,
            "owner": owner,
            "defined_at": defined.location,
        }
        if self._remember(self.defined_sources, defined, "source"):
            if kind == "exposure":
                self.sources[defined.name] = ExposureSource(
                    experiment=columns["experiment"] or "", arm=columns["arm"] or "", **common
                )
            else:
                self.sources[defined.name] = FactTable(columns=offered, **common)

    def _read_metric(self, defined: _Defined) -> None:
        mapping, check, key = defined.mapping, defined.check, defined.key
        errors_before = len(check.errors)
        check.keys(mapping, key, METRIC_KEYS, "a catalog metric")
        owner = check.text(mapping, "owner", f"{key}.owner")
        if mapping.get("owner") is None:
            check.fail(
                key,
                f"{key}.owner is missing; name who answers for the definition "
                "(a team or a person), e.g. owner: growth-analytics",
            )
        description = check.text(mapping, "description", f"{key}.description")
        direction = check.choice(mapping, "direction", f"{key}.direction", DIRECTIONS, "increase")
        role = check.choice(mapping, "role", f"{key}.role", ROLES, None)
        margin = check.number(
            mapping,
            "margin",
            f"{key}.margin",
            rule="a relative margin in (0, 1), e.g. 0.02 for 2 %",
            accept=lambda v: 0 < v < 1,
        )
        if margin is not None and role != "guardrail":
            check.fail(
                f"{key}.margin",
                f"{key}.margin is a guardrail's non-inferiority margin, and the metric's role "
                f"is {role or 'not set'}; add role: guardrail or remove margin",
            )
        metric_format, currency = _read_format(mapping, key, check)
        common: dict[str, Any] = {
            "name": defined.name,
            "owner": owner or "",
            "description": description,
            "direction": direction,
            "currency": currency,
            "role": role,
            "margin": margin,
            "defined_at": defined.location,
        }
        if "ratio" in mapping:
            for refused in RATIO_ONLY_REFUSED:
                if refused in mapping:
                    check.fail(
                        f"{key}.{refused}",
                        f"{key}.{refused} is given, but a ratio metric takes it from its "
                        f"numerator and denominator metrics; remove it (or set it there)",
                    )
            ratio = _read_ratio(mapping["ratio"], f"{key}.ratio", check)
            if len(check.errors) > errors_before or ratio is None:
                self._remember(self.defined_metrics, defined, "metric")
                return
            metric = CatalogMetric(
                ratio=ratio, format=metric_format or "number", no_events=None, **common
            )
        else:
            metric_or_none = self._read_simple(mapping, key, check, metric_format, common)
            if metric_or_none is None or len(check.errors) > errors_before:
                self._remember(self.defined_metrics, defined, "metric")
                return
            metric = metric_or_none
        if self._remember(self.defined_metrics, defined, "metric"):
            self.metrics[defined.name] = metric

    def _read_simple(
        self,
        mapping: Mapping[str, Any],
        key: str,
        check: KeyChecker,
        metric_format: MetricFormat | None,
        common: dict[str, Any],
    ) -> CatalogMetric | None:
        source = check.text(mapping, "source", f"{key}.source")
        if mapping.get("source") is None:
            check.fail(
                key,
                f"{key}.source is missing; name the fact table it aggregates (a source with "
                "kind: facts), or give ratio: {numerator: ..., denominator: ...}",
            )
        aggregation = check.choice(mapping, "aggregation", f"{key}.aggregation", AGGREGATIONS, None)
        if mapping.get("aggregation") is None:
            check.fail(
                key,
                f"{key}.aggregation is missing; it is one of {', '.join(AGGREGATIONS)}",
            )
        column = check.text(mapping, "column", f"{key}.column")
        if aggregation in COLUMN_AGGREGATIONS and mapping.get("column") is None:
            check.fail(
                key,
                f"{key}.column is missing; aggregation {aggregation} reads a column: "
                "add column: <a column of the fact table>",
            )
        if aggregation in ("count", "any") and column is not None:
            check.fail(
                f"{key}.column",
                f"{key}.column is given, but aggregation {aggregation} counts the rows that "
                "meet the filter; remove column (to skip NULLs add filter: "
                f"[{{column: {column}, op: not-null}}])",
            )
        row_filter = read_filter(mapping.get("filter"), check, f"{key}.filter")
        window = _read_window(mapping, "window", key, check, before_exposure=False)
        cuped = _read_window(mapping, "cuped_window", key, check, before_exposure=True)
        default_no_events = "missing" if aggregation in ("mean", "max") else "zero"
        no_events = check.choice(
            mapping, "no_events", f"{key}.no_events", NO_EVENTS, default_no_events
        )
        if source is None or aggregation is None:
            return None
        default_format: dict[str, MetricFormat] = {
            "any": "percent",
            "count": "count",
            "count_distinct": "count",
        }
        return CatalogMetric(
            source=source,
            aggregation=aggregation,  # type: ignore[arg-type]
            column=column,
            filter=row_filter,
            window=window or Window(),
            cuped_window=cuped,
            no_events=no_events,  # type: ignore[arg-type]
            format=metric_format or default_format.get(aggregation, "number"),
            **common,
        )

    def _remember(self, defined: dict[str, _Defined], new: _Defined, what: str) -> bool:
        """Record a definition's name; False (with a message) when another file defines it."""
        first = defined.get(new.name)
        if first is None:
            defined[new.name] = new
            return True
        new.check.fail(
            new.key,
            f"{what} {new.name!r} is defined twice: here and in {first.location}; "
            f"keep one definition (or rename one {what})",
        )
        return False

    # ----------------------------------------------------------------------- together
    def check_together(self) -> None:
        longest = self.settings.get("max_window_days")
        for name, metric in self.metrics.items():
            defined = self.defined_metrics[name]
            check, key = defined.check, defined.key
            if metric.ratio is not None:
                self._check_ratio_parts(metric, defined)
                continue
            source = self.sources.get(metric.source or "")
            if source is None and metric.source not in self.defined_sources:
                check.fail(
                    f"{key}.source",
                    _unknown(f"{key}.source", "source", metric.source, self.defined_sources),
                )
            elif isinstance(source, ExposureSource):
                check.fail(
                    f"{key}.source",
                    f"{key}.source == {metric.source!r} is an exposure source; a metric "
                    "aggregates a fact table (kind: facts): name one",
                )
            elif isinstance(source, FactTable):
                self._check_columns(metric, source, defined)
            for window_key, window in (
                ("window", metric.window),
                ("cuped_window", metric.cuped_window),
            ):
                length = None if window is None else window.length_days
                if longest is not None and length is not None and length > longest:
                    setting = self.settings_at.location if self.settings_at else "the catalog"
                    check.fail(
                        f"{key}.{window_key}",
                        f"{key}.{window_key} == {window.to_list()} lasts {length:g} days, "  # type: ignore[union-attr]
                        f"longer than catalog.max_window_days == {longest:g} ({setting}); "
                        "shorten the window or raise the maximum",
                    )
        self._check_cycles()
        self._check_references_of_invalid_metrics()

    def _check_references_of_invalid_metrics(self) -> None:
        """Unknown names in metrics that failed on other keys: every problem at once."""
        for name, defined in self.defined_metrics.items():
            if name in self.metrics:
                continue
            source = defined.mapping.get("source")
            if isinstance(source, str) and source not in self.defined_sources:
                path = f"{defined.key}.source"
                defined.check.fail(path, _unknown(path, "source", source, self.defined_sources))
            ratio = defined.mapping.get("ratio")
            for part_key in ("numerator", "denominator"):
                part = ratio.get(part_key) if isinstance(ratio, dict) else None
                if isinstance(part, str) and part not in self.defined_metrics:
                    path = f"{defined.key}.ratio.{part_key}"
                    defined.check.fail(path, _unknown(path, "metric", part, self.defined_metrics))

    def _check_columns(self, metric: CatalogMetric, source: FactTable, defined: _Defined) -> None:
        check, key = defined.check, defined.key
        offered = source.offered
        where = f"fact table {source.name!r} ({source.defined_at})"
        if metric.column is not None and metric.column not in offered:
            check.fail(
                f"{key}.column",
                f"{key}.column == {metric.column!r} is not a column {where} offers"
                f"{_close(metric.column, offered)}; its columns: {', '.join(offered)}; fix the "
                "name or add the column to its columns:",
            )
        for index, condition in enumerate(metric.filter):
            if condition.column not in offered:
                path = f"{key}.filter[{index}].column"
                check.fail(
                    path,
                    f"{path} == {condition.column!r} is not a column {where} offers"
                    f"{_close(condition.column, offered)}; its columns: {', '.join(offered)}; "
                    "fix the name or add the column to its columns:",
                )

    def _check_ratio_parts(self, metric: CatalogMetric, defined: _Defined) -> None:
        assert metric.ratio is not None  # noqa: S101 - only called for ratios
        for part_key, part in (
            ("numerator", metric.ratio.numerator),
            ("denominator", metric.ratio.denominator),
        ):
            path = f"{defined.key}.ratio.{part_key}"
            target = self.metrics.get(part)
            if target is None and part not in self.defined_metrics:
                defined.check.fail(path, _unknown(path, "metric", part, self.defined_metrics))
            elif target is not None and target.ratio is not None and not self._in_cycle(part):
                defined.check.fail(
                    path,
                    f"{path} == {part!r} is a ratio metric; a ratio's parts must be simple "
                    "metrics (a ratio of ratios has no per-unit value): name the metrics "
                    f"{part!r} divides instead",
                )

    def _ratio_edges(self) -> dict[str, tuple[str, ...]]:
        return {
            name: (metric.ratio.numerator, metric.ratio.denominator)
            for name, metric in self.metrics.items()
            if metric.ratio is not None
        }

    def _in_cycle(self, start: str) -> bool:
        return any(start in cycle for cycle in self._cycles())

    def _cycles(self) -> list[list[str]]:
        edges = self._ratio_edges()
        cycles: list[list[str]] = []
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            state[name] = 1
            for target in edges.get(name, ()):
                if state.get(target) == 1:
                    cycles.append([*trail[trail.index(target) :], target])
                elif target not in state and target in edges:
                    visit(target, [*trail, target])
            state[name] = 2

        for name in edges:
            if name not in state:
                visit(name, [name])
        return cycles

    def _check_cycles(self) -> None:
        for cycle in self._cycles():
            first = self.defined_metrics[cycle[0]]
            loop = " -> ".join(cycle)
            first.check.fail(
                f"{first.key}.ratio",
                f"{first.key}.ratio refers back to itself: {loop}; a ratio's numerator and "
                "denominator must be simple metrics (source and aggregation), so break the loop",
            )

    def raise_if_any(self) -> None:
        located = sorted(
            (
                (check.name, line, message)
                for check in self.checks
                for line, message in check.errors
            ),
            key=lambda item: (item[0], item[1]),
        )
        messages = [*self.other, *(message for _, _, message in located)]
        if messages:
            raise CatalogError(messages)


def _missing_column(key: str, column_key: str, kind: str | None) -> str:
    what = {
        "experiment": "the column holding the experiment id",
        "unit": "the column identifying the unit (user, device, ...)",
        "arm": "the column holding the arm label",
        "time": (
            "the column of each exposure's time (a unit's first exposure is its earliest)"
            if kind == "exposure"
            else "the column of each event's time (windows count from first exposure)"
        ),
    }[column_key]
    joins = "; a fact table joins exposures on it" if column_key == "unit" else ""
    return f"{key}.{column_key} is missing; add {column_key}: <{what}>{joins}"


def _read_location(
    mapping: Mapping[str, Any], key: str, check: KeyChecker
) -> SourceLocation | None:
    """``table: name`` (on the run's connection) or one plan source kind (path, duckdb, ...)."""
    if "sql" in mapping:
        check.fail(
            f"{key}.sql",
            f"{key}.sql is refused: catalog sources are SQL-free, so that every metric "
            "compiles to the engine's own query; make a view in the warehouse and name it "
            "with table:, or use filter:",
        )
        return None
    given = [k for k in _LOCATION_KEYS if k in mapping]
    if len(given) != 1:
        check.fail(
            key,
            f"{key} has {' and '.join(given) or 'no location'}; give exactly one of "
            f"{', '.join(_LOCATION_KEYS)} (table: a table on the run's connection, path: a "
            "parquet/CSV file or glob)",
        )
        return None
    if given[0] == "table":
        table = check.text(mapping, "table", f"{key}.table", required=True)
        row_filter = read_filter(mapping.get("filter"), check, f"{key}.filter")
        return None if table is None else TableRef(table, row_filter)
    errors_before = len(check.errors)
    inner = {k: mapping[k] for k in (given[0], "filter") if k in mapping}
    location = read_source(inner, check, key)
    return None if len(check.errors) > errors_before else location


def _read_ratio(value: object, key: str, check: KeyChecker) -> Ratio | None:
    mapping = check.mapping(value, key, "keys (numerator, denominator): two metric names")
    if mapping is None:
        return None
    check.keys(mapping, key, ("numerator", "denominator"), "a ratio")
    parts = []
    for part in ("numerator", "denominator"):
        if mapping.get(part) is None:
            check.fail(key, f"{key}.{part} is missing; name a metric of the catalog")
        parts.append(check.text(mapping, part, f"{key}.{part}"))
    numerator, denominator = parts
    if numerator is None or denominator is None:
        return None
    return Ratio(numerator, denominator)


def _read_window(
    mapping: Mapping[str, Any], name: str, key: str, check: KeyChecker, *, before_exposure: bool
) -> Window | None:
    value = mapping.get(name)
    path = f"{key}.{name}"
    if value is None:
        return None
    example = "[-14, 0]" if before_exposure else "[0, 7]"
    shape = f"must be [start, end] in days from first exposure, e.g. {example}"
    if not isinstance(value, list) or len(value) != 2:
        check.fail(path, f"{path} == {value!r}, {shape}")
        return None
    start, end = value
    numbers = all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
        for v in value
    )
    if not numbers or start is None or (before_exposure and end is None):
        check.fail(path, f"{path} == {value!r}, {shape}")
        return None
    if end is not None and end <= start:
        check.fail(
            path, f"{path} == {value!r} ends before it starts; write [start, end], start < end"
        )
        return None
    if before_exposure and end > 0:
        check.fail(
            path,
            f"{path} == {value!r} reaches after exposure; the CUPED covariate must be measured "
            "before it (end <= 0), or the treatment leaks into it",
        )
        return None
    if not before_exposure and start < 0:
        check.fail(
            path,
            f"{path} == {value!r} starts before exposure; a metric counts from first exposure "
            "(start >= 0); the days before belong in cuped_window",
        )
        return None
    return Window(float(start), None if end is None else float(end))


def _read_format(
    mapping: Mapping[str, Any], key: str, check: KeyChecker
) -> tuple[MetricFormat | None, str | None]:
    chosen = check.choice(mapping, "format", f"{key}.format", FORMATS, None)
    metric_format = cast("MetricFormat | None", chosen)
    currency = check.text(mapping, "currency", f"{key}.currency")
    if currency is not None:
        if not _CURRENCY.fullmatch(currency):
            check.fail(
                f"{key}.currency",
                f"{key}.currency == {currency!r}, must be an ISO 4217 code like EUR or USD",
            )
        if metric_format is None:
            metric_format = "currency"
        elif metric_format != "currency":
            check.fail(
                f"{key}.currency",
                f"{key}.currency is given with format: {metric_format}; remove currency or set "
                "format: currency",
            )
    elif metric_format == "currency":
        check.fail(key, f"{key}.currency is missing; format: currency needs e.g. currency: EUR")
    return metric_format, currency


def _close(name: str, known: Sequence[str]) -> str:
    from difflib import get_close_matches  # noqa: PLC0415 - error path only

    close = get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown(path: str, what: str, name: str | None, known: Mapping[str, Any]) -> str:
    names = ", ".join(known) or "none yet"
    return (
        f"{path} == {name!r} is not a {what} of the catalog{_close(name or '', list(known))}; "
        f"its {what}s: {names}; define it or fix the name"
    )

"""Files that are not what their names say, and a DuckDB file locked by a writer.

Each was a raw ``_duckdb`` exception (and a traceback with exit 1 on the CLI); each is now a
named error saying what is wrong with the file and the fix, naming the file without its folder
(which may be a server's temporary folder the user never saw).
"""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ablens
from ablens import DataError
from ablens.data.sources import DuckDBSource, PathSource, SourceError, open_source

if TYPE_CHECKING:
    from pathlib import Path

CSV = b"variant,x\na,1.0\nb,2.0\na,3.0\nb,5.0\n"


def parquet_bytes() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"variant": ["a", "b"] * 20, "x": [float(i) for i in range(40)]}), sink)
    return sink.getvalue()


def zipped() -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("data.csv", CSV)
    return sink.getvalue()


#: File name -> (its bytes, the message expected).
BAD_FILES = {
    "image.csv": (
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        (
            r"^image\.csv is not a CSV: it looks like a PNG image; export the table as CSV \(UTF-8 "
            r"text\) or parquet$"
        ),
    ),
    "archive.csv": (zipped(), r"^archive\.csv is not a CSV: it looks like a zip archive"),
    "packed.csv": (
        gzip.compress(CSV),
        r"^packed\.csv is not a CSV: it looks like a gzip-compressed file; decompress it first",
    ),
    "latin.csv": (
        "variant,x\ncafé,1\nthé,2\n".encode("latin-1") * 3,
        r"^latin\.csv is not UTF-8 text \(Latin-1 or another encoding\?\); save it as UTF-8",
    ),
    "empty.csv": (b"", r"^empty\.csv is empty: export the table again$"),
    "columnar.csv": (parquet_bytes(), r"^columnar\.csv is not a CSV: it looks like a parquet file"),
    "truncated.parquet": (
        parquet_bytes()[: len(parquet_bytes()) // 2],
        (
            r"^truncated\.parquet: the parquet file is truncated or its footer is damaged "
            r"\(no PAR1 marker at its end\); copy or write it again$"
        ),
    ),
    "footer.parquet": (
        parquet_bytes()[:-8] + b"XXXXXXXX",
        r"^footer\.parquet: the parquet file is truncated or its footer is damaged",
    ),
    "text.parquet": (
        CSV,
        (
            r"^text\.parquet is not a parquet file \(it looks like text or another format\); write "
            r"the table as parquet"
        ),
    ),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, (content, _) in BAD_FILES.items():
        (tmp_path / name).write_bytes(content)
    return tmp_path


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_through_the_api(name: str, folder: Path) -> None:
    with pytest.raises(DataError, match=BAD_FILES[name][1]) as caught:
        ablens.analyze(folder / name, [ablens.Mean("x")], control="a")
    assert str(folder) not in str(caught.value)


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_as_a_plan_source(name: str, folder: Path) -> None:
    expected = r"^source: source\.path: " + BAD_FILES[name][1].removeprefix("^")
    with pytest.raises(SourceError, match=expected) as caught:
        read_source(PathSource(name), folder)
    assert str(folder) not in str(caught.value)


def read_source(source: PathSource | DuckDBSource, base: Path) -> None:
    """Open the source and analyze it, as a plan's readout does."""
    with open_source(source, base=base) as opened:
        ablens.analyze(opened.table, [ablens.Mean("x")], control="a")


def test_latin1_past_the_sniffed_rows_is_named_when_read(tmp_path: Path) -> None:
    # DuckDB sniffs the first rows only: the bad byte surfaces while the query reads.
    path = tmp_path / "late.csv"
    path.write_bytes(("variant,x\n" + "a,1\nb,2\n" * 30_000).encode() + "é,3\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"^late\.csv is not UTF-8 text"):
        ablens.analyze(path, [ablens.Mean("x")], control="a")


def test_a_good_file_still_reads(tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_bytes(CSV)
    (tmp_path / "good.parquet").write_bytes(parquet_bytes())
    assert ablens.analyze(tmp_path / "good.csv", [ablens.Mean("x")], control="a").counts == (2, 2)
    result = ablens.analyze(tmp_path / "good.parquet", [ablens.Mean("x")], control="a")
    assert result.counts == (20, 20)


def test_not_a_duckdb_database(tmp_path: Path) -> None:
    (tmp_path / "shop.duckdb").write_bytes(CSV)
    expected = r"^source: source\.duckdb\.file: shop\.duckdb cannot be opened as a DuckDB database"
    with pytest.raises(SourceError, match=expected) as caught:
        read_source(DuckDBSource("shop.duckdb", "users"), tmp_path)
    assert str(tmp_path) not in str(caught.value)


def test_database_locked_by_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE users AS SELECT 'a' AS variant, 1.0 AS x")
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
        "sys.stdin.read()"
    )
    with subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "open"
            expected = (
                r"^source: source\.duckdb\.file: shop\.duckdb: the database is locked by "
                rf"another process \(pid {writer.pid}\) that is writing to it; close that program"
            )
            with pytest.raises(SourceError, match=expected):
                read_source(DuckDBSource("shop.duckdb", "users"), tmp_path)
        finally:
            writer.kill()

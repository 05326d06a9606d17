"""The engines the integration tests run on: PostgreSQL and Spark, found here or started here.

The README's test command must pass on a machine with nothing but Python and pip, and CI must
prove every engine. So a test whose engine is missing is skipped, with the reason, on a
developer's machine, and fails under CI (the ``CI`` environment variable set): there ``.ci/run``
installs PostgreSQL and Java and starts the server, and a skip would hide a test that never ran.

PostgreSQL comes from ``ABLENS_TEST_POSTGRES_URL`` when it is set (``.ci/run`` sets it). Without
it, a Debian PostgreSQL install (``/usr/lib/postgresql/<version>/bin``) is enough: the tests start
a throwaway cluster of their own, as the ``postgres`` user when they run as root, on a free
loopback port, and remove it at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pyspark.sql import SparkSession

POSTGRES_URL_VARIABLE = "ABLENS_TEST_POSTGRES_URL"
POSTGRES_DATABASE = "ablens_test"
_FALSE_WORDS = {"", "0", "false", "no", "off"}


def running_in_ci() -> bool:
    """Whether the ``CI`` environment variable is set (to anything but an empty or false word)."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE_WORDS


def engine_unavailable(reason: str) -> NoReturn:
    """Skip the calling test because an engine is missing, or fail it under CI.

    Outside CI a missing engine is the normal case on a plain Python machine, so the test is
    skipped with `reason`. Under CI it fails: every engine test must run there.
    """
    if running_in_ci():
        pytest.fail(
            f"engine unavailable under CI: {reason}\n"
            "CI must run every engine test, never skip one: .ci/run installs PostgreSQL and Java "
            f"and exports {POSTGRES_URL_VARIABLE}; check its setup steps.",
            pytrace=False,
        )
    pytest.skip(f"engine unavailable: {reason} (under CI=true this fails instead)")


# --------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass(frozen=True)
class _Cluster:
    """A throwaway PostgreSQL cluster started for one test session."""

    url: str
    bindir: Path
    datadir: Path
    root: Path
    as_user: str | None


def _postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL ``bin`` folder holding ``initdb`` and ``pg_ctl``, if any."""

    def version(bindir: str) -> tuple[int, ...]:
        name = Path(bindir).parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    candidates = [
        str(initdb.parent)
        for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if initdb.with_name("pg_ctl").is_file()
    ]
    if not candidates:
        return None
    return Path(max(candidates, key=version))


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(command: list[str], as_user: str | None, *, timeout: float = 120) -> None:
    """Run `command` (as `as_user` through ``runuser`` when given); raise with its output."""
    if as_user is not None:
        command = ["runuser", "-u", as_user, "--", *command]
    result = subprocess.run(  # noqa: S603 - fixed binaries and arguments built here
        command, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )


def _start_cluster(bindir: Path) -> _Cluster:
    """Initialise and start a cluster in a new temporary folder; return how to reach it.

    PostgreSQL refuses to run as root, so under root the folder is handed to the ``postgres``
    user and the server runs as that user. The server listens on 127.0.0.1 only, on a free port,
    with its Unix socket inside the folder, and trusts every local connection.
    """
    as_user: str | None = None
    root = Path(tempfile.mkdtemp(prefix="ablens-pg-"))
    if os.geteuid() == 0:
        as_user = "postgres"
        try:
            entry = pwd.getpwnam(as_user)
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(
                "running as root and there is no 'postgres' user to run the server as"
            ) from None
        os.chown(root, entry.pw_uid, entry.pw_gid)
    datadir = root / "data"
    try:
        _run(
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(datadir),
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            as_user,
        )
        last_error: Exception | None = None
        for _attempt in range(3):  # another process may take the free port before the server
            port = _free_loopback_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
            )
            try:
                _run(
                    [
                        str(bindir / "pg_ctl"),
                        "--pgdata",
                        str(datadir),
                        "--log",
                        str(root / "server.log"),
                        "--options",
                        options,
                        "--wait",
                        "--timeout=60",
                        "start",
                    ],
                    as_user,
                )
            except RuntimeError as error:
                last_error = error
                continue
            break
        else:
            log = root / "server.log"
            detail = log.read_text(errors="replace") if log.is_file() else ""
            raise RuntimeError(f"pg_ctl could not start the server: {last_error}\n{detail}")
        cluster = _Cluster(
            url=f"postgresql://postgres@127.0.0.1:{port}/{POSTGRES_DATABASE}",
            bindir=bindir,
            datadir=datadir,
            root=root,
            as_user=as_user,
        )
        try:
            _run(
                [
                    str(bindir / "createdb"),
                    "--host=127.0.0.1",
                    f"--port={port}",
                    "--username=postgres",
                    POSTGRES_DATABASE,
                ],
                as_user,
            )
        except Exception:
            _stop_cluster(cluster)
            raise
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


def _stop_cluster(cluster: _Cluster) -> None:
    with contextlib.suppress(Exception):
        _run(
            [
                str(cluster.bindir / "pg_ctl"),
                "--pgdata",
                str(cluster.datadir),
                "--mode=fast",
                "--wait",
                "stop",
            ],
            cluster.as_user,
        )
    shutil.rmtree(cluster.root, ignore_errors=True)


def _check_reachable(url: str, timeout: float = 15) -> None:
    """Connect to `url` until it answers `SELECT 1` or `timeout` seconds pass."""
    try:
        import psycopg  # noqa: PLC0415 - optional engine driver, imported only when needed
    except ImportError:
        engine_unavailable("psycopg is not installed (pip install 'ablens[postgres]')")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=5) as connection:
                connection.execute("SELECT 1")
        except psycopg.OperationalError as error:
            if time.monotonic() >= deadline:
                engine_unavailable(f"PostgreSQL at {url} does not answer: {error}".strip())
            time.sleep(0.5)
        else:
            return


def postgres_url() -> Iterator[str]:
    """Yield a URL of a PostgreSQL database the tests may write to; clean up after the session.

    The body of the session fixture ``postgres_url`` (see ``tests/conftest.py``).
    """
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if url:
        _check_reachable(url)
        yield url
        return
    bindir = _postgres_bindir()
    if bindir is None:
        engine_unavailable(
            f"PostgreSQL: {POSTGRES_URL_VARIABLE} is not set and no server binaries were found "
            "under /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)"
        )
    try:
        cluster = _start_cluster(bindir)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        engine_unavailable(
            f"PostgreSQL: could not start a temporary cluster from {bindir}: {error}"
        )
    try:
        _check_reachable(cluster.url)
        yield cluster.url
    finally:
        _stop_cluster(cluster)


# --------------------------------------------------------------------------------------------
# Spark


def java_executable() -> str | None:
    """The ``java`` that Spark will launch: ``$JAVA_HOME/bin/java``, else the one on ``PATH``."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


def spark_session() -> Iterator[SparkSession]:
    """Yield one small local SparkSession for the whole test session, then stop it.

    The body of the session fixture ``spark`` (see ``tests/conftest.py``).
    """
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 - optional engine
    except ImportError:
        engine_unavailable("pyspark is not installed (pip install 'ablens[spark]')")
    java = java_executable()
    if java is None:
        engine_unavailable(
            "Spark needs a Java runtime and none was found (JAVA_HOME or java on PATH; "
            "Debian: apt-get install openjdk-17-jre-headless)"
        )
    # Python workers must be this interpreter (the venv's), not whatever `python3` is on PATH;
    # and bind to loopback instead of guessing an outside address from the hostname.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        session = (
            SparkSession.builder.master("local[1]")
            .appName("ablens-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "1")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "1g")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate()
        )
    except Exception as error:  # any launch failure means there is no engine
        engine_unavailable(f"Spark could not start with {java}: {type(error).__name__}: {error}")
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()

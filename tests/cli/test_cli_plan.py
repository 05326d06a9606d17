"""``ablens analyze | validate | report | plan-schema`` on the demo data, through Typer's runner."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ablens
from ablens import cli, demo
from ablens.cli import app as app_module
from ablens.cli.app import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plan.yaml"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "src" / "ablens" / "schema" / "plan.schema.json"
ANSI = "\x1b["


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    demo.run(path, users=20_000)
    return path


@pytest.fixture
def write_plan(database, tmp_path):
    """Write the example plan, pointed at the demo database, with optional text edits."""

    def write(*edits: tuple[str, str], name: str = "plan.yaml") -> Path:
        text = EXAMPLE.read_text().replace("file: ablens_demo.duckdb", f"file: {database}")
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# ----------------------------------------------------------------------------- analyze
def test_analyze_prints_the_verdict_first_as_plain_text(write_plan):
    outcome = runner.invoke(app, ["analyze", str(write_plan())])
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert lines[0] == "ablens-demo: No detectable effect"
    assert lines[1].startswith(
        "At the planned size no primary metric moved beyond chance: conversion +2.55%"
    )
    assert lines[4] == (
        "  ok    sample-ratio: The split 10,010 / 9,990 matches the planned 50% / 50% (p=0.8875)."
    )
    assert "p90 minutes on site" in outcome.stdout
    assert "By segment" in outcome.stdout
    assert ANSI not in outcome.stdout
    assert outcome.stderr == ""


def test_analyze_json_is_one_strict_document(write_plan):
    plan = write_plan()
    outcome = runner.invoke(app, ["analyze", str(plan), "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = strict_json(outcome.stdout)
    assert next(iter(document)) == "schema_version"
    assert document["schema_version"] == 1
    assert document["verdict"]["label"] == "No detectable effect"
    assert document["verdict"]["healthy"] is True
    assert [c["name"] for c in document["verdict"]["checks"]] == [
        "sample-ratio",
        "sample-size",
        "guardrails",
        "segment-ratio",
    ]
    assert document["verdict"]["checks"][-1]["message"].startswith(
        "The split matches the plan in all 3 segments (each checked at p < 0.0003333: "
        "Bonferroni, 0.001 over 3 segments)"
    )
    assert document["plan"]["sha256"] == hashlib.sha256(plan.read_bytes()).hexdigest()
    assert document["plan"]["experiment_id"] == "ablens-demo"
    assert document["data_fingerprint"]["rows"] == 20_000
    assert document["ablens_version"] == ablens.__version__
    assert sum(document["counts"].values()) == 20_000
    assert len(document["comparisons"]) == 6
    assert set(document["segments"]) == {"platform=android", "platform=ios", "platform=web"}


def test_analyze_output_file(write_plan, tmp_path):
    target = tmp_path / "out.json"
    outcome = runner.invoke(app, ["analyze", str(write_plan()), "--json", "-o", str(target)])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout == ""
    assert outcome.stderr == f"ablens: wrote {target}\n"
    assert strict_json(target.read_text())["schema_version"] == 1


def test_planned_sample_not_reached_is_exit_zero_unless_asked(write_plan):
    plan = write_plan(("sample_size: 20000", "sample_size: 40000"))
    outcome = runner.invoke(app, ["analyze", str(plan)])
    assert outcome.exit_code == 0  # "keep running" is not an error: a daily run stays green
    assert outcome.stdout.startswith("ablens-demo: Inconclusive — keep running\nOnly 20,000 of")
    assert "about 7 more days at the planned traffic" in outcome.stdout
    assert "\n  wait  sample-size: Only 20,000 of" in outcome.stdout
    assert outcome.stderr == (
        "ablens: not complete yet (sample-size): Inconclusive — keep running (exit 0; "
        "--fail-on-incomplete makes this exit 1)\n"
    )
    strict = runner.invoke(app, ["analyze", str(plan), "--fail-on-incomplete"])
    assert strict.exit_code == cli.EXIT_HEALTH == 1
    assert strict.stdout == outcome.stdout
    assert strict.stderr == (
        "ablens: not complete yet (sample-size): Inconclusive — keep running\n"
    )
    document = strict_json(runner.invoke(app, ["analyze", str(plan), "--json"]).stdout)
    assert document["verdict"]["healthy"] is True
    assert document["verdict"]["complete"] is False
    assert [c["status"] for c in document["verdict"]["checks"]] == [
        "passed",
        "incomplete",
        "passed",
        "passed",
    ]


def test_the_flag_does_not_turn_a_complete_readout_red(write_plan):
    outcome = runner.invoke(app, ["analyze", str(write_plan()), "--fail-on-incomplete"])
    assert outcome.exit_code == 0
    assert outcome.stderr == ""


def test_help_documents_the_exit_codes():
    for command in ("analyze", "report"):
        outcome = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert outcome.exit_code == 0
        assert "--fail-on-incomplete" in outcome.stdout
        assert "Exit code" in outcome.stdout


def test_sample_ratio_mismatch_exits_with_the_health_code(write_plan):
    plan = write_plan(("control: 50\n  new_checkout: 50", "control: 40\n  new_checkout: 60"))
    outcome = runner.invoke(app, ["analyze", str(plan), "--json"])
    assert outcome.exit_code == 1
    document = strict_json(outcome.stdout)
    assert document["verdict"]["label"] == "Don't trust — fix the data"
    assert document["srm"]["mismatch"] is True
    assert "health gate failed (sample-ratio)" in outcome.stderr


def test_unknown_metric_column_is_bad_input(write_plan):
    plan = write_plan(("column: sessions", "column: sesions"))
    outcome = runner.invoke(app, ["analyze", str(plan)])
    assert outcome.exit_code == 2
    assert outcome.stdout == ""
    line = plan.read_text().splitlines().index("    column: sesions") + 1
    assert outcome.stderr.startswith(
        f"ablens: {plan}:{line}: metrics[3].column == 'sesions' is not a column of the data; "
        "available columns: ['user_id', 'variant',"
    )
    assert outcome.stderr.count("\n") == 1


def test_malformed_yaml_is_bad_input_with_its_line(write_plan):
    plan = write_plan(("team: growth", "team: [growth"))
    for command in ("analyze", "validate", "report"):
        outcome = runner.invoke(app, [command, str(plan)])
        assert outcome.exit_code == 2
        assert outcome.stderr.startswith(f"ablens: {plan}:")
        assert "invalid YAML" in outcome.stderr
        assert outcome.stderr.count("\n") == 1
    bad_indent = write_plan(("variant: variant", "variant: variant\n  oops: 1"), name="b.yaml")
    outcome = runner.invoke(app, ["validate", str(bad_indent)])
    lines = bad_indent.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("  oops: 1"))
    assert outcome.exit_code == 2
    assert outcome.stderr == (
        f"ablens: {bad_indent}:{line}: invalid YAML: mapping values are not allowed here\n"
    )


def test_literal_password_is_refused(write_plan):
    plan = write_plan()
    plan.write_text(
        re.sub(
            r"  duckdb:\n    file: .*\n",
            "  warehouse:\n    backend: postgres\n    password: hunter2\n",
            plan.read_text(),
        )
    )
    outcome = runner.invoke(app, ["validate", str(plan)])
    assert outcome.exit_code == 2
    assert (
        f"ablens: {plan}:16: source.warehouse.password is a literal secret and is refused"
        in outcome.stderr
    )
    assert "write password_env: PGPASSWORD" in outcome.stderr
    assert "hunter2" not in outcome.stderr


def test_missing_plan_file_is_a_usage_error(tmp_path):
    outcome = runner.invoke(app, ["analyze", str(tmp_path / "nope.yaml")])
    assert outcome.exit_code == 2
    assert "does not exist" in outcome.stderr


# ----------------------------------------------------------------------------- colour
def test_rich_tables_only_for_a_terminal_without_no_color(write_plan, monkeypatch):
    plan = str(write_plan())
    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: True)
    fancy = runner.invoke(app, ["analyze", plan], env={"NO_COLOR": None, "TERM": "xterm"})
    assert fancy.exit_code == 0, fancy.output
    assert ANSI in fancy.stdout
    assert "No detectable effect" in fancy.stdout
    assert "conversion" in fancy.stdout
    wide = {"NO_COLOR": "1", "TERM": "xterm", "COLUMNS": "400"}
    plain = runner.invoke(app, ["analyze", plan], env=wide)
    assert plain.exit_code == 0
    assert ANSI not in plain.stdout
    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: False)
    piped = runner.invoke(app, ["analyze", plan], env={"NO_COLOR": None, "TERM": "xterm"})
    assert plain.stdout == piped.stdout


def _widest_line(text):
    return max(len(re.sub(r"\x1b\[[0-9;]*m", "", line)) for line in text.splitlines())


def test_terminal_output_fits_the_terminal_and_pipes_keep_one_line_per_row(write_plan, monkeypatch):
    plan = str(write_plan())
    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: False)
    piped = runner.invoke(app, ["analyze", plan], env={"COLUMNS": "80"})
    assert _widest_line(piped.stdout) > 120  # a pipe keeps today's one line per metric
    assert "\nconversion   " in piped.stdout
    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: True)
    for env in ({"NO_COLOR": "1"}, {"NO_COLOR": None, "TERM": "xterm"}):
        narrow = runner.invoke(app, ["analyze", plan], env={**env, "COLUMNS": "80"})
        assert narrow.exit_code == 0, narrow.output
        assert _widest_line(narrow.stdout) <= 80, narrow.stdout
        assert "conversion" in narrow.stdout
        assert "p90 minutes on site" in narrow.stdout
    plain = runner.invoke(app, ["analyze", plan], env={"NO_COLOR": "1", "COLUMNS": "80"})
    # One block per metric: the metric on its own line, then each cell after its header.
    assert "\nconversion\n  arm              new_checkout\n" in plain.stdout
    json_out = runner.invoke(app, ["analyze", plan, "--json"], env={"COLUMNS": "80"})
    assert strict_json(json_out.stdout)["schema_version"] == 1
    assert ANSI not in piped.stdout


def test_json_is_never_coloured(write_plan, monkeypatch):
    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: True)
    outcome = runner.invoke(app, ["analyze", str(write_plan()), "--json"], env={"NO_COLOR": None})
    assert strict_json(outcome.stdout)["schema_version"] == 1


def test_progress_goes_to_stderr_only_when_interactive(write_plan, monkeypatch):
    monkeypatch.setattr(app_module, "_stderr_is_terminal", lambda: True)
    outcome = runner.invoke(app, ["analyze", str(write_plan()), "--json"])
    assert outcome.exit_code == 0
    assert strict_json(outcome.stdout)["schema_version"] == 1


# ----------------------------------------------------------------------------- validate
def test_validate(write_plan):
    plan = write_plan()
    outcome = runner.invoke(app, ["validate", str(plan)])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.startswith(
        f"{plan}: valid plan for experiment ablens-demo: 6 metrics (1 primary, 3 secondary, "
        "2 guardrail); arms control / new_checkout;"
    )
    checked = runner.invoke(app, ["validate", str(plan), "--check-data", "--json"])
    assert checked.exit_code == 0, checked.output
    document = strict_json(checked.stdout)
    assert document["valid"] is True
    assert "pre_revenue" in document["columns"]
    assert document["plan"]["metrics"][0] == {
        "kind": "proportion",
        "name": "conversion",
        "role": "primary",
        "direction": "increase",
        "column": "converted",
        "test": "z",
        "covariates": [],
        "adjustment": "cuped",
        "vcov": "classical",
        "reference": "normal",
    }


def test_validate_check_data_finds_missing_columns(write_plan):
    plan = write_plan(("segments: [platform]", "segments: [country]"))
    assert runner.invoke(app, ["validate", str(plan)]).exit_code == 0  # no data opened
    outcome = runner.invoke(app, ["validate", str(plan), "--check-data"])
    assert outcome.exit_code == 2
    assert "segments[0] == 'country' is not a column of the data" in outcome.stderr


def test_validate_lists_every_problem(write_plan):
    plan = write_plan(("alpha: 0.05", "alpha: 5"), ("kind: ratio", "kind: rate"))
    outcome = runner.invoke(app, ["validate", str(plan)])
    assert outcome.exit_code == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"ablens: {plan}:") for line in lines)
    assert "metrics[2].kind == 'rate'" in lines[0]
    assert "alpha == 5, must be a number in (0, 1)" in lines[1]


def test_validate_reads_the_mann_whitney_switches(write_plan):
    rank_metric = "kind: mann-whitney\n    column: revenue\n"
    plan = write_plan((rank_metric, rank_metric + "    exact: true\n    continuity: false\n"))
    outcome = runner.invoke(app, ["validate", str(plan), "--json"])
    assert outcome.exit_code == 0, outcome.output
    (rank,) = [
        m for m in strict_json(outcome.stdout)["plan"]["metrics"] if m["kind"] == "mann-whitney"
    ]
    assert (rank["exact"], rank["continuity"]) == (True, False)
    plan = write_plan((rank_metric, rank_metric + "    exact: maybe\n    continuity: 3\n"))
    outcome = runner.invoke(app, ["validate", str(plan)])
    assert outcome.exit_code == 2
    line = plan.read_text().splitlines().index("    exact: maybe") + 1
    assert outcome.stderr.splitlines() == [
        f"ablens: {plan}:{line}: metrics[5].exact == 'maybe', must be one of true, false, 'auto'",
        f"ablens: {plan}:{line + 1}: metrics[5].continuity == 3, must be true or false",
    ]


# ----------------------------------------------------------------------------- report
def test_report_writes_one_self_contained_page(write_plan, tmp_path):
    target = tmp_path / "report.html"
    outcome = runner.invoke(app, ["report", str(write_plan()), "-o", str(target)])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout == ""
    assert outcome.stderr == f"ablens: wrote {target} (No detectable effect)\n"
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "//" not in page
    to_stdout = runner.invoke(app, ["report", str(write_plan()), "-o", "-"])
    assert to_stdout.stdout.startswith("<!DOCTYPE html>")


def test_report_still_written_when_a_gate_fails(write_plan, tmp_path):
    plan = write_plan(("control: 50\n  new_checkout: 50", "control: 40\n  new_checkout: 60"))
    target = tmp_path / "srm.html"
    outcome = runner.invoke(app, ["report", str(plan), "-o", str(target)])
    assert outcome.exit_code == 1
    assert "Don&#x27;t trust — fix the data" in target.read_text(encoding="utf-8")
    assert outcome.stderr.endswith(
        "ablens: health gate failed (sample-ratio): Don't trust — fix the data\n"
    )


def test_report_exit_code_while_the_sample_is_coming_in(write_plan, tmp_path):
    plan = write_plan(("sample_size: 20000", "sample_size: 40000"))
    target = tmp_path / "wait.html"
    outcome = runner.invoke(app, ["report", str(plan), "-o", str(target)])
    assert outcome.exit_code == 0
    page = target.read_text(encoding="utf-8")
    assert '<div class="banner wait" role="status"><strong>Sample size</strong>: Only 20,000' in (
        page
    )
    strict = runner.invoke(app, ["report", str(plan), "-o", str(target), "--fail-on-incomplete"])
    assert strict.exit_code == 1


def test_report_into_a_missing_folder_is_bad_input(write_plan, tmp_path):
    outcome = runner.invoke(app, ["report", str(write_plan()), "-o", str(tmp_path / "no" / "r")])
    assert outcome.exit_code == 2
    assert outcome.stderr.startswith("ablens: ")


# ----------------------------------------------------------------------------- schema, main
def test_plan_schema_prints_the_committed_schema():
    outcome = runner.invoke(app, ["plan-schema"])
    assert outcome.exit_code == 0
    assert outcome.stdout == SCHEMA_FILE.read_text(encoding="utf-8")


def test_exit_codes_through_main(write_plan, capsys):
    assert cli.main(["analyze", str(write_plan())]) == 0
    assert capsys.readouterr().out.startswith("ablens-demo: ")
    gated = write_plan(("sample_size: 20000", "sample_size: 40000"), name="gated.yaml")
    assert cli.main(["analyze", str(gated), "--json"]) == 0
    verdict = strict_json(capsys.readouterr().out)["verdict"]
    assert (verdict["healthy"], verdict["complete"]) == (True, False)
    assert cli.main(["analyze", str(gated), "--json", "--fail-on-incomplete"]) == 1
    capsys.readouterr()
    mismatch = write_plan(
        ("control: 50\n  new_checkout: 50", "control: 40\n  new_checkout: 60"), name="srm.yaml"
    )
    assert cli.main(["analyze", str(mismatch), "--json"]) == 1
    assert strict_json(capsys.readouterr().out)["verdict"]["healthy"] is False
    broken = write_plan(("kind: ratio", "kind: rate"), name="broken.yaml")
    assert cli.main(["analyze", str(broken)]) == 2
    assert "metrics[2].kind == 'rate'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- sequential
@pytest.fixture
def big_database(full_demo_database: Path) -> Path:
    """The demo at its full 200,000 users, and views of it cut at day 8 and day 11."""
    return full_demo_database


@pytest.fixture
def sequential_plan(big_database, tmp_path):
    def write(method: str, table: str) -> Path:
        text = (
            EXAMPLE.read_text()
            .replace("file: ablens_demo.duckdb", f"file: {big_database}")
            .replace("table: users", f"table: {table}")
            .replace("sample_size: 20000", "sample_size: 200000")
            .replace(
                "sequential: none", f"sequential: {method}\ntime: exposure_day\nbayesian: true"
            )
        )
        path = tmp_path / f"{method}-{table}.yaml"
        path.write_text(text)
        return path

    return write


def test_sequential_and_bayesian_readout_in_json_and_text(sequential_plan, big_database):
    import duckdb  # noqa: PLC0415

    from ablens.sequential import analyze_looks  # noqa: PLC0415

    plan = sequential_plan("msprt", "users_day11")
    outcome = runner.invoke(app, ["analyze", str(plan), "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = strict_json(outcome.stdout)
    assert document["schema_version"] == 1
    assert document["verdict"]["label"] == "Ship"
    assert document["verdict"]["complete"] is True
    conversion = document["sequential"]["readings"][0]
    assert (conversion["metric"], conversion["method"], conversion["stopped"]) == (
        "conversion",
        "msprt",
        True,
    )
    with duckdb.connect(str(big_database), read_only=True) as connection:
        direct = analyze_looks(
            (connection, "users_day11"),
            ablens.Proportion("converted"),
            control="control",
            time="exposure_day",
            method="msprt",
            planned_units=200_000,
        )
    assert conversion["looks"]["stopping_look"] == direct.stopping_look == 11
    assert [row["sequential_p_value"] for row in conversion["looks"]["rows"]] == [
        row.sequential_p_value for row in direct.rows
    ]
    bayes = {r["metric"]: r for r in document["bayesian"]["readings"]}
    assert document["bayesian"]["prior"] == "flat"
    assert bayes["conversion"]["model"] == "beta-binomial"
    assert round(bayes["conversion"]["probability_better"], 6) == 0.999639
    assert bayes["p90 minutes on site"]["probability_better"] is None
    assert bayes["p90 minutes on site"]["reason"].startswith("a quantile difference")
    assert document["plan"]["time"] == "exposure_day"
    assert document["plan"]["bayesian"] == {"prior": "flat"}

    text = runner.invoke(app, ["analyze", str(plan)]).stdout
    assert text.startswith("ablens-demo: Ship\nnew_checkout raised conversion by 5.69%: the mSPRT")
    assert "Sequential looks (msprt, one look per value of exposure_day" in text
    assert "Bayesian reading (flat prior;" in text
    assert "fixed-horizon tests, valid only" not in text


def test_sequential_keep_running_is_exit_zero(sequential_plan):
    plan = sequential_plan("group-sequential", "users_day8")
    outcome = runner.invoke(app, ["analyze", str(plan)])
    assert outcome.exit_code == 0
    assert outcome.stdout.startswith(
        "ablens-demo: Inconclusive — keep running\nOnly 128,535 of the planned 200,000 units"
    )
    assert "no sequential boundary has been crossed yet" in outcome.stdout
    assert runner.invoke(app, ["analyze", str(plan), "--fail-on-incomplete"]).exit_code == 1


def test_rich_readout_shows_the_looks_and_the_bayesian_table(sequential_plan, monkeypatch):
    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: True)
    plan = sequential_plan("group-sequential", "users_day8")
    outcome = runner.invoke(
        app, ["analyze", str(plan)], env={"NO_COLOR": None, "TERM": "xterm", "COLUMNS": "240"}
    )
    assert outcome.exit_code == 0
    assert ANSI in outcome.stdout
    plain = re.sub(r"\x1b\[[0-9;]*m", "", outcome.stdout)
    assert "wait sample-size: Only 128,535" in plain
    assert "Sequential looks (group-sequential" in plain
    assert "chance to beat control" in plain


def test_report_of_a_sequential_plan(sequential_plan, tmp_path):
    target = tmp_path / "seq.html"
    outcome = runner.invoke(
        app,
        ["report", str(sequential_plan("confidence-sequence", "users_day11")), "-o", str(target)],
    )
    assert outcome.exit_code == 0, outcome.output
    page = target.read_text(encoding="utf-8")
    assert '<section class="looks"><h2>Sequential looks</h2>' in page
    assert page.count("<svg width=") == 2  # conversion and sessions per user (not the p90)
    assert "//" not in page
    assert "Chance to beat control" in page


@pytest.mark.parametrize(
    ("edit", "problems"),
    [
        (
            ("control: 50\n  new_checkout: 50", "control: 50\n  new_checkoot: 50"),
            (
                (
                    "labels of &#x27;variant&#x27; not in the plan&#x27;s arms: "
                    "&#x27;new_checkout&#x27; ("
                ),
                "arms without rows: [&#x27;new_checkoot&#x27;]",
            ),
        ),
        (
            ("unit: user_id", "unit: sessions"),
            (
                "unit ids of &#x27;sessions&#x27; repeated within an arm: control ",
                "units of &#x27;sessions&#x27; are in more than one arm",
            ),
        ),
    ],
)
def test_report_of_data_that_fail_the_checks_names_the_problem(
    write_plan, tmp_path, edit, problems
):
    plan = write_plan(edit)
    target = tmp_path / "bad.html"
    outcome = runner.invoke(app, ["report", str(plan), "-o", str(target)])
    assert outcome.exit_code == 2  # the failure code of bad data, as without the report
    lines = outcome.stderr.splitlines()
    assert lines[0] == f"ablens: wrote {target} (Don't trust — fix the data)"
    assert len(lines) == 2
    assert lines[1].startswith("ablens: ")
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<h1>Don&#x27;t trust — fix the data</h1>" in page
    # Every problem at once (what `ablens check` finds), not only the first the analysis hit.
    assert page.count('<div class="banner fail" role="alert"><strong>Data</strong>: ') == 2
    for problem in problems:
        assert page.count(problem) == 2  # the verdict's sentence and the problem's banner
    assert "Data: failed the checks, not analyzed" in page
    assert hashlib.sha256(plan.read_bytes()).hexdigest() in page
    assert "//" not in page
    to_stdout = runner.invoke(app, ["report", str(plan), "-o", "-"])
    assert to_stdout.exit_code == 2
    assert to_stdout.stdout.startswith("<!DOCTYPE html>")
    # analyze writes nothing for such data: only the report page is a readout of the failure.
    assert runner.invoke(app, ["analyze", str(plan)]).stdout == ""


def test_fail_on_an_unwanted_verdict(write_plan):
    plan = write_plan()  # the demo plan's sample is in and nothing moved: "No detectable effect"
    plain = runner.invoke(app, ["analyze", str(plan), "--json"])
    assert plain.exit_code == 0
    assert strict_json(plain.stdout)["verdict"]["label"] == "No detectable effect"
    unwanted = runner.invoke(
        app, ["analyze", str(plan), "--json", "--fail-on", "roll-back,no-effect"]
    )
    assert unwanted.exit_code == cli.EXIT_HEALTH == 1
    assert unwanted.stdout == plain.stdout
    assert unwanted.stderr == "ablens: verdict No detectable effect (no-effect) is in --fail-on\n"
    other = runner.invoke(
        app, ["analyze", str(plan), "--fail-on", "roll-back", "--fail-on", "ship"]
    )
    assert other.exit_code == 0
    bad = runner.invoke(app, ["analyze", str(plan), "--fail-on", "rollback"])
    assert bad.exit_code == cli.EXIT_USAGE == 2
    assert "--fail-on 'rollback': must be one or more of fix-data, keep-running" in bad.stderr
    assert bad.stdout == ""

"""A server offering plans reads each plan once per version of its file, not on every view
(issue 20: a slow plan made every view of the readout page slow)."""

from __future__ import annotations

from badinput import TestClient, create_app

import ablens.analysis_plan

PLAN = """experiment_id: served
source: {path: data.parquet}
control: control
metrics: [{kind: mean, column: revenue}]
"""


def test_served_plans_are_read_once_per_version(tmp_path, monkeypatch):
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    reads = []
    real = ablens.analysis_plan.load_plan

    def counting(plan_path):
        reads.append(plan_path)
        return real(plan_path)

    monkeypatch.setattr(ablens.analysis_plan, "load_plan", counting)
    client = TestClient(create_app(plans=[path]))
    for _ in range(3):
        page = client.get("/readout")
        assert page.status_code == 200
        assert "served (plan.yaml)" in page.text
    assert reads == [path]
    path.write_text(PLAN.replace("served", "edited"), encoding="utf-8")
    assert "edited (plan.yaml)" in client.get("/readout").text
    assert reads == [path, path]

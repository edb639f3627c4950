"""``digipath recommender`` commands end to end on a tiny generated world."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli_recommender import app

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def digipath_home(tmp_path, monkeypatch):
    """`evaluate` and `train` log MLflow runs into DIGIPATH_HOME's store: keep it in the test's tmp dir."""
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path / "home"))
    # mlflow exports the tracking URI to os.environ: setenv first so that teardown restores the absence
    for name in ("MLFLOW_TRACKING_URI", "DIGIPATH_MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    return tmp_path / "home"


def test_generate_evaluate_train_recommend(tmp_path, digipath_home):
    data = tmp_path / "data"
    res = runner.invoke(
        app, ["generate", "--out", str(data), "--learners", "400", "--content", "150", "--seed", "2"]
    )
    assert res.exit_code == 0, res.output
    for name in ("catalogue.csv", "roles.csv", "learners.csv", "events.csv", "profiles.json"):
        assert (data / name).exists()
    out = tmp_path / "eval"
    res = runner.invoke(
        app,
        [
            "evaluate",
            "--data",
            str(data),
            "--rankers",
            "popularity,role-popularity,als",
            "--out",
            str(out),
            "--k",
            "5,10",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "ndcg@10" in res.output and "role-popularity" in res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"popularity", "role-popularity", "als"}
    assert 0 <= metrics["summary"]["als"]["ndcg@10"] <= 1 and metrics["tuning"]["als"]
    assert (out / "comparison.png").stat().st_size > 1000 and (out / "per_role.csv").exists()
    from models import tracking

    client = tracking.client()
    assert tracking.configure().tracking_uri == f"sqlite:///{digipath_home.resolve()}/mlflow.db"
    evaluation = client.get_experiment_by_name("recommender-evaluation")
    logged = {r.info.run_name: r for r in client.search_runs([evaluation.experiment_id])}
    assert set(logged) == {"popularity", "role-popularity", "als"}
    assert logged["als"].data.metrics["ndcg_at_10"] == pytest.approx(metrics["summary"]["als"]["ndcg@10"])
    res = runner.invoke(
        app,
        ["train", "--data", str(data), "--out", str(tmp_path / "bundle"), "--ranker", "als", "--no-tune",
         "--register"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "bundle" / "metrics.json").read_text())["test_ndcg_at_10"] >= 0
    assert "registered learning-recommender version 1" in res.output
    res = runner.invoke(
        app, ["recommend", "--bundle", str(tmp_path / "bundle"), "--role", "clerk", "--k", "3"]
    )
    assert res.exit_code == 0 and res.output.count("develops") == 3, res.output


def test_bad_file_gives_one_clear_line(tmp_path):
    (tmp_path / "events.csv").write_text("learner_id,content_id,event\nu1,c1,liked\n")
    res = runner.invoke(
        app, ["evaluate", "--events", str(tmp_path / "events.csv"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 1
    assert "events.csv, row 2, field 'event': event must be one of" in " ".join(res.output.split())

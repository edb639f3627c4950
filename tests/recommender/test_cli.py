"""``digipath recommender`` commands end to end on a tiny generated world."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli_recommender import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_generate_evaluate_train_recommend(tmp_path):
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
    res = runner.invoke(
        app, ["train", "--data", str(data), "--out", str(tmp_path / "bundle"), "--ranker", "als", "--no-tune"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "bundle" / "metrics.json").read_text())["test_ndcg_at_10"] >= 0
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

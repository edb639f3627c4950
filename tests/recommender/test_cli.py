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


def _movielens_files(tmp_path, n_users=150, n_items=200):
    """Train/test TSVs without a header, shaped like MovieLens u1.base / u1.test."""
    from recommender.synthetic import movielens_like_ratings

    log = movielens_like_ratings(n_users, n_items, mean_ratings=30, seed=3)
    test = log.sample(frac=0.25, random_state=0)
    train = log.drop(test.index)
    paths = tmp_path / "u1.base", tmp_path / "u1.test"
    for frame, path in zip((train, test), paths, strict=True):
        frame.to_csv(path, sep="\t", header=False, index=False)
    return paths, train, test


def test_own_split_from_tab_separated_files_without_header(tmp_path):
    (base, test_path), train, test = _movielens_files(tmp_path)
    out = tmp_path / "eval"
    args = ["evaluate", "--events", str(base), "--test-events", str(test_path), "--out", str(out),
            "--rankers", "popularity,role-popularity,gap,item-knn", "--no-mlflow",
            "--names", "learner_id,content_id,value,timestamp"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "external" and set(metrics["summary"]) == {"popularity", "item-knn"}
    # the test is a random quarter of the pairs: validation is carved the same way, and says so
    assert metrics["validation"].startswith("validation random(0.2") and "mirroring" in metrics["validation"]
    assert "tuned on validation random(0.2" in text
    # the rankers that need roles or competences say so instead of returning popularity
    assert "role-popularity skipped" in text and "gap skipped" in text
    assert any("no learner has a role" in w for w in metrics["warnings"])
    assert metrics["weighting"]["train"]["events"] == len(train)
    assert metrics["weighting"]["test"]["events"] == len(test)
    # every test learner also trains here, so all of them are scored
    assert metrics["summary"]["popularity"]["n_learners"] == test["user"].nunique()
    assert metrics["summary"]["popularity"]["n_cold_learners"] == 0
    for key in ("map_min@10", "map_r@10", "mrr@10", "mrr@5"):
        assert 0 <= metrics["summary"]["item-knn"][key] <= 1
    # neither EASE nor ALS ran, so item-kNN is compared with popularity, paired by learner
    d = metrics["paired"]["popularity"]["item-knn"]["ndcg@10"]
    s = metrics["summary"]
    assert d["difference"] == pytest.approx(s["item-knn"]["ndcg@10"] - s["popularity"]["ndcg@10"], abs=1e-12)
    assert d["ci_low"] <= d["difference"] <= d["ci_high"]
    assert "minus popularity's, paired by learner" in text


def test_header_row_that_is_data_and_bad_test_share_fail_in_one_line(tmp_path):
    (base, _), _, _ = _movielens_files(tmp_path, 40, 60)
    res = runner.invoke(app, ["evaluate", "--events", str(base), "--out", str(tmp_path / "o"), "--no-mlflow"])
    assert res.exit_code == 1
    assert "looks like data, not a header" in " ".join(res.output.split())
    names = ["--names", "learner_id,content_id,value,timestamp", "--no-mlflow", "--out", str(tmp_path / "o")]
    res = runner.invoke(app, ["evaluate", "--events", str(base), "--split", "last-n", "--test-share", "0.25",
                              *names])
    assert res.exit_code == 1 and "test share applies to the random and temporal" in res.output
    res = runner.invoke(app, ["evaluate", "--events", str(base), "--split", "random", "--test-share", "1.5",
                              *names])
    assert res.exit_code == 1 and "strictly between 0 and 1" in res.output


def test_random_split_share_semicolons_and_rated_weighting_counted(tmp_path):
    from recommender.synthetic import movielens_like_ratings

    log = movielens_like_ratings(120, 150, mean_ratings=30, seed=4)
    log.insert(2, "event", "rated")
    path = tmp_path / "ratings.csv"
    log.to_csv(path, sep=";", index=False)
    out = tmp_path / "eval"
    res = runner.invoke(app, [
        "evaluate", "--events", str(path), "--split", "random", "--test-share", "0.25", "--out", str(out),
        "--rankers", "popularity", "--no-mlflow", "--column", "user=learner_id",
        "--column", "item=content_id", "--column", "rating=value",
    ])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "random(0.25)"
    at_or_below_3 = int((log["rating"] <= 3).sum())  # the default midpoint is 3: these add nothing
    train, test = metrics["weighting"]["train"], metrics["weighting"]["test"]
    assert train["dropped"] + test["dropped"] == at_or_below_3
    assert train["events"] + test["events"] == len(log)
    assert f"{train['dropped']:,} dropped by the weighting" in " ".join(res.output.split())
    # ratings as graded implicit feedback: every rating stays, re-weighted by its stars
    graded = tmp_path / "graded"
    res = runner.invoke(app, [
        "evaluate", "--events", str(path), "--split", "random", "--test-share", "0.25", "--out", str(graded),
        "--rankers", "popularity", "--no-mlflow", "--column", "user=learner_id",
        "--column", "item=content_id", "--column", "rating=value", "--ratings", "graded",
    ])
    assert res.exit_code == 0, res.output
    metrics = json.loads((graded / "metrics.json").read_text())
    train, test = metrics["weighting"]["train"], metrics["weighting"]["test"]
    assert train["dropped"] + test["dropped"] == 0 and train["pairs_dropped"] + test["pairs_dropped"] == 0
    # 1.5 x stars / 3 is exactly 1 for 2 stars only: those are kept as is, the rest re-weighted
    assert train["kept"] + test["kept"] == int((log["rating"] == 2).sum())
    assert train["changed"] + test["changed"] == int((log["rating"] != 2).sum())
    res = runner.invoke(app, ["evaluate", "--events", str(path), "--ratings", "stars", "--no-mlflow"])
    assert res.exit_code == 1 and "ratings must be one of" in res.output


def test_train_on_own_split_with_ease_serves_it(tmp_path):
    (base, test_path), train, test = _movielens_files(tmp_path, 80, 120)
    out = tmp_path / "bundle"
    res = runner.invoke(app, ["train", "--events", str(base), "--test-events", str(test_path), "--sep", "\\t",
                              "--names", "learner_id,content_id,value,timestamp", "--ranker", "ease",
                              "--out", str(out), "--no-mlflow"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["param.l2"] > 0 and metrics["n_test_events"] == len(test)
    assert metrics["weighting.events"] == len(train) + len(test) and metrics["weighting.dropped"] == 0
    assert "ease" in (out / "bundle.json").read_text()
    learner = str(train["user"].iloc[0])
    res = runner.invoke(app, ["recommend", "--bundle", str(out), "--learner", learner, "--k", "3"])
    assert res.exit_code == 0 and res.output.count("\n") >= 3, res.output
    # a ranker that needs competences is refused for a bare log, in one line
    names = "learner_id,content_id,value,timestamp"
    res = runner.invoke(app, ["train", "--events", str(base), "--names", names, "--ranker", "gap",
                              "--out", str(tmp_path / "g"), "--no-mlflow"])
    assert res.exit_code == 1 and "could only return the popularity ranking" in " ".join(res.output.split())

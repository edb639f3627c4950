"""Register, load, alias, promote (and refusals), roll back and cache, against a real SQLite MLflow store."""

from __future__ import annotations

import json

import mlflow
import pytest

from adaptive.errors import ModelNotFoundError, RegistryUnavailableError, ValidationError
from models import registry, runs, tracking
from models.registry import CHAMPION, ITEM_BANK_MODEL, RECOMMENDER_MODEL
from tests.models.standin import TinyBundle


def _register_banks(bank, n):
    return [runs.log_item_bank(bank, metrics={"loglik_total": -100.0 - i}, params={"i": i})
            for i in range(n)]


def test_configure_embedded_store_lives_under_home(home):
    config = tracking.configure(home)
    assert config.tracking_uri == f"sqlite:///{home.resolve()}/mlflow.db"
    assert mlflow.get_tracking_uri() == config.tracking_uri
    assert config.artifact_root == home.resolve() / "mlartifacts"


def test_configure_honours_mlflow_tracking_uri_and_refuses_file_store(home, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    config = tracking.configure(home)
    assert config.tracking_uri == "http://127.0.0.1:5999" and not config.is_embedded
    monkeypatch.setenv("DIGIPATH_MLFLOW_TRACKING_URI", "file:///tmp/mlruns")
    with pytest.raises(ValueError, match="file store"):
        tracking.configure(home)


def test_register_load_by_version_and_alias_round_trip(home, small_bank):
    v1, v2 = _register_banks(small_bank, 2)
    assert (v1, v2) == (1, 2)
    bank, version = registry.load_item_bank(version=2)
    assert version == 2 and bank.to_dict() == small_bank.to_dict()
    # the artifacts live under <home>/mlartifacts, nowhere else
    assert any((home / "mlartifacts").rglob("item_bank.json"))
    with pytest.raises(ModelNotFoundError, match="champion"):
        registry.load_item_bank()
    assert registry.champions() == {ITEM_BANK_MODEL: None, RECOMMENDER_MODEL: None}
    assert registry.promote(ITEM_BANK_MODEL, 1) is None
    bank, version = registry.load_item_bank(alias=CHAMPION)
    assert version == 1 and len(bank) == len(small_bank)
    assert registry.champions()[ITEM_BANK_MODEL] == 1


def test_loading_a_version_twice_is_cached(home, small_bank):
    _register_banks(small_bank, 2)
    registry.promote(ITEM_BANK_MODEL, 2)
    first, _ = registry.load_item_bank(version=2)
    again, _ = registry.load_item_bank(alias=CHAMPION)  # same version through the alias
    assert again is first
    other, _ = registry.load_item_bank(version=1)
    assert other is not first
    # promote loads the version too: it was already cached, so no new download
    assert registry.cache_info()["downloads"] == 2 and registry.cache_info()["hits"] >= 2


def test_missing_model_version_and_unknown_name(home, small_bank):
    with pytest.raises(ModelNotFoundError):
        registry.load_item_bank(version=1)  # nothing registered yet
    _register_banks(small_bank, 1)
    with pytest.raises(ModelNotFoundError, match="version 7"):
        registry.load_item_bank(version=7)
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        registry.promote("no-such-model", 1)


def test_promote_refuses_version_without_metrics(home, small_bank, tmp_path):
    _register_banks(small_bank, 1)
    registry.promote(ITEM_BANK_MODEL, 1)
    # a version registered outside digipath, with no metrics on its run
    from models import item_bank_model

    path = tmp_path / "bank.json"
    small_bank.save_json(path)
    with mlflow.start_run(experiment_id=tracking.experiment_id("other")), tracking.silenced_logging():
        mlflow.pyfunc.log_model(name="model", python_model=item_bank_model.ItemBankModel(),
                                artifacts={"item_bank": str(path)}, pip_requirements=["numpy"],
                                registered_model_name=ITEM_BANK_MODEL)
    with pytest.raises(ValidationError, match="metrics missing") as err:
        registry.promote(ITEM_BANK_MODEL, 2)
    assert err.value.field == "metrics"
    runs.log_item_bank(small_bank, metrics={"n_persons": 10})  # digipath run, but no fit metric
    with pytest.raises(ValidationError, match="loglik_total"):
        registry.promote(ITEM_BANK_MODEL, 3)
    assert registry.alias_version(ITEM_BANK_MODEL) == 1


def test_promote_refuses_version_whose_artifacts_do_not_load(home, small_bank, monkeypatch):
    _register_banks(small_bank, 1)
    registry.promote(ITEM_BANK_MODEL, 1)
    data = small_bank.to_dict()
    data["items"][0]["a"] = -1.0  # a negative slope: the bank JSON does not validate on load
    broken = type(small_bank).from_dict(data, validate=False)
    runs.log_item_bank(broken, metrics={"loglik_total": -1.0})
    with pytest.raises(ValidationError, match="artifacts do not load") as err:
        registry.promote(ITEM_BANK_MODEL, 2)
    assert err.value.field == "artifacts"
    assert registry.alias_version(ITEM_BANK_MODEL) == 1
    registry.promote(ITEM_BANK_MODEL, 2, validate=False)  # an operator may force it knowingly
    assert registry.alias_version(ITEM_BANK_MODEL) == 2


def test_rollback_walks_the_alias_history(home, small_bank):
    _register_banks(small_bank, 3)
    for v in (1, 2, 3):
        registry.promote(ITEM_BANK_MODEL, v)
    assert registry.alias_history(ITEM_BANK_MODEL) == [1, 2, 3]
    assert registry.rollback(ITEM_BANK_MODEL) == 2
    assert registry.load_item_bank()[1] == 2
    assert registry.rollback(ITEM_BANK_MODEL) == 1
    with pytest.raises(ValidationError, match="no previous version"):
        registry.rollback(ITEM_BANK_MODEL)
    assert registry.alias_version(ITEM_BANK_MODEL) == 1
    # the history is stored on the registered model, as JSON
    tags = tracking.client().get_registered_model(ITEM_BANK_MODEL).tags
    assert json.loads(tags["digipath.alias_history.champion"]) == [1]


def test_rollback_after_alias_moved_outside_digipath(home, small_bank):
    _register_banks(small_bank, 3)
    registry.promote(ITEM_BANK_MODEL, 1)
    tracking.client().set_registered_model_alias(ITEM_BANK_MODEL, CHAMPION, "3")  # e.g. in the MLflow UI
    assert registry.rollback(ITEM_BANK_MODEL) == 1
    registry.promote(ITEM_BANK_MODEL, 2, alias="challenger")  # aliases keep separate histories
    assert registry.alias_version(ITEM_BANK_MODEL, "challenger") == 2
    assert registry.alias_version(ITEM_BANK_MODEL) == 1


def test_list_models_shows_versions_aliases_and_metrics(home, small_bank):
    _register_banks(small_bank, 2)
    runs.log_recommender(TinyBundle(["c1", "c2", "c3"]), metrics={"ndcg@10": 0.31, "test_ndcg@10": 0.3})
    registry.promote(ITEM_BANK_MODEL, 2)
    registry.promote(RECOMMENDER_MODEL, 1)
    rows = {(r.name, r.version): r for r in registry.list_models()}
    assert set(rows) == {(ITEM_BANK_MODEL, 1), (ITEM_BANK_MODEL, 2), (RECOMMENDER_MODEL, 1)}
    assert rows[(ITEM_BANK_MODEL, 2)].aliases == (CHAMPION,) and rows[(ITEM_BANK_MODEL, 1)].aliases == ()
    assert rows[(ITEM_BANK_MODEL, 1)].metrics["n_items"] == len(small_bank)
    assert rows[(ITEM_BANK_MODEL, 1)].framework_version == small_bank.framework_version
    assert rows[(RECOMMENDER_MODEL, 1)].metrics["ndcg_at_10"] == pytest.approx(0.31)


def test_recommender_round_trip_and_pyfunc_predict(home):
    bundle = TinyBundle([f"c{i}" for i in range(8)], metrics={"recall@5": 0.5})
    version = runs.log_recommender(bundle, metrics={"test_ndcg@10": 0.4}, params={"factors": 16})
    registry.promote(RECOMMENDER_MODEL, version)
    loaded, v = registry.load_recommender()
    assert v == version and isinstance(loaded, TinyBundle) and loaded.catalogue == bundle.catalogue
    model = mlflow.pyfunc.load_model(f"models:/{RECOMMENDER_MODEL}@champion")
    import pandas as pd

    out = model.predict(pd.DataFrame({"learner_id": ["ann", "bob"], "k": [3, 2]}))
    assert len(out) == 5 and out["rank"].tolist() == [1, 2, 3, 1, 2]
    expected = [r.content_id for r in bundle.recommend("ann", k=3)]
    assert out.loc[out.learner_id == "ann", "content_id"].tolist() == expected
    run = tracking.client().get_run(tracking.client().get_model_version(RECOMMENDER_MODEL, "1").run_id)
    assert run.data.params["factors"] == "16"
    assert {"n_contents", "test_ndcg_at_10", "recall_at_5"} <= set(run.data.metrics)


def test_unreachable_registry_is_a_clear_error(home, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    tracking.configure(home)
    with pytest.raises(RegistryUnavailableError, match=f"127.0.0.1:{port}"):
        registry.load_item_bank()


def test_broken_store_is_registry_unavailable(home):
    (home / "broken").mkdir()
    (home / "broken" / "mlflow.db").write_text("not a database")
    tracking.configure(home / "broken")
    with pytest.raises(RegistryUnavailableError, match="not a database"):
        registry.champions()


def test_alias_resolution_is_cached_briefly_but_promotion_is_seen_at_once(home, small_bank, monkeypatch):
    _register_banks(small_bank, 2)
    registry.promote(ITEM_BANK_MODEL, 1)
    assert registry.load_item_bank()[1] == 1
    # moved by another process: this one keeps serving v1 until the alias cache expires
    tracking.client().set_registered_model_alias(ITEM_BANK_MODEL, CHAMPION, "2")
    assert registry.load_item_bank()[1] == 1
    monkeypatch.setattr(registry, "ALIAS_CACHE_SECONDS", 0.0)
    assert registry.load_item_bank()[1] == 2
    monkeypatch.setattr(registry, "ALIAS_CACHE_SECONDS", 3600.0)
    registry.rollback(ITEM_BANK_MODEL)  # in this process: seen at once despite the long cache
    assert registry.load_item_bank()[1] == 1


def test_inherited_embedded_uri_stays_embedded(home, monkeypatch):
    # a child process (e.g. a uvicorn worker) inherits MLFLOW_TRACKING_URI exported by mlflow itself
    monkeypatch.setattr(tracking, "_current", None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking.embedded_uri(home))
    assert tracking.configure(home).artifact_root == home.resolve() / "mlartifacts"


def test_promote_refuses_version_whose_artifacts_were_deleted(home, small_bank):
    import shutil

    _register_banks(small_bank, 2)
    registry.promote(ITEM_BANK_MODEL, 1)
    mv = tracking.client().get_model_version(ITEM_BANK_MODEL, "2")
    model_id = mv.source.removeprefix("models:/")
    [model_dir] = [p for p in (home / "mlartifacts").rglob(model_id) if p.is_dir()]
    shutil.rmtree(model_dir)
    with pytest.raises(ValidationError, match="artifacts do not load"):
        registry.promote(ITEM_BANK_MODEL, 2)
    with pytest.raises(ModelNotFoundError, match="version 2"):
        registry.load_item_bank(version=2)
    assert registry.load_item_bank()[1] == 1

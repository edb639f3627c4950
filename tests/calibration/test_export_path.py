"""The service's response export as calibration input (issue 14): scored responses the calibration reads
as they are, the chosen option for keyed re-scoring, and a retest's repeated item (first attempt kept)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from adaptive.calibration.data import ResponseData
from adaptive.errors import DataFileError
from adaptive.synthetic import generate_synthetic_bank
from api.cli_calibrate import _read_keyed
from api.db import upgrade
from api.providers import StaticModelProvider
from api.settings import Settings
from tests.api.conftest import _db_params, make_api
from tests.api.e2e_models import small_bundle, small_world
from tests.api.helpers import PG_URL, reset_postgres, run_diagnostic

# one area of 6 competences x 2 items; a test of 8 items leaves 4 unseen, fewer than the area minimum of 6,
# so a retest gets the seen items back (CatConfig.exclude_items) and repeats some of them
CAT = {"max_items": 8, "min_items": 8, "min_items_per_area": 6, "max_items_per_area": 8, "se_target": 0.1,
       "exposure": None}


@pytest.fixture(scope="module")
def small_bank():
    return generate_synthetic_bank(items_per_competence=2, languages=("en",), seed=21, name="export bank")


@pytest.fixture(params=_db_params())
def database_url(request, tmp_path) -> str:
    if request.param == "postgres":
        reset_postgres(PG_URL)
        return PG_URL
    target = tmp_path / "digipath.db"
    upgrade(f"sqlite:///{target}")
    return f"sqlite:///{target}"


@pytest.fixture
def export(tmp_path, database_url, small_bank):
    """The export after 4 learners took a diagnostic on area 2 and one of them a retest."""
    settings = Settings(home=tmp_path, database_url=database_url, key_cache_seconds=0.0)
    provider = StaticModelProvider({"1": small_bank}, "1", recommender=small_bundle(small_world()))
    api = make_api(settings, provider, cat=CAT)
    try:
        for i, theta in enumerate((-1.0, 0.0, 1.0, 0.5)):
            run_diagnostic(api.client, api.a, small_bank, theta, seed=i, learner=f"p{i}", areas=["2"])
        run_diagnostic(api.client, api.a, small_bank, 0.5, seed=9, learner="p3", areas=["2"])   # the retest
        r = api.client.get("/v1/admin/responses/export", headers=api.a)
        assert r.status_code == 200
    finally:
        api.client.close()
        api.app.state.services.engine.dispose()
    path = tmp_path / "responses.csv"
    path.write_text(r.text)
    return path


def test_export_with_a_retest_is_calibration_input(export, small_bank):
    log = pd.read_csv(export, dtype=str, keep_default_na=False)
    # the path under test is reached: the retest repeats items of the first sitting
    first_session = log[log.person_id == "p3"].session_id.iloc[0]
    by_pair = log.groupby(["person_id", "item_id"]).session_id.nunique()
    repeated = by_pair[by_pair > 1]
    assert len(repeated) >= 1 and set(repeated.index.get_level_values(0)) == {"p3"}

    data = ResponseData.from_long_csv(export)      # refused before: "duplicate response of person 'p3'"
    assert data.n_responses == len(log) - len(repeated)
    assert data.notes == [f"{len(repeated)} repeated response(s) of a person to an item in a later session "
                          "(retests) dropped: the first attempt of each is calibrated"]
    # the kept response of each repeated item is the first sitting's
    got = dict(zip(zip(data.person_ids[data.rows], data.item_ids[data.cols], strict=True),
                   data.scores, strict=True))
    first = log[(log.person_id == "p3") & (log.session_id == first_session)]
    for item, response in zip(first.item_id, first.response, strict=True):
        assert got[("p3", item)] == int(response)

    # keyed scoring of the chosen options with the bank's keys gives the server's scores, row for row
    keyed, scoring = _read_keyed(export, False, "template", small_bank, [], "missing")
    assert scoring is not None and keyed.notes == data.notes
    k_got = dict(zip(zip(keyed.person_ids[keyed.rows], keyed.item_ids[keyed.cols], strict=True),
                     keyed.scores, strict=True))
    assert k_got == got
    # and by hand: the bank's own scoring rule on each answer
    for row in log.itertuples():
        assert small_bank.score(row.item_id, int(row.answer)) == int(row.response)


def test_repeats_within_one_session_are_still_refused(tmp_path, export):
    rows = list(csv.DictReader(io.StringIO(export.read_text())))
    rows.append(dict(rows[0]))                                 # the same session answering an item twice
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(DataFileError, match=rf"line {len(rows) + 1}.*duplicate response"):
        ResponseData.from_long_csv(bad)
    # without a session column nothing says it was a retest: refused too
    plain = tmp_path / "plain.csv"
    pd.read_csv(export, dtype=str, keep_default_na=False)[["person_id", "item_id", "response"]].pipe(
        lambda d: pd.concat([d, d.iloc[:1]])).to_csv(plain, index=False)
    with pytest.raises(DataFileError, match="duplicate response"):
        ResponseData.from_long_csv(plain)


def test_first_attempt_follows_time_not_file_order(tmp_path):
    path = tmp_path / "log.csv"
    pd.DataFrame({"person_id": ["a", "a", "b"], "item_id": ["i1", "i1", "i1"], "response": ["1", "0", "1"],
                  "session_id": ["S2", "S1", "S3"],
                  "administered_at": ["2026-02-01T10:00:00", "2026-01-01T10:00:00", "2026-01-05T10:00:00"]}
                 ).to_csv(path, index=False)
    data = ResponseData.from_long_csv(path)
    scores = dict(zip(data.person_ids[data.rows], data.scores, strict=True))
    assert scores == {"a": 0, "b": 1} and np.all(data.scores >= 0)


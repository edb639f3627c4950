"""Keyed scoring of raw multiple-choice answers and distractor analysis (simulated data, known truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from adaptive.calibration.keyed import AnswerKey, RawResponses, distractor_analysis, score_responses
from adaptive.errors import DataFileError, ValidationError
from api.cli_calibrate import app
from tests.calibration.helpers import simulate_bank_responses, small_bank

runner = CliRunner()
OPTIONS = ("A", "B", "C", "D")
N_PERSONS, N_ITEMS = 2000, 16
MISKEYED, MULTI = "q05", "q10"  # the key file says B for q05, whose correct option is C


@pytest.fixture(autouse=True)
def digipath_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path / "home"))
    for name in ("MLFLOW_TRACKING_URI", "DIGIPATH_MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def mc(tmp_path_factory):
    """2PL multiple-choice answers: right with P(theta), else a uniformly chosen distractor; 4% omitted
    ('X'); q10 is multiple-response (key A;C, answered in either order)."""
    d = tmp_path_factory.mktemp("keyed")
    rng = np.random.default_rng(14)
    ids = [f"q{k:02d}" for k in range(1, N_ITEMS + 1)]
    true_key = {iid: OPTIONS[k % 4] for k, iid in enumerate(ids)}
    true_key[MISKEYED] = "C"
    theta = rng.standard_normal(N_PERSONS)
    a, b = rng.uniform(0.9, 2.0, N_ITEMS), rng.normal(0, 0.8, N_ITEMS)
    right = rng.random((N_PERSONS, N_ITEMS)) < expit(a * (theta[:, None] - b))
    raw = np.empty((N_PERSONS, N_ITEMS), dtype=object)
    wrong_sets = ["A", "C", "A;B", "B;C;D", "A;C;D"]
    for j, iid in enumerate(ids):
        for p in range(N_PERSONS):
            if iid == MULTI:
                raw[p, j] = rng.choice(["A;C", "C;A"]) if right[p, j] else rng.choice(wrong_sets)
            elif right[p, j]:
                raw[p, j] = true_key[iid]
            else:
                raw[p, j] = rng.choice([o for o in OPTIONS if o != true_key[iid]])
    raw[rng.random(raw.shape) < 0.04] = "X"
    df = pd.DataFrame(raw, columns=ids)
    df.insert(0, "person_id", [f"p{k}" for k in range(N_PERSONS)])
    df.to_csv(d / "raw.csv", index=False)
    file_key = {**true_key, MISKEYED: "B", MULTI: "C;A"}
    pd.DataFrame({"item_id": ids, "key": [file_key[i] for i in ids]}).to_csv(d / "key.csv", index=False)
    return d, df, file_key


def _by_hand(df, key, omitted_as):
    """The same answers scored by hand, cell by cell."""
    out = np.full((len(df), N_ITEMS), np.nan)
    for j, iid in enumerate(df.columns[1:]):
        want = set(key[iid].split(";"))
        for p, code in enumerate(df[iid]):
            if code == "X":
                out[p, j] = omitted_as
            else:
                out[p, j] = float(set(code.split(";")) == want)
    return out


@pytest.mark.parametrize("missing_as, omitted_score", [("missing", np.nan), ("wrong", 0.0)])
def test_keyed_scoring_equals_scoring_by_hand(mc, missing_as, omitted_score):
    d, df, key = mc
    s = score_responses(
        RawResponses.from_csv(d / "raw.csv", wide=True), AnswerKey.from_csv(d / "key.csv"), ["X"], missing_as
    )
    got = pd.DataFrame(s.data.to_matrix(), index=s.data.person_ids, columns=s.data.item_ids)
    got = got.loc[df["person_id"], list(df.columns[1:])].to_numpy()
    np.testing.assert_array_equal(got, _by_hand(df, key, omitted_score))


def test_planted_miskey_is_flagged_and_nothing_else(mc):
    d, _, key = mc
    s = score_responses(
        RawResponses.from_csv(d / "raw.csv", wide=True), AnswerKey.from_csv(d / "key.csv"), ["X"]
    )
    table, curves = distractor_analysis(s)
    flagged = table[table["flag"] != ""]
    assert list(zip(flagged["item_id"], flagged["option"], strict=True)) == [(MISKEYED, "C")]
    t = table.set_index(["item_id", "option"])
    # proportions per item sum to one; the omitted answers are their own row (about 4%)
    assert table.groupby("item_id")["proportion"].sum().to_numpy() == pytest.approx(1.0)
    assert t.loc[("q01", "(omitted)"), "proportion"] == pytest.approx(0.04, abs=0.015)  # 3.5 SE at n=2000
    assert t.loc[("q01", key["q01"]), "point_biserial"] > 0.3
    # option curves: the true key rises with ability, the keyed-but-wrong option falls
    c = curves[curves["item_id"] == MISKEYED].pivot(
        index="ability_group", columns="option", values="proportion"
    )
    assert c["C"].iloc[-1] > c["C"].iloc[0] + 0.3 and c["B"].iloc[-1] < c["B"].iloc[0]


def test_fit_with_key_reports_distractors_and_miskey(mc, tmp_path):
    d, _, _ = mc
    out = tmp_path / "fit"
    r = runner.invoke(
        app,
        [
            "fit",
            str(d / "raw.csv"),
            "--wide",
            "--key",
            str(d / "key.csv"),
            "--missing",
            "X",
            "--model",
            "2PL",
            "--out",
            str(out),
            "--quiet",
            "--no-mlflow",
        ],
    )
    assert r.exit_code == 0, r.output
    # the miskeyed item has a negative slope under its key: excluded, and the note says which option
    assert f"calibrated {N_ITEMS - 1} items (1 excluded" in r.output
    assert f"item {MISKEYED}: possible miskey (option C" in r.output
    assert "treated as missing" in r.output
    report = (out / "report.md").read_text()
    assert "## Distractor analysis" in report and (out / "option_curves.png").exists()
    assert f"| {MISKEYED} | negative or zero discrimination" in report
    items = pd.read_csv(out / "items.csv", index_col=0, keep_default_na=False)
    assert MISKEYED not in items.index and "possible miskey" not in "".join(items["flags"])


def test_duplicate_item_column_is_refused(mc, tmp_path):
    _, df, _ = mc
    dup = df.copy()
    dup.insert(3, "q01 ", dup["q01"])  # a copied column (pandas would silently rename it q01.1)
    dup.to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(DataFileError, match=r"duplicate item column\(s\) \['q01'\]"):
        RawResponses.from_csv(tmp_path / "dup.csv", wide=True)
    # scored data (no key) are refused the same way
    scored = (dup.drop(columns="person_id") == "A").astype(int)
    scored.columns = dup.columns[1:]
    scored.to_csv(tmp_path / "dup.csv", index=False)
    r = runner.invoke(
        app, ["fit", str(tmp_path / "dup.csv"), "--wide", "--out", str(tmp_path / "o"), "--quiet"]
    )
    assert r.exit_code == 1 and "duplicate item column" in r.output
    assert not (tmp_path / "o" / "bank.json").exists()


def test_unkeyed_item_and_missing_without_key_are_errors(mc, tmp_path):
    d, df, key = mc
    pd.DataFrame({"item_id": list(key)[:-1], "key": list(key.values())[:-1]}).to_csv(
        tmp_path / "k.csv", index=False
    )
    with pytest.raises(ValidationError, match="have no key.*q16"):
        score_responses(
            RawResponses.from_csv(d / "raw.csv", wide=True), AnswerKey.from_csv(tmp_path / "k.csv")
        )
    r = runner.invoke(
        app, ["fit", str(d / "raw.csv"), "--wide", "--missing", "X", "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 1 and "--missing needs --key" in r.output


@pytest.fixture(scope="module")
def bank_answers(tmp_path_factory):
    """Answers to a keyed bank as the service records them (option indices), from known parameters."""
    d = tmp_path_factory.mktemp("bankkeys")
    bank = small_bank(n_areas=1, items_per_competence=6, seed=3, share_grm=0.0)
    X, _ = simulate_bank_responses(bank, 1200, seed=4, missing=0.3)
    rng = np.random.default_rng(5)
    rows = []
    for j, it in enumerate(bank.items):
        wrong = [o for o in range(it.n_options) if o != it.key]
        for p in np.flatnonzero(np.isfinite(X[:, j])):
            code = it.key if X[p, j] == 1 else rng.choice(wrong)
            rows.append((f"p{p}", it.id, int(code)))
    pd.DataFrame(rows, columns=["person_id", "item_id", "response"]).to_csv(d / "answers.csv", index=False)
    bank.save_json(d / "bank.json")
    return d, bank, X


def test_template_keys_score_as_the_service(bank_answers, tmp_path):
    d, bank, X = bank_answers
    s = score_responses(RawResponses.from_csv(d / "answers.csv"), AnswerKey.from_bank(bank))
    got = pd.DataFrame(s.data.to_matrix(), index=s.data.person_ids, columns=s.data.item_ids)
    want = pd.DataFrame(X, index=[f"p{k}" for k in range(len(X))], columns=[it.id for it in bank.items])
    want = want.loc[got.index, got.columns]
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    out = tmp_path / "fit"
    r = runner.invoke(
        app,
        [
            "fit",
            str(d / "answers.csv"),
            "--template",
            str(d / "bank.json"),
            "--key",
            "template",
            "--model",
            "2PL",
            "--out",
            str(out),
            "--quiet",
            "--no-mlflow",
        ],
    )
    assert r.exit_code == 0, r.output
    assert f"calibrated {len(bank)} items" in r.output
    # an option the item does not have is an error naming line, item and value
    bad = pd.read_csv(d / "answers.csv", dtype=str)
    bad.loc[3, "response"] = "7"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    r = runner.invoke(
        app,
        [
            "fit",
            str(tmp_path / "bad.csv"),
            "--template",
            str(d / "bank.json"),
            "--key",
            "template",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
            "--no-mlflow",
        ],
    )
    assert r.exit_code == 1
    assert f"line 5, column '{bad.loc[3, 'item_id']}': answer '7'" in r.output
    r = runner.invoke(app, ["fit-check", str(d / "bank.json"), str(d / "answers.csv"), "--key", "template"])
    assert r.exit_code == 0, r.output
    assert f"{len(bank)} items checked" in r.output


def test_nothing_calibrated_exits_nonzero(bank_answers, tmp_path):
    d, bank, _ = bank_answers
    r = runner.invoke(
        app,
        [
            "fit",
            str(d / "answers.csv"),
            "--key",
            "template",
            "--template",
            str(d / "bank.json"),
            "--min-responses",
            "100000",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
            "--no-mlflow",
        ],
    )
    assert r.exit_code == 1 and "error:" in r.output
    assert not (tmp_path / "o" / "bank.json").exists()

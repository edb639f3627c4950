"""Scoring consistency: the live CAT's reported profile against the item-bank model's ``predict``.

Runs ``n`` CAT sessions (default CatConfig, simulated learners from the bank's area correlation) on a
synthetic bank, then scores each session's log (pilot items included) with
``models.item_bank_model.estimate_abilities`` (what the pyfunc ``predict`` calls) and, for reference, with
the former per-area EAP under N(0, 1). Prints mean/max |delta theta| and the share of areas whose level
differs, for each. ``python -m experiments.scoring_consistency [n]``.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from adaptive.cat import CatConfig, CatSession
from adaptive.estimation import eap, level_probabilities, most_likely_level
from adaptive.synthetic import generate_synthetic_bank
from models.item_bank_model import estimate_abilities


def _answer(bank, item_id: str, theta: float, rng: np.random.Generator) -> int:
    it = bank.item(item_id)
    probs = bank.parameters([item_id]).category_probabilities(np.array([theta]))[0, 0]
    score = int(rng.choice(len(probs), p=probs / probs.sum()))
    if it.is_polytomous:
        return list(it.key).index(score)
    return it.key if score == 1 else (it.key + 1) % it.n_options


def main(n: int = 20, seed: int = 0) -> dict[str, dict[str, float]]:
    bank = generate_synthetic_bank(items_per_competence=16, n_pilot_per_competence=1, languages=("en",),
                                   seed=seed)
    rng = np.random.default_rng(seed)
    corr = np.asarray(bank.area_correlation)
    rows, reported = [], {}
    for k in range(n):
        theta = rng.multivariate_normal(np.zeros(len(corr)), corr)
        s = CatSession(bank, CatConfig(n_pilot=2), seed=k)
        while not s.finished:
            iid = s.next_item()
            s.answer(iid, _answer(bank, iid, theta[bank.area_ids.index(bank.item(iid).area)], rng))
        reported[f"s{k}"] = s.result().to_dict()["areas"]
        rows += [(f"s{k}", e["item_id"], e["score"]) for e in s.log]
    log = pd.DataFrame(rows, columns=["person_id", "item_id", "response"])
    now = estimate_abilities(bank, log)
    # the former predict: EAP per area under N(0, 1), pilot items included
    old = []
    by_area = log.assign(area=[bank.item(i).area for i in log["item_id"]])
    for (p, area), g in by_area.groupby(["person_id", "area"]):
        est = eap(bank.parameters(list(g["item_id"])), g["response"].to_numpy())
        old.append((p, area, est.theta, most_likely_level(level_probabilities(est.theta, est.se,
                                                                               bank.cut_scores[area]))))
    old = pd.DataFrame(old, columns=["person_id", "area", "theta", "level"])
    out = {}
    for name, frame in (("predict (one estimator)", now), ("former per-area EAP", old)):
        d = np.array([abs(r.theta - reported[r.person_id][r.area]["theta"]) for r in frame.itertuples()])
        lv = np.array([r.level != reported[r.person_id][r.area]["level"] for r in frame.itertuples()])
        out[name] = {"areas": len(d), "mean_abs_dtheta": float(d.mean()), "max_abs_dtheta": float(d.max()),
                     "share_level_differs": float(lv.mean())}
    for name, row in out.items():
        print(f"{name:26s} areas={row['areas']:3d}  mean|dtheta|={row['mean_abs_dtheta']:.2e}  "
              f"max|dtheta|={row['max_abs_dtheta']:.2e}  level differs={row['share_level_differs']:.1%}")
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)

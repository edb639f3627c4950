"""Classification accuracy by level scheme (issue 12): fewer, wider levels vs the eight-level scheme.

    python -m experiments.framework_levels [--simulees 2000] [--seed 0]

Two comparisons, each with the same areas, competences, items per competence, generator seed, CAT design
and simulees; only the framework's level scheme (and so the cut scores) differs:
- the example own framework (``adaptive/data/examples/academy-transversal.json``: 3 areas, 5 levels) vs its
  eight-level twin;
- DigComp 3.0 (four named levels, cuts at the eight-level boundaries) vs DigComp 2.2 (eight levels).
Both banks of a pair have the same item design (``statement_items=False``); a last row runs the DigComp 3.0
demo design (its statements as self-assessment items too). Reported per scheme: mean over areas of
exact-level accuracy, within-one accuracy and theta RMSE (the scoring of record), as a table and JSON in
experiments/out/framework_levels.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from adaptive.cat import CatConfig
from adaptive.cat.simulation import simulate
from adaptive.framework import DATA_DIR, Framework, get_framework, read_framework_file
from adaptive.synthetic import generate_synthetic_bank


def eight_level_twin(fw: Framework) -> Framework:
    d = fw.to_dict()
    d.update(
        id=fw.id + "-eight",
        level_scheme={"id": "eight-level", "levels": [{"level": k} for k in range(1, 9)]},
        schemes=[],
        mappings=[],
        statements=[],
        outcomes=[],
    )
    return Framework.from_dict(d)


def run(fw: Framework, config: CatConfig, n: int, seed: int, items: int, statements: bool = False) -> dict:
    # statement_items=False: the same item design whatever the framework, only the level scheme differs
    bank = generate_synthetic_bank(
        fw, items_per_competence=items, languages=("en",), seed=seed, statement_items=statements
    )
    rep = simulate(bank, config, n_simulees=n, seed=seed + 1).area_report()
    return {
        "framework": fw.id + (" +statements" if statements else ""),
        "levels": fw.n_levels,
        **{
            k: float(np.mean([r[k] for r in rep.values()]))
            for k in ("level_accuracy", "level_within_one", "rmse", "mean_items")
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--simulees", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    own = read_framework_file(DATA_DIR / "examples" / "academy-transversal.json")
    rows = []
    cfg_own = CatConfig(max_items=18, min_items=9, se_target=0.3)
    for fw in (own, eight_level_twin(own)):
        rows.append({"comparison": "own 3 areas", **run(fw, cfg_own, args.simulees, args.seed, 20)})
    cfg_dc = CatConfig(max_items=30, min_items=10, se_target=0.35)
    for fid in ("digcomp-3.0", "digcomp-2.2"):
        rows.append(
            {"comparison": "DigComp 5 areas", **run(get_framework(fid), cfg_dc, args.simulees, args.seed, 16)}
        )
    # the demo bank as bootstrapped: 3.0's 362 statements as self-assessment items beside the knowledge items
    rows.append(
        {
            "comparison": "DigComp 3.0 demo",
            **run(get_framework("digcomp-3.0"), cfg_dc, args.simulees, args.seed, 16, statements=True),
        }
    )
    head = ("comparison", "framework", "levels", "exact", "within1", "rmse", "items")
    print("{:18} {:28} {:>6} {:>7} {:>8} {:>6} {:>6}".format(*head))
    for r in rows:
        print(
            f"{r['comparison']:18} {r['framework']:28} {r['levels']:>6} {r['level_accuracy']:7.3f} "
            f"{r['level_within_one']:8.3f} {r['rmse']:6.3f} {r['mean_items']:6.1f}"
        )
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "framework_levels.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

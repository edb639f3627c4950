"""Key-harvesting attack on the diagnostic API (issue 13), default settings vs practice mode.

N guessing sessions record whatever the replies show; M new sessions then answer with the harvested
"keys"; their mean final theta is compared with M guessing sessions. Statistic: d = mean(attack) -
mean(guess) of the per-session mean final theta over the tested areas, with its standard error over
sessions se = sqrt(s_attack^2/M + s_guess^2/M).

Two harvesters: ``replies`` (the issue's attack: a rise of any non-count number in the answered area's
progress means "right"; ``tests/api/test_integrity.py`` runs it) and ``results`` (a stronger one that
also uses each finished session's result: per item, the option chosen in the sessions with the highest
mean final theta of the item's area, when it beats the item's other options by ``margin``). The second
measures what the final result itself still tells across sessions.

``python -m experiments.integrity_attack [--harvest 30] [--attack 50] [--repeats 3]`` (in-process API on a
temporary SQLite database, synthetic bank as in the API tests).
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

AREAS = ["1", "2"]
# Per-area progress fields that count items: they move on every answer, right or wrong.
COUNTS = {"n_items", "n_operational"}


class Harvester:
    """The issue's attacker: after each single-choice answer it reads, in the reply's progress of the
    answered item's area, every number other than an item count and the SE (a running estimate, if
    shown) and takes a rise as "that answer was right", no rise as "wrong". Rating-scale items have no
    key. With ``use_results`` it also learns from finished sessions' results (see the module doc)."""

    def __init__(self, use_results: bool = False, margin: float = 0.3):
        self.keys: dict[str, int] = {}
        self.wrong: dict[str, set[int]] = {}
        self.signals = 0
        self.use_results = use_results
        self.margin = margin
        self._finals: dict[tuple[str, int], list[float]] = defaultdict(list)
        self._session: list[tuple[dict, int]] = []

    def observe(self, item: dict, answer: int, before: dict, after: dict) -> None:
        if item["response_type"] != "single-choice":
            return
        self._session.append((item, answer))
        old = before.get("areas", {}).get(item["area"], {})
        new = after.get("areas", {}).get(item["area"], {})
        moved = [
            new[k] - old[k]
            for k in new
            if k not in COUNTS
            and k != "se"
            and k in old
            and isinstance(new[k], float)
            and isinstance(old[k], float)
        ]
        if not moved:
            return  # the reply shows nothing but counts and bounds: nothing learnt
        self.signals += 1
        if any(d > 0 for d in moved):
            self.keys[item["id"]] = answer
        else:
            self.wrong.setdefault(item["id"], set()).add(answer)

    def finished(self, result: dict) -> None:
        for item, answer in self._session:
            theta = result["areas"].get(item["area"], {}).get("theta")
            if theta is not None:
                self._finals[(item["id"], answer)].append(float(theta))
        self._session = []

    def learn_from_results(self) -> None:
        if not self.use_results:
            return
        by_item: dict[str, dict[int, float]] = defaultdict(dict)
        for (item_id, answer), thetas in self._finals.items():
            by_item[item_id][answer] = float(np.mean(thetas))
        for item_id, means in by_item.items():
            if item_id in self.keys or len(means) < 2:
                continue
            best = max(means, key=means.get)
            rest = [m for a, m in means.items() if a != best]
            if means[best] - max(rest) > self.margin:
                self.keys[item_id] = best

    def answer(self, item: dict, rng: np.random.Generator) -> int:
        if item["id"] in self.keys:
            return self.keys[item["id"]]
        left = [o for o in range(len(item["options"])) if o not in self.wrong.get(item["id"], set())]
        return int(rng.choice(left or range(len(item["options"]))))


def run_session(
    client,
    headers,
    learner: str,
    choose,
    practice: bool,  # noqa: ANN001
    harvester=None,
    areas: list[str] | None = AREAS,
) -> float:  # noqa: ANN001
    """One diagnostic over ``areas`` (None: all) answered by ``choose(item)``; the mean final theta over
    its areas."""
    body = {
        "learner_id": learner,
        **({"areas": areas} if areas else {}),
        **({"practice": True} if practice else {}),
    }
    r = client.post("/v1/diagnostics", json=body, headers=headers)
    assert r.status_code == 201, r.text
    step = r.json()
    while step["status"] != "finished":
        item = step["item"]
        answer = choose(item)
        r = client.post(
            f"/v1/diagnostics/{step['session_id']}/responses",
            json={"item_id": item["id"], "answer": answer, "sequence": item["sequence"]},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        if harvester is not None:
            harvester.observe(item, answer, step["progress"], r.json()["progress"])
        step = r.json()
    if harvester is not None:
        harvester.finished(step["result"])
    return float(np.mean([a["theta"] for a in step["result"]["areas"].values()]))


def harvest_attack(
    client,
    headers,
    practice: bool,
    seed: int,
    n_harvest: int,
    m_attack: int,  # noqa: ANN001
    use_results: bool = False,
    tag: str = "",
    areas: list[str] | None = AREAS,
) -> dict:
    """The attack; returns d, se, both means, and how many keys were harvested from how many signals."""
    rng = np.random.default_rng(seed)

    def guess(item: dict) -> int:
        return int(rng.integers(len(item["options"])))

    harvester = Harvester(use_results=use_results)
    for k in range(n_harvest):
        run_session(client, headers, f"harvest-{tag}{practice}-{k}", guess, practice, harvester, areas)
    harvester.learn_from_results()
    # new learners each time: a learner's retest would avoid the items of their last diagnostic
    attack = [
        run_session(
            client,
            headers,
            f"attack-{tag}{practice}-{k}",
            lambda it: harvester.answer(it, rng),
            practice,
            areas=areas,
        )
        for k in range(m_attack)
    ]
    control = [
        run_session(client, headers, f"guess-{tag}{practice}-{k}", guess, practice, areas=areas)
        for k in range(m_attack)
    ]
    diff = float(np.mean(attack) - np.mean(control))
    se = math.sqrt(np.var(attack, ddof=1) / m_attack + np.var(control, ddof=1) / m_attack)
    return {
        "diff": diff,
        "se": se,
        "attack": float(np.mean(attack)),
        "guess": float(np.mean(control)),
        "keys": len(harvester.keys),
        "signals": harvester.signals,
    }


def main(
    n_harvest: int = 30, m_attack: int = 50, repeats: int = 3, service_defaults: bool = False
) -> list[dict]:
    from fastapi.testclient import TestClient

    from adaptive.synthetic import generate_synthetic_bank
    from api.app import create_app
    from api.auth import create_key
    from api.providers import StaticModelProvider
    from api.settings import Settings

    if service_defaults:  # the demo bank's size (models.bootstrap), the service's CAT, all five areas
        bank = generate_synthetic_bank(
            items_per_competence=16, languages=("en",), n_pilot_per_competence=1, seed=11, name="bank v1"
        )
        cat, areas = {}, None
    else:  # the API tests' bank and CAT settings (tests/api/conftest.py), areas 1 and 2
        bank = generate_synthetic_bank(
            items_per_competence=6, languages=("en", "lt"), n_pilot_per_competence=1, seed=11, name="bank v1"
        )
        cat = {
            "max_items": 12,
            "min_items": 4,
            "se_target": 0.5,
            "min_items_per_area": 1,
            "max_items_per_area": 6,
        }
        areas = AREAS
    rows = []
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home), database_url=f"sqlite:///{home}/attack.db", cat_seed=2026, key_cache_seconds=60
        )
        app = create_app(settings, StaticModelProvider({"1": bank}, champion="1"), cat_overrides=cat)
        with TestClient(app) as client:
            with app.state.services.sessionmaker() as db:
                headers = {"Authorization": f"Bearer {create_key(db, 'attacker', ['admin'])}"}
            for practice in (False, True):
                if practice:
                    client.patch("/v1/organisation/settings", json={"practice_mode": True}, headers=headers)
                for use_results in (False, True):
                    for rep in range(repeats):
                        out = harvest_attack(
                            client,
                            headers,
                            practice,
                            seed=rep,
                            n_harvest=n_harvest,
                            m_attack=m_attack,
                            use_results=use_results,
                            tag=f"{int(use_results)}-{rep}-",
                            areas=areas,
                        )
                        out.update(
                            mode="practice" if practice else "default",
                            harvester="replies+results" if use_results else "replies",
                            repeat=rep,
                        )
                        rows.append(out)
                        print(
                            f"{out['mode']:8s} {out['harvester']:16s} rep {rep}: d = {out['diff']:+.3f} "
                            f"(se {out['se']:.3f}, z {out['diff'] / out['se']:+.2f}); attack "
                            f"{out['attack']:+.2f} vs guess {out['guess']:+.2f}; keys {out['keys']}",
                            flush=True,
                        )
        app.state.services.engine.dispose()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harvest", type=int, default=30)
    parser.add_argument("--attack", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--service-defaults",
        action="store_true",
        help="16 items per competence, the service's CAT settings, all areas",
    )
    a = parser.parse_args()
    main(a.harvest, a.attack, a.repeats, a.service_defaults)

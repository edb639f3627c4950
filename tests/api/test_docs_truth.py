"""The documentation tells the truth (issue 16): the README names every endpoint and every scope,
``keys create --help`` lists every scope, and the OpenAPI examples use ids the bootstrapped demo has, so
Swagger's "Try it out" works against ``make serve``.

The demo's ids come from the generators the bootstrap calls, with the bootstrap's own defaults (its
seed, sizes and framework), so they are the ones ``make serve`` registers.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.auth import SCOPES
from api.providers import StaticModelProvider
from api.settings import Settings
from tests.api.conftest import make_api

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _normalised(path: str) -> str:
    return re.sub(r"\{[^}]*\}|<[^>]*>", "{}", path)


def _readme_paths_by_line() -> list[tuple[str, set[str]]]:
    """(line, the service paths written on it) for every README line naming one."""
    pattern = re.compile(r"/(?:v1|ims|xapi|healthz|readyz|metrics)[^\s`)\"'?,;|]*")
    return [(line, {_normalised(p).rstrip(".") for p in pattern.findall(line)})
            for line in README.splitlines()]


@pytest.fixture(scope="module")
def openapi(tmp_path_factory, bank_v1):
    from api.app import create_app

    home = tmp_path_factory.mktemp("docs-truth")
    app = create_app(Settings(home=home), StaticModelProvider({"1": bank_v1}, champion="1"))
    schema = app.openapi()
    app.state.services.engine.dispose()
    return schema


def test_readme_names_every_endpoint_with_its_method(openapi):
    lines = _readme_paths_by_line()
    missing = []
    for path, operations in openapi["paths"].items():
        for method in operations:
            method = method.upper()
            if method not in METHODS:
                continue
            named = (_normalised(path) in paths and re.search(rf"\b{method}\b", line)
                     for line, paths in lines)
            if not any(named):
                missing.append(f"{method} {path}")
    assert len(openapi["paths"]) > 40  # the walk saw the whole service
    assert missing == [], f"endpoints the README does not name: {missing}"


def test_readme_names_every_scope():
    assert [s for s in SCOPES if f"`{s}`" not in README] == []


def test_keys_create_help_lists_every_scope():
    from api.cli import app

    out = CliRunner().invoke(app, ["keys", "create", "--help"], env={"COLUMNS": "300"}, terminal_width=300)
    assert out.exit_code == 0, out.output
    assert [s for s in SCOPES if not re.search(rf"\b{s}\b", out.output)] == []


# --------------------------------------------------------------------------- OpenAPI examples vs the demo


@pytest.fixture(scope="module")
def demo():
    """The bootstrapped demo's generating bank and learning world (bootstrap's defaults)."""
    from adaptive.synthetic import generate_synthetic_bank
    from models.bootstrap import bootstrap, resolve_framework
    from recommender.synthetic import generate_world

    defaults = {k: p.default for k, p in inspect.signature(bootstrap).parameters.items()}
    framework, _ = resolve_framework(defaults["framework"])
    bank = generate_synthetic_bank(framework, items_per_competence=defaults["items_per_competence"],
                                   seed=defaults["seed"])
    world = generate_world(n_learners=defaults["n_learners"], n_content=defaults["n_content"],
                           seed=defaults["seed"])
    return bank, world, framework


def _examples(node, found: list) -> list:
    """Every example value in an OpenAPI document (``examples`` lists and ``example`` values)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "examples" and isinstance(value, list):
                found.extend(value)
            elif key == "examples" and isinstance(value, dict):  # parameter / media-type examples
                found.extend(v.get("value") for v in value.values() if isinstance(v, dict))
            elif key == "example":
                found.append(value)
            else:
                _examples(value, found)
    elif isinstance(node, list):
        for value in node:
            _examples(value, found)
    return found


def _ids(example, parent: str | None = None):
    """(kind, id) pairs an example names: roles, contents, items, learners, areas, competences, languages."""
    kinds = {"role": "role", "role_id": "role", "content_id": "content", "item_id": "item",
             "learner_id": "learner", "area": "area", "competence": "competence", "language": "language"}
    if isinstance(example, dict):
        for key, value in example.items():
            if key in kinds and isinstance(value, str):
                yield kinds[key], value
            elif key == "id" and parent == "item" and isinstance(value, str):
                yield "item", value
            elif key == "areas" and isinstance(value, list):
                yield from (("area", a) for a in value)
            elif key == "areas" and isinstance(value, dict):
                yield from (("area", a) for a in value)
            else:
                yield from _ids(value, key)
    elif isinstance(example, list):
        for value in example:
            yield from _ids(value, parent)


def test_openapi_examples_use_ids_of_the_demo(openapi, demo):
    bank, world, framework = demo
    known = {
        "role": set(world.roles.role_ids),
        "content": set(world.catalogue.ids),
        "item": {it.id for it in bank.items},
        "learner": set(world.learners.ids),
        "area": set(bank.area_ids),
        "competence": {c.id for c in framework.competences},
        "language": set(bank.languages),
    }
    named = [pair for example in _examples(openapi, []) for pair in _ids(example)]
    # the walk reached them all
    assert {kind for kind, _ in named} >= {"role", "content", "item", "learner", "area"}
    assert [(kind, value) for kind, value in named if value not in known[kind]] == []


def test_try_it_out_with_the_examples_against_the_demo(tmp_path, openapi, demo):
    """The request examples, sent as Swagger's "Try it out" sends them, to a service holding the demo's
    bank and a recommender trained on the demo world: every one succeeds."""
    from recommender.training import train_bundle

    bank, world, _ = demo
    bundle, _ = train_bundle(world.catalogue, world.roles, world.events, world.learners, tune=False,
                             baselines=False, progress=False)
    api = make_api(Settings(home=tmp_path, key_cache_seconds=0.0),
                   StaticModelProvider({"1": bank}, champion="1", recommender=bundle), cat={})
    try:
        schemas = openapi["components"]["schemas"]
        start = schemas["DiagnosticCreate"]["examples"][0]
        reply = api.client.post("/v1/diagnostics", json=start, headers=api.a)
        assert reply.status_code == 201, reply.text
        events = api.client.post("/v1/learning-events", json=schemas["LearningEventBatch"]["examples"][0],
                                 headers=api.a)
        assert events.status_code in (200, 201, 202), events.text
        learner, role = start["learner_id"], start["role"]
        for url in (f"/v1/roles/{role}/recommendations", f"/v1/learners/{learner}/pathway?role={role}",
                    f"/v1/learners/{learner}/recommendations"):
            got = api.client.get(url, headers=api.a)
            assert got.status_code == 200, (url, got.text)
        assert api.client.get(f"/v1/learners/{learner}/recommendations", headers=api.a).json()["strategy"] \
            == "personal"  # a learner the demo's recommender knows
    finally:
        api.client.close()
        api.app.state.services.engine.dispose()

"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis): no 500s, and every
response matches the documented schema. Bounded examples per operation keep it around a minute."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.providers import StaticModelProvider
from api.settings import Settings
from tests.api.conftest import make_api


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory, bank_v1, bundle, sqlite_template):
    import shutil

    home = tmp_path_factory.mktemp("fuzz")
    shutil.copy(sqlite_template, home / "digipath.db")
    api = make_api(
        Settings(home=home, key_cache_seconds=60.0),
        StaticModelProvider({"1": bank_v1}, "1", recommender=bundle),
    )
    # one real session so that some generated requests can hit existing state
    api.client.post("/v1/diagnostics", json={"learner_id": "fuzz-learner"}, headers=api.a)
    yield api
    api.app.state.services.engine.dispose()


def test_api_conforms_to_its_schema(fuzz_api):
    # schemathesis.pytest.from_fixture does not work with pytest 9, so drive hypothesis directly:
    # one bounded property test per operation, all failures collected.
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_api.app)
    failures = []
    n_operations = 0
    statuses: dict[int, int] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        n_operations += 1

        @given(
            case=st.one_of(
                operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
            )
        )
        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            response = case.call_and_validate(
                headers=fuzz_api.a, checks=[not_a_server_error, response_schema_conformance]
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert n_operations >= 15
    # the fuzzing really exercised the API: both accepted and rejected requests
    assert sum(statuses.values()) >= 10 * n_operations, statuses
    assert statuses.get(200, 0) > 0 and statuses.get(422, 0) > 0, statuses
    print(
        f"schemathesis: {sum(statuses.values())} requests over {n_operations} operations, statuses {statuses}"
    )
    assert not failures, "\n\n".join(failures)

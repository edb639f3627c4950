"""Browser tests: a real headless Chromium (Debian's ``chromium``, driven by Playwright for Python; no
``playwright install``) against a real uvicorn server on loopback serving an app on SQLite.

Without Chromium or Playwright these tests are skipped, unless ``DIGIPATH_REQUIRE_BROWSER=1`` (set by
``.ci/run``), when the run refuses to start (``tests/conftest.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from adaptive.framework import packaged_frameworks
from adaptive.synthetic import generate_synthetic_bank
from api.app import create_app
from api.auth import create_key, get_or_create_org
from api.persistence.roles import seed_profiles
from api.providers import StaticModelProvider
from api.settings import Settings
from tests.api.e2e_models import small_bundle
from tests.ui.browser import CHROMIUM_ARGS, browser_missing, chromium_path
from tests.ui.live import serving
from tests.ui.sample_org import Group, populate, take_diagnostic

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
CAT = {"max_items": 10, "min_items": 5, "se_target": 0.5, "min_items_per_area": 1, "max_items_per_area": 4}
GROUPS = [Group("clerk", "finance", 5, -0.8), Group("clerk", "social", 5, -0.2),
          Group("it-specialist", "finance", 5, 0.4), Group("it-specialist", "social", 5, -0.4)]


@dataclass
class Site:
    url: str
    bank: object
    learner_key: str  # diagnostics + recommendations: what a learning platform holds
    hr_key: str  # insights: an HR manager's key
    small_org_key: str  # insights of an organisation with too few diagnosed people to show
    learners: list[str]


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Site:
    framework = packaged_frameworks()["digcomp-3.0"]  # its own level names (Basic ... Highly advanced)
    bank = generate_synthetic_bank(framework, items_per_competence=4, languages=("en", "lt"), seed=5,
                                   name="browser test bank")
    home = tmp_path_factory.mktemp("ui-home")
    provider = StaticModelProvider({"1": bank}, champion="1", recommender=small_bundle())
    app = create_app(Settings(home=home, key_cache_seconds=30.0), provider, cat_overrides=CAT)
    with app.state.services.sessionmaker() as db:
        platform = create_key(db, "org-a", ["diagnostics", "recommendations", "events"])
        keys = (create_key(db, "org-a", ["diagnostics", "recommendations"]),
                create_key(db, "org-a", ["insights"]), create_key(db, "org-b", ["insights"]))
        small_platform = create_key(db, "org-b", ["diagnostics"])
        for slug in ("org-a", "org-b"):  # role profiles: organisation data, seeded as serve does
            seed_profiles(db, get_or_create_org(db, slug).id, provider.recommender()[0].roles, "test:seed")
        db.commit()
    with serving(app) as url:
        with httpx.Client(base_url=url, headers=_bearer(platform), timeout=60) as client:
            learners = populate(client, bank, GROUPS, seed=1)
        with httpx.Client(base_url=url, headers=_bearer(small_platform), timeout=60) as c:
            for i in range(3):  # three people: under the minimum group size of 5
                take_diagnostic(c, bank, f"b-{i}", 0.0, role="clerk", unit="finance", seed=i)
        yield Site(url, bank, *keys, learners)
    app.state.services.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Page:
    """A browser page and every URL it requested. A request for another host that reaches the network is
    refused and listed in ``offsite``; one the page's Content-Security-Policy stopped in the browser is
    listed in ``blocked`` until the test acknowledges it."""

    page: object
    requested: list[str]
    offsite: list[str]
    blocked: list[str]
    acknowledged: list[str]

    def acknowledge_blocked(self, url: str) -> None:
        """The test expected the page to try ``url`` and the policy to stop it: it did, and nothing else."""
        assert self.blocked and set(self.blocked) == {url}, self.blocked
        self.acknowledged += self.blocked
        self.blocked.clear()


@pytest.fixture
def page(browser, site) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site.url)
    context.set_default_timeout(20_000)
    record = Page(context.new_page(), [], [], [], [])
    record.page.on("request", lambda request: record.requested.append(request.url))
    record.page.on("requestfailed", lambda request: record.blocked.append(request.url)
                   if request.failure == "csp" else None)

    def only_this_server(route) -> None:  # noqa: ANN001
        if route.request.url.startswith(site.url + "/"):
            route.continue_()
        else:
            record.offsite.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    yield record
    context.close()
    # no page of the service may reach another host (an offline or locked-down network has none) ...
    assert record.offsite == []
    # ... nor try to, unless the test expected it and the page's policy stopped it in the browser
    assert record.blocked == []
    local = (site.url + "/", "blob:" + site.url + "/", "data:")
    assert [u for u in record.requested if not u.startswith(local) and u not in record.acknowledged] == []


def axe_violations(page) -> list[dict]:  # noqa: ANN001
    """axe-core's WCAG 2.0/2.1 A and AA rules on the page as it stands: the violations (empty = pass)."""
    # evaluated through the browser's debugging protocol, which the page's Content-Security-Policy (no
    # script but the server's own files) does not govern, unlike a <script> tag
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag",
                                                     values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
    }""")
    return result

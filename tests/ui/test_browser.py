"""The landing page, the offline documentation and the reference learner and HR interface in a real
headless Chromium (see conftest.py): a whole diagnostic taken with the keyboard ends on the rendered
profile and pathway; the HR view renders within the privacy rules; axe-core finds no WCAG 2.1 A/AA
violation; no request leaves the server (the ``page`` fixture checks every test)."""

from __future__ import annotations

import re
import time

import httpx
import numpy as np

from tests.ui.conftest import axe_violations

LEVELS = ["Basic", "Intermediate", "Advanced", "Highly advanced"]  # DigComp 3.0's four-level scheme


def _focused_id(page) -> str:  # noqa: ANN001
    return page.evaluate("document.activeElement && document.activeElement.id")


def _wait_until(page, expression: str, arg=None, timeout: float = 20.0):  # noqa: ANN001
    """Poll a JavaScript expression until it is truthy. (Playwright's ``wait_for_function`` compiles its
    predicate in the page, which the pages' Content-Security-Policy forbids; ``evaluate`` is not governed
    by it.)"""
    deadline = time.monotonic() + timeout
    while not (value := page.evaluate(expression, arg)):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)
    return value


def test_landing_page_links_everything_and_the_docs_work_offline(page, site):
    p = page.page
    p.goto("/")
    assert p.title().startswith("digipath")
    hrefs = set(p.eval_on_selector_all("main a", "links => links.map(a => a.getAttribute('href'))"))
    assert {"/docs", "/redoc", "/openapi.json", "/ui/learner", "/ui/hr", "/healthz", "/metrics"} <= hrefs
    for href in hrefs:
        assert httpx.get(site.url + href, timeout=30).status_code == 200, href
    assert axe_violations(p) == []

    p.goto("/docs")  # Swagger UI from the service's own files renders the schema
    p.wait_for_selector(".swagger-ui .info .title")
    assert "digipath" in p.inner_text(".swagger-ui .info .title")
    assert p.locator(".opblock-summary-path", has_text="/v1/diagnostics/{session_id}/responses").count() == 1
    p.goto("/redoc")  # ReDoc too
    p.wait_for_selector("h1", state="attached")
    _wait_until(p, "document.querySelector('.api-content h1') !== null")
    assert "digipath" in p.inner_text(".api-content h1")
    assert any(u.endswith("/static/vendor/redoc/redoc.standalone.js") for u in page.requested)
    assert any(u.endswith("/static/vendor/swagger-ui/swagger-ui-bundle.js") for u in page.requested)
    # ReDoc's one attempt at another host, its side menu's logo, was stopped by the page's policy
    page.acknowledge_blocked("https://cdn.redoc.ly/redoc/logo-mini.svg")


def test_a_wrong_key_is_refused_and_said_so(page):
    p = page.page
    p.goto("/ui/learner")
    p.fill("#api-key", "not-a-key")
    p.press("#api-key", "Enter")
    p.wait_for_selector("#alert p")
    assert "Could not load the roles" in p.inner_text("#alert")
    p.click("#forget-key")
    assert "No key set" in p.inner_text("#key-state")
    assert p.evaluate("sessionStorage.length") == 0


def test_a_whole_diagnostic_with_the_keyboard_ends_on_the_profile_and_pathway(page, site):
    p = page.page
    kb = p.keyboard
    p.goto("/ui/learner")
    assert axe_violations(p) == []
    # focus order from the top: the skip link, the site's links, then the first field of the page
    kb.press("Tab")
    assert p.evaluate("document.activeElement.textContent") == "Skip to content"
    stops = [p.evaluate("document.activeElement.getAttribute('href')")]
    while _focused_id(p) != "api-key":
        kb.press("Tab")
        stops.append(p.evaluate("document.activeElement.getAttribute('href')"))
        assert len(stops) < 20, stops
    assert stops == ["#main", "/", "/", "/ui/learner", "/ui/hr", "/docs", "/redoc", None]
    kb.type(site.learner_key)
    kb.press("Enter")
    p.wait_for_selector("#start-section:not([hidden])")
    p.wait_for_selector("#role option[value='it-specialist']", state="attached")
    # focus order: key field -> its buttons -> learner id -> role -> language -> start
    kb.press("Tab")
    kb.press("Tab")
    kb.press("Tab")
    assert _focused_id(p) == "learner-id"
    kb.type("kb-learner")
    kb.press("Tab")
    assert _focused_id(p) == "role"
    while p.eval_on_selector("#role", "s => s.value") != "it-specialist":
        kb.press("ArrowDown")
    kb.press("Tab")
    assert _focused_id(p) == "language"
    kb.press("ArrowDown")  # the language switch: the item content in Lithuanian
    assert p.eval_on_selector("#language", "s => s.value") == "lt"
    assert axe_violations(p) == []
    kb.press("Tab")
    kb.press("Enter")

    rng = np.random.default_rng(0)
    answered = 0
    while True:
        _wait_until(p, "n => !document.getElementById('profile-section').hidden || "
                       "(document.activeElement.id === 'item-heading' && "
                       " document.activeElement.textContent === `Question ${n}`)", answered + 1)
        if p.is_visible("#profile-section"):
            break
        assert p.get_attribute("#item-fieldset", "lang") == "lt"
        assert p.inner_text("#item-stem").startswith("[lt]")
        if answered == 0:
            assert axe_violations(p) == []
        kb.press("Tab")  # into the options: arrows choose
        assert p.evaluate("document.activeElement.name") == "answer"
        presses = int(rng.integers(0, p.locator("input[name=answer]").count()))
        for _ in range(presses):
            kb.press("ArrowDown")
        if presses == 0:
            kb.press("Space")
        kb.press("Tab")
        assert _focused_id(p) == "answer-button"
        kb.press("Enter")
        answered += 1
        assert answered <= 20, "the diagnostic did not end"

    assert _focused_id(p) == "profile-heading"
    p.wait_for_selector("#pathway-intro:not(:empty)")
    # the profile is the service's result for this learner, in the framework's own level names
    headers = {"Authorization": f"Bearer {site.learner_key}"}
    session = p.evaluate("performance.getEntriesByType('resource').map(e => e.name)"
                         ".find(u => u.endsWith('/result'))")
    result = httpx.get(session, headers=headers, timeout=30).json()
    assert sum(a["n_items"] or 0 for a in result["profile"]["areas"].values()) <= answered
    articles = p.locator("#profile-areas article")
    assert articles.count() == len(result["profile"]["areas"]) == 5
    for k, (area, scored) in enumerate(result["profile"]["areas"].items()):
        text = articles.nth(k).inner_text()
        explained = result["explanation"]["areas"][area]
        assert explained["name"] in text
        assert f"Level: {scored['level_code']}" in text and scored["level_code"] in LEVELS
        assert "90% certain:" in text and f"SE {scored['se']:.2f}" in text
        assert explained["level_meaning"]["description"] in text
        # every level's probability is written (not shown by bar height or colour alone)
        label = articles.nth(k).locator(".dist").get_attribute("aria-label")
        assert all(name in label for name in LEVELS) and "(most likely)" in label
    pathway = httpx.get(f"{site.url}/v1/learners/kb-learner/pathway", headers=headers, timeout=30,
                        params={"role": "it-specialist", "language": "lt"}).json()
    steps = p.locator("#pathway li")
    assert pathway["steps"] and steps.count() == len(pathway["steps"])
    for k, step in enumerate(pathway["steps"]):
        assert step["reason"] in steps.nth(k).inner_text()
    assert axe_violations(p) == []


def test_hr_view_shows_the_heatmap_and_progress_within_the_privacy_rules(page, site):
    p = page.page
    p.goto("/ui/hr")
    p.fill("#api-key", site.hr_key)
    p.press("#api-key", "Enter")
    p.wait_for_selector("#progress-section:not([hidden])")
    _wait_until(p, "document.getElementById('heatmap').naturalWidth > 100")
    assert p.get_attribute("#gaps-section", "aria-busy") == "false"
    assert "share below the required level per job role" in p.get_attribute("#heatmap", "alt")
    gap_rows = p.locator("#gaps-table tbody tr")
    assert gap_rows.count() > 0
    groups = {gap_rows.nth(k).locator("th").inner_text() for k in range(gap_rows.count())}
    assert groups <= {"clerk", "it-specialist"}
    rows = p.locator("#progress-table tbody tr")
    assert rows.count() > 0
    for k in range(rows.count()):
        cells = rows.nth(k).locator("td").all_inner_texts()
        assert cells[1] == "not shown" or int(cells[1]) >= 5, cells
    body = p.inner_text("body")
    assert not any(learner in body for learner in site.learners)  # aggregates only, never a person
    assert axe_violations(p) == []
    # by unit: the same page, another grouping
    p.select_option("#grouping", "unit")
    p.click("#gaps-form button[type=submit]")
    _wait_until(p, "document.getElementById('heatmap').alt.includes('per unit') && "
                   "document.getElementById('gaps-section').getAttribute('aria-busy') === 'false'")
    assert {p.locator("#gaps-table tbody th").nth(k).inner_text()
            for k in range(p.locator("#gaps-table tbody th").count())} <= {"finance", "social"}


def test_hr_view_of_an_organisation_too_small_to_show_shows_no_figures(page, site):
    p = page.page
    p.goto("/ui/hr")
    p.fill("#api-key", site.small_org_key)
    p.press("#api-key", "Enter")
    p.wait_for_selector("#gaps-empty:not([hidden])")
    assert re.search(r"No heatmap yet: no role group has 5 or more learners", p.inner_text("#gaps-empty"))
    assert p.is_hidden("#heatmap-figure")
    p.wait_for_selector("#progress-section:not([hidden])")
    for row in p.locator("#progress-table tbody tr").all():
        assert row.locator("td").nth(1).inner_text() == "not shown"
    assert axe_violations(p) == []

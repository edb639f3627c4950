"""Screenshots of the reference interface for the README, and the weight of each page.

    python -m experiments.screenshots [--out docs/screenshots] [--per-group 6]

Serves the app (real uvicorn on loopback, SQLite in a temporary home) with a synthetic DigComp 3.0 item
bank in English and Lithuanian and a small recommender; a platform key makes an organisation through the
public API (learners of 3 roles in 3 units take whole diagnostics and complete part of their pathways,
``tests.ui.sample_org``). Then headless Chromium (Debian's ``chromium``, as the browser tests) takes a
diagnostic through the learner page and photographs the question, the profile and the pathway, and the
HR view. Writes ``learner-question.png``, ``learner-profile.png`` and ``hr-view.png`` and prints the bytes
each page loads (HTML, CSS, scripts, images, the API calls a first visit makes; no compression).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from adaptive.framework import packaged_frameworks
from adaptive.synthetic import generate_synthetic_bank
from api.app import create_app
from api.auth import create_key
from api.providers import StaticModelProvider
from api.settings import Settings
from tests.api.e2e_models import small_bundle
from tests.ui.browser import CHROMIUM_ARGS, browser_missing, chromium_path
from tests.ui.live import serving
from tests.ui.sample_org import Group, populate

ROOT = Path(__file__).resolve().parents[1]
console = Console()
CAT = {"max_items": 20, "min_items": 10, "se_target": 0.45, "min_items_per_area": 2, "max_items_per_area": 6}
ROLES = {"clerk": -0.6, "caseworker": -0.1, "it-specialist": 0.5}
UNITS = {"finance": 0.0, "social-services": -0.3, "registry": 0.2}


def page_weight(context, url: str) -> int:  # noqa: ANN001
    """Bytes of every response a first visit of ``url`` receives (bodies, as sent: no compression)."""
    page = context.new_page()
    sizes: list[int] = []
    page.on("requestfinished", lambda request: sizes.append(len(request.response().body()))
            if request.response() is not None and not request.url.startswith("blob:") else None)
    page.goto(url, wait_until="networkidle")
    page.close()
    return sum(sizes)


def take_diagnostic(page, key: str, learner: str, role: str, out: Path, seed: int = 7) -> None:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    page.goto("/ui/learner")
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")
    page.wait_for_selector(f"#role option[value='{role}']", state="attached")
    page.fill("#learner-id", learner)
    page.select_option("#role", role)
    page.click("#start-form button[type=submit]")
    shot = False
    while True:
        page.wait_for_selector("#item-section:not([hidden]), #profile-section:not([hidden])")
        if page.is_visible("#profile-section"):
            break
        n = page.locator("input[name=answer]").count()
        # a learner below the middle: rating scales lean to disagreeing, choices are guesses
        choice = int(rng.integers(0, 3)) if n == 5 else int(rng.integers(0, n))
        page.locator("input[name=answer]").nth(choice).check()
        if not shot and page.inner_text("#item-heading") == "Question 3":
            page.locator("main").screenshot(path=out / "learner-question.png")
            shot = True
        heading = page.inner_text("#item-heading")
        page.click("#answer-button")
        _wait_changed(page, heading)
    page.wait_for_selector("#pathway-intro:not(:empty)")
    page.evaluate("document.activeElement.blur()")  # no focus ring in the picture
    # the profile and the first steps of the pathway (a long pathway would make a very tall picture)
    top = page.locator("#profile-section").bounding_box()
    steps = page.locator("#pathway li")
    last = steps.nth(min(steps.count(), 4) - 1) if steps.count() else page.locator("#pathway-intro")
    end = last.bounding_box()
    page.screenshot(path=out / "learner-profile.png", full_page=True,
                    clip={"x": top["x"], "y": top["y"], "width": top["width"],
                          "height": end["y"] + end["height"] + 12 - top["y"]})


def _wait_changed(page, heading: str) -> None:  # noqa: ANN001
    """Until the next question or the profile is shown (the pages' policy forbids wait_for_function)."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if page.evaluate("h => document.getElementById('item-heading').textContent !== h || "
                         "!document.getElementById('profile-section').hidden", heading):
            return
        time.sleep(0.05)
    raise SystemExit("the interface did not move on after an answer")


def shoot(bank, home: Path, out: Path, per_group: int) -> dict[str, int]:  # noqa: ANN001
    """Serve, populate, photograph; returns the page weights."""
    # a fixed CAT seed: the same answers give the same diagnostics, so the pictures are reproducible
    provider = StaticModelProvider({"1": bank}, "1", recommender=small_bundle())
    app = create_app(Settings(home=home, cat_seed=0), provider, cat_overrides=CAT)
    with app.state.services.sessionmaker() as db:
        platform = create_key(db, "academy", ["diagnostics", "recommendations", "events"])
        hr = create_key(db, "academy", ["insights"])
    groups = [Group(role, unit, per_group, mean + shift) for role, mean in ROLES.items()
              for unit, shift in UNITS.items()]
    from playwright.sync_api import sync_playwright

    with serving(app) as url:
        bearer = {"Authorization": f"Bearer {platform}"}
        with httpx.Client(base_url=url, headers=bearer, timeout=60) as http, Progress(console=console) as bar:
            task = bar.add_task("the organisation takes its diagnostics", total=len(groups))
            for k, group in enumerate(groups):
                populate(http, bank, [group], seed=k)
                bar.advance(task)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1200, "height": 900}, base_url=url,
                                          device_scale_factor=1)
            weights = {path: page_weight(context, url + path) for path in ("/", "/ui/learner", "/ui/hr",
                                                                           "/docs", "/redoc")}
            page = context.new_page()
            take_diagnostic(page, platform, "screenshot-learner", "it-specialist", out)
            page.close()
            page = context.new_page()  # a tab of its own: the platform key stays in the learner's tab
            page.goto("/ui/hr")
            page.fill("#api-key", hr)
            page.press("#api-key", "Enter")
            page.wait_for_selector("#progress-section:not([hidden])")
            page.wait_for_selector("#heatmap-figure:not([hidden])")
            page.evaluate("document.activeElement.blur()")
            page.locator("main").screenshot(path=out / "hr-view.png")
            browser.close()
    app.state.services.engine.dispose()
    return weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--per-group", type=int, default=6, help="learners per role and unit")
    args = ap.parse_args()
    if reason := browser_missing():
        raise SystemExit(reason)
    args.out.mkdir(parents=True, exist_ok=True)
    framework = packaged_frameworks()["digcomp-3.0"]
    bank = generate_synthetic_bank(framework, items_per_competence=8, languages=("en", "lt"), seed=2,
                                   name="screenshot bank")
    with tempfile.TemporaryDirectory(prefix="digipath-screenshots-") as home:
        weights = shoot(bank, Path(home), args.out, args.per_group)
    table = Table(title="page weight (bytes loaded by a first visit, uncompressed)")
    table.add_column("page")
    table.add_column("bytes", justify="right")
    for path, size in weights.items():
        table.add_row(path, f"{size:,}")
    console.print(table)
    console.print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()

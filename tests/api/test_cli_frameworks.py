"""``digipath frameworks``: validate and add an own framework; a bad file is one line and writes nothing."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from adaptive.framework import DATA_DIR
from api.cli import app

OWN = DATA_DIR / "examples" / "academy-transversal.json"


def _own(**changes) -> dict:
    data = json.loads(OWN.read_text(encoding="utf-8"))
    data.update(changes)
    return data


def test_validate_and_add_an_own_framework(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["frameworks", "validate", str(OWN)])
    assert r.exit_code == 0 and "academy-transversal-1.0" in r.output and "Aware, Novice" in r.output
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(_own(id="cli-academy")), encoding="utf-8")
    r = runner.invoke(app, ["frameworks", "add", str(path), "--home", str(tmp_path / "home")])
    assert r.exit_code == 0, r.output
    installed = tmp_path / "home" / "frameworks" / "cli-academy.json"
    assert json.loads(installed.read_text(encoding="utf-8"))["level_scheme"]["id"] == "five-level"
    r = runner.invoke(app, ["frameworks", "add", str(path), "--home", str(tmp_path / "home")])
    assert r.exit_code == 1 and "already installed" in r.output
    r = runner.invoke(app, ["frameworks", "list", "--home", str(tmp_path / "home")])
    assert r.exit_code == 0 and "cli-academy" in r.output and "digcomp-3.0" in r.output


def test_a_bad_file_is_one_line_and_changes_nothing(tmp_path):
    runner = CliRunner()
    home = tmp_path / "home"
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_own(id="kept")), encoding="utf-8")
    assert runner.invoke(app, ["frameworks", "add", str(good), "--home", str(home)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in (home / "frameworks").iterdir()}
    data = _own(id="kept")
    data["mappings"][0]["levels"]["Senior"] = ["Foundation"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    for command in (["validate", str(bad)], ["add", str(bad), "--home", str(home), "--replace"]):
        r = runner.invoke(app, ["frameworks", *command])
        assert r.exit_code == 1
        line = " ".join(r.output.split())
        assert (
            "error:" in line
            and "bad.json" in line
            and "mappings[0].levels.Senior" in line
            and "not monotone" in line
        )
    assert {p.name: p.read_bytes() for p in (home / "frameworks").iterdir()} == before
    clash = tmp_path / "clash.json"
    clash.write_text(json.dumps(_own(id="digcomp-3.0")), encoding="utf-8")
    r = runner.invoke(app, ["frameworks", "add", str(clash), "--home", str(home)])
    assert r.exit_code == 1 and "packaged framework" in r.output
    assert {p.name: p.read_bytes() for p in (home / "frameworks").iterdir()} == before

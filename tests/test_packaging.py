"""Installing digipath prints no packaging warnings (issue 16: setuptools warned three times that
``project.license`` as a TOML table is deprecated).

The metadata is built the way ``pip install`` builds it (setuptools' PEP 517 hook, from the dev
extra's setuptools), with every warning turned into an error, in a subprocess so the suite's warning
filters do not apply.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_metadata_builds_without_warnings(tmp_path):
    code = ("import sys; from setuptools import build_meta; "
            "print(build_meta.prepare_metadata_for_build_wheel(sys.argv[1]))")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "warning" not in (out.stdout + out.stderr).lower(), out.stderr[-3000:]
    metadata = (tmp_path / out.stdout.strip().splitlines()[-1] / "METADATA").read_text()
    assert "License-Expression: MIT" in metadata
    assert "License-File: LICENSE" in metadata


def test_license_is_an_spdx_expression_with_its_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str)  # the TOML-table form is the deprecated one
    for pattern in project["license-files"]:
        assert list(ROOT.glob(pattern)), f"license-files pattern {pattern!r} matches no file"
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]

"""A newcomer's first two minutes, measured: first `make serve` on a fresh clone, its bootstrap, a second
`make serve` with nothing changed, and how each one stops.

    python -m experiments.startup_timings [--repo PATH] [--keep DIR] [--no-pip-cache]
    python -m experiments.startup_timings --compare-bootstrap OTHER_CHECKOUT [--repeats 2]

Clones ``--repo`` (default: this checkout's committed HEAD) into a temporary directory and, as a
newcomer would, runs ``make serve`` there twice (own venv, own ``.digipath``, a free port through
DIGIPATH_PORT, an empty TMPDIR). For each start: seconds until ``/healthz`` answers, process CPU seconds
of the whole tree (make, pip, the server), and, after SIGTERM to make, its exit status, whether make
printed ``***`` and what was left in TMPDIR. The first start is split at the server's own lines:
installing (until make runs the server's recipe), bootstrapping (``bootstrapping demo
models`` to ``bootstrapped:``). Targets (issue 16): first start < 90 s, bootstrap <= 15 s, second start
<= 5 s. Writes ``experiments/out/startup_timings.json`` and a bar chart ``startup_timings.png``.

``--compare-bootstrap`` times only the default demo bootstrap (``models.bootstrap.bootstrap`` on an empty
home, in a fresh interpreter, as ``digipath serve`` runs it), alternately with this checkout's code and
another's (e.g. the main branch before issue 16), so both see the same machine; wall and CPU seconds
(both processes of a parallel bootstrap) per run, and the ratio of the medians.

On a shared machine the wall times include waiting for a core: the CPU seconds and the load average
printed with them say how much. (pip's own download cache is used unless --no-pip-cache.)
``--keep DIR`` clones into DIR and keeps it (DIR must not exist).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "out"
TARGETS = {"first start": 90.0, "bootstrap": 15.0, "second start": 5.0}
console = Console()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_serve(clone: Path, env: dict, port: int, timeout: float = 900.0) -> dict:
    """One ``make serve``: time to ``/healthz``, the server's line times, then SIGTERM to make."""
    lines: list[tuple[float, str]] = []
    cpu0 = _children_cpu()
    t0 = time.monotonic()
    proc = subprocess.Popen(["make", "--no-print-directory", "serve"], cwd=clone, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            start_new_session=True)

    def read() -> None:
        for line in proc.stdout:
            lines.append((time.monotonic() - t0, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    listening = None
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                listening = time.monotonic() - t0
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # as `kill <make>` or a service manager would stop it
    try:
        status = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        status = proc.wait()
    reader.join(timeout=5)
    text = [line for _, line in lines]

    def first(marker: str) -> float | None:
        return next((t for t, line in lines if marker in line), None)

    started, booted = first("bootstrapping demo models"), first("bootstrapped:")
    return {
        "listening_s": listening,
        "cpu_s": _children_cpu() - cpu0,
        "installing_s": first("exec "),  # make echoes the server's recipe line when the install is done
        "bootstrap_s": booted - started if started is not None and booted is not None else None,
        "make_status": status,
        "make_error_printed": [line for line in text if line.startswith("make: ***")],
        "stopped_line": next((line for line in text if "stopped (" in line), None),
        "output_tail": text[-15:],
    }


BOOTSTRAP = ("import sys, time; t = time.perf_counter(); from models.bootstrap import bootstrap; "
             "r = bootstrap(sys.argv[1], progress=False); "
             "print(time.perf_counter() - t, r.seconds, r.metrics['recommender.test_ndcg_at_10'], "
             "r.metrics['calibration.b_rmse'])")


def compare_bootstrap(other: Path, repeats: int) -> None:
    """Default demo bootstraps with this checkout's code and ``other``'s, alternately."""
    trees = {"this checkout": ROOT, f"{other}": other.resolve()}
    rows: dict[str, list[dict]] = {name: [] for name in trees}
    for r in range(repeats):
        for name, tree in trees.items():
            with tempfile.TemporaryDirectory(prefix="digipath-bootstrap-") as home, \
                    console.status(f"run {r + 1}/{repeats}: bootstrap with {name} ..."):
                env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DIGIPATH_", "MLFLOW_"))},
                       "PYTHONPATH": str(tree)}
                cpu0, load = _children_cpu(), os.getloadavg()[0]
                out = subprocess.run([sys.executable, "-c", BOOTSTRAP, home], cwd=tree, env=env,
                                     capture_output=True, text=True, check=True)
                total, seconds, ndcg, b_rmse = map(float, out.stdout.split()[-4:])
                rows[name].append({"process_s": total, "bootstrap_s": seconds, "load": load,
                                   "cpu_s": _children_cpu() - cpu0, "ndcg_at_10": ndcg, "b_rmse": b_rmse})
    table = Table(title=f"default demo bootstrap ({os.cpu_count()} CPUs), {repeats} runs each, alternating",
                  title_justify="left")
    for col in ("code", "bootstrap s (each run)", "median", "CPU s (median)", "load 1 min", "test NDCG@10",
                "b RMSE"):
        table.add_column(col)
    medians = {}
    for name, runs in rows.items():
        medians[name] = statistics.median(x["bootstrap_s"] for x in runs)
        table.add_row(name, ", ".join(f"{x['bootstrap_s']:.1f}" for x in runs), f"{medians[name]:.1f}",
                      f"{statistics.median(x['cpu_s'] for x in runs):.1f}",
                      ", ".join(f"{x['load']:.1f}" for x in runs), f"{runs[0]['ndcg_at_10']:.4f}",
                      f"{runs[0]['b_rmse']:.4f}")
    console.print(table)
    this, that = medians.values()
    console.print(f"median bootstrap: this checkout / {other} = {this / that:.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bootstrap_compare.json").write_text(json.dumps(rows, indent=2))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", default=str(ROOT), help="repository to clone (default: this checkout)")
    ap.add_argument("--keep", type=Path, default=None, help="clone into this directory and keep it")
    ap.add_argument("--no-pip-cache", action="store_true", help="PIP_NO_CACHE_DIR=1: download everything")
    ap.add_argument("--compare-bootstrap", type=Path, default=None, metavar="OTHER_CHECKOUT",
                    help="only time the demo bootstrap, against another checkout's code")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    if args.compare_bootstrap is not None:
        compare_bootstrap(args.compare_bootstrap, args.repeats)
        return

    work = Path(tempfile.mkdtemp(prefix="digipath-startup-"))
    clone = args.keep or work / "clone"
    try:
        subprocess.run(["git", "clone", "--quiet", args.repo, str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True,
                                text=True, check=True).stdout.strip()
        port = _free_port()
        tmpdir = work / "tmp"
        tmpdir.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DIGIPATH_", "MLFLOW_", "VIRTUAL_ENV", "PYTHONPATH"))}
        env.update({"DIGIPATH_PORT": str(port), "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1",
                    "COLUMNS": "200"})  # rich wraps at 80 columns on a pipe
        if args.no_pip_cache:
            env["PIP_NO_CACHE_DIR"] = "1"
        load = os.getloadavg()
        runs = {}
        for name in ("first start", "second start"):
            with console.status(f"{name}: make serve in {clone} ..."):
                runs[name] = make_serve(clone, env, port)
            runs[name]["left_in_tmpdir"] = sorted(p.name for p in tmpdir.iterdir())
        load_after = os.getloadavg()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    result = {"commit": commit, "cpus": os.cpu_count(), "loadavg_before": load, "loadavg_after": load_after,
              "runs": runs}
    measured = {"first start": runs["first start"]["listening_s"],
                "bootstrap": runs["first start"]["bootstrap_s"],
                "second start": runs["second start"]["listening_s"]}
    table = Table(title=f"make serve on a fresh clone of {commit} ({os.cpu_count()} CPUs, load "
                  f"{load[0]:.1f} -> {load_after[0]:.1f})", title_justify="left")
    for col in ("", "seconds", "target", "CPU s", "stop: make status / *** / left in TMPDIR"):
        table.add_column(col)
    for name, seconds in measured.items():
        run = runs["first start" if name == "bootstrap" else name]
        stop = (f"{run['make_status']} / {'yes' if run['make_error_printed'] else 'no'} / "
                f"{run['left_in_tmpdir'] or 'nothing'}") if name != "bootstrap" else ""
        table.add_row(name, "-" if seconds is None else f"{seconds:.1f}", f"<= {TARGETS[name]:.0f}",
                      f"{run['cpu_s']:.1f}" if name != "bootstrap" else "", stop)
    installing = runs["first start"]["installing_s"]
    console.print(table)
    if installing is not None:
        console.print(f"first start: {installing:.1f} s installing (venv + pip) before make ran the server")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "startup_timings.json").write_text(json.dumps(result, indent=2))
    _plot(measured, OUT / "startup_timings.png", commit)
    console.print(f"written: {OUT / 'startup_timings.json'}, {OUT / 'startup_timings.png'}")
    if any(v is None for v in measured.values()):
        sys.exit("a start did not complete; see the output tails in the JSON file")


def _plot(measured: dict, path: Path, commit: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(measured)
    fig, ax = plt.subplots(figsize=(6.5, 3))
    values = [measured[n] or 0.0 for n in names]
    ax.barh(names, values, color="#4a78a8", label="measured")
    ax.scatter([TARGETS[n] for n in names], names, marker="|", s=400, color="#c0392b", label="target")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.1f} s", va="center")
    ax.set_xlabel("seconds")
    ax.invert_yaxis()
    ax.set_title(f"make serve on a fresh clone ({commit})")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()

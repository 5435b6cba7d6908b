"""Shared benchmark helpers: child processes with wall time and peak RSS, machine description."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
RESULTS = HERE / "results"


def run_child(code: str, *, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run Python ``code`` in a child process: (seconds, peak RSS bytes of that child, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{err[-3000:]}")
    return seconds, usage.ru_maxrss * 1024, out  # ru_maxrss is in KiB on Linux


def timed(code: str, runs: int) -> dict:
    """Median of ``runs`` runs (one run when a run takes over a minute)."""
    times, rss = [], []
    for i in range(runs):
        s, r, _ = run_child(code)
        times.append(s)
        rss.append(r)
        if s > 60:
            break
    return {"seconds": statistics.median(times), "runs": len(times), "all_seconds": times,
            "peak_rss_mb": max(rss) / 2**20}


def machine() -> dict:
    mem = 0
    try:
        with open("/proc/meminfo") as fh:
            mem = int(fh.readline().split()[1]) * 1024
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import duckdb

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 2**30, 1), "python": platform.python_version(),
            "duckdb": duckdb.__version__, "platform": platform.platform(), "date": dt.date.today().isoformat()}


def synth_forum(posts: int, seed: int = 1) -> Path:
    """A cached synthetic forum (generated once with `forumscope synth`)."""
    out = CACHE / f"synth-{posts}-s{seed}"
    if not (out / "truth.json").exists():
        subprocess.run([sys.executable, "-m", "forumscope", "synth", "--out", str(out), "--posts", str(posts),
                        "--seed", str(seed)], check=True)
    return out


def write_results(name: str, payload: dict, markdown: str) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = payload["machine"]["date"]
    j = RESULTS / f"{name}-{stamp}.json"
    m = RESULTS / f"{name}-{stamp}.md"
    j.write_text(json.dumps(payload, indent=2))
    m.write_text(markdown)
    return j, m

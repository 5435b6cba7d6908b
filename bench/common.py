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


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _pss(pid: int) -> int:
    """Proportional set size of one process in bytes (shared pages divided among their users), 0 if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(argv: list[str], *, env: dict[str, str] | None = None, sample_every: float = 0.25,
                 cwd: str | None = None) -> dict:
    """Run a command in a child process and measure it: wall seconds, CPU seconds of the child and every
    descendant it waited for, the child's own peak RSS (``wait4``), the largest peak RSS of its waited-for
    descendants (worker processes), and the peak of the whole process tree's proportional set size (PSS,
    shared pages counted once across the tree; sampled every ``sample_every`` s, the tree looked up once a
    second). Raises RuntimeError
    with the end of stderr when the child fails."""
    import threading

    before = os.times()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            env={**os.environ, **(env or {})})
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        pids, scanned = [proc.pid], 0.0
        while not done.is_set():
            if time.perf_counter() - scanned > 1.0:  # finding the descendants scans /proc: once a second
                pids, scanned = _tree(proc.pid), time.perf_counter()
            peak[0] = max(peak[0], sum(_pss(p) for p in pids))
            done.wait(sample_every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True),
               threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    for r in readers:
        r.join()
    after = os.times()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = b"".join(out_chunks).decode(errors="replace")
    err = b"".join(err_chunks).decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}): {' '.join(argv)[:300]}\n{err[-3000:]}")
    cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": usage.ru_maxrss / 1024,
            "tree_pss_mb": peak[0] / 2**20, "stdout": out}


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

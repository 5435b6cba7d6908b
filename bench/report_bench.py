"""Report generation time and size on synthetic forums (issue: <= 15 s and report.html <= 5 MB at 1M posts).

    .venv/bin/python bench/report_bench.py                 # 100,000 posts
    .venv/bin/python bench/report_bench.py --posts 100000 1000000

Each case (bench/cache/report-case-N) is made once: `forumscope synth` (cached), `ingest`, `analyze` with every
step except discourse (pass --discourse to include it). Then `forumscope report` runs in a fresh process per
audience (imports, the Vega bundle and the charts included, as a person would run it), timed with its peak RSS.
`forumscope info` on the same case is the baseline measured in the same run (the machine is shared: compare ratios).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import CACHE, machine, run_measured, synth_forum, write_results

AUDIENCES = ("investigator", "researcher", "public")


def prepare(posts: int, discourse: bool) -> Path:
    case = CACHE / f"report-case-{posts}"
    done = case / ".analysed"
    if done.exists():
        return case
    forum = synth_forum(posts)
    if case.exists():
        shutil.rmtree(case)
    subprocess.run([sys.executable, "-m", "forumscope", "ingest", str(forum), "--case", str(case)], check=True,
                   stdout=subprocess.DEVNULL)
    from forumscope.pipeline.registry import all_steps

    steps = [s for s in all_steps() if discourse or s != "discourse"]
    subprocess.run([sys.executable, "-m", "forumscope", "analyze", "--case", str(case), "--steps", ",".join(steps)],
                   check=True, stdout=subprocess.DEVNULL)
    done.write_text(",".join(steps))
    return case


def cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "forumscope", *args]


def bench(posts: int, discourse: bool) -> dict:
    case = prepare(posts, discourse)
    out: dict = {"posts": posts, "steps": (case / ".analysed").read_text().split(","), "audiences": {}}
    base = run_measured(cli(["info", "--case", str(case), "--json"]))
    base_s = base["seconds"]
    out["baseline_info_seconds"] = base_s
    for audience in AUDIENCES:
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / audience
            m = run_measured(cli(["report", "--case", str(case), "--audience", audience, "--out", str(target)]))
            s, rss = m["seconds"], m["peak_rss_mb"] * 2**20
            html = (target / "report.html").stat().st_size
            data = json.loads((target / "report.json").read_text())
            charts = len(list((target / "charts").glob("*.svg")))
            out["audiences"][audience] = {
                "seconds": s, "cpu_seconds": m["cpu_seconds"], "peak_rss_mb": rss / 2**20, "html_mb": html / 2**20,
                "json_mb": (target / "report.json").stat().st_size / 2**20, "charts": charts,
                "sections_not_run": [x["id"] for x in data["sections"] if x["status"] == "not_run"],
                "ratio_to_info": s / base_s}
    return out


def markdown(results: list[dict], m: dict) -> str:
    lines = ["# Report generation", "", f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; "
             f"Python {m['python']}, DuckDB {m['duckdb']}; {m['date']}.", "",
             "`forumscope report` in a fresh process per audience (imports, Vega bundle, SVG and PNG charts "
             "included); baseline: `forumscope info` on the same case in the same run.", "",
             "| posts | audience | seconds | CPU seconds | x info | peak RSS MB | report.html MB | report.json MB "
             "| charts |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for a, v in r["audiences"].items():
            lines.append(f"| {r['posts']:,} | {a} | {v['seconds']:.1f} | {v['cpu_seconds']:.1f} | "
                         f"{v['ratio_to_info']:.1f} | "
                         f"{v['peak_rss_mb']:.0f} | {v['html_mb']:.2f} | {v['json_mb']:.2f} | {v['charts']} |")
    lines += ["", "Baseline `forumscope info`: " + ", ".join(f"{r['posts']:,} posts {r['baseline_info_seconds']:.1f}s"
                                                          for r in results),
              "", "Steps analysed: " + ", ".join(results[0]["steps"]) if results else ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, nargs="+", default=[100_000])
    ap.add_argument("--discourse", action="store_true", help="Also run the discourse step on the cases.")
    a = ap.parse_args()
    results = [bench(n, a.discourse) for n in a.posts]
    m = machine()
    md = markdown(results, m)
    paths = write_results("report", {"machine": m, "results": results}, md)
    print(md)
    print("wrote", *paths)


if __name__ == "__main__":
    main()

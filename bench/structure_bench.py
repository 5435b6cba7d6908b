"""Structure benchmark: every analysis step on synthetic forums, and the researcher's route without forumscope.

Run by hand (not part of the test suite):

    .venv/bin/python bench/structure_bench.py --sizes 100000,1000000 --runs 3

For each size: the cached synthetic forum (bench/cache/, made with `forumscope synth`) is ingested once
into a fresh case; then, each in a child process (wall time and peak RSS): every registered step that
imports (hierarchy, gating, commitment, roles, trajectories, network, key_actors, disruption, ...) in
registry order, and all of them in one process (what `forumscope analyze` does). Peak RSS is the
child's own peak; for steps that fork worker processes (the network null model, disruption runs) the
peak of the whole process tree (summed RSS, sampled every 50 ms, shared pages counted in every
process, so an over-estimate) is reported too.

In the same run, the same graph analysis the way a researcher would do it without forumscope
(pandas reads posts.ndjson, builds the reply graph from parent ids, networkx computes PageRank,
k-cores and Louvain communities), against forumscope's `network` step on the same reply graph
(kinds=reply, no null model; it also computes betweenness, clustering, Leiden and more), both as
"analysis only" (graph from the data already loaded / the case) and "end to end" (from the NDJSON
files: pandas reading vs forumscope ingest + step).

Prints a table and writes JSON and Markdown under bench/results/ with the machine description.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import CACHE, machine, run_child, synth_forum, write_results  # noqa: E402

TREE_SAMPLER = """
import threading, time, psutil, json
_peak = [0]
_stop = threading.Event()
def _sample():
    me = psutil.Process()
    while not _stop.is_set():
        try:
            total = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
        except psutil.Error:
            total = 0
        _peak[0] = max(_peak[0], total)
        time.sleep(0.05)
threading.Thread(target=_sample, daemon=True).start()
"""

INGEST = """
import shutil, forumscope
shutil.rmtree({case!r}, ignore_errors=True)
r = forumscope.ingest_sources([{forum!r}], {case!r}, fmt='canonical')
assert r.balanced and r.rejected == 0, r.reconciliation
"""

STEP = TREE_SAMPLER + """
import forumscope
from forumscope.pipeline.runner import run_steps
case = forumscope.open_case({case!r})
recs = run_steps(case, {names!r}, {params!r})
case.close()
_stop.set()
print(json.dumps({{"tree_peak": _peak[0], "rows": [r.rows for r in recs], "step_seconds": [r.seconds for r in recs]}}))
"""

RESEARCHER = """
import json, time
t0 = time.perf_counter()
import pandas as pd, networkx as nx
posts = pd.read_json({posts!r}, lines=True)
t1 = time.perf_counter()
p = posts[["id", "author_id", "parent_id"]].dropna(subset=["author_id"])
parents = p[["id", "author_id"]].rename(columns={{"id": "parent_id", "author_id": "parent_author"}})
r = p.dropna(subset=["parent_id"]).merge(parents, on="parent_id")
r = r[r["author_id"] != r["parent_author"]]
w = r.groupby(["author_id", "parent_author"]).size().reset_index(name="weight")
G = nx.DiGraph()
G.add_weighted_edges_from(w.itertuples(index=False, name=None))
t2 = time.perf_counter()
pr = nx.pagerank(G, weight="weight")
t3 = time.perf_counter()
U = G.to_undirected()
core = nx.core_number(U)
t4 = time.perf_counter()
comms = nx.community.louvain_communities(U, weight="weight", seed=1)
t5 = time.perf_counter()
print(json.dumps({{"read": t1 - t0, "build": t2 - t1, "pagerank": t3 - t2, "kcore": t4 - t3,
                   "louvain": t5 - t4, "analysis": t5 - t1, "total": t5 - t0,
                   "nodes": G.number_of_nodes(), "edges": G.number_of_edges(), "communities": len(comms),
                   "max_core": max(core.values())}}))
"""

COMPARABLE = {"network": {"kinds": ("reply",), "n_null": 0}}
# the same without the betweenness estimate (one source): the closest to what the researcher's route computes
COMPARABLE_NB = {"network": {"kinds": ("reply",), "n_null": 0, "betweenness_samples": 1}}
# the steps of issue 3 (structure); other registered steps are timed and listed apart
STRUCTURE = ("hierarchy", "gating", "commitment", "roles", "trajectories", "network", "key_actors", "disruption")


def timed_child(code: str, runs: int) -> dict:
    """Median of ``runs`` runs (one when a run takes over a minute), peak RSS, CPU seconds, the last
    run's output."""
    times, cpus, rss, out = [], [], [], ""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        s, r, out = run_child(code)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime))
        times.append(s)
        rss.append(r)
        if s > 60:
            break
    res = {"seconds": statistics.median(times), "runs": len(times), "all_seconds": times,
           "cpu_seconds": statistics.median(cpus), "all_cpu_seconds": cpus, "peak_rss_mb": max(rss) / 2**20}
    try:
        res["out"] = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except (json.JSONDecodeError, IndexError):
        res["out"] = {}
    return res


def importable_steps() -> tuple[list[str], dict[str, str]]:
    from forumscope.pipeline.registry import all_steps, get_step

    ok, missing = [], {}
    for name in all_steps():
        try:
            get_step(name)
            ok.append(name)
        except Exception as exc:  # noqa: BLE001 - a step not written yet
            missing[name] = f"{type(exc).__name__}: {exc}"[:200]
    return ok, missing


def bench_size(n: int, runs: int, steps: list[str]) -> dict:
    forum = synth_forum(n)
    case = CACHE / f"structure-case-{n}"
    ingest = timed_child(INGEST.format(forum=str(forum), case=str(case)), 1)
    rows: dict[str, dict] = {}
    for name in steps:
        try:
            rows[name] = timed_child(STEP.format(case=str(case), names=[name], params={}), runs)
        except RuntimeError as exc:
            rows[name] = {"failed": str(exc)[-500:]}
    structure = [s for s in steps if s in STRUCTURE]
    try:
        all_in_one = timed_child(STEP.format(case=str(case), names=structure, params={}), 1)
    except RuntimeError as exc:
        all_in_one = {"failed": str(exc)[-500:]}
    comparable = timed_child(STEP.format(case=str(case), names=["network"], params=COMPARABLE), runs)
    comparable_nb = timed_child(STEP.format(case=str(case), names=["network"], params=COMPARABLE_NB), runs)
    researcher = timed_child(RESEARCHER.format(posts=str(forum / "posts.ndjson")), runs)
    shutil.rmtree(case, ignore_errors=True)
    r = researcher["out"]
    fs_analysis = (comparable["out"].get("step_seconds") or [comparable["seconds"]])[0]
    fs_analysis_nb = (comparable_nb["out"].get("step_seconds") or [comparable_nb["seconds"]])[0]
    fs_total = ingest["seconds"] + comparable["seconds"]
    return {
        "posts": n, "ingest": ingest, "steps": rows, "all_steps_one_process": all_in_one,
        "structure_steps": structure,
        "structure_total_seconds": sum(v["seconds"] for k, v in rows.items() if "seconds" in v and k in structure),
        "structure_total_cpu_seconds": sum(v["cpu_seconds"] for k, v in rows.items()
                                           if "cpu_seconds" in v and k in structure),
        "structure_max_rss_mb": max((v["peak_rss_mb"] for k, v in rows.items() if "peak_rss_mb" in v
                                     and k in structure), default=0),
        "load_average": os.getloadavg(),
        "comparison": {
            "forumscope_network_reply": comparable, "forumscope_network_reply_no_betweenness": comparable_nb,
            "researcher": researcher,
            "analysis_ratio_time": r.get("analysis", float("nan")) / fs_analysis if fs_analysis else None,
            "analysis_ratio_time_no_betweenness": (r.get("analysis", float("nan")) / fs_analysis_nb
                                                   if fs_analysis_nb else None),
            "end_to_end_ratio_time": researcher["seconds"] / fs_total if fs_total else None,
            "ratio_rss": researcher["peak_rss_mb"] / max(comparable["peak_rss_mb"], ingest["peak_rss_mb"]),
        },
    }


def markdown(results: list[dict], missing: dict[str, str], m: dict) -> str:
    out = ["# Structure benchmark", "", f"Machine: {m}", ""]
    if missing:
        out += ["Steps not benchmarked (do not import yet): " + ", ".join(f"`{k}`" for k in missing), ""]
    for res in results:
        n = res["posts"]
        out += [f"## {n:,} posts", "",
                f"Ingest (once): {res['ingest']['seconds']:.1f} s, peak RSS {res['ingest']['peak_rss_mb']:.0f} MB", "",
                "| step | seconds (median) | CPU seconds (median) | runs | peak RSS MB | process tree peak MB |",
                "|---|---|---|---|---|---|"]
        for name, v in sorted(res["steps"].items(), key=lambda kv: kv[0] not in res["structure_steps"]):
            label = name if name in res["structure_steps"] else f"{name} (other issue)"
            if "failed" in v:
                out.append(f"| {label} | failed | | | | |")
                continue
            tree = v["out"].get("tree_peak", 0) / 2**20
            out.append(f"| {label} | {v['seconds']:.2f} | {v['cpu_seconds']:.2f} | {v['runs']} | "
                       f"{v['peak_rss_mb']:.0f} | {tree:.0f} |")
        a = res["all_steps_one_process"]
        if "seconds" in a:
            out.append(f"| **structure steps, one process** | **{a['seconds']:.2f}** | {a['cpu_seconds']:.2f} | 1 | "
                       f"{a['peak_rss_mb']:.0f} | {a['out'].get('tree_peak', 0) / 2**20:.0f} |")
        out.append(f"| sum of structure steps (each in its own process) | {res['structure_total_seconds']:.2f} | "
                   f"{res['structure_total_cpu_seconds']:.2f} | | max {res['structure_max_rss_mb']:.0f} | |")
        out.append("")
        out.append(f"Load average during the run (1, 5, 15 min): {tuple(round(x, 1) for x in res['load_average'])} "
                   f"on {os.cpu_count()} cores.")
        c = res["comparison"]
        fs, rr = c["forumscope_network_reply"], c["researcher"]
        nb = c["forumscope_network_reply_no_betweenness"]
        ro = rr["out"]
        out += ["", "Same graph analysis (reply graph: PageRank, k-core, communities):", "",
                "| route | seconds | CPU seconds | peak RSS MB | detail |", "|---|---|---|---|---|",
                f"| forumscope `network` (kinds=reply, n_null=0), step time in the case | "
                f"{(fs['out'].get('step_seconds') or [fs['seconds']])[0]:.2f} | {fs['cpu_seconds']:.2f} (process) | "
                f"{fs['peak_rss_mb']:.0f} | "
                f"also betweenness, clustering, Leiden, cores, components; child process {fs['seconds']:.2f} s |",
                f"| forumscope `network` as above without the betweenness estimate (betweenness_samples=1) | "
                f"{(nb['out'].get('step_seconds') or [nb['seconds']])[0]:.2f} | {nb['cpu_seconds']:.2f} (process) | "
                f"{nb['peak_rss_mb']:.0f} | "
                f"child process {nb['seconds']:.2f} s |",
                f"| forumscope ingest + the network step, from NDJSON | "
                f"{res['ingest']['seconds'] + fs['seconds']:.2f} | "
                f"{res['ingest']['cpu_seconds'] + fs['cpu_seconds']:.2f} | "
                f"{max(fs['peak_rss_mb'], res['ingest']['peak_rss_mb']):.0f} | |",
                f"| pandas + networkx, analysis only (after reading) | {ro.get('analysis', float('nan')):.2f} | | | "
                f"build {ro.get('build', 0):.1f} s, PageRank {ro.get('pagerank', 0):.1f} s, "
                f"k-core {ro.get('kcore', 0):.1f} s, Louvain {ro.get('louvain', 0):.1f} s |",
                f"| pandas + networkx, end to end | {rr['seconds']:.2f} | {rr['cpu_seconds']:.2f} | "
                f"{rr['peak_rss_mb']:.0f} | read "
                f"{ro.get('read', 0):.1f} s; {ro.get('nodes', 0):,} nodes, {ro.get('edges', 0):,} edges |",
                "",
                f"Ratios (alternative / forumscope): analysis time {c['analysis_ratio_time']:.1f}x "
                f"({c['analysis_ratio_time_no_betweenness']:.1f}x without the betweenness estimate), end-to-end time "
                f"{c['end_to_end_ratio_time']:.1f}x, peak RSS {c['ratio_rss']:.1f}x (forumscope's peak is that of "
                f"the larger of ingest and the step; the step alone: "
                f"{rr['peak_rss_mb'] / fs['peak_rss_mb']:.1f}x); end-to-end CPU seconds "
                f"{rr['cpu_seconds'] / (res['ingest']['cpu_seconds'] + fs['cpu_seconds']):.1f}x; whole child processes "
                f"(interpreter start and imports included), network step alone vs pandas + networkx: "
                f"{rr['seconds'] / fs['seconds']:.1f}x wall, {rr['cpu_seconds'] / fs['cpu_seconds']:.1f}x CPU.", ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", default="", help="comma-separated step names (default: every step that imports)")
    args = ap.parse_args()
    steps, missing = importable_steps()
    if args.steps:
        steps = [s for s in args.steps.split(",") if s]
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        results.append(bench_size(n, args.runs, steps))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "steps"}, default=str)[:2000], flush=True)
    m = machine()
    text = markdown(results, missing, m)
    print(text)
    j, mdp = write_results("structure", {"machine": m, "missing_steps": missing, "results": results}, text + "\n")
    print(f"wrote {j} and {mdp}")


if __name__ == "__main__":
    main()

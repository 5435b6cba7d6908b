"""The forumscope benchmark: every stage on synthetic forums, against the floor and the alternatives.

Run by hand (never part of the test suite; needs the bench extra: networkx and convokit):

    .venv/bin/python bench/forumscope_bench.py --sizes 100000,1000000 --runs 3
    .venv/bin/python bench/forumscope_bench.py --sizes 10000000 --runs 1        # about 30-40 minutes

For each size, on the synthetic forum made (once, cached in bench/cache/) with `forumscope synth`,
each stage runs in its own child process and is measured: wall seconds (median of ``--runs`` runs
where a run takes under a minute, else one run), CPU seconds, the largest single process's peak RSS,
and the peak proportional set size (PSS) of the whole process tree, sampled every 0.25 s (worker
processes share the parent's pages; PSS counts shared pages once).

Stages (the list is built at run time, so new steps and commands are picked up):

* floor: DuckDB's bare read of posts.ndjson (`count(*)`, and materialised into a table in memory), and
  every file of the forum read into the tables of a DuckDB database file (what ingest writes at least);
* forumscope: `ingest` of the whole forum; each registered analysis step (`forumscope analyze
  --steps NAME`, in registry order, on the ingested case); all steps in one process (what
  `forumscope analyze` does: the full run); `report` (when the command exists); `export --format convokit`;
* the researcher's route without forumscope: pandas reads posts.ndjson, builds the reply graph,
  networkx computes PageRank, k-cores and Louvain communities; against forumscope's `network` step on
  the reply graph (n_null=0);
* ConvoKit: loads the ConvoKit export of the same forum, counts utterances per speaker and builds
  the reply graph (pandas, from ConvoKit's utterance table); against forumscope ingesting that same
  export and doing the same from its case.

Prints a table with times, memory and the ratios forumscope / alternative, and writes JSON and Markdown
to bench/results/forumscope-bench-<date>.{json,md} with the machine description and the load average.
Extend it by adding to STAGES (a stage is a name, a group and a function giving the child's argv).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, machine, run_measured, synth_forum, write_results  # noqa: E402

PY = sys.executable
STEP_CHILD = """
import json, sys, forumscope
from forumscope.pipeline.runner import run_steps
names = json.loads(sys.argv[2])
params = {s: {k: tuple(v) if isinstance(v, list) else v for k, v in p.items()} for s, p in json.loads(sys.argv[3]).items()}
with forumscope.open_case(sys.argv[1]) as case:
    recs = run_steps(case, names, params)
print(json.dumps({"step_seconds": {r.step: r.seconds for r in recs}, "status": {r.step: r.status for r in recs}}))
"""
FLOOR_COUNT = """
import duckdb, sys
print(duckdb.connect().execute("SELECT count(*) FROM read_json_auto(?)", [sys.argv[1]]).fetchall()[0][0])
"""
FLOOR_TABLE = """
import duckdb, sys
duckdb.connect().execute("CREATE TABLE p AS SELECT * FROM read_json_auto(?)", [sys.argv[1]])
"""
# what ingest must at least do: every file of the forum into tables of a database file, on disk
FLOOR_FILE = """
import duckdb, os, pathlib, sys, tempfile
with tempfile.TemporaryDirectory(dir=sys.argv[2]) as d:
    con = duckdb.connect(os.path.join(d, "floor.duckdb"))
    for f in sorted(pathlib.Path(sys.argv[1]).glob("*.ndjson")):
        con.execute(f"CREATE TABLE {f.stem} AS SELECT * FROM read_json_auto(?)", [str(f)])
    con.execute("CHECKPOINT")
    con.close()
"""
INGEST = """
import json, shutil, sys, forumscope
shutil.rmtree(sys.argv[2], ignore_errors=True)
r = forumscope.ingest_sources([sys.argv[1]], sys.argv[2], fmt=sys.argv[3])
assert r.balanced and r.rejected == 0, r.reconciliation
"""
RESEARCHER = """
import json, sys, time
t0 = time.perf_counter()
import pandas as pd, networkx as nx
posts = pd.read_json(sys.argv[1], lines=True)
t1 = time.perf_counter()
p = posts[["id", "author_id", "parent_id"]].dropna(subset=["author_id"])
parents = p[["id", "author_id"]].rename(columns={"id": "parent_id", "author_id": "parent_author"})
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
print(json.dumps({"read": t1 - t0, "build": t2 - t1, "pagerank": t3 - t2, "kcore": t4 - t3, "louvain": t5 - t4,
                  "analysis": t5 - t1, "nodes": G.number_of_nodes(), "edges": G.number_of_edges(),
                  "communities": len(comms), "max_core": max(core.values())}))
"""
# the ConvoKit route: load the corpus, utterances per speaker, the reply graph (speaker -> replied-to speaker)
CONVOKIT = """
import json, sys, time
t0 = time.perf_counter()
from convokit import Corpus
corpus = Corpus(filename=sys.argv[1])
t1 = time.perf_counter()
df = corpus.get_utterances_dataframe()
counts = df.groupby("speaker").size()
parent = df[["speaker"]].rename(columns={"speaker": "parent_speaker"})
r = df[["speaker", "reply_to"]].dropna(subset=["reply_to"]).join(parent, on="reply_to", how="inner")
r = r[r["speaker"] != r["parent_speaker"]]
edges = r.groupby(["speaker", "parent_speaker"]).size()
t2 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "analysis": t2 - t1, "speakers": len(counts), "edges": len(edges)}))
"""
# the analyses the researcher route computes, with forumscope's libraries on its case, timed the same
# way (imports and reading apart): the reply graph from the case, PageRank, k-cores, Leiden communities
FS_GRAPH = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np, forumscope
from forumscope.analyze.graph import load_graphs, make_igraph, undirected_simple
from forumscope.analyze.network import communities
with forumscope.open_case(sys.argv[1], read_only=True) as case:
    t1 = time.perf_counter()
    g = load_graphs(case.con, kinds=("reply",), mode="combined")[0]
t2 = time.perf_counter()
gd = make_igraph(g.n_nodes, g.source, g.target, g.weight, directed=True)
pr = gd.pagerank(directed=True, weights="weight", implementation="prpack")
t3 = time.perf_counter()
ua, ub, uw = undirected_simple(g.source, g.target, g.n_nodes, g.weight)
u = make_igraph(g.n_nodes, ua, ub, directed=False)
core = u.coreness()
t4 = time.perf_counter()
u.es["weight"] = uw.tolist()
comms = communities(u, "weight", 1.0, 1, "igraph")
t5 = time.perf_counter()
print(json.dumps({"read": t2 - t0, "build": t2 - t1, "pagerank": t3 - t2, "kcore": t4 - t3, "louvain": t5 - t4,
                  "analysis": t5 - t1, "nodes": g.n_nodes, "edges": g.n_edges,
                  "communities": int(comms.max()) + 1, "max_core": max(core)}))
"""
# the same with forumscope on its case: posts per author and the reply graph
FS_COUNTS_GRAPH = """
import json, sys, time, forumscope
from forumscope.analyze.graph import load_graphs
t0 = time.perf_counter()
with forumscope.open_case(sys.argv[1]) as case:
    counts = case.con.execute("SELECT author_id, count(*) FROM posts WHERE author_id IS NOT NULL GROUP BY 1").fetchall()
    graphs = load_graphs(case.con, kinds=("reply",), mode="combined")
print(json.dumps({"analysis": time.perf_counter() - t0, "speakers": len(counts),
                  "edges": sum(g.n_edges for g in graphs)}))
"""


@dataclass
class Ctx:
    n: int
    forum: Path
    case: Path
    corpus: Path
    ck_case: Path
    report: Path


@dataclass
class Stage:
    name: str
    group: str  # floor | forumscope | compare-fs | researcher | convokit
    argv: Callable[[Ctx], list[str]]
    note: str = ""
    runs: int | None = None  # None: --runs


def step_stage(name: str) -> Stage:
    return Stage(f"step {name}", "forumscope", lambda c: [PY, "-c", STEP_CHILD, str(c.case), json.dumps([name]), "{}"],
                 f"forumscope analyze --steps {name}")


def stages(steps: list[str], full: bool, each: bool = True, alternatives: bool = True) -> list[Stage]:
    """Every stage, in the order they run (later ones use what earlier ones made)."""
    out = [
        Stage("DuckDB count(*) of posts.ndjson", "floor", lambda c: [PY, "-c", FLOOR_COUNT, str(c.forum / "posts.ndjson")]),
        Stage("DuckDB posts.ndjson into a table", "floor",
              lambda c: [PY, "-c", FLOOR_TABLE, str(c.forum / "posts.ndjson")]),
        Stage("DuckDB every file of the forum into a database file", "floor",
              lambda c: [PY, "-c", FLOOR_FILE, str(c.forum), str(c.case.parent)],
              "each *.ndjson into a table of a DuckDB file, checkpointed: the writing that ingest cannot avoid"),
        Stage("ingest", "forumscope", lambda c: [PY, "-c", INGEST, str(c.forum), str(c.case), "canonical"],
              "forumscope ingest (every table of the forum)"),
    ]
    if each:
        out += [step_stage(s) for s in steps]
    if full:
        out.append(Stage("analyze (all steps, one process)", "forumscope",
                         lambda c: [PY, "-c", STEP_CHILD, str(c.case), json.dumps(steps), "{}"],
                         "forumscope analyze: the full run", runs=1))
    if command_exists("report"):
        out.append(Stage("report", "forumscope", lambda c: [PY, "-m", "forumscope", "report", "--case", str(c.case),
                                                            "--audience", "public", "--out", str(c.report)],
                         "forumscope report --audience public"))
    if not alternatives:
        return out
    out += [
        Stage("network on the reply graph", "compare-fs",
              lambda c: [PY, "-c", STEP_CHILD, str(c.case), '["network"]',
                         json.dumps({"network": {"kinds": ["reply"], "n_null": 0}})],
              "PageRank, k-cores, Leiden (and betweenness, clustering, components) from the case"),
        Stage("network on the reply graph, no betweenness", "compare-fs",
              lambda c: [PY, "-c", STEP_CHILD, str(c.case), '["network"]',
                         json.dumps({"network": {"kinds": ["reply"], "n_null": 0, "betweenness_samples": 1}})],
              "as above with one betweenness source: closest to what networkx computes here"),
        Stage("reply graph, PageRank, k-cores, Leiden", "compare-fs",
              lambda c: [PY, "-c", FS_GRAPH, str(c.case)],
              "exactly the researcher route's analyses, with forumscope's graph code on the case"),
        Stage("pandas + networkx", "researcher", lambda c: [PY, "-c", RESEARCHER, str(c.forum / "posts.ndjson")],
              "read posts.ndjson, reply graph, PageRank, k-cores, Louvain"),
        Stage("export --format convokit", "forumscope",
              lambda c: [PY, "-m", "forumscope", "export", "--case", str(c.case), "--format", "convokit", "--out",
                         str(c.corpus)], "forumscope export --format convokit", runs=1),
    ]
    if module_exists("convokit"):
        out += [
            Stage("ConvoKit: load, per-speaker counts, reply graph", "convokit",
                  lambda c: [PY, "-c", CONVOKIT, str(c.corpus)], "Corpus(filename=...), utterance table"),
            Stage("ingest of the ConvoKit export", "compare-fs",
                  lambda c: [PY, "-c", INGEST, str(c.corpus), str(c.ck_case), "convokit"],
                  "forumscope ingest --format convokit"),
            Stage("per-speaker counts, reply graph", "compare-fs",
                  lambda c: [PY, "-c", FS_COUNTS_GRAPH, str(c.ck_case)], "from that case"),
        ]
    return out


def command_exists(name: str) -> bool:
    from forumscope.cli.main import app

    try:
        import typer.main

        return name in typer.main.get_command(app).commands  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a CLI that cannot be introspected: assume not there
        return False


def module_exists(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


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


def measure(stage: Stage, ctx: Ctx, runs: int) -> dict:
    """Median of ``runs`` runs (one when a run takes over a minute); the peaks are the largest seen."""
    res = []
    for _ in range(stage.runs or runs):
        try:
            r = run_measured(stage.argv(ctx))
        except RuntimeError as exc:
            return {"failed": str(exc)[-1500:]}
        res.append(r)
        if r["seconds"] > 60:
            break
    last = res[-1]["stdout"].strip().splitlines()
    try:
        out = json.loads(last[-1]) if last else {}
    except json.JSONDecodeError:
        out = {}
    if not isinstance(out, dict):
        out = {"printed": out}
    return {"seconds": statistics.median(r["seconds"] for r in res),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in res),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in res), "tree_pss_mb": max(r["tree_pss_mb"] for r in res),
            "runs": len(res), "all_seconds": [r["seconds"] for r in res], "out": out,
            "load_after": os.getloadavg()[0]}


def bench_size(n: int, runs: int, steps: list[str], full: bool, keep: bool, each: bool = True,
               alternatives: bool = True) -> dict:
    forum = synth_forum(n)
    work = CACHE / f"bench-{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ctx = Ctx(n, forum, work / "case", work / "convokit", work / "convokit-case", work / "report")
    rows: dict[str, dict] = {}
    for st in stages(steps, full, each, alternatives):
        print(f"[{n:,}] {st.name} ...", file=sys.stderr, flush=True)
        r = measure(st, ctx, runs)
        r.update(group=st.group, note=st.note)
        rows[st.name] = r
        if "seconds" in r:
            print(f"[{n:,}] {st.name}: {r['seconds']:.2f} s, tree PSS {r['tree_pss_mb']:.0f} MB (load "
                  f"{r['load_after']:.1f})", file=sys.stderr, flush=True)
        else:
            print(f"[{n:,}] {st.name}: FAILED {r['failed'][-300:]}", file=sys.stderr, flush=True)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    files_mb = sum(p.stat().st_size for p in forum.glob("*.ndjson")) / 2**20
    return {"posts": n, "forum_mb": files_mb, "posts_file_mb": (forum / "posts.ndjson").stat().st_size / 2**20,
            "stages": rows, "ratios": ratios(rows, steps, full)}


def _get(rows: dict, name: str, field: str = "seconds") -> float | None:
    r = rows.get(name) or {}
    return r.get(field)


def ratios(rows: dict, steps: list[str], full: bool) -> dict:
    """forumscope / alternative (below 1: forumscope is faster or leaner)."""
    def div(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    ing = _get(rows, "ingest")
    out: dict[str, float | None] = {
        "ingest / DuckDB count": div(ing, _get(rows, "DuckDB count(*) of posts.ndjson")),
        "ingest / DuckDB to table": div(ing, _get(rows, "DuckDB posts.ndjson into a table")),
        "ingest / DuckDB every file into a database file": div(
            ing, _get(rows, "DuckDB every file of the forum into a database file")),
    }
    fs_net = rows.get("network on the reply graph") or {}
    fs_nb = rows.get("network on the reply graph, no betweenness") or {}
    rr = rows.get("pandas + networkx") or {}
    if "seconds" in fs_net and "seconds" in rr:
        step_s = (fs_net["out"].get("step_seconds") or {}).get("network", fs_net["seconds"])
        out["graph analysis, time: forumscope network step / networkx analysis (after reading)"] = div(
            step_s, rr["out"].get("analysis"))
        if "seconds" in fs_nb:
            out["graph analysis, time: the same without betweenness / networkx analysis (after reading)"] = div(
                (fs_nb["out"].get("step_seconds") or {}).get("network", fs_nb["seconds"]), rr["out"].get("analysis"))
        out["graph analysis, time: forumscope ingest + network / pandas + networkx, end to end"] = div(
            (ing or 0) + fs_net["seconds"], rr["seconds"])
        out["graph analysis, memory: forumscope max(ingest, network) / pandas + networkx (tree PSS)"] = div(
            max(_get(rows, "ingest", "tree_pss_mb") or 0, fs_net["tree_pss_mb"]), rr["tree_pss_mb"])
    fs_g = rows.get("reply graph, PageRank, k-cores, Leiden") or {}
    if "seconds" in fs_g and "seconds" in rr:
        out["the same analyses, time: forumscope (graph from the case + analyses) / networkx (graph from the "
            "posts + analyses)"] = div(fs_g["out"].get("analysis"), rr["out"].get("analysis"))
        out["the same analyses, time: forumscope ingest + all of it / pandas + networkx, end to end"] = div(
            (ing or 0) + fs_g["seconds"], rr["seconds"])
        out["the same analyses, memory: forumscope max(ingest, analyses) / pandas + networkx (tree PSS)"] = div(
            max(_get(rows, "ingest", "tree_pss_mb") or 0, fs_g["tree_pss_mb"]), rr["tree_pss_mb"])
    ck = rows.get("ConvoKit: load, per-speaker counts, reply graph") or {}
    ck_ing = rows.get("ingest of the ConvoKit export") or {}
    ck_fs = rows.get("per-speaker counts, reply graph") or {}
    if "seconds" in ck and "seconds" in ck_ing and "seconds" in ck_fs:
        out["ConvoKit route, time: forumscope counts + graph / ConvoKit (after loading)"] = div(
            ck_fs["out"].get("analysis"), ck["out"].get("analysis"))
        out["ConvoKit route, time: forumscope ingest + counts + graph / ConvoKit load + same, end to end"] = div(
            ck_ing["seconds"] + ck_fs["seconds"], ck["seconds"])
        out["ConvoKit route, memory: forumscope max(ingest, counts + graph) / ConvoKit (tree PSS)"] = div(
            max(ck_ing["tree_pss_mb"], ck_fs["tree_pss_mb"]), ck["tree_pss_mb"])
    full_run = [ing] + [_get(rows, "analyze (all steps, one process)") if full else None,
                        _get(rows, "report")]
    if full and all(x is not None for x in full_run[:2]):
        out["full run seconds (ingest + analyze + report)"] = sum(x for x in full_run if x is not None)
        out["full run peak tree PSS MB"] = max(_get(rows, s, "tree_pss_mb") or 0
                                               for s in ("ingest", "analyze (all steps, one process)", "report"))
    out["structure steps, sum of step seconds (each in its own process)"] = sum(
        _get(rows, f"step {s}") or 0 for s in STRUCTURE if s in steps) or None
    inside = ((rows.get("analyze (all steps, one process)") or {}).get("out") or {}).get("step_seconds") or {}
    out["structure steps, sum of step seconds (inside the one-process run)"] = sum(
        v for k, v in inside.items() if k in STRUCTURE) or None
    return out


STRUCTURE = ("hierarchy", "gating", "commitment", "roles", "trajectories", "network", "key_actors", "disruption")


def markdown(results: list[dict], missing: dict[str, str], m: dict, loads: dict) -> str:
    out = ["# forumscope benchmark", "",
           f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}, DuckDB "
           f"{m['duckdb']}; {m['platform']}; {m['date']}.", "",
           f"Load average (1 min) before the run: {loads['before']:.1f}, after: {loads['after']:.1f} "
           f"(other jobs on the machine slow every number alike; compare ratios within one run).", ""]
    if missing:
        out += ["Steps not benchmarked (they do not import): " + ", ".join(f"`{k}`" for k in missing), ""]
    for res in results:
        out += [f"## {res['posts']:,} posts ({res['forum_mb']:.0f} MB of NDJSON, posts.ndjson "
                f"{res['posts_file_mb']:.0f} MB)", "",
                "| stage | group | seconds (median) | runs | CPU s | peak RSS MB (largest process) "
                "| peak PSS MB (process tree) | what |", "|---|---|---|---|---|---|---|---|"]
        for name, r in res["stages"].items():
            if "seconds" not in r:
                out.append(f"| {name} | {r['group']} | failed | | | | | {r['failed'][-120:].splitlines()[-1]} |")
                continue
            extra = r["note"]
            o = r.get("out") or {}
            if r["group"] == "researcher" or "louvain" in o:
                extra += (f"; read {o.get('read', 0):.1f} s, build {o.get('build', 0):.1f} s, PageRank "
                          f"{o.get('pagerank', 0):.1f} s, k-core {o.get('kcore', 0):.1f} s, Louvain "
                          f"{o.get('louvain', 0):.1f} s; {o.get('nodes', 0):,} nodes, {o.get('edges', 0):,} edges")
            elif r["group"] == "convokit":
                extra += (f"; load {o.get('load', 0):.1f} s, counts + graph {o.get('analysis', 0):.1f} s; "
                          f"{o.get('speakers', 0):,} speakers, {o.get('edges', 0):,} edges")
            elif "step_seconds" in o and len(o["step_seconds"]) > 1:
                extra += "; " + ", ".join(f"{k} {v:.1f}" for k, v in o["step_seconds"].items())
            elif "analysis" in o:
                extra += f"; counts + graph {o['analysis']:.2f} s; {o.get('speakers', 0):,} speakers, " \
                         f"{o.get('edges', 0):,} edges"
            out.append(f"| {name} | {r['group']} | {r['seconds']:.2f} | {r['runs']} | {r['cpu_seconds']:.1f} | "
                       f"{r['peak_rss_mb']:.0f} | {r['tree_pss_mb']:.0f} | {extra} |")
        out += ["", "| ratio | value |", "|---|---|"]
        for k, v in res["ratios"].items():
            out.append(f"| {k} | {'' if v is None else (f'{v:.2f}' if v < 100 else f'{v:,.0f}')} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="posts per synthetic forum, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="runs per stage (median; one when a run takes over 60 s)")
    ap.add_argument("--steps", default="", help="comma-separated steps (default: every registered step that imports)")
    ap.add_argument("--no-full", action="store_true", help="skip the all-steps-in-one-process stage")
    ap.add_argument("--keep", action="store_true", help="keep the cases and exports under bench/cache/bench-N")
    ap.add_argument("--no-each", action="store_true", help="skip the one-process-per-step stages (the full run "
                    "still reports each step's time)")
    ap.add_argument("--alternatives-max", type=int, default=2_000_000,
                    help="run the pandas + networkx and ConvoKit routes only up to this many posts (default "
                         "2,000,000: at 10M posts pandas alone needs more memory than the machine has)")
    ap.add_argument("--name", default="forumscope-bench", help="results file name prefix")
    ap.add_argument("--render", metavar="JSON", help="only rewrite the Markdown (and ratios) of a results file")
    args = ap.parse_args()
    if args.render:
        path = Path(args.render)
        payload = json.loads(path.read_text())
        for res in payload["results"]:
            res["ratios"] = ratios(res["stages"], payload["steps"], True)
        path.write_text(json.dumps(payload, indent=2))
        path.with_suffix(".md").write_text(markdown(payload["results"], payload["missing_steps"], payload["machine"],
                                                    payload["load_average"]) + "\n")
        print(f"rewrote {path} and {path.with_suffix('.md')}")
        return
    steps, missing = importable_steps()
    if args.steps:
        steps = [s for s in args.steps.split(",") if s]
    loads = {"before": os.getloadavg()[0]}
    started = time.time()
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        results.append(bench_size(n, args.runs, steps, not args.no_full, args.keep, not args.no_each,
                                  n <= args.alternatives_max))
    loads["after"] = os.getloadavg()[0]
    m = machine()
    text = markdown(results, missing, m, loads)
    print(text)
    payload = {"machine": m, "load_average": loads, "minutes": (time.time() - started) / 60, "steps": steps,
               "missing_steps": missing, "results": results}
    j, mdp = write_results(args.name, payload, text + "\n")
    print(f"wrote {j} and {mdp}")


if __name__ == "__main__":
    main()

"""Rhythm benchmark and validation: speed on 1M posts, recovery of planted zones, real-data checks.

Run by hand (not part of the test suite):

    .venv/bin/python bench/rhythm_bench.py timing --posts 1000000 --runs 3
    .venv/bin/python bench/rhythm_bench.py synthetic --posts 100000
    .venv/bin/python bench/rhythm_bench.py real            # needs ../shared/data (Stack Exchange dumps)
    .venv/bin/python bench/rhythm_bench.py reference       # rebuilds src/forumscope/data/rhythm/*.json

* timing: the rhythm step (defaults: n_boot 200, declared-zone calibration) on a cached synthetic forum,
  ingested once into bench/cache/case-rhythm-<posts>; each run in a child process on a copy of the case.
* synthetic: recovery of the planted zones (truth/member_truth.ndjson) with (a) the default (shipped Stack
  Exchange reference + calibration on members who declare a zone), (b) the Stack Exchange reference alone,
  (c) the generator's own curve as reference: circular, for comparison only. Member accuracy is measured on
  members who do not declare a zone.
* real: member offsets of located Stack Exchange users, leave-one-site-out (the reference refitted on the
  other sites each time), and the crowd of the held-out site se-cardano against its users' located zones.
Writes JSON and Markdown under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, machine, synth_forum, timed, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OFFSETS = np.arange(-12, 15)

RUN = """
import shutil, time, forumscope
from forumscope.pipeline.runner import run_steps
shutil.rmtree('{work}', ignore_errors=True)
shutil.copytree('{case}', '{work}')
case = forumscope.open_case('{work}')
t, c = time.perf_counter(), time.process_time()
(rec,) = run_steps(case, ['rhythm'])
print('STEP', time.perf_counter() - t, time.process_time() - c, rec.rows)
case.close()
"""


def cached_case(posts: int) -> Path:
    import forumscope

    case = CACHE / f"case-rhythm-{posts}"
    if not (case / "case.duckdb").exists():
        shutil.rmtree(case, ignore_errors=True)
        forumscope.ingest_sources([synth_forum(posts)], case, fmt="canonical")
    return case


def cmd_timing(args) -> dict:
    from common import run_child

    case = cached_case(args.posts)
    work = CACHE / f"case-rhythm-{args.posts}-work"
    code = RUN.format(case=case, work=work)
    res = timed(code, args.runs)
    _, _, out = run_child(code)
    step = [line.split()[1:3] for line in out.splitlines() if line.startswith("STEP")]
    shutil.rmtree(work, ignore_errors=True)
    res["step_wall_seconds_extra_run"] = float(step[0][0]) if step else None
    res["step_cpu_seconds_extra_run"] = float(step[0][1]) if step else None  # all threads
    res["load_average_after"] = os.getloadavg()
    return {"posts": args.posts, "note": "seconds: whole child process (copy of the case, imports, step)", **res}


# -- synthetic recovery -------------------------------------------------------------------------------


def _zone_offsets(zone: str, t0: int, t1: int) -> np.ndarray:
    tz = ZoneInfo(zone)
    return np.array([datetime.fromtimestamp(int(t), tz).utcoffset().total_seconds() / 3600
                     for t in np.arange(t0, t1, 86400)])


def _truth_dist(zones, offs) -> np.ndarray:
    d = np.zeros(len(OFFSETS))
    for z in zones:
        for o in offs[z]:
            lo = int(np.floor(o))
            d[lo + 12] += 1 - (o - lo)
            if o - lo:
                d[lo + 13] += o - lo
    return d / max(d.sum(), 1e-12)


def evaluate_run(case, run_id: str, truth: dict, offs: dict) -> dict:
    from forumscope.analyze.rhythm import CANDIDATE_ZONES

    con = case.con
    out: dict = {}
    regions = {"americas": range(-11, -2), "europe_africa": range(-1, 4), "asia_pacific": range(4, 15)}
    crowd = con.execute("SELECT unit, key, offset_hours, share, ci_low, ci_high FROM rhythm_crowd WHERE run_id = ? "
                        "ORDER BY unit, key, offset_hours", [run_id]).df()
    mem = con.execute("SELECT * FROM rhythm_members WHERE run_id = ?", [run_id]).df()
    mem["zone"] = mem["user_id"].map(lambda u: truth[u]["zone"])
    mem["community"] = mem["user_id"].map(lambda u: truth[u]["community"])
    for (unit, key), g in crowd.groupby(["unit", "key"]):
        sel = mem[mem["n_events"] >= 10]
        if unit == "language":
            sel = sel[sel["community"] == key]
        td, ed = _truth_dist(sel["zone"], offs), g["share"].to_numpy()
        sm = np.ones(3) / 3
        out[f"crowd {unit} {key}"] = {
            "members": int(len(sel)), "tvd": round(0.5 * float(np.abs(td - ed).sum()), 3),
            "tvd_pm1h": round(0.5 * float(np.abs(np.convolve(td, sm, "same") - np.convolve(ed, sm, "same")).sum()), 3),
            "region_error": {r: round(float(sum(ed[o + 12] - td[o + 12] for o in rng)), 3)
                             for r, rng in regions.items()},
            "truth_in_ci": round(float(np.mean((g["ci_low"].to_numpy() - 0.005 <= td)
                                               & (td <= g["ci_high"].to_numpy() + 0.005))), 3)
            if g["ci_low"].notna().all() else None}
    t0, t1 = con.execute("SELECT epoch(min(created_at))::BIGINT, epoch(max(created_at))::BIGINT FROM posts").fetchone()
    cand = {z: _zone_offsets(z, t0, t1) for z in CANDIDATE_ZONES}
    cls = {z: next((c for c, o in cand.items() if np.array_equal(o, offs[z])), None) for z in offs}
    e = mem[(mem["status"] == "estimated") & ~mem["used_for_calibration"]].copy()
    e["true"] = e["zone"].map(lambda z: offs[z].mean())
    e["ok"] = (e["offset_1"] - e["true"]).abs() <= 1.0
    e["cover"] = (e["cred90_low"] <= e["true"] + 0.5) & (e["cred90_high"] >= e["true"] - 0.5)
    e["cls"] = e["zone"].map(cls)
    e["z1"] = e["zone_1"] == e["cls"]
    e["z3"] = e["z1"] | (e["zone_2"] == e["cls"]) | (e["zone_3"] == e["cls"])
    north = {z for z in offs if len(set(offs[z])) > 1 and offs[z][len(offs[z]) // 2] > offs[z][0]}
    south = {z for z in offs if len(set(offs[z])) > 1 and z not in north}
    e["dst_true"] = e["zone"].map(lambda z: "northern" if z in north else "southern" if z in south else "none")
    by_events = {}
    for a, b in [(50, 100), (100, 200), (200, 500), (500, 10**9)]:
        sel = e[(e["n_events"] >= a) & (e["n_events"] < b)]
        if len(sel):
            by_events[f"{a}-{b if b < 10**9 else ''}"] = [int(len(sel)), round(float(sel["ok"].mean()), 3)]
    out["members"] = {
        "estimated": int(len(e)), "top_offset_within_1h": round(float(e["ok"].mean()), 3),
        "mean_error_h": round(float((e["offset_1"] - e["true"]).mean()), 2),
        "cred90_coverage": round(float(e["cover"].mean()), 3),
        "zone_class_top1": round(float(e["z1"].mean()), 3), "zone_class_top3": round(float(e["z3"].mean()), 3),
        "within_1h_by_events": by_events,
        "dst_pattern_by_truth": e.groupby("dst_true")["dst_pattern"].value_counts().unstack(fill_value=0)
                                 .to_dict(orient="index"),
    }
    return out


def cmd_synthetic(args) -> dict:
    import forumscope
    from forumscope.analyze import rhythm_reference as rr
    from forumscope.pipeline.runner import run_steps

    forum = synth_forum(args.posts)
    work = CACHE / f"case-rhythm-{args.posts}-eval"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(cached_case(args.posts), work)
    case = forumscope.open_case(work)
    truth = {}
    with open(forum / "truth" / "member_truth.ndjson") as fh:
        for line in fh:
            m = json.loads(line)
            truth[m["user_id"]] = m
    t0, t1 = case.con.execute(
        "SELECT epoch(min(created_at))::BIGINT, epoch(max(created_at))::BIGINT FROM posts").fetchone()
    offs = {z: _zone_offsets(z, t0, t1) for z in {m["zone"] for m in truth.values()}}
    tj = json.loads((forum / "truth.json").read_text())["rhythm"]
    gen_ref = work / "generator-curve.json"
    gen_ref.write_text(json.dumps(rr.reference_document(
        "synth-generator (circular)", rr.curve_from_daily(tj["weekday_curve"], tj["weekend_curve"]), 0.9)))
    configs = {"default (se-meta + declared calibration)": {},
               "se-meta reference only (independent)": {"calibration": "none"},
               "generator curve (circular, for comparison)": {"calibration": "none", "reference": str(gen_ref),
                                                          "chronotype_sd": 0.9}}
    out = {}
    for name, params in configs.items():
        (rec,) = run_steps(case, ["rhythm"], {"rhythm": params})
        out[name] = evaluate_run(case, rec.run_id, truth, offs)
    case.close()
    shutil.rmtree(work, ignore_errors=True)
    return {"posts": args.posts, "results": out}


# -- real data -------------------------------------------------------------------------------------------


def cmd_real(args) -> dict:
    import pandas as pd

    import forumscope
    from forumscope.analyze import rhythm as rh
    from forumscope.analyze import rhythm_reference as rr

    sites = list(rr.FIT_SITES) + list(rr.HELD_OUT_SITES)
    case_dir = CACHE / "case-se-rhythm"
    if not (case_dir / "case.duckdb").exists():
        for s in sites:
            forumscope.ingest_sources([SHARED / s], case_dir, fmt="stackexchange")
    case = forumscope.open_case(case_dir)
    ev = {}
    for s in sites:
        e = rr.located_events(case.con, (s,)).sort_values(["user_id", "hr"], kind="stable").reset_index(drop=True)
        e["how"] = rr.local_hour_of_week(e["hr"].to_numpy(), e["zone"].to_numpy())
        hr = pd.DatetimeIndex(e["hr"])
        e["utc_how"] = hr.dayofweek * 24 + hr.hour
        ts = hr.tz_localize("UTC")
        off = np.empty(len(e))
        for z in e["zone"].unique():
            m = (e["zone"] == z).to_numpy()
            off[m] = [x.utcoffset().total_seconds() / 3600 for x in ts[m].tz_convert(z)]
        e["off"] = off
        ev[s] = e

    def curve_for(frames):
        f = pd.concat(frames)
        codes = pd.factorize(f["forum_id"] + "\x1f" + f["user_id"])[0]
        c = rr.fit_curve(f["how"].to_numpy(), codes, cap=rr.BUILD_SETTINGS["cap"], smooth=rr.BUILD_SETTINGS["smooth"],
                         floor=rr.BUILD_SETTINGS["floor"], day_levels=rr.BUILD_SETTINGS["day_levels"],
                         clip_quantile=rr.BUILD_SETTINGS["clip_quantile"])
        sd, _ = rr.chronotype_sd(f["how"].to_numpy(), codes, c)
        return c, sd

    def members(e, curve, sd, min_hours):
        n = e.groupby("user_id").size()
        e = e[e["user_id"].isin(n[n >= min_hours].index)]
        if e.empty:
            return []
        codes, users = pd.factorize(e["user_id"])
        cnt = np.zeros((len(users), 168))
        np.add.at(cnt, (codes, e["utc_how"].to_numpy()), 1.0)
        lo = rh.marginal_offset_loglik(cnt @ rh.shifted_log_curves(curve), rh.chronotype_log_weights(sd))
        post = np.exp(lo - lo.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        true = e.groupby(codes)["off"].mean().to_numpy()
        lo90, hi90 = rh._credible_interval(post)
        return [(abs(rh.OFFSETS[np.argmax(post[i])] - true[i]) <= 1,
                 lo90[i] <= true[i] + 0.5 and hi90[i] >= true[i] - 0.5) for i in range(len(true))]

    out: dict = {"leave_one_site_out": {}}
    for min_hours in (20, 50):
        rows = []
        per_site = {}
        for s in sites:
            c, sd = curve_for([ev[t] for t in sites if t != s])
            r = members(ev[s], c, sd, min_hours)
            per_site[s] = [len(r), round(float(np.mean([x for x, _ in r])), 3) if r else None]
            rows += r
        out["leave_one_site_out"][f">= {min_hours} active hours"] = {
            "users": len(rows),
            "top_offset_within_1h": round(float(np.mean([x for x, _ in rows])), 3) if rows else None,
            "cred90_coverage": round(float(np.mean([y for _, y in rows])), 3) if rows else None, "per_site": per_site}
    # crowd of the held-out site, all located users with >= 5 active hours, against the shipped reference
    ref = rr.load_reference()
    e = ev["se-cardano"]
    n = e.groupby("user_id").size()
    e = e[e["user_id"].isin(n[n >= 5].index)]
    codes, users = pd.factorize(e["user_id"])
    cnt = np.zeros((len(users), 168))
    np.add.at(cnt, (codes, e["utc_how"].to_numpy()), 1.0)
    ll = cnt @ rh.shifted_log_curves(ref.curve)
    pi, _ = rh.fit_mixture(ll[:, rh._shift_index(rh.OFFSETS)])
    true = e.groupby(codes)["off"].mean().to_numpy()
    td = np.zeros(27)
    for t in true:
        lo = int(np.floor(t))
        td[lo + 12] += 1 - (t - lo)
        if t - lo:
            td[lo + 13] += t - lo
    td /= td.sum()
    sm = np.ones(3) / 3
    out["held_out_crowd_se_cardano"] = {
        "users": int(len(users)), "tvd": round(0.5 * float(np.abs(pi - td).sum()), 3),
        "tvd_pm1h": round(0.5 * float(np.abs(np.convolve(pi, sm, "same") - np.convolve(td, sm, "same")).sum()), 3),
        "truth": {int(o): round(float(v), 3) for o, v in zip(rh.OFFSETS, td) if v > 0.01},
        "estimate": {int(o): round(float(v), 3) for o, v in zip(rh.OFFSETS, pi) if v > 0.01}}
    case.close()
    return out


def cmd_reference(args) -> dict:
    import forumscope
    from forumscope.analyze import rhythm_reference as rr

    tmp = CACHE / "case-se-reference"
    shutil.rmtree(tmp, ignore_errors=True)
    for s in rr.FIT_SITES:
        forumscope.ingest_sources([SHARED / s], tmp, fmt="stackexchange")
    case = forumscope.open_case(tmp)
    doc = rr.build_reference(case.con)
    case.close()
    shutil.rmtree(tmp, ignore_errors=True)
    rr.reference_path().write_text(json.dumps(doc, indent=1) + "\n")
    return {"written": str(rr.reference_path()), "users": doc["users"], "actions": doc["actions"],
            "chronotype_sd_hours": doc["chronotype_sd_hours"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["timing", "synthetic", "real", "reference"])
    ap.add_argument("--posts", type=int, default=None)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.posts is None:
        args.posts = 1_000_000 if args.mode == "timing" else 100_000
    result = {"timing": cmd_timing, "synthetic": cmd_synthetic, "real": cmd_real, "reference": cmd_reference}[
        args.mode](args)
    m = machine()
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.mode != "reference":
        j, md = write_results(f"rhythm-{args.mode}", {"machine": m, "result": result},
                              f"# Rhythm benchmark: {args.mode}\n\nMachine: {m}\n\n```\n{text}\n```\n")
        print(f"wrote {j} and {md}")


if __name__ == "__main__":
    main()

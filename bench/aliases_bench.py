"""Alias linking: speed at ~100k accounts, the calibration fit, and the validation numbers.

Run by hand (not part of the test suite):

    .venv/bin/python bench/aliases_bench.py speed [--posts 4000000] [--thresholds 1:1,25:250]
    .venv/bin/python bench/aliases_bench.py calibrate      # prints the CALIBRATION literals
    .venv/bin/python bench/aliases_bench.py validate       # numbers for docs/validation.md

``speed`` generates (once, cached under bench/cache/) a synthetic forum big enough for ~100k
accounts above the minimum text size (4M posts, 40 posts per poster, activity sigma 0.6: a
flatter activity distribution than the default, so that most posters have enough text), ingests
it, and times ``find_aliases`` in a child process (wall time and peak RSS of that process).

``calibrate`` fits the logistic calibration on data that is never used for evaluation:
synthetic forums with seeds 101 and 102 (alias pairs planted) and split-half pseudo-aliases of
the #ubuntu IRC logs (each nick with >= 50 messages becomes two accounts, messages assigned by a
hash of the message id). ``validate`` measures top-1/top-3 on synthetic forums (seeds 201.., at
several text sizes), on the Stack Exchange cross-site accounts and on the Federalist Papers.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, machine, run_child, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SE_FOLDERS = ["se-bicycles-meta", "se-cardano", "se-conlang-meta", "se-history-meta"]

SPEED = """
import json, time, resource
from forumscope.analyze.aliases import find_aliases
t = time.perf_counter()
res = find_aliases({case!r}, top=10, min_posts={min_posts}, min_words={min_words})
wall = time.perf_counter() - t
acc = res.accounts.to_pandas()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"wall": wall, "phases": res.seconds, "linked": int((acc.status == "linked").sum()),
                  "too_thin": int((acc.status == "too_thin").sum()), "candidates": res.candidates.num_rows,
                  "cpu_user": ru.ru_utime, "cpu_sys": ru.ru_stime}}))
"""


# ----------------------------------------------------------------------------- data
def synth_case(name: str, posts: int, seed: int, **params) -> tuple[Path, list]:
    """A cached synthetic forum ingested into a case; returns (case, alias pairs)."""
    import forumscope
    from forumscope.synth import SynthParams, generate

    forum = CACHE / f"{name}-forum"
    case = CACHE / f"{name}-case"
    if not (forum / "truth.json").exists():
        generate(forum, posts=posts, seed=seed, params=SynthParams(**params))
        shutil.rmtree(case, ignore_errors=True)
    if not (case / "case.toml").exists():
        forumscope.ingest_sources([forum], case, fmt="canonical")
    truth = json.loads((forum / "truth.json").read_text())
    fid = truth["forum_id"]
    return case, [((fid, a), (fid, b)) for a, b in truth["aliases"]["pairs"]]


def irc_split_case() -> tuple[Path, list]:
    """#ubuntu IRC logs with every nick of >= 50 messages split in two (pseudo-aliases)."""
    import forumscope
    from forumscope.store.case import open_case

    raw = CACHE / "irc-case"
    if not (raw / "case.toml").exists():
        forumscope.ingest_sources([SHARED / "irc-ubuntu-disentangle"], raw)
    folder = CACHE / "irc-split-forum"
    case = CACHE / "irc-split-case"
    if not (case / "case.toml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        with open_case(raw, read_only=True) as c:
            con = c.con
            con.execute("""CREATE TEMP TABLE split AS
                SELECT p.forum_id, p.id, p.created_at, p.text,
                       CASE WHEN n.n >= 50 THEN p.author_id || CASE WHEN hash(p.id) % 2 = 0 THEN '#a' ELSE '#b' END
                            ELSE p.author_id END AS author_id
                FROM posts p JOIN (SELECT forum_id, author_id, count(*) AS n FROM posts GROUP BY ALL) n
                  USING (forum_id, author_id)
                WHERE p.author_id IS NOT NULL AND p.text IS NOT NULL""")
            con.execute(f"COPY (SELECT forum_id, id, author_id, strftime(created_at, '%Y-%m-%dT%H:%M:%SZ') AS "
                        f"created_at, text FROM split) TO '{folder / 'posts.ndjson'}' (FORMAT JSON)")
            con.execute(f"COPY (SELECT DISTINCT forum_id, author_id AS id FROM split) TO "
                        f"'{folder / 'users.ndjson'}' (FORMAT JSON)")
            con.execute(f"COPY (SELECT id, name FROM forums) TO '{folder / 'forums.ndjson'}' (FORMAT JSON)")
        forumscope.ingest_sources([folder], case, fmt="canonical")
    with open_case(case, read_only=True) as c:
        rows = c.con.execute("SELECT forum_id, id FROM users WHERE id LIKE '%#a'").fetchall()
    return case, [((f, u), (f, u[:-2] + "#b")) for f, u in rows]


def se_case(folder_sets: list[list[str]] | None = None) -> list[Path]:
    import forumscope

    sets = folder_sets or [SE_FOLDERS]
    out = []
    for folders in sets:
        case = CACHE / ("se-" + "+".join(f.removeprefix("se-") for f in folders))
        if not (case / "case.toml").exists():
            forumscope.ingest_sources([SHARED / f for f in folders], case)
        out.append(case)
    return out


def se_truth() -> dict[tuple[str, str], set[tuple[str, str]]]:
    by_account = defaultdict(list)
    with open(SHARED / "se-alias-groundtruth" / "cross_site_accounts.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            by_account[r["account_id"]].append((r["site_folder"], r["user_id"]))
    return {a: {b for b in rows if b != a} for rows in by_account.values() for a in rows}


# ----------------------------------------------------------------------------- evaluation
def top_rates(cand, accounts, same: dict, query_case: str | None = None) -> dict:
    """top-1/top-3 over accounts that are linked and have at least one linked alias (with two
    cases: accounts of ``query_case`` whose alias is linked in the other case)."""
    rows = list(zip(accounts["case"].to_pylist(), accounts["forum_id"].to_pylist(),
                    accounts["user_id"].to_pylist(), accounts["status"].to_pylist()))
    linked = {(f, u) for c, f, u, s in rows if s == "linked"}
    if query_case is not None:
        mine = {(f, u) for c, f, u, s in rows if s == "linked" and c == query_case}
        same = {a: {b for b in bs if b in linked and b not in mine} for a, bs in same.items() if a in mine}
    got = defaultdict(list)
    for f, u, cf, cu, r in zip(*(cand[c].to_pylist() for c in ("forum_id", "user_id", "candidate_forum_id",
                                                               "candidate_user_id", "rank"))):
        got[(f, u)].append((r, (cf, cu)))
    queries = [a for a in same if a in linked and any(b in linked for b in same[a])]
    ranks = []
    for a in queries:
        hits = [r for r, b in sorted(got.get(a, [])) if b in same[a]]
        ranks.append(hits[0] if hits else None)
    n = len(queries)
    t1 = sum(1 for r in ranks if r == 1)
    t3 = sum(1 for r in ranks if r is not None and r <= 3)
    return {"queries": n, "top1": t1, "top3": t3, "top1_rate": t1 / n if n else None,
            "top3_rate": t3 / n if n else None, "linked": len(linked)}


def pairs_to_same(pairs) -> dict:
    same = defaultdict(set)
    for a, b in pairs:
        same[tuple(a)].add(tuple(b))
        same[tuple(b)].add(tuple(a))
    return same


def reliability(rows_scores, rows_labels, edges=(0, 0.01, 0.05, 0.2, 0.5, 0.8, 1.0001)) -> list[dict]:
    import numpy as np

    s, y = np.asarray(rows_scores), np.asarray(rows_labels, dtype=float)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (s >= lo) & (s < hi)
        out.append({"bin": f"{lo:.2f}-{min(hi, 1):.2f}", "pairs": int(m.sum()),
                    "mean_score": float(s[m].mean()) if m.any() else None,
                    "share_true": float(y[m].mean()) if m.any() else None})
    return out


# ----------------------------------------------------------------------------- modes
def calibrate(args) -> None:
    from forumscope.analyze.aliases import calibration_rows, fit_calibration

    sets = [("synth-cal-101", 200_000, 101, {"alias_share": 0.05, "activity_sigma": 1.0}),
            ("synth-cal-102", 150_000, 102, {"alias_share": 0.03})]
    data = []
    for name, posts, seed, params in sets:
        case, pairs = synth_case(name, posts, seed, **params)
        data.append((name, case, pairs))
    case, pairs = irc_split_case()
    data.append(("irc-split", case, pairs))
    out = {}
    for use_rhythm in (True, False):
        cal = None
        for it in range(2):  # hubness depends on the coefficients: refit once with the first fit's
            rows = [calibration_rows(c, pr, calibration=cal, use_rhythm=use_rhythm) for _, c, pr in data]
            cal = fit_calibration(rows, fitted_on="synthetic seeds 101, 102 + IRC #ubuntu split halves")
        stats = [{"data": n, "rows": int(len(r["y"])), "positives": int(r["y"].sum()), "linked": r["linked"],
                  "with_alias": r["with_alias"]} for (n, _, _), r in zip(data, rows)]
        out["rhythm" if use_rhythm else "no_rhythm"] = {"calibration": cal.__dict__ | {"coef": dict(cal.coef)},
                                                        "data": stats}
        print(("CALIBRATION" if use_rhythm else "CALIBRATION_NO_RHYTHM"), "=", cal)
        print(json.dumps(stats, indent=1))
    write_results("aliases-calibration", {"machine": machine(), **out}, "# Alias calibration\n\n```\n"
                  + json.dumps(out, indent=2, default=str) + "\n```\n")


def validate(args) -> None:
    import numpy as np
    from forumscope.analyze.aliases import find_aliases

    results: dict = {"synthetic": [], "se": [], "federalist": {}}
    # synthetic forums, several text sizes (min_posts filter and max_chars cap)
    for name, posts, seed, params in [("synth-val-201", 200_000, 201, {"alias_share": 0.05, "activity_sigma": 1.0}),
                                      ("synth-val-202", 1_000_000, 202, {})]:
        case, pairs = synth_case(name, posts, seed, **params)
        same = pairs_to_same(pairs)
        for min_posts, max_chars in [(10, 20000), (25, 20000), (50, 20000), (100, 20000), (25, 2000),
                                     (25, 5000)]:
            t = time.perf_counter()
            res = find_aliases(case, top=10, min_posts=min_posts, min_words=min(250, 10 * min_posts),
                               max_chars=max_chars)
            r = top_rates(res.candidates, res.accounts, same)
            s = res.candidates.to_pandas()
            lab = [(f, u) in same and (cf, cu) in same[(f, u)] for f, u, cf, cu in
                   zip(s.forum_id, s.user_id, s.candidate_forum_id, s.candidate_user_id)]
            r.update({"forum": name, "posts": posts, "min_posts": min_posts, "max_chars": max_chars,
                      "seconds": time.perf_counter() - t,
                      "reliability_top1": reliability(s.score[s["rank"] == 1], np.asarray(lab)[s["rank"] == 1])})
            results["synthetic"].append(r)
            print(name, min_posts, max_chars, {k: r[k] for k in ("linked", "queries", "top1_rate", "top3_rate")})
        # the same with k-means blocking forced (exact_max=0), to measure what blocking loses
        res = find_aliases(case, top=10, min_posts=10, min_words=100, exact_max=0)
        r = top_rates(res.candidates, res.accounts, same)
        r.update({"forum": name, "posts": posts, "min_posts": 10, "max_chars": 20000, "blocking": True})
        results["synthetic"].append(r)
        print(name, "blocking", {k: r[k] for k in ("linked", "queries", "top1_rate", "top3_rate")})
    # Stack Exchange: one case with the four sites (candidates from other sites only), and two cases
    same = se_truth()
    (one,) = se_case()
    for min_posts, min_words in [(25, 250), (10, 100), (5, 50)]:
        res = find_aliases(one, top=10, min_posts=min_posts, min_words=min_words, cross_forum_only=True)
        r = top_rates(res.candidates, res.accounts, same)
        r.update({"setup": "one case, 4 forums, cross_forum_only", "min_posts": min_posts, "min_words": min_words,
                  "chance_top3": None})
        results["se"].append(r)
        print("SE", r)
    a, b = se_case([["se-bicycles-meta", "se-conlang-meta"], ["se-cardano", "se-history-meta"]])
    for min_posts, min_words in [(10, 100), (5, 50)]:
        res = find_aliases(a, other=b, top=10, min_posts=min_posts, min_words=min_words)
        r = top_rates(res.candidates, res.accounts, same, query_case=res.accounts["case"][0].as_py())
        r.update({"setup": "case A (bicycles, conlang) against case B (cardano, history)", "min_posts": min_posts,
                  "min_words": min_words})
        results["se"].append(r)
        print("SE two cases", r)
    results["federalist"] = federalist()
    print("Federalist", results["federalist"]["summary"])
    write_results("aliases-validation", {"machine": machine(), **results},
                  "# Alias validation\n\n```\n" + json.dumps(results, indent=2, default=str) + "\n```\n")


def federalist(work: Path | None = None) -> dict:
    import pandas as pd

    d = pd.read_csv(SHARED / "federalist-authorship" / "federalist.csv")
    work = work or CACHE / "federalist"
    shutil.rmtree(work, ignore_errors=True)
    return attribute_federalist(d, work)


def attribute_federalist(d, work: Path) -> dict:
    """Known papers (Hamilton, Madison, Jay) as one account each in one case, the disputed papers
    in another; paragraphs are posts. Attribution: the author whose papers' centroid is nearest
    (:func:`forumscope.analyze.aliases.attribute`), and the author of the nearest known paper."""
    import forumscope
    from forumscope.analyze.aliases import attribute, find_aliases

    def paras(t: str) -> list[str]:
        t = t.replace("To the People of the State of New York:", "").replace("PUBLIUS.", "")
        return [" ".join(p.split()) for p in t.split("\n\n") if len(p.split()) >= 5]

    def forum(folder: Path, fid: str, groups: dict) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        posts = [{"forum_id": fid, "id": f"{u}-{i}", "author_id": u, "text": t}
                 for u, texts in groups.items() for i, t in enumerate(texts)]
        users = [{"forum_id": fid, "id": u} for u in groups]
        for name, rows in (("forums", [{"id": fid}]), ("users", users), ("posts", posts)):
            (folder / f"{name}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return folder

    known = d[d.mw_label.isin(["Hamilton", "Madison", "Jay"])]
    disputed = d[d.mw_label == "Disputed"]
    author = {f"paper-{r.paper}": r.mw_label for r in known.itertuples()}
    kcase, dcase = work / "known-case", work / "disputed-case"
    forumscope.ingest_sources([forum(work / "known", "known", {f"paper-{r.paper}": paras(r.text)
                                                                for r in known.itertuples()})], kcase)
    forumscope.ingest_sources([forum(work / "disputed", "disputed", {f"paper-{r.paper}": paras(r.text)
                                                                      for r in disputed.itertuples()})], dcase)
    params = {"min_posts": 5, "min_words": 500}
    rows = attribute(dcase, kcase, author, **params).to_pylist()
    att = [r for r in rows if r["rank"] == 1]
    hm = {a: b for a, b in author.items() if b != "Jay"}  # the classic two-author task
    att2 = [r for r in attribute(dcase, kcase, hm, **params).to_pylist() if r["rank"] == 1]
    fw = {}  # function words alone: the label with the highest function-word similarity
    for r in rows:
        if r["user_id"] not in fw or r["sim_function_words"] > fw[r["user_id"]][1]:
            fw[r["user_id"]] = (r["label"], r["sim_function_words"])
    res = find_aliases(dcase, other=kcase, top=5, **params)
    nn = {u: author[c] for u, c, r in zip(res.candidates["user_id"].to_pylist(),
                                          res.candidates["candidate_user_id"].to_pylist(),
                                          res.candidates["rank"].to_pylist()) if r == 1}
    summary = {"papers": len(att), "centroid_madison": sum(1 for a in att if a["label"] == "Madison"),
               "centroid_madison_vs_hamilton": sum(1 for a in att2 if a["label"] == "Madison"),
               "function_words_madison": sum(1 for v in fw.values() if v[0] == "Madison"),
               "nearest_paper_madison": sum(1 for v in nn.values() if v == "Madison")}
    return {"summary": summary, "centroid": att, "centroid_two_authors": att2, "nearest_paper": nn,
            "function_words": fw}


def speed(args) -> None:
    case, _ = synth_case(f"synth-aliases-{args.posts}-s1", args.posts, 1, posts_per_poster=40.0,
                         activity_sigma=0.6)
    rows = []
    for spec in args.thresholds.split(","):
        min_posts, min_words = (int(x) for x in spec.split(":"))
        s, rss, out = run_child(SPEED.format(case=str(case), min_posts=min_posts, min_words=min_words))
        r = json.loads(out.strip().splitlines()[-1])
        r.update({"seconds_child": s, "peak_rss_mb": rss / 2**20, "posts": args.posts, "min_posts": min_posts,
                  "min_words": min_words})
        rows.append(r)
    m = machine()
    md = [f"# Alias benchmark\n\nMachine: {m}\n",
          "| posts | min_posts / min_words | accounts linked | too thin | wall s | profiles s | candidates s "
          "| CPU s | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['posts']:,} | {r['min_posts']} / {r['min_words']} | {r['linked']:,} | {r['too_thin']:,} | "
                  f"{r['wall']:.0f} | {r['phases']['profiles']:.0f} | {r['phases']['candidates']:.0f} | "
                  f"{r['cpu_user'] + r['cpu_sys']:.0f} | {r['peak_rss_mb']:.0f} |")
    text = "\n".join(md) + "\n"
    print(text)
    write_results("aliases", {"machine": m, "rows": rows}, text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["speed", "calibrate", "validate"])
    ap.add_argument("--posts", type=int, default=4_000_000)
    ap.add_argument("--thresholds", default="1:1,25:250",
                    help="speed: comma-separated min_posts:min_words settings (1:1 profiles every poster)")
    args = ap.parse_args()
    {"speed": speed, "calibrate": calibrate, "validate": validate}[args.mode](args)


if __name__ == "__main__":
    main()

"""Ingest benchmark: forumscope ingest of synthetic forums against DuckDB's bare read of the posts file.

Run by hand (not part of the test suite):

    .venv/bin/python bench/ingest_bench.py --sizes 100000,1000000 --runs 3

Generates (and caches under bench/cache/) synthetic forums with `forumscope synth`, then, each in a child
process, times: DuckDB's bare `read_json_auto` of posts.ndjson (count, and materialised into a table), and
`forumscope ingest` of the whole forum (all tables) into a fresh case. Prints a table and writes JSON and
Markdown under bench/results/.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, machine, synth_forum, timed, write_results  # noqa: E402

FLOOR_COUNT = """
import duckdb, sys
con = duckdb.connect()
print(con.execute("SELECT count(*) FROM read_json_auto('{posts}')").fetchall()[0][0])
"""
FLOOR_TABLE = """
import duckdb
con = duckdb.connect()
con.execute("CREATE TABLE p AS SELECT * FROM read_json_auto('{posts}')")
"""
INGEST = """
import shutil, forumscope
shutil.rmtree('{case}', ignore_errors=True)
r = forumscope.ingest_sources(['{forum}'], '{case}', fmt='canonical')
assert r.balanced and r.rejected == 0, r.reconciliation
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        forum = synth_forum(n)
        posts = forum / "posts.ndjson"
        case = CACHE / f"case-{n}"
        count = timed(FLOOR_COUNT.format(posts=posts), args.runs)
        table = timed(FLOOR_TABLE.format(posts=posts), args.runs)
        ing = timed(INGEST.format(forum=forum, case=case), args.runs)
        shutil.rmtree(case, ignore_errors=True)
        size_mb = sum(p.stat().st_size for p in forum.glob("*.ndjson")) / 2**20
        rows.append({"posts": n, "posts_file_mb": posts.stat().st_size / 2**20, "forum_mb": size_mb,
                     "duckdb_count": count, "duckdb_table": table, "forumscope_ingest": ing,
                     "ratio_vs_count": ing["seconds"] / count["seconds"],
                     "ratio_vs_table": ing["seconds"] / table["seconds"]})
    md = ["| posts | posts.ndjson MB | all files MB | DuckDB count s | DuckDB to table s | forumscope ingest s "
          "| ratio vs count | ratio vs table | ingest peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['posts']:,} | {r['posts_file_mb']:.0f} | {r['forum_mb']:.0f} | "
                  f"{r['duckdb_count']['seconds']:.2f} | {r['duckdb_table']['seconds']:.2f} | "
                  f"{r['forumscope_ingest']['seconds']:.2f} | {r['ratio_vs_count']:.2f} | "
                  f"{r['ratio_vs_table']:.2f} | {r['forumscope_ingest']['peak_rss_mb']:.0f} |")
    m = machine()
    text = "\n".join(md)
    print(text)
    j, mdp = write_results("ingest", {"machine": m, "rows": rows},
                           f"# Ingest benchmark\n\nMachine: {m}\n\n" + text + "\n")
    print(f"wrote {j} and {mdp}")


if __name__ == "__main__":
    main()

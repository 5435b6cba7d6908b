"""SQL dump benchmark: parse a phpBB MySQL dump of a synthetic forum, against the real MariaDB server
loading the same dump.

Run by hand (not part of the test suite):

    .venv/bin/python bench/sqldump_bench.py --posts 1000000 [--no-mariadb] [--ingest]

Generates (and caches under bench/cache/) a synthetic forum with `forumscope synth`, writes it as a
phpBB 3.3 dump (`synth --as phpbb`), then, each in a child process, measures wall seconds and peak RSS of:

- `parse`: the streaming parser over the whole dump, every row of every table tokenised (values of the
  tables the phpBB mapping reads decoded to text) and staged into the scratch DuckDB, as `ingest` does
  before mapping: the number the target (<= 30 s, <= 2 GB at 1M posts) is about;
- `scan`: the parser alone with every table skipped (the floor of reading and tokenising the bytes);
- `ingest` (with --ingest): the whole `forumscope ingest --format phpbb` (parse, stage, markup to text,
  mapping, loader);
- `mariadb`: `mariadb < dump` into a fresh real MariaDB server (Debian's mariadb-server), the baseline.

Prints a table and writes JSON and Markdown under bench/results/. The machine is shared: compare the
ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import CACHE, machine, run_measured, synth_forum, write_results  # noqa: E402

PARSE = """
import json, sys, time, duckdb, tempfile
from forumscope.engines.phpbb import ENGINE
from forumscope.sqldump.parser import DumpParser, open_dump_stream
from forumscope.sqldump.staging import Stager
t0 = time.perf_counter()
work = tempfile.mkdtemp(prefix='fs-bench-')
con = duckdb.connect(work + '/stage.duckdb', config={'memory_limit': '1GB'})
stager = Stager(con, ENGINE)
fh, _ = open_dump_stream(sys.argv[1])
problems = []
p = DumpParser(fh)
p.select = stager.select
stager.consume(p.parse(), problems.append)
res = stager.finish()
print(json.dumps({'rows': res.rows, 'problems': len(problems), 'seconds': time.perf_counter() - t0,
                  'rows_parsed': p.stats.rows}))
"""
SCAN = """
import json, sys, time
from forumscope.sqldump.parser import DumpParser, open_dump_stream
t0 = time.perf_counter()
fh, _ = open_dump_stream(sys.argv[1])
p = DumpParser(fh, select=lambda t, c: None)
n = sum(1 for _ in p.parse())
print(json.dumps({'events': n, 'seconds': time.perf_counter() - t0}))
"""


def make_dump(posts: int) -> Path:
    forum = synth_forum(posts)
    dump = CACHE / f"phpbb-{posts}.sql"
    if not dump.exists():
        from forumscope.synth.engines import write_dump

        t0 = time.perf_counter()
        write_dump("phpbb", forum, dump)
        print(f"wrote {dump} ({dump.stat().st_size / 2**20:,.0f} MB) in {time.perf_counter() - t0:.0f} s")
    return dump


def mariadb_load(dump: Path) -> dict:
    from dbservers import MariaDB, mariadb_available

    why = mariadb_available()
    if why:
        return {"skipped": why}
    with MariaDB() as db:
        t0 = time.perf_counter()
        seconds = db.load("bench", dump)
        n = int(db.sql("SELECT count(*) FROM phpbb_posts", "bench"))
        return {"seconds": seconds, "posts": n, "wall_with_create": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--no-mariadb", action="store_true")
    ap.add_argument("--ingest", action="store_true", help="also time the whole forumscope ingest")
    args = ap.parse_args()
    dump = make_dump(args.posts)
    size_mb = dump.stat().st_size / 2**20
    py = sys.executable
    scan = run_measured([py, "-c", SCAN, str(dump)])
    parse = run_measured([py, "-c", PARSE, str(dump)])
    parsed = json.loads(parse["stdout"].strip().splitlines()[-1])
    out: dict = {"machine": machine(), "posts": args.posts, "dump_mb": size_mb,
                 "scan": {k: v for k, v in scan.items() if k != "stdout"},
                 "parse": {k: v for k, v in parse.items() if k != "stdout"}, "staged_rows": parsed["rows"]}
    if args.ingest:
        case = CACHE / f"case-phpbb-{args.posts}"
        shutil.rmtree(case, ignore_errors=True)
        ing = run_measured([py, "-m", "forumscope", "ingest", str(dump), "--case", str(case), "--format", "phpbb",
                            "--forum-id", "synth", "--json"])
        out["ingest"] = {k: v for k, v in ing.items() if k != "stdout"}
        shutil.rmtree(case, ignore_errors=True)
    if not args.no_mariadb:
        out["mariadb"] = mariadb_load(dump)
    md = [f"# SQL dump benchmark ({out['machine']['date']})", "",
          f"phpBB 3.3 MySQL dump of a synthetic forum: {args.posts:,} posts, {size_mb:,.0f} MB "
          f"(`synth --as phpbb`). Machine: {out['machine']['cpu']}, {out['machine']['cores']} cores, "
          f"{out['machine']['memory_gb']} GB; shared and noisy: compare ratios from the same run.", "",
          "| step | wall s | CPU s | MB/s (wall) | peak RSS MB |", "|---|---:|---:|---:|---:|"]
    for name in ("scan", "parse", "ingest"):
        if name in out:
            r = out[name]
            md.append(f"| {name} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {size_mb / r['seconds']:.0f} | "
                      f"{r['peak_rss_mb']:.0f} |")
    m = out.get("mariadb", {})
    if "seconds" in m:
        md.append(f"| MariaDB load (`mariadb < dump`, real server) | {m['seconds']:.1f} | (server) | "
                  f"{size_mb / m['seconds']:.0f} | (server) |")
        md += ["", f"parse / MariaDB load: {out['parse']['seconds'] / m['seconds']:.2f}"]
    elif m:
        md += ["", f"MariaDB: {m.get('skipped')}"]
    md += ["", f"staged rows: {json.dumps(out['staged_rows'])}"]
    text = "\n".join(md) + "\n"
    j, mdp = write_results("sqldump", out, text)
    print(text)
    print(f"wrote {j} and {mdp}")


if __name__ == "__main__":
    main()

"""A very long single INSERT line (about 120 MB, one row of it larger than the record limit) streams
through ``forumscope ingest`` with bounded memory: every other row is stored, the oversized one is
rejected with its byte offset, and the peak RSS of the process stays far below the line's size."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from forumscope.sqldump.writer import MySQLDumpWriter, mysql_literal
from forumscope.synth.engines.phpbb import _columns, create_statement

ROWS = 250_000
BIG = 70 * 1024 * 1024  # over the 64 MiB default of ingest.max_record_bytes


def _write(path) -> int:  # noqa: ANN001
    cols = _columns("posts")
    text = "<t>" + ("A line of forum text that is long enough to be realistic, with 'quotes' and \\ too. " * 4) + "</t>"
    with open(path, "w", encoding="utf-8") as fh:
        w = MySQLDumpWriter(fh)
        w.header()
        w.create_table("phpbb_posts", create_statement("posts"))
        fh.write("INSERT INTO `phpbb_posts` VALUES ")
        big_at = -1
        for i in range(1, ROWS + 1):
            if i > 1:
                fh.write(",")
            body = text if i != ROWS // 2 else "<t>" + "x" * BIG + "</t>"
            if i == ROWS // 2:
                fh.flush()
                big_at = fh.buffer.tell() if hasattr(fh, "buffer") else -1
            row = dict.fromkeys(cols, 0) | {"post_id": i, "topic_id": 1 + i // 10, "forum_id": 1, "poster_id": 2,
                                            "poster_ip": "", "post_time": 1600000000 + i, "post_username": "",
                                            "post_subject": "s", "post_text": body, "post_checksum": "",
                                            "bbcode_bitfield": "", "bbcode_uid": "", "post_edit_reason": "",
                                            "post_delete_reason": ""}
            fh.write("(" + ",".join(mysql_literal(row[c]) for c in cols) + ")")
        fh.write(";\n")
        w.footer()
    return big_at


@pytest.mark.slow
def test_a_120mb_insert_line_streams_with_bounded_memory(tmp_path):
    dump = tmp_path / "big.sql"
    big_at = _write(dump)
    size = dump.stat().st_size
    assert size > 120 * 1024 * 1024
    case = tmp_path / "case"
    code = (
        "import json, sys, forumscope\n"
        "from forumscope.ingest.base import ReadOptions\n"
        f"c = forumscope.create_case({str(case)!r}, settings={{'duckdb': {{'memory_limit': '512MB', 'threads': 2}}}})\n"
        f"r = forumscope.ingest_sources([{str(dump)!r}], c, 'phpbb', options=ReadOptions(forum_id='f'))\n"
        "rej = c.sql('SELECT reason, byte_offset FROM rejects').to_pylist()\n"
        "print(json.dumps({'stored': r.counts['posts'].stored, 'rejected': r.counts['posts'].rejected,\n"
        "                  'balanced': r.balanced, 'rejects': rej}))\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["stored"] == ROWS - 1 and out["rejected"] == 1 and out["balanced"]
    (rej,) = out["rejects"]
    assert rej["reason"].startswith("too_large") and (big_at < 0 or rej["byte_offset"] == big_at)
    with open(dump, "rb") as fh:
        fh.seek(rej["byte_offset"])
        assert fh.read(len(f"({ROWS // 2},")) == f"({ROWS // 2},".encode()
    # the parser never held the line (or the oversized row): the whole process stays well below it
    assert peak_kb >= before
    assert peak_kb * 1024 < 1.2 * 1024 ** 3, f"peak RSS {peak_kb / 1024:.0f} MB"

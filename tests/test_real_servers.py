"""The generated dumps are real: each is loaded into a real MariaDB (or PostgreSQL) server from Debian's
packages, dumped again with the real ``mariadb-dump`` / ``pg_dump``, and that second dump is ingested and
checked against the planted truth. The live-database source is checked against the running servers.

Needs the server binaries (``apt-get install mariadb-server postgresql``); skipped with the reason
otherwise. Marked ``dbserver`` and ``slow``.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from dbservers import MariaDB, Postgres, mariadb_available, postgres_available
from engine_checks import check_counts, check_gates, check_interactions, check_ladder, check_lurkers, \
    check_nothing_secret, check_posts, phpbb_id
from engine_roundtrip import RoundTrip, build

import forumscope
from forumscope.ingest.base import ReadOptions
from forumscope.pipeline.runner import run_steps

pytestmark = [pytest.mark.dbserver, pytest.mark.slow]

MINE = {"phpbb": ({"4", "5"}, "thanks", "quote"), "smf": ({"1", "2", "3"}, "thanks", "quote"),
        "mybb": ({"3", "4", "6"}, "reputation", "explicit")}


@pytest.fixture(scope="module")
def mariadb():
    why = mariadb_available()
    if why:
        pytest.skip(why)
    with MariaDB() as db:
        yield db


@pytest.fixture(scope="module")
def postgres():
    why = postgres_available()
    if why:
        pytest.skip(why)
    with Postgres() as pg:
        yield pg


def _again(rt: RoundTrip, dump: Path, tmp: Path, fmt: str) -> RoundTrip:
    """Ingest ``dump`` (the server's own dump) into a fresh case and run the analyses."""
    case = forumscope.create_case(tmp / "case2")
    res = forumscope.ingest_sources([dump], case, fmt, options=ReadOptions(forum_id="synth"))
    rt2 = RoundTrip(rt.base, rt.forum, rt.truth, dump, rt.written, case, ingest=res)
    for rec in run_steps(case, ["hierarchy", "gating", "commitment"], {"hierarchy": {"n_boot": 50}}):
        rt2.runs[rec.step] = rec.run_id
    return rt2


def _same_tables(a, b) -> None:  # noqa: ANN001
    """Both cases hold the same rows (the server's dump loses nothing)."""
    for t in ("posts", "threads", "users", "boards", "ranks", "groups", "memberships", "interactions", "attachments",
              "private_messages"):
        cols = "* EXCLUDE (forum_id)"
        x = a.sql(f"SELECT {cols} FROM {t} ORDER BY ALL").to_pylist()
        y = b.sql(f"SELECT {cols} FROM {t} ORDER BY ALL").to_pylist()
        assert x == y, t


@pytest.mark.parametrize("engine", sorted(MINE))
def test_mariadb_round_trip(engine, mariadb, tmp_path):
    announce, approval, parent = MINE[engine]
    rt = build(engine, tmp_path, posts=3000, seed=31, dump_name=f"{engine}.sql.gz")
    seconds = mariadb.load(engine, rt.dump)
    assert seconds > 0
    counts = dict(line.split("\t") for line in mariadb.sql(
        "SELECT table_name, table_rows FROM information_schema.tables WHERE table_schema = DATABASE()", engine
    ).splitlines())
    assert counts  # tables exist on the server
    n_posts = {"phpbb": "phpbb_posts", "smf": "smf_messages", "mybb": "mybb_posts"}[engine]
    assert int(mariadb.sql(f"SELECT count(*) FROM `{n_posts}`", engine)) == rt.truth["counts"]["posts"]
    redump = mariadb.dump(engine, tmp_path / f"{engine}-mariadb-dump.sql")
    rt2 = _again(rt, redump, tmp_path, engine)
    check_counts(rt2, ("posts", "threads", "attachments"))
    ids = phpbb_id if engine == "phpbb" else (lambda c: None if c is None else c.lstrip("abcdefghijklmnopqrstuvwxyz-_"))
    check_posts(rt2, parent=parent, n=ids)
    check_ladder(rt2, rt.written["ids"]["ranks"], user_id=ids)
    check_interactions(rt2, approval, n=ids)
    check_gates(rt2, announce)
    check_lurkers(rt2)
    check_nothing_secret(rt2)
    _same_tables(rt.case, rt2.case)
    # the live database, read-only, gives the same rows again
    case3 = forumscope.create_case(tmp_path / "case3")
    res = forumscope.ingest_sources([mariadb.url(engine)], case3, engine, options=ReadOptions(forum_id="synth"))
    assert res.balanced and res.counts["posts"].stored == rt.truth["counts"]["posts"]
    _same_tables(rt.case, case3)
    run = case3.sql("SELECT sources FROM ingest_runs").to_pylist()[0]
    assert json.loads(run["sources"]) == [mariadb.url(engine)]
    rt.case.close()
    rt2.case.close()
    case3.close()


def test_mariadb_dump_with_complete_inserts_and_hex_blobs(mariadb, tmp_path):
    """Another mysqldump style: one INSERT per row with column lists, binary columns as hex."""
    rt = build("mybb", tmp_path, posts=600, seed=5, dump_name="m.sql", steps=())
    mariadb.load("mybbhex", rt.dump)
    redump = mariadb.dump("mybbhex", tmp_path / "hex.sql", "--complete-insert", "--hex-blob", "--skip-extended-insert")
    case = forumscope.create_case(tmp_path / "c")
    res = forumscope.ingest_sources([redump], case, "mybb", options=ReadOptions(forum_id="synth"))
    assert res.balanced and res.counts["posts"].stored == 600
    _same_tables(rt.case, case)
    case.close()
    rt.case.close()


def test_live_database_is_read_only_and_password_never_logged(mariadb, tmp_path, monkeypatch):
    rt = build("smf", tmp_path, posts=300, seed=8, dump_name="s.sql", steps=())
    mariadb.load("smfro", rt.dump)
    mariadb.sql("CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY 's3cret-pw'; "
                "GRANT SELECT ON smfro.* TO 'reader'@'127.0.0.1'")
    before = mariadb.sql("CHECKSUM TABLE smf_messages", "smfro")
    url = f"mysql://reader:s3cret-pw@127.0.0.1:{mariadb.port}/smfro"
    from forumscope.cli.main import main

    assert main(["ingest", url, "--case", str(tmp_path / "c"), "--format", "smf", "--forum-id", "synth"]) == 0
    assert mariadb.sql("CHECKSUM TABLE smf_messages", "smfro") == before
    for f in (tmp_path / "c").rglob("*"):
        if f.is_file():
            assert b"s3cret-pw" not in f.read_bytes(), f
    case = forumscope.open_case(tmp_path / "c")
    assert case.count("posts") == 300
    case.close()
    # the password may come from the environment instead of the URL
    monkeypatch.setenv("FORUMSCOPE_DB_PASSWORD", "s3cret-pw")
    res = forumscope.ingest_sources([f"mysql://reader@127.0.0.1:{mariadb.port}/smfro"], tmp_path / "d", "auto",
                                    options=ReadOptions(forum_id="synth"))
    assert res.counts["posts"].stored == 300
    rt.case.close()


def test_postgres_round_trip(postgres, tmp_path):
    """A PostgreSQL-hosted forum: every engine writer whose dump is PostgreSQL (Discourse), plus the live
    source. The pg_dump output (COPY blocks) must give the same canonical rows."""
    try:
        importlib.import_module("forumscope.synth.engines.discourse")
    except ModuleNotFoundError:
        pytest.skip("no PostgreSQL engine writer in this installation")
    rt = build("discourse", tmp_path, posts=1500, seed=12, dump_name="d.sql", steps=())
    postgres.load("disc", rt.dump)
    redump = postgres.dump("disc", tmp_path / "pg_dump.sql")
    assert b"COPY public." in redump.read_bytes()
    case = forumscope.create_case(tmp_path / "c")
    res = forumscope.ingest_sources([redump], case, "discourse", options=ReadOptions(forum_id="synth"))
    assert res.balanced and res.counts["posts"].stored == rt.truth["counts"]["posts"]
    _same_tables(rt.case, case)
    case2 = forumscope.create_case(tmp_path / "c2")
    forumscope.ingest_sources([postgres.url("disc")], case2, "discourse", options=ReadOptions(forum_id="synth"))
    _same_tables(rt.case, case2)
    for c in (case, case2, rt.case):
        c.close()

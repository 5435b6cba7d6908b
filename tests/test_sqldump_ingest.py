"""Forum-engine dumps through ``forumscope ingest``: bad input (truncated, cut mid-string, mixed
latin1/UTF-8, tables in an unexpected order, duplicate keys, unknown tables and prefixes, missing
columns), engine detection, and the CLI (``synth --as``, ``ingest --format/--table-prefix``)."""

from __future__ import annotations

import io
import json

import pytest

import forumscope
from forumscope.cli.main import main
from forumscope.engines.base import EngineSpec
from forumscope.errors import InputError
from forumscope.ingest.base import ReadOptions
from forumscope.ingest.sqldump import detect_engine, is_db_url, mask_url
from forumscope.sqldump.writer import MySQLDumpWriter
from forumscope.synth import generate
from forumscope.synth.engines import write_dump
from forumscope.synth.engines.phpbb import _columns, create_statement


def phpbb_dump(tables: dict[str, list[tuple]], *, prefix: str = "phpbb_", order: list[str] | None = None,
               columns: dict[str, list[str]] | None = None, create: bool = True) -> bytes:
    """A hand-made phpBB dump: rows given for a subset of columns (the rest take defaults)."""
    buf = io.StringIO()
    w = MySQLDumpWriter(buf)
    w.header()
    for name in order or list(tables):
        cols = (columns or {}).get(name) or _columns(name)
        if create:
            w.create_table(prefix + name, create_statement(name, prefix))
        w.insert(prefix + name, cols, tables[name], complete_insert=bool(columns and name in columns))
    w.footer()
    return buf.getvalue().encode("utf-8")


USER_COLS = ["user_id", "user_type", "group_id", "username", "user_regdate", "user_posts", "user_email", "user_ip"]
POST_COLS = ["post_id", "topic_id", "forum_id", "poster_id", "post_time", "post_subject", "post_text", "poster_ip"]
TOPIC_COLS = ["topic_id", "forum_id", "topic_title", "topic_poster", "topic_time", "topic_first_post_id"]


def small(posts: list[tuple], *, users=None, order=None, prefix="phpbb_") -> bytes:  # noqa: ANN001
    users = users or [(2, 0, 2, "ann", 1600000000, 2, "ann@example.invalid", "10.1.1.1"),
                      (3, 0, 2, "bob", 1600000100, 1, "bob@example.invalid", "10.1.1.2")]
    return phpbb_dump({"posts": posts, "topics": [(1, 1, "Hello", 2, 1600000200, 1)], "users": users,
                       "forums": [(1, 0, 1, 2, "", "General", "", "", 7, "", "", "", 0, "", "", "", "", 7, "", 0, 1, 0,
                                   0, 0, "", 0, "", "", 32, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 1,
                                   0)]},
                      order=order or ["forums", "posts", "topics", "users"], prefix=prefix,
                      columns={"posts": POST_COLS, "topics": TOPIC_COLS, "users": USER_COLS})


POSTS = [(1, 1, 1, 2, 1600000200, "Hello", "<t>first &amp; foremost</t>", "10.1.1.1"),
         (2, 1, 1, 3, 1600000300, "Re: Hello", "<t>second</t>", "10.1.1.2"),
         (3, 1, 1, 2, 1600000400, "Re: Hello", "<t>third</t>", "10.1.1.1")]


def ingest(tmp_path, data: bytes, name="forum.sql", fmt="phpbb", **extra):  # noqa: ANN001
    path = tmp_path / name
    path.write_bytes(data)
    case = forumscope.create_case(tmp_path / "case")
    res = forumscope.ingest_sources([path], case, fmt, options=ReadOptions(forum_id="f", extra=extra))
    return case, res


def test_plain_small_dump(tmp_path):
    case, res = ingest(tmp_path, small(POSTS))
    assert res.balanced and res.counts["posts"].stored == 3
    texts = [r["text"] for r in case.sql("SELECT text FROM posts ORDER BY id").to_pylist()]
    assert texts == ["first & foremost", "second", "third"]
    assert case.sql("SELECT position FROM posts ORDER BY id").to_pylist() == [{"position": 0}, {"position": 1},
                                                                                {"position": 2}]
    case.close()


def test_truncated_dump_cut_mid_string(tmp_path):
    data = small(POSTS)
    cut = data.index(b"'<t>second") + 6  # inside the string of the second post
    case, res = ingest(tmp_path, data[:cut])
    assert res.counts["posts"].stored == 1 and res.counts["posts"].rejected == 1 and res.balanced
    rej = case.sql("SELECT * FROM rejects").to_pylist()
    assert len(rej) == 1 and rej[0]["reason"].startswith("truncated") and rej[0]["table_name"] == "posts"
    assert data[rej[0]["byte_offset"]:].startswith(b"(2,")
    assert rej[0]["source"].endswith("forum.sql") and "'<t>se" in rej[0]["excerpt"]
    case.close()


def test_mixed_latin1_and_utf8_are_repaired_and_reported(tmp_path):
    posts = [(1, 1, 1, 2, 1600000200, "a", "<t>Köln</t>", ""),
             (2, 1, 1, 3, 1600000300, "b", "<t>" + "Köln".encode().decode("latin-1") + "</t>", ""),  # mojibake
             (3, 1, 1, 2, 1600000400, "c", "<t>LATIN1</t>", "")]
    data = small(posts).replace(b"LATIN1", "Köln".encode("latin-1"))  # raw latin1 bytes: not UTF-8
    case, res = ingest(tmp_path, data)
    assert [r["text"] for r in case.sql("SELECT text FROM posts ORDER BY id").to_pylist()] == ["Köln"] * 3
    notes = " | ".join(res.notices)
    assert "1 values of phpbb_posts.post_text repaired from latin1" in notes
    assert "1 values of phpbb_posts.post_text were not valid UTF-8" in notes
    # with repair switched off the mojibake is kept as is (and still counted when invalid)
    case.close()
    (tmp_path / "case2").mkdir()
    case2 = forumscope.create_case(tmp_path / "case2" / "c")
    forumscope.ingest_sources([tmp_path / "forum.sql"], case2, "phpbb",
                              options=ReadOptions(forum_id="f", extra={"charset_repair": False}))
    assert case2.sql("SELECT text FROM posts WHERE id = '2'").to_pylist()[0]["text"] == "KÃ¶ln"
    case2.close()


def test_tables_in_unexpected_order_and_other_column_order(tmp_path):
    # users first, in a column order of their own, then posts before their topic; no CREATE TABLE at all
    users_cols = list(reversed(USER_COLS))
    users = [tuple(reversed(u)) for u in [(2, 0, 2, "ann", 1600000000, 2, "a@example.invalid", "10.0.0.1"),
                                           (3, 0, 2, "bob", 1600000100, 1, "b@example.invalid", "10.0.0.2")]]
    data = phpbb_dump({"users": users, "posts": POSTS, "topics": [(1, 1, "Hello", 2, 1600000200, 1)]},
                      columns={"users": users_cols, "posts": POST_COLS, "topics": TOPIC_COLS}, create=False)
    case, res = ingest(tmp_path, data)
    assert res.balanced and res.counts["posts"].stored == 3 and res.counts["users"].stored == 2
    assert case.sql("SELECT name FROM users ORDER BY id").to_pylist() == [{"name": "ann"}, {"name": "bob"}]
    assert case.sql("SELECT count(*) AS n FROM posts WHERE thread_id = '1'").to_pylist()[0]["n"] == 3
    case.close()


def test_duplicate_keys_are_rejected_with_their_offset(tmp_path):
    posts = POSTS + [(2, 1, 1, 3, 1600000300, "Re: Hello", "<t>second, edited</t>", "10.1.1.2"),
                     (3, 1, 1, 2, 1600000400, "Re: Hello", "<t>third</t>", "10.1.1.1")]
    data = small(posts)
    case, res = ingest(tmp_path, data)
    c = res.counts["posts"]
    assert (c.read, c.stored, c.unchanged, c.rejected) == (5, 3, 1, 1) and res.balanced
    rej = case.sql("SELECT * FROM rejects").to_pylist()[0]
    assert rej["reason"].startswith("duplicate_conflict") and data[rej["byte_offset"]:].startswith(b"(2,1,1,3")
    assert data.index(b"second, edited") > rej["byte_offset"]
    case.close()


def test_unknown_tables_other_prefixes_and_missing_columns_are_listed(tmp_path):
    extra = b"CREATE TABLE `phpbb_mystery` (`a` int);\nINSERT INTO `phpbb_mystery` VALUES (1),(2);\n"
    other = small(POSTS[:1], prefix="old_").replace(b"-- Dump completed", b"")
    data = small(POSTS) + extra + other
    case, res = ingest(tmp_path, data)
    assert res.counts["posts"].stored == 3  # the phpbb_ forum, not old_
    notes = " | ".join(res.notices)
    assert "phpbb_mystery (not used by the phpbb mapping" in notes
    assert "old_posts (table prefix 'old_', not the chosen 'phpbb_'" in notes
    case.close()
    # the other forum with an explicit prefix
    case2 = forumscope.create_case(tmp_path / "c2")
    res2 = forumscope.ingest_sources([tmp_path / "forum.sql"], case2, "phpbb",
                                     options=ReadOptions(forum_id="g", extra={"table_prefix": "old_"}))
    assert res2.counts["posts"].stored == 1
    case2.close()


def test_custom_prefix_is_detected(tmp_path):
    case, res = ingest(tmp_path, small(POSTS, prefix="board42_"), fmt="auto")
    assert res.formats == ["sqldump"] and res.counts["posts"].stored == 3
    assert case.sql("SELECT platform FROM forums").to_pylist() == [{"platform": "phpbb"}]
    assert any("prefix 'board42_'" in n for n in res.notices)
    case.close()


def test_missing_columns_of_an_older_schema_are_reported(tmp_path):
    data = phpbb_dump({"posts": [(1, 1, 2, 1600000000, "<t>x</t>")]},
                      columns={"posts": ["post_id", "topic_id", "poster_id", "post_time", "post_text"]}, create=False)
    case, res = ingest(tmp_path, data)
    assert res.counts["posts"].stored == 1
    assert any("phpbb_posts lacks columns forum_id, poster_ip, post_username, post_subject, post_edit_time" in n
               for n in res.notices)
    case.close()


def test_not_a_forum_dump_and_missing_required_tables(tmp_path):
    path = tmp_path / "x.sql"
    path.write_bytes(b"-- MySQL dump\nCREATE TABLE `inventory` (`a` int);\nINSERT INTO `inventory` VALUES (1);\n")
    with pytest.raises(InputError, match="not of a known forum engine"):
        forumscope.ingest_sources([path], tmp_path / "c1", "sqldump")
    with pytest.raises(InputError, match="not a phpBB 3.x database: no posts table"):
        forumscope.ingest_sources([path], tmp_path / "c2", "phpbb")


def test_engine_detection_by_signature_tables(tmp_path):
    forum = tmp_path / "forum"
    generate(forum, posts=300, seed=5)
    for engine in ("phpbb", "smf", "mybb"):
        dump = tmp_path / f"{engine}.sql.gz"
        write_dump(engine, forum, dump)
        case = forumscope.create_case(tmp_path / f"case-{engine}")
        res = forumscope.ingest_sources([dump], case, "auto", options=ReadOptions(forum_id="synth"))
        assert case.sql("SELECT platform FROM forums").to_pylist() == [{"platform": engine}]
        assert res.counts["posts"].stored == 300 and res.balanced
        case.close()
    assert detect_engine({"phpbb_posts", "phpbb_topics", "phpbb_users", "phpbb_acl_groups"}) == "phpbb"
    assert detect_engine({"smf_messages", "smf_members", "smf_boards", "smf_topics"}) == "smf"
    assert detect_engine({"posts", "users"}) is None


def test_secret_columns_cannot_be_declared():
    with pytest.raises(ValueError, match="looks like a secret"):
        EngineSpec(name="x", title="X", dialect="mysql", known_tables={"users": ["id", "user_password"]},
                   signature_tables=["users"])
    with pytest.raises(ValueError, match="not in known_tables"):
        EngineSpec(name="x", title="X", dialect="mysql", known_tables={"users": ["id"]}, signature_tables=["users"],
                   contact_columns={"users": {"email": "email"}})


def test_db_urls_are_recognised_and_masked():
    assert is_db_url("mysql://u:p@h/db") and is_db_url("postgresql://h/db") and not is_db_url("dump.sql")
    assert mask_url("mysql://user:s3cret@host:3306/db") == "mysql://user:***@host:3306/db"
    assert mask_url("postgresql://host/db") == "postgresql://host/db"


def test_cli_synth_as_engine_and_ingest_with_prefix(tmp_path, capsys):
    out = tmp_path / "forum"
    assert main(["synth", "--out", str(out), "--posts", "200", "--seed", "3", "--as", "smf",
                 "--dump", str(tmp_path / "smf.sql.zst")]) == 0
    assert (tmp_path / "smf.sql.zst").exists()
    assert main(["ingest", str(tmp_path / "smf.sql.zst"), "--case", str(tmp_path / "case"), "--format", "smf",
                 "--table-prefix", "smf_", "--forum-id", "synth", "--json"]) == 0
    printed = capsys.readouterr().out
    rec = json.loads(printed[printed.index("{"):])
    assert rec["balanced"] and rec["reconciliation"]["posts"]["stored"] == 200
    assert main(["synth", "--out", str(tmp_path / "f2"), "--as", "nosuch"]) == 2
    assert main(["synth", "--out", str(tmp_path / "f3"), "--dump", str(tmp_path / "x.sql")]) == 2


def test_damaged_gzip_keeps_what_was_readable(tmp_path):
    import gzip

    data = small(POSTS * 1)
    z = gzip.compress(data)
    path = tmp_path / "cut.sql.gz"
    path.write_bytes(z[: len(z) - 40])  # the end of the stream (and its checksum) is missing
    case = forumscope.create_case(tmp_path / "case")
    res = forumscope.ingest_sources([path], case, "phpbb", options=ReadOptions(forum_id="f"))
    assert res.balanced and res.counts["posts"].stored == 3  # posts come before the cut
    assert any("gzip stream is damaged" in n for n in res.notices)
    case.close()

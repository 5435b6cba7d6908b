"""The streaming SQL dump parser on hand-written dumps: every MySQL escape and literal kind, comments,
conditional comments, DELIMITER blocks, PostgreSQL standard and E-strings, COPY escapes, dollar quotes;
byte offsets; refills across tiny chunks; broken rows and truncated dumps; gzip and zstd."""

from __future__ import annotations

import gzip
import io
import random

import pytest
import zstandard

from forumscope.sqldump.parser import Binary, DumpParser, Problem, Rows, Selection, Skipped, TableDef, read_dump
from forumscope.sqldump.values import decode_column, decode_token, value_text
from forumscope.sqldump.writer import MySQLDumpWriter, PostgresDumpWriter, mysql_literal, pg_copy_value


def parse(data: bytes, *, chunk: int = 1 << 20, select=None, **kw):  # noqa: ANN001
    p = DumpParser(io.BytesIO(data), select=select, chunk_bytes=chunk, **kw)
    return list(p.parse()), p


def rows_of(events, table=None):  # noqa: ANN001
    out = []
    for e in events:
        if isinstance(e, Rows) and (table is None or e.table == table):
            out += [tuple(value_text(v) if not isinstance(v, Binary) else v for v in r) for r in e.decoded()]
    return out


MYSQL = rb"""-- MySQL dump 10.19  Distrib 10.11.6-MariaDB
/*!40101 SET NAMES utf8mb4 */;
# a hash comment with 'quotes' and ; semicolons
/* a block comment; INSERT INTO `t` VALUES (9,'no'); */
DROP TABLE IF EXISTS `t`;
CREATE TABLE `t` (
  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `txt` mediumtext COLLATE utf8mb4_bin NOT NULL COMMENT 'a comment, with (parens) and ''quotes''',
  `bin` varbinary(16) DEFAULT NULL,
  `num` double DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `k` (`num`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
LOCK TABLES `t` WRITE;
/*!40000 ALTER TABLE `t` DISABLE KEYS */;
INSERT INTO `t` VALUES (1,'a\0b\'c\"d\be\nf\rg\th\Zi\\j\%k\_l\qm',0x4142,1.5e3),(2,'it''s',X'4344',-2),
(3, _binary 'raw\tbytes' , b'0100000101', NULL),(4,_utf8mb4'h<E-ACUTE>',_binary 0x00FF,.5),(5,"dq \"x\" ''",'',+7);
INSERT INTO `t` (`num`,`id`,`txt`,`bin`) VALUES (7,6,'x;y),(z',NULL);
/*!40000 ALTER TABLE `t` ENABLE KEYS */;
UNLOCK TABLES;
DELIMITER ;;
/*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN INSERT INTO t VALUES (99,'no',NULL,1); END */;;
DELIMITER ;
INSERT IGNORE INTO `other` VALUES (1,'skip; me'),(2,'x');
REPLACE INTO t VALUES (8,'replace',NULL,0);
""".replace(b"<E-ACUTE>", "\u00e9".encode())


def test_every_mysql_escape_and_literal():
    ev, p = parse(MYSQL)
    defs = [e for e in ev if isinstance(e, TableDef)]
    assert defs[0].columns == ["id", "txt", "bin", "num"] and defs[0].types[0] == "int(10)"
    got = rows_of(ev, "t")
    assert got[0] == ("1", "a\0b'c\"d\be\nf\rg\th\x1ai\\j\\%k\\_lqm", b"AB", "1.5e3")
    assert got[1] == ("2", "it's", b"CD", "-2")
    assert got[2] == ("3", b"raw\tbytes", b"\x01\x05", None)  # _binary and b'...' literals are bytes
    assert got[3][1] == "hé" and got[3][2] == b"\x00\xff" and got[3][3] == ".5"
    assert got[4] == ("5", 'dq "x" \'\'', "", "+7")
    assert got[5] == ("7", "6", "x;y),(z", None)  # the column list wins over the CREATE TABLE order
    assert got[6] == ("8", "replace", None, "0")
    assert len(got) == 7  # nothing from the comment or the trigger body
    # `other` has neither a CREATE TABLE nor a column list: its columns are unknown, it is skipped
    assert [e.table for e in ev if isinstance(e, Skipped)] == ["other"]
    assert not [e for e in ev if isinstance(e, Problem)]


def test_offsets_point_at_rows_and_unknown_tables_are_skipped():
    sel = lambda t, cols: Selection(cols, list(range(len(cols)))) if t == "t" and cols else None  # noqa: E731
    ev, _ = parse(MYSQL, select=sel)
    for e in ev:
        if isinstance(e, Rows):
            for off in e.offsets:
                assert MYSQL[off:off + 1] == b"("
    first = next(e for e in ev if isinstance(e, Rows))
    assert MYSQL[first.offsets[0]:first.offsets[0] + 3] == b"(1,"
    skipped = [e for e in ev if isinstance(e, Skipped)]
    assert [s.table for s in skipped] == ["other"] and skipped[0].nbytes > 0


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_tiny_chunks_give_the_same_rows(chunk):
    ev_small, _ = parse(MYSQL, chunk=chunk)
    ev_big, _ = parse(MYSQL)
    assert rows_of(ev_small) == rows_of(ev_big)
    offs = lambda ev: [o for e in ev if isinstance(e, Rows) for o in e.offsets]  # noqa: E731
    assert offs(ev_small) == offs(ev_big)


def test_writer_and_parser_agree_on_random_strings():
    rnd = random.Random(7)
    alphabet = "ab'\"\\\n\r\t\0\x1a%_;,()é€😀 \x7f"
    values = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30))) for _ in range(400)]
    buf = io.StringIO()
    w = MySQLDumpWriter(buf, max_statement_bytes=700)
    w.create_table("t", "CREATE TABLE `t` (`id` int, `v` text, `b` blob, `f` double)")
    w.insert("t", ["id", "v", "b", "f"], [(i, v, v.encode("utf-8"), i / 7) for i, v in enumerate(values)])
    ev, _ = parse(buf.getvalue().encode("utf-8"), chunk=97)
    got = rows_of(ev)
    assert [g[1] for g in got] == values
    assert [g[2] if isinstance(g[2], bytes) else g[2].encode() for g in got] == [v.encode("utf-8") for v in values]
    assert [float(g[3]) for g in got] == [i / 7 for i in range(len(values))]
    # vectorised column decoding equals value-by-value decoding
    toks = [r[1] for e in ev if isinstance(e, Rows) for r in e.rows]
    assert decode_column(toks, "mysql").to_pylist() == [value_text(decode_token(t, "mysql")) for t in toks]


PG = b"""--
-- PostgreSQL database dump
--
SET standard_conforming_strings = on;
CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $_$ BEGIN INSERT INTO posts VALUES (1); END; $_$;
CREATE TABLE public.posts (
    id integer NOT NULL,
    raw text,
    "user" character varying(255) DEFAULT 'x'::character varying
);
COPY public.posts (id, raw, "user") FROM stdin;
1\ta\\\\b\\tc\\nd\\101\\x41\\r\\b\\f\\v\t\\N
2\t\tz
3\tonly two
\\.
COPY public.skipme (a) FROM stdin;
x
\\.
INSERT INTO public.posts (id, raw, "user") VALUES (4, 'it''s \\ ok', E'a\\\\nb\\x41\\n\\u00e9');
INSERT INTO public.posts VALUES (5, NULL, 'x'::text), (6, 'two', 'rows');
"""


def test_postgres_copy_and_inserts():
    sel = lambda t, cols: Selection(cols, list(range(len(cols)))) if t == "posts" else None  # noqa: E731
    ev, p = parse(PG, select=sel)
    assert p.dialect == "postgres"
    got = rows_of(ev, "posts")
    assert got[0] == ("1", "a\\b\tc\ndAA\r\b\f\v", None)
    assert got[1] == ("2", "", "z")
    assert got[2] == ("4", "it's \\ ok", "a\\nbA\né")
    assert got[3] == ("5", None, "x") and got[4] == ("6", "two", "rows")
    probs = [e for e in ev if isinstance(e, Problem)]
    assert len(probs) == 1 and probs[0].reason.startswith("column_count") and PG[probs[0].offset:].startswith(b"3\t")
    assert [e.table for e in ev if isinstance(e, Skipped)] == ["skipme"]
    # the COPY block decodes the same value by value and as a column
    toks = [r[1] for e in ev if isinstance(e, Rows) and e.kind == "copy" for r in e.rows]
    assert decode_column(toks, "copy").to_pylist() == [value_text(decode_token(t, "copy")) for t in toks]


def test_pg_writer_copy_round_trip():
    rnd = random.Random(3)
    alphabet = "ab\\\t\n\r\b\f\v'\"é€ N"
    values = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 20))) for _ in range(300)] + ["\\N", ""]
    buf = io.StringIO()
    w = PostgresDumpWriter(buf)
    w.header()
    w.create_table("public.t", "CREATE TABLE public.t (id integer, v text, n text)")
    w.copy("public.t", ["id", "v", "n"], [(i, v, None) for i, v in enumerate(values)])
    w.insert("public.t", ["id", "v", "n"], [(10_000, "it's", True)])
    ev, _ = parse(buf.getvalue().encode())
    got = rows_of(ev)
    assert [g[1] for g in got[:-1]] == values and all(g[2] is None for g in got[:-1])
    assert got[-1] == ("10000", "it's", "true")
    assert pg_copy_value(None) == "\\N" and mysql_literal(None) == "NULL" and mysql_literal(b"") == "''"


def test_standard_conforming_strings_off():
    data = (b"-- PostgreSQL database dump\nSET standard_conforming_strings = off;\n"
            b"INSERT INTO t (a) VALUES ('it\\'s');\n")
    ev, _ = parse(data)
    assert rows_of(ev) == [("it's",)]


def test_truncated_dump_keeps_rows_and_rejects_the_cut_row_with_its_offset():
    data = MYSQL[:MYSQL.index(b"(2,'it''s'") + 6]
    ev, p = parse(data)
    assert rows_of(ev, "t") == [rows_of(parse(MYSQL)[0], "t")[0]]
    probs = [e for e in ev if isinstance(e, Problem)]
    assert len(probs) == 1 and probs[0].record and probs[0].reason.startswith("truncated")
    assert data[probs[0].offset:].startswith(b"(2,")


def test_statement_cut_mid_string_in_a_skipped_table_is_a_notice():
    data = b"CREATE TABLE x (a int);\nINSERT INTO `other` VALUES (1,'never closed"
    sel = lambda t, cols: None  # noqa: E731
    ev, p = parse(data, select=sel)
    probs = [e for e in ev if isinstance(e, Problem)]
    assert len(probs) == 1 and not probs[0].record and "quoted string" in probs[0].reason
    assert p.stats.truncated_at == len(data)


def test_broken_rows_are_rejected_and_the_rest_read():
    data = (b"CREATE TABLE t (a int, b text);\n"
            b"INSERT INTO t VALUES (1,'ok'),(2,'too','many'),(3,now()),(4,'fine');\n"
            b"INSERT INTO t VALUES (5,'x') ON DUPLICATE KEY UPDATE b='y';\n"
            b"INSERT INTO t VALUES (6,'a'),garbage here;\nINSERT INTO t VALUES (7,'after');\n")
    ev, _ = parse(data)
    assert [r[0] for r in rows_of(ev)] == ["1", "4", "5", "6", "7"]
    reasons = [(e.reason.split(":")[0], e.record) for e in ev if isinstance(e, Problem)]
    assert reasons == [("column_count", True), ("not_a_literal", True), ("ignored_clause", False), ("syntax", True)]
    offs = {e.reason.split(":")[0]: e.offset for e in ev if isinstance(e, Problem)}
    assert data[offs["column_count"]:].startswith(b"(2,") and data[offs["not_a_literal"]:].startswith(b"(3,")


def test_a_row_larger_than_the_limit_is_skipped_without_holding_it():
    big = b"x" * 300_000
    data = (b"CREATE TABLE t (a int, b text);\nINSERT INTO t VALUES (1,'small'),(2,'" + big + b"'),(3,'after');\n")
    ev, p = parse(data, chunk=4096, max_record_bytes=50_000)
    assert [r[0] for r in rows_of(ev)] == ["1", "3"]
    probs = [e for e in ev if isinstance(e, Problem)]
    assert len(probs) == 1 and probs[0].reason.startswith("too_large") and data[probs[0].offset:].startswith(b"(2,")
    assert len(p.buf) < 200_000  # never held the whole row


def test_insert_select_and_copy_from_file_are_not_executed():
    data = (b"-- PostgreSQL database dump\nCOPY t (a) FROM '/etc/passwd';\n"
            b"INSERT INTO t (a) SELECT a FROM u;\nINSERT INTO t (a) VALUES ('ok');\n")
    ev, _ = parse(data)
    assert rows_of(ev) == [("ok",)]
    assert all(not e.record for e in ev if isinstance(e, Problem))
    assert any("never read" in e.reason for e in ev if isinstance(e, Problem))


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_compressed_dumps(tmp_path, kind):
    path = tmp_path / f"d.sql.{'gz' if kind == 'gzip' else 'zst'}"
    path.write_bytes(gzip.compress(MYSQL) if kind == "gzip" else zstandard.ZstdCompressor().compress(MYSQL))
    assert rows_of(list(read_dump(path))) == rows_of(parse(MYSQL)[0])

"""Coding sheets: export (stratified, seeded, spreadsheet-safe) and import (validation, reconciliation)."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import tiny_tables, write_forum

import forumscope
from forumscope.discourse.codebook import parse_codebook
from forumscope.discourse.coding import (
    FORMULA_START,
    allocate,
    export_sheet,
    import_sheets,
    neutralise,
    unneutralise,
    write_sheet,
)
from forumscope.errors import InputError, UsageError

MINI = """
id: mini
version: "0.1"
languages: [en]
codes:
  - id: greeting
    label: Greeting
    definition: The post greets someone.
  - id: offer
    label: Offer
    definition: The post offers something.
"""
HOSTILE = ["=HYPERLINK(\"http://example.invalid\",\"x\")", "+1+1", "-2", "@SUM(A1)", "\tTAB", "\rCR",
           "'=already quoted", "'plain quote", "normal text", "", "=", "'"]


@pytest.fixture
def mini(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(MINI)
    return parse_codebook(MINI, str(path))


@pytest.fixture
def tiny_case(tmp_path):
    tables = tiny_tables()
    tables["posts"][0]["text"] = "=1+2 hi all"  # a formula-like post
    tables["boards"][0]["name"] = "@General"
    tables["threads"][1]["title"] = "-Swap"
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([write_forum(tmp_path / "tiny", tables)], case)
    yield case
    case.close()


def read_sheet(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return rows[0], rows[1:]


def write_rows(path, header, rows, delimiter=","):
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)
    return path


# ----------------------------------------------------------------------------- formula injection
@pytest.mark.parametrize("text", HOSTILE)
def test_neutralise_is_safe_and_exactly_undone(text):
    cell = neutralise(text)
    assert not (cell and cell[0] in FORMULA_START + ("=", "+", "-", "@")), cell
    assert unneutralise(cell) == text
    if text and text[0] in "=+-@\t\r":
        assert cell == "'" + text


def test_export_neutralises_every_text_cell(tiny_case, mini, tmp_path):
    res = export_sheet(tiny_case, mini, 5, tmp_path / "s.csv", seed=1)
    header, rows = read_sheet(res.path)
    assert res.rows == 5 == len(rows)
    assert header[:8] == ["forum_id", "post_id", "sentence_no", "board_id", "board", "month", "thread", "text"]
    assert header[8:10] == ["greeting", "offer"] and header[10:] == ["coder", "note", "codebook", "codebook_version"]
    for r in rows:
        for cell in r:
            assert not cell or cell[0] not in "=+-@\t\r", cell
    by_id = {r[1]: dict(zip(header, r)) for r in rows}
    assert by_id["p1"]["text"] == "'=1+2 hi all" and by_id["p1"]["board"] == "'@General"
    assert by_id["p4"]["thread"] == "'-Swap"
    assert all(r["greeting"] == "" and r["codebook"] == "mini" for r in by_id.values())
    guide = (tmp_path / "s.codebook.txt").read_text()
    assert "greeting: Greeting" in guide and "The post offers something." in guide


def test_long_text_is_cut_to_what_a_cell_holds(tiny_case, mini, tmp_path):
    rows = [{"forum_id": "f", "post_id": "p", "text": "x" * 40_000}]
    write_sheet(tmp_path / "long.csv", mini, rows)
    _, out = read_sheet(tmp_path / "long.csv")
    assert len(out[0][7]) <= 32_000 and out[0][7].endswith("cut for the sheet]")


# ----------------------------------------------------------------------------- sampling
def test_allocate_by_hand():
    sizes = {"a": 50, "b": 30, "c": 20}
    assert allocate(sizes, 10) == {"a": 5, "b": 3, "c": 2}
    # 7 * (50, 30, 20) / 100 = 3.5, 2.1, 1.4 -> 3, 2, 1 and the last one to the largest remainder (a)
    assert allocate(sizes, 7) == {"a": 4, "b": 2, "c": 1}
    assert allocate({"a": 2, "b": 30, "c": 30}, 12, "equal") == {"a": 2, "b": 5, "c": 5}
    assert allocate({"a": 2, "b": 30}, 100, "equal") == {"a": 2, "b": 30}
    assert allocate({"a": 5, "b": 5, "c": 5}, 2, "equal") == {"a": 1, "b": 1, "c": 0}
    for how in ("proportional", "equal"):
        got = allocate({"x": 13, "y": 7, "z": 1, "w": 40}, 23, how)
        assert sum(got.values()) == 23 and all(got[k] <= v for k, v in {"x": 13, "y": 7, "z": 1, "w": 40}.items())
    with pytest.raises(UsageError):
        allocate(sizes, 3, "random")


@pytest.fixture(scope="module")
def synth_case(tmp_path_factory):
    from forumscope.synth import generate

    base = tmp_path_factory.mktemp("coding-sheets")
    generate(base / "forum", posts=1500, seed=11)
    case = forumscope.create_case(base / "case")
    forumscope.ingest_sources([base / "forum"], case)
    yield case
    case.close()


def test_export_is_stratified_and_deterministic(synth_case, tmp_path):
    a = export_sheet(synth_case, "operating-model", 120, tmp_path / "a.csv", seed=5, strata="board")
    export_sheet(synth_case, "operating-model", 120, tmp_path / "b.csv", seed=5, strata="board")
    c = export_sheet(synth_case, "operating-model", 120, tmp_path / "c.csv", seed=6, strata="board")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert set(a.post_ids) != set(c.post_ids)
    assert a.rows == 120 and len(set(a.post_ids)) == 120
    total = synth_case.con.execute("SELECT count(*) FROM posts WHERE length(trim(coalesce(text, ''))) > 0"
                                   ).fetchall()[0][0]
    assert a.available == total
    per_board = dict(synth_case.con.execute("SELECT board_id, count(*) FROM posts GROUP BY 1").fetchall())
    _, rows = read_sheet(tmp_path / "a.csv")
    got: dict[str, int] = {}
    for r in rows:
        got[r[3]] = got.get(r[3], 0) + 1
    for s in a.strata:  # proportional allocation: each board within one post of its share
        assert s.available == per_board[s.key]
        assert abs(s.taken - 120 * s.available / total) < 1
        assert got.get(s.key, 0) == s.taken


def test_export_by_model_tag_uses_equal_allocation(synth_case, tmp_path):
    con = synth_case.con
    con.execute("CREATE TABLE discourse_tags (run_id VARCHAR, forum_id VARCHAR, post_id VARCHAR, sentence_no "
                "BIGINT, codebook VARCHAR, code VARCHAR, layer VARCHAR, score DOUBLE)")
    try:
        con.execute("INSERT INTO discourse_tags SELECT 'r1', forum_id, id, NULL, 'operating-model', "
                    "CASE WHEN CAST(substr(id, 2) AS INT) % 50 = 0 THEN 'help_seeking' ELSE 'social_chat' END, "
                    "'rules', 0.9 FROM posts WHERE CAST(substr(id, 2) AS INT) % 3 = 0")
        res = export_sheet(synth_case, "operating-model", 30, tmp_path / "t.csv", seed=1, strata="tag")
        strata = {s.key: (s.available, s.taken) for s in res.strata}
        assert res.allocation == "equal"
        assert set(strata) == {"help_seeking", "social_chat", "(untagged)"}
        assert strata["help_seeking"] == (10, 10)  # the rare tag is over-sampled: all 10
        assert strata["social_chat"][1] == 10 and strata["(untagged)"][1] == 10
        header, rows = read_sheet(tmp_path / "t.csv")
        assert all(dict(zip(header, r))["help_seeking"] == "" for r in rows)  # tags never shown as codes
    finally:
        con.execute("DROP TABLE discourse_tags")
    with pytest.raises(UsageError, match="forumscope tag"):
        export_sheet(synth_case, "operating-model", 30, tmp_path / "t.csv", strata="tag")


# ----------------------------------------------------------------------------- import
def test_import_validates_rejects_and_reconciles(tiny_case, mini, tmp_path):
    header = ["forum_id", "post_id", "sentence_no", "text", "greeting", "offer", "coder", "codebook"]
    rows = [
        ["tiny", "p1", "", "'=1+2 hi all", "1", "", "ann", "mini"],  # 2: ok (blank offer = 0)
        ["tiny", "p2", "", "hello", "1", "0", "", "mini"],  # 3: no coder in row; --coder not given
        ["tiny", "p3", "", "welcome", "2", "0", "ann", "mini"],  # 4: bad value
        ["tiny", "p99", "", "?", "0", "1", "ann", "mini"],  # 5: unknown post
        ["tiny", "p1", "", "again", "0", "0", "ann", "mini"],  # 6: duplicate of line 2
        ["tiny", "p4", "", "offer", "", "", "ann", "mini"],  # 7: uncoded
        [],  # an empty line is no record
        ["tiny", "p4", "x", "offer", "0", "1", "ann", "mini"],  # 9: bad sentence number
        ["tiny", "p5", "2", "thanks", "0", "1", "ann", "mini"],  # 10: ok, sentence-level
        ["tiny", "p3", "", "welcome", "1", "1", "bob", "mini"],  # 11: ok, another coder
    ]
    sheet = write_rows(tmp_path / "sheet.csv", header, rows)
    with pytest.raises(UsageError, match="not shipped"):
        import_sheets(tiny_case, [sheet])
    res = import_sheets(tiny_case, [sheet], codebook=mini)
    assert res.codebook == "mini"
    s = res.sheets[0]
    assert (s.read, s.stored, s.unchanged, s.rejected, s.uncoded) == (9, 3, 0, 5, 1) and s.balanced
    reasons = {r.line: r.reason.split(":")[0] for r in res.rejects}
    assert reasons == {3: "missing_coder", 4: "bad_value", 5: "unknown_post", 6: "duplicate_row",
                       9: "bad_sentence_no"}
    assert "line 2" in next(r.reason for r in res.rejects if r.line == 6)
    stored = tiny_case.con.execute("SELECT post_id, sentence_no, code, coder, value, line, codebook_version "
                                   "FROM human_codes ORDER BY 1, 2, 3, 4").fetchall()
    assert stored == [("p1", None, "greeting", "ann", True, 2, "0.1"), ("p1", None, "offer", "ann", False, 2, "0.1"),
                      ("p3", None, "greeting", "bob", True, 11, "0.1"), ("p3", None, "offer", "bob", True, 11, "0.1"),
                      ("p5", 2, "greeting", "ann", False, 10, "0.1"), ("p5", 2, "offer", "ann", True, 10, "0.1")]
    # the same sheet again: stored rows are unchanged, nothing is doubled
    again = import_sheets(tiny_case, [sheet], codebook=mini)
    assert (again.sheets[0].stored, again.sheets[0].unchanged, again.sheets[0].rejected) == (0, 3, 5)
    assert tiny_case.count("human_codes") == 6
    # a corrected sheet conflicts, unless --replace
    rows[0][4] = "0"
    fixed = write_rows(tmp_path / "fixed.csv", header, rows[:1])
    conflict = import_sheets(tiny_case, [fixed], codebook=mini)
    assert conflict.rejects[0].reason.startswith("conflict") and "sheet.csv line 2" in conflict.rejects[0].reason
    replaced = import_sheets(tiny_case, [fixed], codebook=str(mini.path), replace=True)
    assert replaced.sheets[0].stored == 1 and tiny_case.count("human_codes") == 6
    assert tiny_case.con.execute("SELECT value FROM human_codes WHERE post_id='p1' AND code='greeting'"
                                 ).fetchall() == [(False,)]


def test_import_coder_option_semicolons_and_blank_missing(tiny_case, mini, tmp_path):
    header = ["forum_id", "post_id", "greeting", "offer", "coder"]
    sheet = write_rows(tmp_path / "de.csv", header, [["tiny", "p2", "1", "", ""], ["tiny", "p3", "0", "1", "cy"]],
                       delimiter=";")
    res = import_sheets(tiny_case, [sheet], coder="dora", codebook=mini, blank="missing")
    assert res.sheets[0].stored == 1 and res.rejects[0].reason.startswith("coder_mismatch")
    assert tiny_case.con.execute("SELECT code, coder, value FROM human_codes").fetchall() == [("greeting", "dora", True)]


def test_import_refuses_unusable_sheets(tiny_case, mini, tmp_path):
    bad_col = write_rows(tmp_path / "c.csv", ["forum_id", "post_id", "greeting", "sarcasm"], [["tiny", "p1", "1", "0"]])
    with pytest.raises(InputError, match="unknown code column.*sarcasm") as e:
        import_sheets(tiny_case, [bad_col], codebook=mini, coder="a")
    assert e.value.line == 1 and e.value.path.endswith("c.csv")
    latin = tmp_path / "l.csv"
    latin.write_bytes("forum_id,post_id,greeting\ntiny,p1,1 caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        import_sheets(tiny_case, [latin], codebook=mini, coder="a")
    no_ids = write_rows(tmp_path / "n.csv", ["post", "greeting"], [["p1", "1"]])
    with pytest.raises(InputError, match="forum_id"):
        import_sheets(tiny_case, [no_ids], codebook=mini, coder="a")
    no_book = write_rows(tmp_path / "nb.csv", ["forum_id", "post_id", "greeting"], [["tiny", "p1", "1"]])
    with pytest.raises(UsageError, match="--codebook"):
        import_sheets(tiny_case, [no_book], coder="a")
    assert tiny_case.count("human_codes") == 0


def test_export_leaves_out_coded_posts_and_roundtrips_hostile_ids(tiny_case, mini, tmp_path):
    res = export_sheet(tiny_case, mini, 2, tmp_path / "one.csv", seed=3)
    header, rows = read_sheet(res.path)
    filled = [r[:8] + ["1", "0"] + ["ann"] + r[11:] for r in rows]
    import_sheets(tiny_case, [write_rows(tmp_path / "filled.csv", header, filled)], codebook=mini)
    rest = export_sheet(tiny_case, mini, 10, tmp_path / "rest.csv", seed=3)
    assert rest.rows == 3 and not set(rest.post_ids) & set(res.post_ids)

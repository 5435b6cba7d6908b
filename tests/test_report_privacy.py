"""Audience rules of the report, on hand-made tables: primary and complementary suppression, derived values,
redaction of quotes."""

from __future__ import annotations

import pytest

from forumscope.errors import UsageError
from forumscope.report.model import Cell, Column, Fact, Partition, Report, Section, Table
from forumscope.report.privacy import SECONDARY, Policy, redact, suppress


def one_table(rows, columns, *, total=None, facts=()):
    t = Table("t", "T", columns, rows)
    sec = Section("overview", "O", facts=list(facts), tables=[t])
    if total is not None:
        sec.facts.append(Fact("total", "total", total))
        t.column_partition("n", Cell(fact="total"))
    return Report("public", {}, {}, [sec]), t, sec


def counts(values, total=None):
    cols = [Column("name", "name", "label"), Column("n", "n", "count"),
            Column("share", "share", "share", numerator="n"), Column("median", "median", "stat", n="n")]
    rows = [{"name": f"r{i}", "n": v, "share": v / (total or sum(values)), "median": 3.0} for i, v in enumerate(values)]
    return one_table(rows, cols, total=total)


def recoverable(parts, total, m=10):
    """The test's own check: can a reader pin down a '<m' part from the total and the parts shown?"""
    shown = sum(p for p in parts if isinstance(p, (int, float)))
    rest = total - shown
    pri = [p for p in parts if p == f"<{m}"]
    sec = [p for p in parts if p == SECONDARY]
    if not pri:
        return False
    hi = rest - (len(pri) - 1) - len(sec) * m
    lo = 1 if sec else rest - (len(pri) - 1) * (m - 1)
    return hi < m - 1 or lo > 1


def test_primary_suppression_hides_counts_one_to_nine_and_what_rests_on_them():
    report, t, _ = counts([0, 3, 9, 10, 250])
    suppress(report, Policy("public"))
    got = [r["n"] for r in t.rows]
    assert got == [0, "<10", "<10", 10, 250]
    assert t.rows[1]["share"] == SECONDARY and t.rows[1]["median"] == SECONDARY
    assert t.rows[3]["share"] == pytest.approx(10 / 272) and t.rows[3]["median"] == 3.0


def test_one_small_part_of_a_shown_total_forces_a_second_cell_hidden():
    report, t, _ = counts([5, 464, 31], total=500)
    suppress(report, Policy("public"))
    got = [r["n"] for r in t.rows]
    assert got == ["<10", 464, SECONDARY]  # the smallest other part that protects it is hidden too
    assert not recoverable(got, 500)
    assert t.rows[2]["share"] == SECONDARY


def test_secondary_cells_are_added_until_the_small_one_keeps_its_whole_range():
    # 1 + 10 + 11 + 200 = 222: hiding "10" (or "11") as well would leave 1 + 10 = 11 with the 10 known to be
    # at least 10, so the 1 would be exact; hiding the 200 leaves 201 to share, which pins down nothing
    report, t, _ = counts([1, 10, 11, 200], total=222)
    suppress(report, Policy("public"))
    got = [r["n"] for r in t.rows]
    assert got == ["<10", 10, 11, SECONDARY]
    assert not recoverable(got, 222)
    assert recoverable(["<10", SECONDARY, 11, 200], 222)  # the check itself sees the naive choice fail


def test_two_small_parts_without_a_large_one_are_not_enough():
    report, t, _ = counts([3, 4, 50], total=57)
    suppress(report, Policy("public"))
    got = [r["n"] for r in t.rows]
    assert got == ["<10", "<10", SECONDARY]
    assert not recoverable(got, 57)


def test_total_is_hidden_when_no_part_can_protect_a_small_count():
    report, t, sec = counts([1, 10], total=11)  # 11 - (>= 10) leaves 1: hide the total itself
    suppress(report, Policy("public"))
    assert [r["n"] for r in t.rows] == ["<10", SECONDARY]
    assert sec.facts[0].value == SECONDARY


def test_row_partition_and_links_propagate_hiding():
    cols = [Column("holders", "h", "count"), Column("posters", "p", "count"), Column("lurkers", "l", "count")]
    t = Table("r", "R", cols, [{"holders": 40, "posters": 33, "lurkers": 7}])
    t.row_partition(0, "holders", ["posters", "lurkers"])
    facts = [Fact("posters", "posters", 33)]
    sec = Section("overview", "O", facts=facts, tables=[t], links=[(Cell("r", 0, "posters"), Cell(fact="posters"))])
    report = Report("public", {}, {}, [sec])
    suppress(report, Policy("public"))
    assert t.rows[0] == {"holders": 40, "posters": SECONDARY, "lurkers": "<10"}
    assert facts[0].value == SECONDARY  # the same count elsewhere is hidden too


def test_shares_without_a_numerator_column_hide_small_implied_counts():
    cols = [Column("den", "d", "count"), Column("s", "s", "share", denominator="den")]
    t = Table("x", "X", cols, [{"den": 400, "s": 0.01}, {"den": 400, "s": 0.5}])
    report = Report("public", {}, {}, [Section("overview", "O", tables=[t])])
    suppress(report, Policy("public"))
    assert t.rows[0]["s"] == SECONDARY and t.rows[1]["s"] == 0.5  # 4 of 400 is a small count


def test_other_audiences_see_everything_and_min_cell_size_is_the_cases():
    report, t, _ = counts([3, 40])
    suppress(report, Policy("investigator"))
    assert [r["n"] for r in t.rows] == [3, 40]
    report, t, _ = counts([3, 6, 40])
    suppress(report, Policy("public", min_cell_size=5))
    assert [r["n"] for r in t.rows][:2] == ["<5", 6]


def test_public_refuses_person_and_quote_columns():
    t = Table("p", "P", [Column("who", "who", "person")], [{"who": "P-123"}])
    with pytest.raises(AssertionError):
        suppress(Report("public", {}, {}, [Section("overview", "O", tables=[t])]), Policy("public"))


def test_policy_rules_by_audience():
    inv = Policy("investigator", reveal_handles=True)
    res = Policy("researcher", reveal_handles=True)
    assert inv.handles and not res.handles and not Policy("investigator").handles
    assert inv.quotes and not res.quotes and Policy("researcher", allow_quotes=True).quotes
    assert not Policy("public", allow_quotes=True).quotes and not Policy("public").per_person
    with pytest.raises(UsageError):
        Policy("press")
    text = ("write to ann.lee@example.org or see https://example.com/x?y=1 and www.example.net, "
            "host 192.168.1.20 or 2001:db8::1, mirror abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion "
            "and expyuzz4wqqyqhjn.onion, thanks @bob.")
    r = redact(text)
    for leak in ("ann.lee", "example.com", "example.net", "192.168", "2001:db8", ".onion", "@bob"):
        assert leak not in r, leak
    assert r.count("[e-mail]") == 1 and r.count("[url]") == 2 and r.count("[ip]") == 2
    assert r.count("[onion address]") == 2 and "@[member]" in r
    quoted = Policy("researcher", allow_quotes=True).quote(text)
    assert quoted == r
    assert Policy("investigator").quote(text) == text


def test_partition_json_round_trip_names_cells():
    p = Partition(Cell(fact="a"), [Cell("t", 0, "n")])
    assert p.to_json() == {"total": {"fact": "a"}, "parts": [{"table": "t", "row": 0, "column": "n"}]}

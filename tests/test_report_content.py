"""The report on an analysed synthetic forum: nothing personal or small leaks from a public report (HTML, JSON,
charts), every section is there and says when its analysis has not run, numbers equal the case's tables, and
report.json follows its JSON Schema."""

from __future__ import annotations

import html as html_lib
import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from forumscope.ingest.run import ingest
from forumscope.pipeline.registry import all_steps
from forumscope.pipeline.runner import run_steps
from forumscope.report import SECTION_IDS, build_report, write_report
from forumscope.report.privacy import SECONDARY
from forumscope.store.case import open_case
from forumscope.synth import generate

M = 10  # the default minimum cell size
STEPS = all_steps()
PARAMS = {"discourse": {"layers": ("rules",)}}  # the rules layer only: the fast layer's training takes minutes
PSEUDONYM = re.compile(r"P-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    generate(root / "forum", posts=2000, seed=3)
    ingest([root / "forum"], root / "case", "canonical")
    with open_case(root / "case") as c:
        run_steps(c, STEPS, PARAMS)
    reports = {}
    with open_case(root / "case") as c:
        for audience in ("investigator", "researcher", "public"):
            report = build_report(c, audience)
            formats = ("html", "json", "charts") if audience == "public" else ("html", "json")
            written = write_report(report, root / audience, formats)
            reports[audience] = (report, written)
    return root, reports


def load(written):
    return json.loads(written.json.read_text()), written.html.read_text()


class Text(HTMLParser):
    """Visible text and attribute values of an HTML page, without the scripts."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.cells: list[tuple[str, str]] = []
        self._skip = 0
        self._cell_kind: str | None = None
        self._cell: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        a = dict(attrs)
        self.parts += [v for k, v in attrs if v and not v.startswith("data:")]
        if tag in ("td", "dd") and a.get("data-kind"):
            self._cell_kind, self._cell = a["data-kind"], []

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag in ("td", "dd") and self._cell_kind:
            self.cells.append((self._cell_kind, "".join(self._cell).strip()))
            self._cell_kind = None

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)
            if self._cell_kind:
                self._cell.append(data)


def visible(html: str) -> Text:
    p = Text()
    p.feed(html)
    return p


def json_strings(value, out=None):
    out = [] if out is None else out
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append(k)
            json_strings(v, out)
    elif isinstance(value, list):
        for v in value:
            json_strings(v, out)
    return out


def windows(text: str, n: int) -> set[str]:
    return {text[i:i + n] for i in range(0, max(len(text) - n + 1, 1))}


def cell_value(data, cell):
    if "fact" in cell:
        return next(f["value"] for s in data["sections"] for f in s["facts"] if f["id"] == cell["fact"])
    table = next(t for s in data["sections"] for t in s["tables"] if t["id"] == cell["table"])
    return table["rows"][cell["row"]][cell["column"]]


def pinned(parts, total, m=M):
    """Can a reader narrow a '<m' part below its full range 1..m-1 from the total and the parts shown?"""
    shown = sum(p for p in parts if isinstance(p, (int, float)))
    pri = [p for p in parts if p == f"<{m}"]
    sec = [p for p in parts if p == SECONDARY]
    if not pri or not isinstance(total, (int, float)):
        return False
    rest = total - shown
    hi = rest - (len(pri) - 1) - len(sec) * m
    lo = 1 if sec else rest - (len(pri) - 1) * (m - 1)
    return hi < m - 1 or lo > 1


def small(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < M


# ----------------------------------------------------------------------------- (1) public extraction

def test_public_report_gives_away_no_handle_pseudonym_quote_or_small_count(analysed):
    root, reports = analysed
    data, html = load(reports["public"][1])
    with open_case(root / "case", read_only=True) as c:
        handles = {r[0] for r in c.con.execute("SELECT name FROM users WHERE length(name) >= 4").fetchall()}
        texts = {r[0] for r in c.con.execute("SELECT DISTINCT text FROM posts WHERE length(text) >= 20").fetchall()}
        small_boards = {r[0]: r[1] for r in c.con.execute(
            "SELECT coalesce(b.name, p.board_id), count(*) FROM posts p LEFT JOIN boards b ON b.forum_id = p.forum_id "
            "AND b.id = p.board_id GROUP BY 1 HAVING count(*) < 10").fetchall()}
        small_ranks = {r[0]: r[1] for r in c.con.execute(
            "SELECT r.name, count(*) FROM users u JOIN ranks r ON r.forum_id = u.forum_id AND r.id = u.rank_id "
            "GROUP BY 1 HAVING count(*) < 10").fetchall()}
    assert handles and texts and small_ranks  # the forum has what the test looks for
    page = visible(html)
    charts = [p.read_text() for p in (root / "public" / "charts").glob("*.svg")]
    assert charts
    corpus = {"html": "\n".join(page.parts), "json": "\n".join(json_strings(data)), "charts": "\n".join(charts)}
    for where, text in corpus.items():
        found = [h for h in handles if h in text]
        assert not found, (where, found[:5])
        assert not PSEUDONYM.search(text), (where, PSEUDONYM.search(text).group(0))
        shown = windows(text, 30)
        quoted = [t for t in texts if (t in text) or (len(t) >= 30 and windows(t, 30) & shown)]
        assert not quoted, (where, quoted[:3])
    assert not PSEUDONYM.search(html)  # not even inside the scripts' data

    # every count in the JSON: 0, at least M, or hidden; shares resting on hidden counts are hidden
    n_counts = n_hidden = 0
    for s in data["sections"]:
        for f in s["facts"]:
            if f["kind"] == "count":
                n_counts += 1
                assert not small(f["value"]), f
        for t in s["tables"]:
            kinds = {c["name"]: c for c in t["columns"]}
            assert not {c["kind"] for c in t["columns"]} & {"person", "quote"}, t["id"]
            for row in t["rows"]:
                for name, col in kinds.items():
                    v = row[name]
                    if col["kind"] == "count":
                        n_counts += 1
                        n_hidden += isinstance(v, str)
                        assert not small(v), (t["id"], name, row)
                        assert v is None or isinstance(v, (int, float)) or v in (f"<{M}", SECONDARY), (t["id"], v)
                    if col["kind"] == "share" and col.get("numerator") and isinstance(row[col["numerator"]], str):
                        assert v is None or isinstance(v, str), (t["id"], name, row)
                    if col["kind"] in ("share", "stat") and col.get("n") and isinstance(row.get(col["n"]), str) \
                            and row[col["n"]] != SECONDARY:
                        assert v is None or isinstance(v, str), (t["id"], name, row)
    assert n_counts > 100 and n_hidden > 0

    # label-independent: a whole number from 1 to 9 appears only where it is not a count of people or posts
    allowed = {"gating.boards_declared", "gating.boards_gated", "gating.boards_estimated", "gating.boards_tested",
               "network.components", "status.ranks", "status.special_ranks", "trajectories.k", "trajectories.months",
               "network.null", "methods.evidence_files", ("network.cores", "core"), ("rhythm.profile", "hour"),
               ("status.ranks", "ladder_order"), ("status.ranks", "threshold"), ("trajectories.means", "month"),
               ("disruption.curves", "k"), ("disruption.summary", "runs"), ("key_actors.components", "weight"),
               ("time.its", "months_before"), ("time.its", "months_after"), ("status.promotion", "threshold_posts"),
               ("methods.evidence", "size_bytes"), ("disruption.summary", "k_half"), ("status.correlation", "ci_level"),
               ("network.communities", "community"), ("trajectories.pathways", "peak_month"),
               ("disruption.summary", "max_k")}
    for s in data["sections"]:
        for f in s["facts"]:
            if type(f["value"]) is int and 0 < f["value"] < M:
                assert f["id"] in allowed, f
        for t in s["tables"]:
            for row in t["rows"]:
                for name, v in row.items():
                    if type(v) is int and 0 < v < M:
                        assert (t["id"], name) in allowed, (t["id"], name, v)
    people = {r["name"]: r["observed"] for r in next(t for s in data["sections"] for t in s["tables"]
                                                     if t["id"] == "network.metrics")["rows"]}
    assert not small(people["members in the deepest core"]) and not small(people["nodes"])

    # no small count can be recovered by subtraction from a total shown beside its parts
    partitions = [p for s in data["sections"] for p in s["partitions"]] + \
                 [p for s in data["sections"] for t in s["tables"] for p in t.get("partitions", [])]
    assert len(partitions) > 10
    for p in partitions:
        parts = [cell_value(data, c) for c in p["parts"]]
        assert not pinned(parts, cell_value(data, p["total"])), (p, parts)

    # ground truth from the case, not from the report's own labels
    boards = {r["name"]: r["posts"] for r in next(t for s in data["sections"] for t in s["tables"]
                                                  if t["id"] == "overview.boards")["rows"]}
    for name in small_boards:
        assert boards.get(name, f"<{M}") in (f"<{M}", SECONDARY)
    ranks = {r["name"]: r["holders"] for r in next(t for s in data["sections"] for t in s["tables"]
                                                   if t["id"] == "status.ranks")["rows"]}
    for name, n in small_ranks.items():
        assert ranks[name] == f"<{M}", (name, n, ranks[name])

    # the HTML tables and facts say the same
    for kind, text in page.cells:
        if kind == "count" and text not in ("–", f"<{M}", SECONDARY):
            assert not small(int(text.replace(",", ""))), text
    assert f"<{M}" in html


def test_researcher_and_investigator_name_members_by_pseudonym_only(analysed):
    root, reports = analysed
    with open_case(root / "case", read_only=True) as c:
        handles = {r[0] for r in c.con.execute("SELECT name FROM users WHERE length(name) >= 4").fetchall()}
        top = c.con.execute("SELECT user_id FROM key_actors_top ORDER BY rank LIMIT 1").fetchone()[0]
        expected = c.pseudonym("synth", top)
    for audience in ("investigator", "researcher"):
        data, html = load(reports[audience][1])
        text = "\n".join(visible(html).parts)
        assert not [h for h in handles if h in text], audience
        rows = next(t for s in data["sections"] for t in s["tables"] if t["id"] == "key_actors.top")["rows"]
        assert rows[0]["member"] == expected and expected in text
    inv, _ = load(reports["investigator"][1])
    res, _ = load(reports["researcher"][1])
    status = {s["id"]: s["status"] for s in inv["sections"]}, {s["id"]: s["status"] for s in res["sections"]}
    assert status[0]["aliases"] == "ok" and status[1]["aliases"] == "omitted"
    assert not any(t["id"] == "discourse.examples" for s in res["sections"] for t in s["tables"])  # no quotes allowed
    examples = next(t for s in inv["sections"] for t in s["tables"] if t["id"] == "discourse.examples")["rows"]
    with open_case(root / "case", read_only=True) as c:
        texts = {r[0] for r in c.con.execute("SELECT text FROM posts").fetchall()}
    assert examples and all(e["quote"] in texts for e in examples)  # verbatim for the investigator


# ----------------------------------------------------------------------------- (3) sections

def test_every_section_is_present_and_says_when_its_analysis_has_not_run(analysed, tmp_path):
    root, reports = analysed
    for audience, (report, written) in reports.items():
        data, html = load(written)
        assert [s["id"] for s in data["sections"]] == list(SECTION_IDS)
        expected = "omitted" if audience != "investigator" else "ok"
        assert {s["id"]: s["status"] for s in data["sections"]} == {
            **{sid: "ok" for sid in SECTION_IDS}, "aliases": expected}
        assert all(s["figures"] for s in data["sections"] if s["id"] not in ("aliases", "methods", "limitations"))
        for sid in SECTION_IDS:
            assert f'id="s-{sid}"' in html
    # a case that was ingested but never analysed: every analysis section says so, with no numbers
    ingest([root / "forum"], tmp_path / "bare", "canonical")
    with open_case(tmp_path / "bare") as c:
        report = build_report(c, "public")
        written = write_report(report, tmp_path / "out", ("html", "json"))
    data, html = load(written)
    by = {s["id"]: s for s in data["sections"]}
    for sid in ("status", "gating", "commitment", "network", "discourse", "rhythm", "aliases"):
        assert by[sid]["status"] == "not_run", sid
        assert "has not been run" in by[sid]["note"] and "forumscope analyze" in by[sid]["note"]
        assert not by[sid]["facts"] and not by[sid]["tables"] and not by[sid]["figures"], sid
        section_html = html.split(f'id="s-{sid}"', 1)[1].split("<section", 1)[0]
        assert "has not been run" in section_html
        assert "<table" not in section_html and 'class="chart"' not in section_html
    assert by["overview"]["status"] == "ok" and by["overview"]["facts"]
    assert any("Not run on this case" in p for p in by["limitations"]["paragraphs"])


# ----------------------------------------------------------------------------- (4) numbers

def test_numbers_in_the_report_equal_the_case_tables(analysed):
    root, reports = analysed
    report, written = reports["investigator"]
    data, html = load(written)
    facts = {f["id"]: f["value"] for s in data["sections"] for f in s["facts"]}
    tables = {t["id"]: t for s in data["sections"] for t in s["tables"]}
    with open_case(root / "case", read_only=True) as c:
        q = lambda sql: c.con.execute(sql).fetchall()  # noqa: E731
        assert facts["overview.posts"] == q("SELECT count(*) FROM posts")[0][0]
        assert facts["overview.lurkers"] == q("SELECT count(*) FROM users u WHERE NOT EXISTS "
                                              "(SELECT 1 FROM posts p WHERE p.author_id = u.id)")[0][0]
        months = dict(q("SELECT strftime(created_at, '%Y-%m'), count(*) FROM posts GROUP BY 1"))
        assert {r["month"]: r["posts"] for r in tables["overview.months"]["rows"]} == months
        peak = max(months, key=months.get)
        caption = next(f["caption"] for s in data["sections"] for f in s["figures"]
                       if f["id"] == "overview.posts-per-month")
        assert f"peaked in {peak} with {months[peak]:,} posts" in caption
        boards = dict(q("SELECT b.name, count(*) FROM posts p JOIN boards b ON b.id = p.board_id GROUP BY 1"))
        assert {r["name"]: r["posts"] for r in tables["overview.boards"]["rows"]} == boards
        holders = dict(q("SELECT r.name, count(*) FROM users u JOIN ranks r ON r.id = u.rank_id GROUP BY 1"))
        got = {r["name"]: r["holders"] for r in tables["status.ranks"]["rows"] if r["holders"]}
        assert got == holders
        roles = dict(q("SELECT role, members FROM roles_counts"))
        assert {r["role"]: r["members"] for r in tables["roles.counts"]["rows"]} == roles
        reached, entered = q("SELECT reached, entered FROM gating_passage WHERE criterion = 'posts' "
                             "ORDER BY board_id LIMIT 1")[0]
        row = next(r for r in tables["gating.passage"]["rows"] if r["gate"].endswith("posts"))
        assert (row["reached"], row["entered"]) == (reached, entered)
        from forumscope.report.sections.network import STRATEGY

        lcc = {STRATEGY[k]: v for k, v in q("SELECT strategy, lcc_share_at_max_k FROM disruption_summary")}
        assert {r["strategy_name"]: r["lcc_share_at_max_k"] for r in tables["disruption.summary"]["rows"]} == \
            pytest.approx(lcc)
        hour = dict(q("SELECT how, posts FROM rhythm_profiles WHERE unit = 'forum'"))
        prof = tables["rhythm.profile"]["rows"]
        assert {i: r["posts"] for i, r in enumerate(prof) if r["posts"]} == hour
        assert sum(r["posts"] for r in prof) == q("SELECT count(*) FROM posts WHERE created_at IS NOT NULL")[0][0]
        shas = {r[0] for r in q("SELECT sha256 FROM evidence")}
        assert {r["sha256"] for r in tables["methods.evidence"]["rows"]} == shas and all(s in html for s in shas)
        runs = dict(q("SELECT step, id FROM runs WHERE status = 'ok'"))
        assert {r["step"]: r["run_id"] for r in tables["methods.runs"]["rows"] if r["run_id"]} == runs
    # the public report shows the same numbers wherever it shows a number
    pub, _ = load(reports["public"][1])
    ptables = {t["id"]: t for s in pub["sections"] for t in s["tables"]}
    checked = 0
    for tid in ("overview.months", "overview.boards", "status.ranks", "roles.counts", "commitment.groups"):
        for prow, row in zip(ptables[tid]["rows"], tables[tid]["rows"]):
            for col in ptables[tid]["columns"]:
                v = prow[col["name"]]
                if col["kind"] in ("count", "share", "stat") and not isinstance(v, str):
                    assert v == row[col["name"]], (tid, col["name"])
                    checked += 1
                elif col["kind"] == "count" and v == f"<{M}":
                    assert 0 < row[col["name"]] < M
    assert checked > 50


# ----------------------------------------------------------------------------- schema and files

def test_report_json_follows_its_schema(analysed):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("forumscope").joinpath("data/report/report.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    root, reports = analysed
    for audience, (report, written) in reports.items():
        data, _ = load(written)
        errors = list(validator.iter_errors(data))
        assert not errors, (audience, [e.message[:200] for e in errors[:3]])
    data, _ = load(reports["public"][1])
    data["sections"][0]["tables"][0]["columns"].append({"name": "who", "label": "who", "kind": "person"})
    assert not validator.is_valid(data)  # the schema itself forbids per-person columns in public reports


def test_charts_are_written_and_html_is_self_contained(analysed):
    root, reports = analysed
    report, written = reports["public"]
    figs = [f for s in report.sections for f in s.figures]
    assert figs and all(f.caption for f in figs)
    for f in figs:
        for kind in ("svg", "png"):
            p = root / "public" / f.files[kind]
            assert p.exists() and p.stat().st_size > 500, p
    assert (root / "public" / figs[0].files["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = written.html.read_text()
    assert written.html_bytes < 5 * 2**20
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)""", html, re.I)
    assert "@import" not in html and "url(" not in html.split("<script", 1)[0].lower()
    csp = html_lib.unescape(re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1))
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "unsafe-inline" not in csp \
        and "unsafe-eval" not in csp
    assert html.count("<script") == 3 and len(figs) == len(re.findall(r'<div class="chart" id="', html))
    assert Path(written.json).stat().st_size > 1000

"""Build the report model of one forum of an analysed case, for one audience.

>>> from forumscope.report import build_report          # doctest: +SKIP
>>> report = build_report(case, "public")                # doctest: +SKIP
>>> report.section("overview").facts[0].value            # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from forumscope import __version__
from forumscope.errors import CaseError, UsageError
from forumscope.report.model import Cell, Report
from forumscope.report.privacy import Policy, suppress
from forumscope.report.sections import discourse, gating, members, methods, network, overview, rhythm, status, time
from forumscope.report.sections.common import Ctx

# The steps whose runs the report reads, in the order the report shows them.
REPORT_STEPS = ("hierarchy", "gating", "commitment", "roles", "trajectories", "network", "key_actors", "disruption",
                "discourse", "rhythm", "aliases")
SECTION_IDS = ("overview", "status", "gating", "commitment", "network", "discourse", "time", "rhythm", "aliases",
               "methods", "limitations")


def choose_forum(case: Any, forum_id: str | None) -> tuple[str, dict[str, Any], list[str]]:
    """The forum the report covers: the one asked for, or the only one, or the largest (by posts)."""
    forums = case.con.execute("""SELECT f.id, f.name, f.platform, (SELECT count(*) FROM posts p WHERE p.forum_id = f.id)
                                 FROM forums f ORDER BY 4 DESC, f.id""").fetchall()
    ids = [r[0] for r in forums]
    if not forums:
        raise CaseError("the case holds no forum yet; ingest a source first", path=str(case.path))
    if forum_id is not None:
        if forum_id not in ids:
            raise UsageError(f"no forum {forum_id!r} in this case; forums: {', '.join(ids)}")
        row = next(r for r in forums if r[0] == forum_id)
    else:
        row = forums[0]
    return row[0], {"id": row[0], "name": row[1], "platform": row[2]}, ids


def build_report(case: Any, audience: str, forum_id: str | None = None, *,
                 extra_versions: dict[str, str] | None = None) -> Report:
    """Collect every section from ``case`` (an open :class:`~forumscope.store.case.Case`), apply the audience's
    rules and write the sentence under each chart. Reads the case only."""
    policy = Policy.for_case(case, audience)
    fid, forum, all_ids = choose_forum(case, forum_id)
    ctx = Ctx(case, policy, fid, forum.get("name") or fid)
    forum = {**forum, "name": ctx.text(forum.get("name"))}
    sections = [overview.build(ctx), status.build(ctx), gating.build(ctx), members.build(ctx), network.build(ctx),
                discourse.build(ctx), time.build(ctx), rhythm.build_rhythm(ctx), rhythm.build_aliases(ctx)]
    from forumscope.report.charts import versions as chart_versions

    sections.append(methods.build_methods(ctx, list(REPORT_STEPS), {**chart_versions(), **(extra_versions or {})}))
    sections.append(methods.build_limitations(ctx, sections))
    meta = {
        "title": f"The operating model of {forum.get('name') or fid}",
        "forum": forum,
        "other_forums": [x for x in all_ids if x != fid],
        "case": case.settings["case"].get("name") if not policy.public else None,
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "forumscope_version": __version__,
    }
    report = Report(audience, meta, policy.describe(), sections)
    link_duplicates(report)
    suppress(report, policy)
    tables = report.tables()
    for s in report.sections:
        s.figures = [f for f in s.figures if _has_data(f, tables[f.table])]
        for fig in s.figures:
            if fig.caption_fn is not None:
                fig.caption = fig.caption_fn(report)
        for fn in s.paragraph_fns:
            s.paragraphs.append(fn(report))
    return report


# Counts that different steps report for the same thing. When equal, they are the same cell to the audience rules:
# hidden in both places or in neither (else one place would give away what the other hides).
SAME_FACTS = (("overview.members", "status.members"), ("overview.posting", "status.posters"),
              ("overview.lurkers", "status.lurkers"), ("overview.members", "roles.all_members"),
              ("overview.posting", "roles.posters"))


def link_duplicates(report: Report) -> None:
    facts, tables = report.facts(), report.tables()
    links = report.sections[0].links

    def same(a, b) -> bool:
        return a is not None and b is not None and not isinstance(a, str) and a == b

    for a, b in SAME_FACTS:
        if a in facts and b in facts and same(facts[a].value, facts[b].value):
            links.append((Cell(fact=a), Cell(fact=b)))
    if "roles.counts" in tables and "overview.lurkers" in facts:
        t = tables["roles.counts"]
        for i, r in enumerate(t.rows):
            if r["role"] == "lurker" and same(r["members"], facts["overview.lurkers"].value):
                links.append((Cell(fact="overview.lurkers"), Cell(t.id, i, "members")))
    if "commitment.rates" in tables:
        t = tables["commitment.rates"]
        for i, r in enumerate(t.rows):
            for col, fact in (("numerator", {"lurker_share": "overview.lurkers", "poster_share": "overview.posting"}
                               .get(r["measure"])), ("denominator", "overview.members")):
                if fact in facts and same(r[col], facts[fact].value):
                    links.append((Cell(fact=fact), Cell(t.id, i, col)))
    for tid, key, base_id, base_key in (("discourse.months", "month", "overview.months", "month"),
                                         ("discourse.languages", "language", "overview.languages", "language")):
        if tid in tables and base_id in tables:
            index = {r[base_key]: i for i, r in enumerate(tables[base_id].rows)}
            for i, r in enumerate(tables[tid].rows):
                j = index.get(r.get(key))
                if j is not None and same(r["posts"], tables[base_id].rows[j]["posts"]):
                    links.append((Cell(base_id, j, "posts"), Cell(tid, i, "posts")))


def _quantitative_fields(spec: dict[str, Any]) -> set[str]:
    fields: set[str] = set()
    folds = {}
    for t in spec.get("transform", []):
        if "fold" in t:
            folds[t.get("as", ["key", "value"])[1]] = t["fold"]
    for layer in [spec, *spec.get("layer", [])]:
        for ch in ("x", "y", "x2", "y2"):
            enc = layer.get("encoding", {}).get(ch)
            if isinstance(enc, dict) and "field" in enc and (enc.get("type") == "quantitative" or ch in ("x2", "y2")):
                fields.update(folds.get(enc["field"], [enc["field"]]))
    return fields


def _has_data(fig: Any, table: Any) -> bool:
    """False when every value the chart plots is hidden or missing (say so in the table, draw no empty chart)."""
    names = {c.name for c in table.columns}
    fields = _quantitative_fields(fig.spec) & names
    if not fields:
        return True
    return any(isinstance(r.get(f), (int, float)) and not isinstance(r.get(f), bool)
               for r in table.rows for f in fields)

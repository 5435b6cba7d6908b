"""Methods, parameters, versions and provenance; limitations."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import PurePath

from forumscope import __version__
from forumscope.report.format import fmt_count, fmt_pct
from forumscope.report.model import Fact, Section
from forumscope.report.sections.common import C, Ctx, make_table

EVIDENCE_CAP = 100


def build_methods(ctx: Ctx, steps: list[str], extra_versions: dict[str, str]) -> Section:
    sec = Section("methods", "Methods, parameters, versions and provenance",
                  intro="Everything needed to check or redo this report: the analysis runs with their parameters, "
                        "package versions and input fingerprints, the ingest runs, the reconciliation of every "
                        "record read, and the SHA-256 of every input file (the evidence manifest). The methods of "
                        "each step are described in forumscope's docs/analyses/ pages.")
    runs = []
    versions: dict[str, str] = {"forumscope": __version__, "python": platform.python_version()}
    for step in steps:
        r = ctx.run(step)
        row = ctx.one("SELECT * FROM runs WHERE id = ?", [r.run_id]) if r.run_id else {}
        params = {}
        if row.get("parameters"):
            try:
                params = json.loads(row["parameters"])
            except ValueError:
                params = {"raw": row["parameters"]}
        if row.get("versions"):
            try:
                versions.update({k: v for k, v in json.loads(row["versions"]).items() if k not in versions})
            except ValueError:
                pass
        runs.append({"step": step, "status": r.status.replace("_", " "), "run_id": r.run_id,
                     "finished_at": r.finished_at, "fingerprint": row.get("input_fingerprint"),
                     "parameters": json.dumps(params, sort_keys=True, ensure_ascii=False) if params else None,
                     "note": r.note})
    versions.update(extra_versions)
    sec.tables.append(make_table("methods.runs", "Analysis runs used in this report", [
        C("step", "step", "label"), C("status", "status", "label"), C("run_id", "run id", "label"),
        C("finished_at", "finished (UTC)", "time"), C("fingerprint", "input fingerprint", "label"),
        C("parameters", "parameters", "text"), C("note", "note", "text")], runs, "runs",
        note="The latest successful run of each step that covers this forum. A stale run was made before the "
             "case's data last changed."))
    sec.tables.append(make_table("methods.versions", "Software versions", [
        C("package", "package", "label"), C("version", "version", "label")],
        [{"package": k, "version": v} for k, v in versions.items()], "runs.versions"))

    public = ctx.policy.public
    full_paths = ctx.policy.audience == "investigator"

    def show_path(p):
        if p is None:
            return None
        return str(p) if full_paths else PurePath(str(p).replace("\\", "/")).name

    ing = ctx.rows("SELECT id, started_at, finished_at, format, sources, status, forumscope_version FROM ingest_runs "
                   "ORDER BY started_at")
    for r in ing:
        try:
            r["sources"] = ", ".join(show_path(s) for s in json.loads(r["sources"] or "[]"))
        except ValueError:
            r["sources"] = show_path(r["sources"])
    sec.tables.append(make_table("methods.ingest_runs", "Ingest runs", [
        C("id", "run id", "label"), C("started_at", "started (UTC)", "time"), C("format", "format", "label"),
        C("status", "status", "label"), C("sources", "sources", "label"),
        C("forumscope_version", "forumscope", "label")], ing, "ingest_runs",
        note="" if full_paths else "File names only; the investigator report shows full paths."))

    recon = ctx.rows("""SELECT table_name, sum(read) AS read, sum(stored) AS stored, sum(coalesce(merged, 0)) AS merged,
                               sum(unchanged) AS unchanged, sum(rejected) AS rejected,
                               sum(coalesce(derived, 0)) AS derived
                        FROM reconciliation GROUP BY 1 ORDER BY 1""")
    t = make_table("methods.reconciliation", "Reconciliation: every record read is stored, merged, unchanged or "
                   "rejected", [C("table_name", "table", "label"), C("read", "read", "count"),
                                C("stored", "stored", "count"), C("merged", "merged", "count"),
                                C("unchanged", "unchanged", "count"), C("rejected", "rejected", "count"),
                                C("derived", "derived (not read)", "count")], recon, "reconciliation",
                   note="Over all ingest runs of the case (all forums).")
    for i in range(len(recon)):
        t.row_partition(i, "read", ["stored", "merged", "unchanged", "rejected"])
    sec.tables.append(t)
    rejects = ctx.rows("""SELECT split_part(reason, ':', 1) AS reason, table_name, count(*) AS records FROM rejects
                          GROUP BY ALL ORDER BY records DESC, reason""")
    sec.tables.append(make_table("methods.rejects", "Rejected records by reason", [
        C("reason", "reason", "label"), C("table_name", "table", "label"), C("records", "records", "count")],
        rejects, "rejects", note="Each reject is listed with its file, line and byte offset in the case."))

    ev = ctx.rows("SELECT sha256, size_bytes, path, member, status FROM evidence ORDER BY path, member, sha256")
    digest = hashlib.sha256("\n".join(sorted(f"{r['sha256']} {r['size_bytes']}" for r in ev)).encode()).hexdigest()
    sec.facts += [Fact("methods.evidence_files", "input files in the evidence manifest", len(ev), "value"),
                  Fact("methods.evidence_digest", "SHA-256 over the manifest's hashes and sizes", digest, "value"),
                  Fact("methods.audience", "audience", ctx.policy.audience, "value"),
                  Fact("methods.min_cell_size", "minimum cell size", ctx.policy.min_cell_size, "value")]
    rows = [{"sha256": r["sha256"], "size_bytes": r["size_bytes"], "path": show_path(r["path"]),
             "member": r["member"] if not public else (show_path(r["member"]) if r["member"] else None),
             "status": r["status"]} for r in ev]
    sec.tables.append(make_table("methods.evidence", "Evidence: SHA-256 of every input file", [
        C("sha256", "SHA-256", "label"), C("size_bytes", "bytes", "value"), C("path", "file", "label"),
        C("member", "archive member", "label"), C("status", "status", "label")], rows, "evidence",
        cap=EVIDENCE_CAP, note="The full manifest is evidence.csv in the case folder."))
    return sec


def build_limitations(ctx: Ctx, report_sections: list[Section]) -> Section:
    sec = Section("limitations", "Limitations",
                  intro="What this report cannot tell, and where its numbers are weaker than they look.")
    lim: list[str] = []
    not_run = [s.title for s in report_sections if s.status == "not_run"]
    if not_run:
        lim.append("Not run on this case, so not shown: " + "; ".join(not_run) + ".")
    stale = sorted({r.step for s in report_sections for r in s.steps if r.status == "stale"})
    if stale:
        lim.append("Runs made before the case's data last changed (stale): " + ", ".join(stale)
                   + ". Rerun `forumscope analyze` to bring them up to date.")
    omitted = [s.title for s in report_sections if s.status == "omitted"]
    if omitted:
        lim.append("Left out for this audience: " + "; ".join(omitted) + ".")
    size = ctx.one("SELECT count(*) AS n, count(*) FILTER (WHERE created_at IS NULL) AS untimed, "
                   "count(*) FILTER (WHERE text IS NULL OR text = '') AS empty FROM posts WHERE forum_id = ?",
                   [ctx.forum_id])
    if size.get("n"):
        if size["untimed"]:
            lim.append(f"{fmt_pct(size['untimed'] / size['n'])} of posts have no usable time; they are left out of "
                       "everything that needs one (months, rhythm, survival).")
        if size["empty"]:
            lim.append(f"{fmt_pct(size['empty'] / size['n'])} of posts have no text; discourse measures leave them "
                       "out.")
    rejected = ctx.value("SELECT count(*) FROM rejects") or 0
    if rejected and not ctx.policy.public:
        lim.append(f"{fmt_count(rejected)} records were rejected at ingest (see Methods); they are in no number "
                   "here.")
    elif rejected:
        lim.append("Some records were rejected at ingest (see Methods); they are in no number here.")
    forums = ctx.rows("SELECT id, name FROM forums ORDER BY id")
    if len(forums) > 1:
        lim.append(f"The case holds {len(forums)} forums; this report covers one of them. Make one report per "
                   "forum with `--forum-id`.")
    lim += [
        "The data are a snapshot: ranks, groups and memberships are as the source holds them at the end; deleted "
        "posts and private messages are only as complete as the source.",
        "Activity is posting. Reading, downloading and logging in are not measured; members who only read are "
        "lurkers, and they are counted in every denominator that says so.",
        "Associations are not causes: status, approval and staying all grow with time on the forum.",
        "Time-zone estimates, alias links, role labels and key-actor scores are leads with their uncertainty, "
        "never identifications or locations.",
        "Text and metadata only: forumscope never handles media; attachment records are counted, never opened.",
    ]
    disc = next((s for s in report_sections if s.id == "discourse"), None)
    if disc is not None and disc.status == "ok":
        lim.append("Discourse codes are assigned by rules and models; their agreement with human coders is "
                   "reported where a coding sheet was imported, and they are never presented as human codes.")
    if ctx.policy.public:
        lim.append(f"Public report: aggregates only. Counts from 1 to {ctx.policy.min_cell_size - 1} are shown as "
                   f"“{ctx.policy.small}”, and cells that would let a reader recover them by subtraction, with the "
                   "shares and statistics resting on them, as “suppressed”.")
    sec.paragraphs = lim
    return sec

"""Discourse (step ``discourse``): advice, justification, normalisation, social talk, help-seeking and how
the community answers it. Reads the tables of /work/coord/discourse-interface.md (docs/analyses/discourse.md)."""

from __future__ import annotations

from typing import Any

from forumscope.report import charts
from forumscope.report.format import fmt_count, fmt_pct, hidden, language_name, listing
from forumscope.report.model import Fact, Figure, Section
from forumscope.report.sections.common import C, Ctx, make_table, not_run_section

TITLE = "Discourse: advice, justification, normalisation, social talk and help-seeking"
INTRO = ("What members talk about, measured with a codebook: advice (operational security, technical help, "
         "easing guilt), justifications (neutralisation techniques), normalisation, everyday social talk, and "
         "posts that ask for help or express a wish to stop, with how the community answers them. Tags come "
         "from models and rules (the layers named below); they are estimates, never human codes.")
LAYER_ORDER = ("combined", "supervised", "embedding", "fast", "rules")
MECHANISMS = (("opsec", "advice"), ("technical", "advice"), ("guilt", "advice"), ("advice", "advice"),
              ("neutralis", "justification"), ("justif", "justification"), ("normalis", "normalisation"),
              ("social", "social talk"), ("help_seeking", "help-seeking"), ("help_response", "answers to help-seeking"),
              ("help", "help-seeking"))
TABLES = ("discourse_prevalence", "discourse_layers")


def mechanism(code: str) -> str:
    c = code.lower()
    for prefix, name in MECHANISMS:
        if c.startswith(prefix) or prefix in c:
            return name
    return "other"


def build(ctx: Ctx) -> Section:
    run = ctx.run("discourse")
    if not ctx.ran("discourse") or not all(ctx.has(t) for t in TABLES):
        if run.status in ("ok", "stale"):
            run.status, run.note = "not_run", "the discourse tables are missing from the case"
        return not_run_section("discourse", TITLE, [run], INTRO)
    sec = Section("discourse", TITLE, steps=[run], intro=INTRO)
    rid = run.run_id
    fcond = _forum_filter(ctx)
    pf, cf, hf = (fcond(t) for t in ("discourse_prevalence", "discourse_cooccurrence", "discourse_help_responses"))
    layers = ctx.rows("SELECT * FROM discourse_layers WHERE run_id = ? ORDER BY codebook, layer", [rid])
    prev_layers = {r["layer"] for r in ctx.rows(
        f"SELECT DISTINCT layer FROM discourse_prevalence WHERE run_id = ? AND {pf}", [rid])}
    layer = next((x for x in LAYER_ORDER if x in prev_layers), sorted(prev_layers)[0] if prev_layers else None)
    if layer is None:
        sec.status, sec.note = "empty", "The discourse step ran but stored no prevalence."
        return sec
    codebook = ctx.value(f"SELECT codebook FROM discourse_prevalence WHERE run_id = ? AND layer = ? AND "
                         f"{pf} LIMIT 1", [rid, layer])
    labels, help_code = _codebook_labels(codebook)
    lay = next((x for x in layers if x["layer"] == layer and x.get("codebook") == codebook), {})
    sec.facts += [
        Fact("discourse.codebook", "codebook", f"{codebook} {lay.get('codebook_version') or ''}".strip(), "value"),
        Fact("discourse.layer", "layer reported", layer, "value"),
        Fact("discourse.layers", "layers run", ", ".join(sorted({x["layer"] for x in layers} - {"language"})),
             "value"),
    ]
    t_lay = make_table("discourse.layers", "Tagging layers", [
        C("codebook", "codebook", "label"), C("codebook_version", "version", "value"), C("layer", "layer", "label"),
        C("model", "model", "text"), C("threshold", "threshold", "value"), C("posts_scored", "posts scored", "count"),
        C("seconds", "seconds", "value")], layers, "discourse_layers")
    sec.tables.append(t_lay)

    base = [rid, codebook, layer]
    allrows = ctx.rows(f"""SELECT code, posts, tagged_posts, share FROM discourse_prevalence
                          WHERE run_id = ? AND codebook = ? AND layer = ? AND dimension = 'all' AND {pf}
                          ORDER BY share DESC NULLS LAST, code""", base)
    order = [c for c in labels if c in {r["code"] for r in allrows}] or [r["code"] for r in allrows]
    allrows.sort(key=lambda r: order.index(r["code"]) if r["code"] in order else len(order))
    for r in allrows:
        r["label"] = labels.get(r["code"], r["code"])
        r["mechanism"] = mechanism(r["code"])
    t = make_table("discourse.prevalence", "Share of posts carrying each code", [
        C("mechanism", "mechanism", "label"), C("label", "code", "label"), C("code", "code id", "label"),
        C("tagged_posts", "posts tagged", "count"), C("posts", "posts scored", "count"),
        C("share", "share of posts", "share", numerator="tagged_posts", denominator="posts")], allrows,
        "discourse_prevalence", note=f"Layer {layer}; a post can carry several codes.")
    sec.tables.append(t)
    if allrows:
        spec = charts.bar("label", "share", cat_title="code", val_title="share of posts", count=False, share=True,
                          color="mechanism", color_title="mechanism", n_bars=len(allrows), sort=None)
        sec.figures.append(Figure("discourse.prevalence", "How often each code appears", t.id, spec,
                                  caption_fn=lambda r, t=t: _prev_sentence(t)))

    top_codes = [r["code"] for r in sorted([r for r in allrows if isinstance(r.get("share"), float)],
                                           key=lambda r: -r["share"])][:5]
    if help_code and help_code not in top_codes and help_code in {r["code"] for r in allrows}:
        top_codes.append(help_code)
    months = ctx.rows(f"""SELECT code, key AS month, posts, tagged_posts, share FROM discourse_prevalence
                         WHERE run_id = ? AND codebook = ? AND layer = ? AND dimension = 'month' AND {pf}
                           AND list_contains(?, code) ORDER BY code, key""", base + [top_codes])
    for r in months:
        r["label"] = labels.get(r["code"], r["code"])
    t_m = make_table("discourse.months", "Share of posts per month, for the most frequent codes", [
        C("label", "code", "label"), C("month", "month", "label"), C("tagged_posts", "posts tagged", "count"),
        C("posts", "posts scored", "count"), C("share", "share of posts", "share", numerator="tagged_posts",
                                                denominator="posts")], months, "discourse_prevalence")
    sec.tables.append(t_m)
    if months:
        spec = charts.line("month", "share", x_title="month", y_title="share of posts", color="label",
                           color_title="code", share=True, count=False)
        sec.figures.append(Figure("discourse.months", "Codes over time", t_m.id, spec,
                                  caption_fn=lambda r, t=t_m: _months_sentence(t)))

    langs = ctx.rows(f"""SELECT code, key AS language, posts, tagged_posts, share FROM discourse_prevalence
                        WHERE run_id = ? AND codebook = ? AND layer = ? AND dimension = 'language' AND {pf}
                        ORDER BY code, key""", base)
    for r in langs:
        r["label"] = labels.get(r["code"], r["code"])
        r["language_name"] = language_name(r["language"])
    t_l = make_table("discourse.languages", "Share of posts carrying each code, by language", [
        C("label", "code", "label"), C("language_name", "language", "label"),
        C("tagged_posts", "posts tagged", "count"), C("posts", "posts scored", "count"),
        C("share", "share of posts", "share", numerator="tagged_posts", denominator="posts")], langs,
        "discourse_prevalence, discourse_languages")
    sec.tables.append(t_l)
    if len({r["language"] for r in langs}) > 1:
        spec = charts.heatmap("language_name", "label", "share", x_title="language", y_title="code",
                              val_title="share of posts", count=False, y_sort=[labels.get(c, c) for c in order],
                              height=max(160, 18 * len(order)))
        sec.figures.append(Figure("discourse.languages", "Codes by language", t_l.id, spec,
                                  caption_fn=lambda r, t=t_l: _lang_sentence(t)))

    if ctx.has("discourse_cooccurrence"):
        co = ctx.rows(f"""SELECT code_a, code_b, posts_both, posts_a, posts_b, lift FROM discourse_cooccurrence
                         WHERE run_id = ? AND codebook = ? AND layer = ? AND {cf}
                         ORDER BY lift DESC NULLS LAST""", base)
        for r in co:
            r["label_a"], r["label_b"] = labels.get(r["code_a"], r["code_a"]), labels.get(r["code_b"], r["code_b"])
        t_c = make_table("discourse.cooccurrence", "Codes that appear together", [
            C("label_a", "code", "label"), C("label_b", "with code", "label"),
            C("posts_both", "posts with both", "count"), C("posts_a", "posts with the first", "count"),
            C("posts_b", "posts with the second", "count"), C("lift", "lift", "stat", n="posts_both")], co,
            "discourse_cooccurrence",
            note="Lift above 1: the two codes appear together more often than if independent.")
        sec.tables.append(t_c)
        if co:
            spec = charts.heatmap("label_b", "label_a", "lift", x_title="with code", y_title="code", val_title="lift",
                                  count=False, diverging=True, height=max(160, 18 * len(order)))
            sec.figures.append(Figure("discourse.cooccurrence", "Co-occurrence of codes (lift)", t_c.id, spec,
                                      caption_fn=lambda r, t=t_c: _co_sentence(t)))

    if ctx.has("discourse_help_responses"):
        hr = ctx.rows(f"""SELECT reply_code, replies, help_posts, help_posts_answered, share
                          FROM discourse_help_responses WHERE run_id = ? AND codebook = ? AND layer = ? AND {hf}
                          ORDER BY replies DESC, reply_code""", base)
        if hr:
            sec.facts += [
                Fact("discourse.help_posts", "help-seeking posts", hr[0]["help_posts"]),
                Fact("discourse.help_answered", "of them answered", hr[0]["help_posts_answered"]),
                Fact("discourse.help_answered_share", "help-seeking posts that got a reply",
                     (hr[0]["help_posts_answered"] / hr[0]["help_posts"]) if hr[0]["help_posts"] else None, "share",
                     numerator="discourse.help_answered", denominator="discourse.help_posts"),
            ]
        for r in hr:
            r["label"] = "no code" if r["reply_code"] == "none" else labels.get(r["reply_code"], r["reply_code"])
        t_h = make_table("discourse.help", "How the community answers help-seeking posts", [
            C("label", "replies carrying", "label"), C("replies", "replies", "count"),
            C("share", "share of all replies to help-seeking posts", "share", numerator="replies")], hr,
            "discourse_help_responses", note="A reply can carry several codes.")
        sec.tables.append(t_h)
        if hr:
            shown = sum(1 for r in hr if (r.get("share") or 0) > 0)
            spec = charts.bar("label", "share", cat_title="replies carrying", val_title="share of replies to "
                              "help-seeking posts", count=False, share=True, n_bars=max(shown, 1),
                              sort={"field": "share", "order": "descending"})
            spec["transform"] = [{"filter": "datum.share > 0"}]
            sec.figures.append(Figure("discourse.help", "Answers to help-seeking", t_h.id, spec,
                                      caption_fn=lambda r, t=t_h: _help_sentence(r, t)))

    if ctx.has("discourse_agreement"):
        ag = ctx.rows("SELECT * FROM discourse_agreement WHERE codebook = ? ORDER BY code, comparison", [codebook])
        for r in ag:
            r["label"] = labels.get(r["code"], r["code"])
        sec.tables.append(make_table("discourse.agreement", "Agreement: human coders, and models against humans", [
            C("label", "code", "label"), C("comparison", "comparison", "label"), C("coders", "coders", "value"),
            C("items", "items coded", "count"), C("kappa", "Cohen's kappa", "stat", n="items"),
            C("alpha", "Krippendorff's alpha", "stat", n="items"), C("precision", "precision", "stat", n="items"),
            C("recall", "recall", "stat", n="items"), C("f1", "F1", "stat", n="items")], ag, "discourse_agreement"))

    if ctx.policy.quotes and ctx.has("discourse_tags"):
        _examples(ctx, sec, rid, codebook, layer, labels, order)
    return sec


def _forum_filter(ctx: Ctx):
    """A SQL condition restricting a discourse table to this forum (when the table has a forum_id column)."""
    cache: dict[str, str] = {}

    def cond(table: str) -> str:
        if table not in cache:
            cols = {r[0] for r in ctx.con.execute(f'DESCRIBE "{table}"').fetchall()} if ctx.has(table) else set()
            fid = ctx.forum_id.replace("'", "''")
            cache[table] = f"forum_id = '{fid}'" if "forum_id" in cols else "TRUE"
        return cache[table]
    return cond


def _codebook_labels(codebook: str | None) -> tuple[dict[str, str], str | None]:
    try:
        from forumscope.discourse.codebook import load_codebook

        cb = load_codebook(codebook)
        return {c.id: c.label for c in cb.codes}, cb.help_seeking_code
    except Exception:  # noqa: BLE001 - a codebook that is gone or changed: fall back to code ids
        return {}, ("help_seeking" if codebook == "operating-model" else None)


def _examples(ctx: Ctx, sec: Section, rid: str, codebook: str, layer: str, labels: dict[str, str],
              order: list[str]) -> None:
    rows = ctx.rows("""
        WITH t AS (SELECT code, post_id, max(score) AS score FROM discourse_tags
                   WHERE run_id = ? AND forum_id = ? AND codebook = ? AND layer = ? GROUP BY 1, 2),
             r AS (SELECT *, row_number() OVER (PARTITION BY code ORDER BY score DESC, post_id) AS k FROM t)
        SELECT r.code, r.score, p.author_id, p.text FROM r JOIN posts p ON p.forum_id = ? AND p.id = r.post_id
        WHERE r.k <= 2 ORDER BY r.code, r.k""", [rid, ctx.forum_id, codebook, layer, ctx.forum_id])
    out: list[dict[str, Any]] = []
    for r in rows:
        q = ctx.policy.quote(r["text"], 300)
        if not q:
            continue
        out.append({"code": r["code"], "label": labels.get(r["code"], r["code"]),
                    "member": ctx.person(r["author_id"]) if r["author_id"] else None, "quote": q, "score": r["score"]})
    out.sort(key=lambda x: order.index(x["code"]) if x["code"] in order else len(order))
    redacted = " E-mail addresses, URLs, IP and onion addresses and @mentions are redacted." \
        if ctx.policy.audience != "investigator" else ""
    sec.tables.append(make_table("discourse.examples", "Examples: the highest-scoring posts per code", [
        C("label", "code", "label"), C("member", ctx.person_title, "person"), C("quote", "post (excerpt)", "quote"),
        C("score", "score", "value")], out, "discourse_tags, posts",
        note="Model-tagged examples for reading, not human codes." + redacted))


def _prev_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("share"), float)]
    if not rows:
        return "Every code is too rare to show."
    top = sorted(rows, key=lambda r: -r["share"])[:3]
    s = "The most frequent codes are " + listing([f"{r['label']} ({fmt_pct(r['share'])})" for r in top])
    help_rows = [r for r in t.rows if r["mechanism"] == "help-seeking"]
    if help_rows:
        h = help_rows[0]
        s += f"; help-seeking appears in {fmt_pct(h.get('share'))} of posts ({fmt_count(h.get('tagged_posts'))} posts)"
    return s + "."


def _months_sentence(t) -> str:
    by: dict[str, list] = {}
    for r in t.rows:
        by.setdefault(r["label"], []).append(r)
    parts = []
    for label, rows in by.items():
        half = len(rows) // 2
        halves = []
        for part in (rows[:half], rows[half:]):
            ok = [r for r in part if isinstance(r.get("tagged_posts"), (int, float))
                  and isinstance(r.get("posts"), (int, float))]
            n = sum(r["posts"] for r in ok)
            # a half with hidden months would give a biased share: say nothing about it
            halves.append(sum(r["tagged_posts"] for r in ok) / n if n and len(ok) == len(part) else None)
        if half and None not in halves:
            a, b = halves
            trend = "rose" if b > a * 1.2 else "fell" if b < a / 1.2 else "stayed about level"
            parts.append(f"{label} {trend} ({fmt_pct(a)} of posts in the first half of the period, {fmt_pct(b)} in "
                         f"the second)")
        if len(parts) == 3:
            break
    if not parts:
        return "Monthly shares are too small to show."
    return "Over time: " + listing(parts) + "."


def _lang_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("share"), float)]
    if not rows:
        return "Shares by language are too small to show."
    top = max(rows, key=lambda r: r["share"])
    return f"The highest share in any language is {top['label']} in {top['language_name']} ({fmt_pct(top['share'])})."


def _co_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("lift"), float) and r["label_a"] != r["label_b"]
            and isinstance(r.get("posts_both"), (int, float)) and r["posts_both"] >= 10]
    if not rows:
        return "No pair of codes appears together often enough to show."
    r = max(rows, key=lambda r: r["lift"])
    return (f"The strongest pairing is {r['label_a']} with {r['label_b']}: they appear together "
            f"{r['lift']:.1f} times as often as if they were independent ({fmt_count(r['posts_both'])} posts).")


def _help_sentence(report, t) -> str:
    facts = report.facts()
    n, a, s = (facts.get(f"discourse.{k}") for k in ("help_posts", "help_answered", "help_answered_share"))
    head = ""
    if n is not None:
        head = (f"Of {fmt_count(n.value)} help-seeking posts, {fmt_count(a.value)} got a reply "
                f"({fmt_pct(s.value) if s and not hidden(s.value) else 'share not shown'}). ")
    rows = [r for r in t.rows if isinstance(r.get("share"), float) and r["share"] > 0]
    if rows:
        head += "Replies carried " + listing([f"{r['label']} ({fmt_pct(r['share'])})" for r in rows[:3]]) + "."
    return head.strip() or "No help-seeking post was found."


"""Overview: size, time span, activity, languages and lurkers (from the case's own tables)."""

from __future__ import annotations

from forumscope.report import charts
from forumscope.report.format import fmt_count, fmt_pct, hidden, language_name, listing, plural
from forumscope.report.model import Cell, Fact, Figure, Partition, Section
from forumscope.report.sections.common import C, Ctx, make_table

TOP_BOARDS = 25


def build(ctx: Ctx) -> Section:
    f = ctx.forum_id
    sec = Section("overview", "Overview: size, time span, activity, languages and lurkers",
                  intro="What the case holds for this forum: how big it is, over what period it was active, "
                        "how activity is spread over boards, months and languages, and how many registered "
                        "members never posted (lurkers). Lurkers are counted in every denominator that says so.")
    size = ctx.one("""
        SELECT count(*) AS posts, count(*) FILTER (WHERE created_at IS NULL) AS untimed,
               min(created_at) AS first_post, max(created_at) AS last_post,
               count(DISTINCT author_id) AS authors, count(DISTINCT thread_id) AS threads_with_posts
        FROM posts WHERE forum_id = ?""", [f])
    reg = ctx.one("""
        WITH a AS (SELECT DISTINCT author_id FROM posts WHERE forum_id = ? AND author_id IS NOT NULL)
        SELECT (SELECT count(*) FROM users WHERE forum_id = ?) AS registered, count(u.id) AS posting,
               count(*) - count(u.id) AS unregistered
        FROM a LEFT JOIN users u ON u.forum_id = ? AND u.id = a.author_id""", [f, f, f])
    unreg = reg.get("unregistered") or 0
    counts = {t: ctx.value(f'SELECT count(*) FROM "{t}" WHERE forum_id = ?', [f]) or 0
              for t in ("boards", "threads", "interactions", "attachments", "private_messages", "events")}
    registered, posting = reg.get("registered") or 0, reg.get("posting") or 0
    lurkers = registered - posting
    first, last = size.get("first_post"), size.get("last_post")
    span = (last - first).days if first and last else None
    sec.facts += [
        Fact("overview.posts", "posts", size.get("posts") or 0),
        Fact("overview.threads", "threads", counts["threads"]),
        Fact("overview.boards", "boards", counts["boards"]),
        Fact("overview.members", "registered members", registered),
        Fact("overview.posting", "registered members who posted", posting),
        Fact("overview.lurkers", "lurkers (registered, never posted)", lurkers),
        Fact("overview.lurker_share", "lurkers among registered members",
             lurkers / registered if registered else None, "share", numerator="overview.lurkers",
             denominator="overview.members"),
        Fact("overview.unregistered_posters", "posting names without an account (guests)", unreg),
        Fact("overview.interactions", "interactions (replies, quotes, thanks, ...)", counts["interactions"]),
        Fact("overview.attachments", "attachment records (never the files)", counts["attachments"]),
        Fact("overview.private_messages", "private messages (metadata)", counts["private_messages"]),
        Fact("overview.first_post", "first post", str(first)[:10] if first else None, "time"),
        Fact("overview.last_post", "last post", str(last)[:10] if last else None, "time"),
        Fact("overview.span_days", "days between first and last post", span, "value"),
        Fact("overview.posts_untimed", "posts without a time", size.get("untimed") or 0),
    ]

    sec.partitions.append(Partition(Cell(fact="overview.members"), [Cell(fact="overview.posting"),
                                                                     Cell(fact="overview.lurkers")]))
    # activity concentration: share of posts by the most active tenth of posters
    conc = ctx.one("""
        WITH a AS (SELECT author_id, count(*) AS n FROM posts WHERE forum_id = ? AND author_id IS NOT NULL GROUP BY 1),
             r AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS rk, count(*) OVER () AS k FROM a)
        SELECT max(k) AS posters, sum(n) AS posts, sum(n) FILTER (WHERE rk <= ceil(k / 10.0)) AS top_posts,
               max(rk) FILTER (WHERE rk <= ceil(k / 10.0)) AS top_n FROM r""", [f])
    if conc.get("posters"):
        sec.facts += [
            Fact("overview.top_tenth_posters", "most active tenth of posters", conc["top_n"]),
            Fact("overview.top_tenth_share", "share of posts written by the most active tenth of posters",
                 (conc["top_posts"] or 0) / conc["posts"] if conc["posts"] else None, "stat",
                 n="overview.top_tenth_posters", fmt="pct"),
        ]

    # months
    months = ctx.months()
    t_months = make_table("overview.months", "Posts and posting members per month", [
        C("month", "month", "label"), C("posts", "posts", "count"),
        C("posters", "members who posted", "count")], months, "posts",
        note="Months without posts are left out. Posts without a time are counted apart.")
    parts = [Cell(t_months.id, i, "posts") for i in range(len(months))] + [Cell(fact="overview.posts_untimed")]
    t_months.partitions.append(Partition(Cell(fact="overview.posts"), parts))
    sec.tables.append(t_months)
    if months:
        sec.figures.append(Figure("overview.posts-per-month", "Posts per month", t_months.id,
                                  charts.line("month", "posts", x_title="month", y_title="posts"),
                                  caption_fn=lambda r, t=t_months: _months_sentence(t)))

    # boards
    boards = ctx.rows("""
        WITH p AS (SELECT board_id, count(*) AS posts, count(DISTINCT thread_id) AS threads,
                          count(DISTINCT author_id) AS posters FROM posts WHERE forum_id = ? GROUP BY 1)
        SELECT p.board_id, coalesce(b.name, p.board_id, '(no board)') AS name, p.posts, p.threads, p.posters
        FROM p LEFT JOIN boards b ON b.forum_id = ? AND b.id = p.board_id
        ORDER BY p.posts DESC, name""", [f, f])
    total_posts = size.get("posts") or 0
    shown = boards[:TOP_BOARDS]
    rest = boards[TOP_BOARDS:]
    if rest:
        shown.append({"board_id": None, "_other": True, "name": f"other boards ({len(rest)})",
                      "posts": sum(b["posts"] for b in rest), "threads": sum(b["threads"] for b in rest),
                      "posters": None})
    for b in shown:
        b["share"] = b["posts"] / total_posts if total_posts else None
        b["name"] = ctx.text(b["name"])
    t_boards = make_table("overview.boards", "Posts by board", [
        C("name", "board", "label"), C("posts", "posts", "count"), C("share", "share of posts", "share",
                                                                     numerator="posts"),
        C("threads", "threads", "count"), C("posters", "members who posted", "count")], shown, "posts, boards",
        note=(f"The {TOP_BOARDS} largest of {len(boards)} boards with posts; the rest are pooled." if rest else ""))
    t_boards.column_partition("posts", Cell(fact="overview.posts"))
    sec.tables.append(t_boards)
    if shown:
        n = min(len(shown), 15)
        fig_t = t_boards
        sec.figures.append(Figure("overview.boards", "Posts by board", fig_t.id,
                                  charts.bar("name", "posts", cat_title="board", val_title="posts", n_bars=n,
                                             sort={"field": "posts", "order": "descending"}),
                                  caption_fn=lambda r, t=t_boards: _boards_sentence(t)))

    # languages: detected where the discourse step ran, else as declared
    detected = ctx.has("discourse_languages") and ctx.ran("discourse")
    if detected:
        run_id = ctx.run("discourse").run_id
        langs = ctx.rows("""
            SELECT coalesce(l.language, 'unknown') AS language, count(*) AS posts
            FROM posts p LEFT JOIN discourse_languages l
                 ON l.run_id = ? AND l.forum_id = p.forum_id AND l.post_id = p.id
            WHERE p.forum_id = ? GROUP BY 1 ORDER BY 2 DESC""", [run_id, f])
        lang_src = f"detected by the discourse step (run {run_id})"
    else:
        langs = ctx.rows("""SELECT coalesce(nullif(language, ''), 'unknown') AS language, count(*) AS posts
                            FROM posts WHERE forum_id = ? GROUP BY 1 ORDER BY 2 DESC""", [f])
        lang_src = "as declared by the source (posts.language); run the discourse step to detect it"
    for row in langs:
        row["name"] = language_name(row["language"])
        row["share"] = row["posts"] / total_posts if total_posts else None
    t_lang = make_table("overview.languages", "Posts by language", [
        C("name", "language", "label"), C("posts", "posts", "count"),
        C("share", "share of posts", "share", numerator="posts")], langs,
        "discourse_languages" if detected else "posts.language", note=f"Language {lang_src}.")
    t_lang.column_partition("posts", Cell(fact="overview.posts"))
    sec.tables.append(t_lang)
    if len(langs) > 1 or (langs and langs[0]["language"] != "unknown"):
        sec.figures.append(Figure("overview.languages", "Posts by language", t_lang.id,
                                  charts.bar("name", "posts", cat_title="language", val_title="posts",
                                             n_bars=len(langs), sort={"field": "posts", "order": "descending"}),
                                  caption_fn=lambda r, t=t_lang: _lang_sentence(t)))

    # interactions by kind
    kinds = ctx.rows("SELECT kind, count(*) AS interactions FROM interactions WHERE forum_id = ? GROUP BY 1 "
                     "ORDER BY 2 DESC", [f])
    t_kinds = make_table("overview.interactions", "Interactions by kind", [
        C("kind", "kind", "label"), C("interactions", "interactions", "count")], kinds, "interactions",
        note="Replies derived from explicit parents are included.")
    t_kinds.column_partition("interactions", Cell(fact="overview.interactions"))
    sec.tables.append(t_kinds)

    # largest threads (titles are forum text: never in public reports)
    if ctx.policy.per_person:
        threads = ctx.rows("""
            WITH top AS (SELECT thread_id, count(*) AS posts FROM posts WHERE forum_id = ? AND thread_id IS NOT NULL
                         GROUP BY 1 ORDER BY posts DESC, thread_id LIMIT 15),
                 d AS (SELECT p.thread_id, count(DISTINCT p.author_id) AS posters, min(p.created_at) AS started,
                              any_value(p.board_id) AS board_id
                       FROM posts p JOIN top USING (thread_id) WHERE p.forum_id = ? GROUP BY 1)
            SELECT coalesce(t.title, top.thread_id) AS title, coalesce(b.name, d.board_id) AS board, top.posts,
                   d.posters, d.started
            FROM top JOIN d USING (thread_id) LEFT JOIN threads t ON t.forum_id = ? AND t.id = top.thread_id
                 LEFT JOIN boards b ON b.forum_id = ? AND b.id = d.board_id
            ORDER BY top.posts DESC, title""", [f, f, f, f])
        for t in threads:
            t["title"], t["board"] = ctx.text(t["title"]), ctx.text(t["board"])
        sec.tables.append(make_table("overview.threads", "Largest threads", [
            C("title", "thread title", "label"), C("board", "board", "label"), C("posts", "posts", "count"),
            C("posters", "members who posted", "count"), C("started", "first post", "time", fmt="date")],
            threads, "posts, threads", note="Titles are forum text, shown as written (escaped)."))
    sec.paragraph_fns.append(lambda r: _members_paragraph(r))
    return sec


def _months_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("posts"), (int, float))]
    if not rows:
        return "Every month has a small number of posts; the counts are suppressed."
    peak = max(rows, key=lambda r: r["posts"])
    counts = sorted(r["posts"] for r in rows)
    med = counts[len(counts) // 2]
    return (f"Posting ran over {plural(len(t.rows), 'month')} with posts, from {t.rows[0]['month']} to "
            f"{t.rows[-1]['month']}; it peaked in {peak['month']} with {fmt_count(peak['posts'])} posts, and the "
            f"median month had {fmt_count(med)}.")


def _boards_sentence(t) -> str:
    rows = [r for r in t.rows if not r.get("_other")]
    if not rows:
        return "No posts are attached to boards."
    top = rows[0]
    top3 = [r for r in rows[:3] if isinstance(r.get("share"), float)]
    s = f"The largest board, “{top['name']}”, holds {fmt_pct(top.get('share'))} of all posts"
    if len(top3) == 3:
        s += f"; the three largest together hold {fmt_pct(sum(r['share'] for r in top3))}"
    return s + "."


def _lang_sentence(t) -> str:
    rows = [r for r in t.rows if not hidden(r.get("share")) and r.get("share") is not None]
    if not rows:
        return "Languages are too rare to show."
    parts = [f"{r['name']} {fmt_pct(r['share'])}" for r in rows[:3]]
    return f"Posts by language: {listing(parts)}."


def _members_paragraph(r) -> str:
    facts = r.facts()
    reg, post, lurk = (facts[k].value for k in ("overview.members", "overview.posting", "overview.lurkers"))
    share = facts["overview.lurker_share"].value
    s = (f"Of {plural(reg, 'registered member')}, {fmt_count(post)} posted at least once and {fmt_count(lurk)} "
         f"never posted (lurkers, {fmt_pct(share)} of registered members).")
    top = facts.get("overview.top_tenth_share")
    if top is not None and top.value is not None and not hidden(top.value):
        s += (f" Activity is concentrated: the most active tenth of posters "
              f"({fmt_count(facts['overview.top_tenth_posters'].value)} members) wrote {fmt_pct(top.value)} of "
              f"the posts by members.")
    g = facts["overview.unregistered_posters"].value
    if g and not (isinstance(g, (int, float)) and g == 0):
        s += f" {fmt_count(g)} posting names have no account (guests or deleted accounts)."
    return s


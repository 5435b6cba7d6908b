"""Network structure, key actors and disruption curves (steps ``network``, ``key_actors``, ``disruption``)."""

from __future__ import annotations

from forumscope.report import charts
from forumscope.report.format import fmt_count, fmt_num, fmt_pct, listing
from forumscope.report.model import Cell, Fact, Figure, Section
from forumscope.report.privacy import SECONDARY
from forumscope.report.sections.common import TOP_PEOPLE, C, Ctx, make_table, not_run_section, step_status

TITLE = "Network and key actors"
INTRO = ("Who interacts with whom (replies, quotes, thanks), measured against random networks with the same "
         "numbers of ties per member: is the community more clustered, reciprocal or centralised than chance? "
         "Core and periphery, communities, an explainable key-actor score, and what happens to the network when "
         "the most central members are removed (disruption curves).")
STRATEGY = {"degree": "highest degree", "betweenness": "highest betweenness", "key_actor": "highest key-actor score",
            "random": "at random"}
PEOPLE_METRICS = ("nodes", "max_core_nodes")  # metrics that count members
METRIC_NAMES = {"reciprocity": "reciprocity", "transitivity": "clustering (transitivity)",
                "avg_clustering": "mean local clustering", "degree_assortativity": "degree assortativity",
                "degree_centralization": "degree centralisation", "max_core": "deepest core (k)",
                "max_core_nodes": "members in the deepest core", "modularity": "modularity",
                "communities": "communities", "largest_component_share": "largest component share"}


def build(ctx: Ctx) -> Section:
    runs = [ctx.run(s) for s in ("network", "key_actors", "disruption")]
    status = step_status(runs)
    if status == "not_run":
        return not_run_section("network", TITLE, runs, INTRO)
    sec = Section("network", TITLE, status=status, steps=runs, intro=INTRO)
    if status == "partial":
        sec.note = "Not run: " + ", ".join(r.step for r in runs if r.status not in ("ok", "stale")) + "."
    small = False
    if ctx.ran("network"):
        small = _network(ctx, sec)
    if small:
        return sec
    if ctx.ran("key_actors"):
        _key_actors(ctx, sec)
    if ctx.ran("disruption"):
        _disruption(ctx, sec)
    return sec


def _graph(ctx: Ctx, table: str, rid: str) -> str | None:
    rows = ctx.rows(f"SELECT DISTINCT graph FROM {table} WHERE run_id = ? AND forum_id = ?", [rid, ctx.forum_id])
    names = [r["graph"] for r in rows]
    return "combined" if "combined" in names else (names[0] if names else None)


def _network(ctx: Ctx, sec: Section) -> bool:
    rid, f = ctx.run("network").run_id, ctx.forum_id
    g = _graph(ctx, "network_graphs", rid)
    if g is None:
        sec.status, sec.note = "empty", "The network step ran but this forum has no interactions between members."
        return True
    gr = ctx.one("SELECT * FROM network_graphs WHERE run_id = ? AND forum_id = ? AND graph = ?", [rid, f, g])
    sec.facts += [
        Fact("network.kinds", "interaction kinds in the graph", gr["kinds"], "value"),
        Fact("network.nodes", "members in the graph", gr["nodes"]),
        Fact("network.edges", "directed ties (member pairs)", gr["edges"]),
        Fact("network.interactions", "interactions on the ties", gr["interactions_used"]),
        Fact("network.components", "connected components", gr["components"], "value"),
        Fact("network.largest_share", "members in the largest component", gr["largest_component_share"], "share",
             denominator="network.nodes"),
        Fact("network.null", "random networks compared", gr["n_null"], "value"),
    ]
    if ctx.policy.public and (gr["nodes"] or 0) < ctx.policy.min_cell_size:
        sec.note = (f"The interaction network has fewer than {ctx.policy.min_cell_size} members; its structure is "
                    "not shown in a public report.")
        return True
    metrics = ctx.rows("SELECT * FROM network_metrics WHERE run_id = ? AND forum_id = ? AND graph = ?", [rid, f, g])
    for m in metrics:
        m["name"] = METRIC_NAMES.get(m["metric"], m["metric"].replace("_", " "))
        small = ctx.policy.min_cell_size
        if ctx.policy.public and m["metric"] in PEOPLE_METRICS and m["observed"] is not None \
                and 0 < m["observed"] < small:  # a number of members, like a count
            m.update(observed=ctx.policy.small, null_mean=SECONDARY, null_sd=SECONDARY, z=SECONDARY)
    t = make_table("network.metrics", "Structure against random networks with the same ties per member", [
        C("name", "measure", "label"), C("observed", "observed", "value"), C("null_mean", "random: mean", "value"),
        C("null_sd", "random: sd", "value"), C("z", "z-score", "value"),
        C("invariant", "fixed by the ties per member", "value"), C("description", "definition", "text")],
        metrics, "network_metrics",
        note="z = (observed − random mean) / random sd; measures fixed by the degree sequence have no z.")
    sec.tables.append(t)
    zs = [m for m in metrics if m.get("z") is not None]
    if zs:
        spec = charts.bar("name", "z", cat_title="measure", val_title="z-score against random networks",
                          count=False, n_bars=len(zs), sort="-x")
        spec["transform"] = [{"filter": "isValid(datum.z)"}]
        sec.figures.append(Figure("network.metrics", "How the network differs from chance", t.id, spec,
                                  caption_fn=lambda r, t=t: _metrics_sentence(t)))
    cores = ctx.rows("SELECT core, nodes, k_core_nodes, k_core_share FROM network_cores WHERE run_id = ? AND "
                     "forum_id = ? AND graph = ? ORDER BY core", [rid, f, g])
    tc = make_table("network.cores", "Core and periphery (k-cores)", [
        C("core", "core number k", "value"), C("nodes", "members with core number k", "count"),
        C("k_core_nodes", "members in the k-core", "count"),
        C("k_core_share", "share of members in the k-core", "share", numerator="k_core_nodes")], cores,
        "network_cores",
        note="The k-core: the largest group in which every member has ties to at least k others in it.")
    tc.column_partition("nodes", Cell(fact="network.nodes"))
    sec.tables.append(tc)
    comms = ctx.rows("SELECT community, nodes, share, internal_edges, internal_weight, external_weight FROM "
                     "network_communities WHERE run_id = ? AND forum_id = ? AND graph = ? ORDER BY community",
                     [rid, f, g])
    cap = 30
    shown = comms[:cap]
    if len(comms) > cap:
        rest = comms[cap:]
        shown.append({"community": f"others ({len(rest)})", "nodes": sum(c["nodes"] for c in rest),
                      "share": sum(c["share"] or 0 for c in rest), "internal_edges": None,
                      "internal_weight": None, "external_weight": None})
    tm = make_table("network.communities", "Communities (Leiden)", [
        C("community", "community", "label"), C("nodes", "members", "count"),
        C("share", "share of members", "share", numerator="nodes"),
        C("internal_edges", "ties inside", "count"), C("internal_weight", "interactions inside", "count"),
        C("external_weight", "interactions across its border", "count")], shown, "network_communities",
        note=f"{len(comms)} communities; the largest {cap} are listed." if len(comms) > cap else "")
    tm.column_partition("nodes", Cell(fact="network.nodes"))
    sec.tables.append(tm)
    return False


def _key_actors(ctx: Ctx, sec: Section) -> None:
    rid, f = ctx.run("key_actors").run_id, ctx.forum_id
    comps = ctx.rows("SELECT component, weight, weight_share, normalisation, source FROM key_actors_components "
                     "WHERE run_id = ? ORDER BY weight DESC, component", [rid])
    sec.tables.append(make_table("key_actors.components", "How the key-actor score is made", [
        C("component", "component", "label"), C("weight", "weight", "value"), C("weight_share", "share of the score",
                                                                                  "value", fmt="pct"),
        C("normalisation", "normalised as", "text"), C("source", "from", "text")], comps, "key_actors_components",
        note="Score = weighted mean of the components' percentile ranks within the forum; each actor's "
             "contributions add up to the score."))
    if not ctx.policy.per_person:
        sec.paragraphs.append("Key actors are people: this audience sees how the score is made, not who scores high.")
        return
    top = ctx.rows("SELECT rank, user_id, score, main_component, main_share, explanation FROM key_actors_top "
                   "WHERE run_id = ? AND forum_id = ? ORDER BY rank LIMIT ?", [rid, f, TOP_PEOPLE])
    for t in top:
        t["member"] = ctx.person(t["user_id"])
    tt = make_table("key_actors.top", "Key actors (highest scores)", [
        C("rank", "rank", "value"), C("member", ctx.person_title, "person"), C("score", "score", "value"),
        C("main_component", "largest component", "label"), C("main_share", "its share of the score", "value",
                                                               fmt="pct"),
        C("explanation", "every component: contribution (value, percentile)", "text")], top, "key_actors_top",
        note="A high score is a lead for reading the forum, not a finding about a person.")
    sec.tables.append(tt)
    if top:
        spec = charts.bar("member", "score", cat_title=ctx.person_title, val_title="key-actor score", count=False,
                          n_bars=len(top), sort={"field": "score", "order": "descending"},
                          extra_tip=[("main_component", "largest component", "nominal")], zero=False)
        spec["mark"] = {"type": "point", "filled": True, "size": 70}  # scores sit close together: no bars from 0
        sec.figures.append(Figure("key_actors.top", "Key-actor scores", tt.id, spec,
                                  caption_fn=lambda r, t=tt: _top_sentence(t)))


def _disruption(ctx: Ctx, sec: Section) -> None:
    rid, f = ctx.run("disruption").run_id, ctx.forum_id
    g = _graph(ctx, "disruption_summary", rid)
    if g is None:
        return
    summ = ctx.rows("SELECT * FROM disruption_summary WHERE run_id = ? AND forum_id = ? AND graph = ? ORDER BY "
                    "robustness", [rid, f, g])
    for s in summ:
        s["strategy_name"] = STRATEGY.get(s["strategy"], s["strategy"])
    ts = make_table("disruption.summary", "Disruption: removing members by strategy", [
        C("strategy_name", "remove members with", "label"), C("nodes", "members in the graph", "count"),
        C("max_k", "members removed (K)", "value"), C("runs", "runs", "value"),
        C("lcc_share_at_max_k", "largest component after K removals", "value", fmt="pct"),
        C("robustness", "robustness (mean largest-component share)", "value"),
        C("k_half", "removals until the largest component halves", "value"),
        C("density_ratio", "density after / before", "value"),
        C("avg_path_length_ratio", "mean path length after / before", "value"),
        C("ranking_from", "ranking from", "text")], summ, "disruption_summary",
        note="Lower robustness: more damage. Random: mean over seeded runs.")
    sec.tables.append(ts)
    curves = ctx.rows("SELECT strategy, k, lcc_share, lcc_share_sd, density, avg_path_length FROM disruption_curves "
                      "WHERE run_id = ? AND forum_id = ? AND graph = ? ORDER BY strategy, k", [rid, f, g])
    for c in curves:
        c["strategy_name"] = STRATEGY.get(c["strategy"], c["strategy"])
    tc = make_table("disruption.curves", "Largest connected component as members are removed", [
        C("strategy_name", "remove members with", "label"), C("k", "members removed", "value"),
        C("lcc_share", "share of members in the largest component", "value", fmt="pct"),
        C("lcc_share_sd", "sd over random runs", "value"), C("density", "density", "value"),
        C("avg_path_length", "mean path length", "value")], curves, "disruption_curves")
    sec.tables.append(tc)
    if curves:
        spec = charts.line("k", "lcc_share", x_title="members removed", y_title="share of members in the largest "
                           "connected component", temporal=False, color="strategy_name", color_title="remove "
                           "members with", share=True, count=False, points=False, zero=False)
        sec.figures.append(Figure("disruption.curves", "Disruption curves", tc.id, spec,
                                  caption_fn=lambda r, t=ts: _disruption_sentence(t)))


def _metrics_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("z"), float) and abs(r["z"]) >= 2]
    if not rows:
        return "The network's structure is within what random networks with the same ties per member give."
    rows.sort(key=lambda r: -abs(r["z"]))
    more = [f"{r['name']} (z = {fmt_num(r['z'], 2)})" for r in rows if r["z"] > 0][:4]
    less = [f"{r['name']} (z = {fmt_num(r['z'], 2)})" for r in rows if r["z"] < 0][:3]
    s = "Against random networks with the same numbers of ties per member"
    if more:
        s += f", this network has more {listing(more)}"
    if less:
        s += f"{' and' if more else ','} less {listing(less)}"
    return s + "."


def _top_sentence(t) -> str:
    if not t.rows:
        return "No key actors."
    a = t.rows[0]
    comps = {}
    for r in t.rows:
        comps[r["main_component"]] = comps.get(r["main_component"], 0) + 1
    main = max(comps, key=comps.get)
    return (f"The highest-scoring actor, {a['member']}, scores {fmt_num(a['score'], 2)} (largest component: "
            f"{a['main_component']}); across the top {len(t.rows)}, {main} is most often the largest component.")


def _disruption_sentence(t) -> str:
    by = {r["strategy"]: r for r in t.rows}
    targeted = [r for r in t.rows if r["strategy"] != "random" and isinstance(r.get("lcc_share_at_max_k"), float)]
    if not targeted:
        return "No disruption curve."
    best = min(targeted, key=lambda r: r["lcc_share_at_max_k"])
    s = (f"Removing the {fmt_count(best['max_k'])} members with the {best['strategy_name']} "
         f"leaves {fmt_pct(best['lcc_share_at_max_k'])} of members in the largest connected component")
    rnd = by.get("random")
    if rnd and isinstance(rnd.get("lcc_share_at_max_k"), float):
        s += f", against {fmt_pct(rnd['lcc_share_at_max_k'])} when as many are removed at random"
    return s + "."

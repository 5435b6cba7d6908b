"""Hostile forum text in the report: handles, board names, rank names, thread titles and posts carrying script
tags, event handlers, javascript: URLs, CSS, </script> and <!-- sequences. Every audience's report.html is loaded
in headless Chromium with JavaScript on: no dialog, no console error, no network request, charts drawn, and the
hostile strings shown as text."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import write_forum

from forumscope.ingest.run import ingest
from forumscope.pipeline.runner import run_steps
from forumscope.report import build_report, write_report
from forumscope.store.case import open_case

CHROMIUM = "/usr/bin/chromium"
HANDLE = '<script>alert("handle")</script>'
BOARDS = ['<img src=x onerror=alert("board")>', '</script><script>alert("b2")</script><!--',
          '<style>body{display:none}</style>Lounge']
RANK = '<b onmouseover=alert("rank")>Boss</b>'
TITLES = ['"><svg onload=alert("title")> javascript:alert(1)', "<a href=\"javascript:alert('t2')\">click</a>",
          "' onmouseover='alert(7)' x='"]
POST_CORE = '<script>alert("post")</script> </script><!-- {{7*7}} ${alert(8)}'
POST = ("good morning everyone, coffee is ready " + POST_CORE
        + " <img src=https://evil.invalid/x.png onerror=alert(9)> javascript:alert(3)")
STEPS = ["hierarchy", "gating", "roles", "network", "key_actors", "discourse"]


def hostile_tables():
    f = "evil"
    users = [{"forum_id": f, "id": "u0", "name": HANDLE, "rank_id": "r0", "registered_at": "2021-01-01T00:00:00Z"}]
    users += [{"forum_id": f, "id": f"u{i}", "name": f"member{i}", "rank_id": "r0",
               "registered_at": "2021-01-01T00:00:00Z"} for i in range(1, 6)]
    boards = [{"forum_id": f, "id": f"b{i}", "name": n} for i, n in enumerate(BOARDS)]
    threads = [{"forum_id": f, "id": f"t{i}", "board_id": f"b{i}", "title": t} for i, t in enumerate(TITLES)]
    posts = []
    for i in range(36):
        t = i % 3
        d = {"forum_id": f, "id": f"p{i}", "author_id": f"u{i % 6}", "thread_id": f"t{t}",
             "created_at": f"2021-0{1 + i % 6}-{10 + i % 15}T{10 + i % 9}:00:00Z",
             "text": POST if i % 4 == 0 else f"reply number {i}"}
        if i >= 3:
            d["parent_id"] = f"p{i - 3}"
        posts.append(d)
    return {"forums": [{"id": f, "name": "Evil <b>forum</b>", "platform": "synthetic"}], "boards": boards,
            "users": users, "threads": threads, "posts": posts,
            "ranks": [{"forum_id": f, "id": "r0", "name": RANK, "position": 0, "min_posts": 0}],
            "interactions": [{"forum_id": f, "kind": "thanks", "source_user_id": "u1", "post_id": "p4",
                              "target_post_id": "p0"}]}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    write_forum(root / "forum", hostile_tables())
    ingest([root / "forum"], root / "case", "canonical")
    with open_case(root / "case") as c:
        c.settings["privacy"].update(reveal_handles=True, allow_quotes=True)
        c.save_settings()
    out = {}
    with open_case(root / "case") as c:
        run_steps(c, STEPS)
        for audience in ("investigator", "researcher", "public"):
            out[audience] = write_report(build_report(c, audience), root / audience)
    return out


EXPECTED = {  # what each audience must show as text
    "investigator": [HANDLE, RANK, *BOARDS, *TITLES, POST_CORE],
    "researcher": [RANK, *BOARDS, *TITLES, POST_CORE],
    "public": [RANK, *BOARDS],
}


def test_hostile_text_is_escaped_in_every_file(reports):
    for audience, w in reports.items():
        html = w.html.read_text()
        for raw in ('<script>alert(', '<img src=x', '<svg onload', '<style>body', '<a href="javascript',
                    "<b onmouseover", "<b>forum"):
            assert raw not in html, (audience, raw)
        specs = html.split('<script type="application/json" id="fs-specs">', 1)[1].split("</script>", 1)[0]
        assert "<" not in specs and "&" not in specs and json.loads(specs)
        assert html.count("</script>") == 3 and html.count("<script") == 3  # ours only
        data = json.loads(w.json.read_text())
        text = json.dumps(data, ensure_ascii=False)
        for s in EXPECTED[audience]:
            assert json.dumps(s, ensure_ascii=False)[1:-1] in text, (audience, s)  # kept verbatim as data
        if audience != "investigator":
            assert json.dumps(HANDLE)[1:-1] not in text
        for svg in (w.out_dir / "charts").glob("*.svg"):
            root = ET.fromstring(svg.read_text())
            for el in root.iter():
                tag = el.tag.rsplit("}", 1)[-1]
                assert tag not in ("script", "foreignObject", "iframe", "image"), (svg, tag)
                assert not [a for a in el.attrib if a.lower().startswith("on")], (svg, el.attrib)
    researcher = reports["researcher"].html.read_text()
    assert "evil.invalid" not in researcher and "[url]" in researcher  # redacted in researcher quotes
    assert "evil.invalid" in reports["investigator"].html.read_text().replace("&#34;", '"')


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"headless Chromium not installed at {CHROMIUM} "
                                                         "(Debian package chromium; scripts/setup-test-system.sh)")
def test_reports_are_inert_in_a_browser(reports):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extras) not installed")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        try:
            for audience, w in reports.items():
                page = browser.new_page()
                url = Path(w.html).resolve().as_uri()
                dialogs, errors, requests = [], [], []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: requests.append(r.url))
                page.goto(url)
                try:
                    page.wait_for_function("() => [...document.querySelectorAll('.chart')].every("
                                           "e => e.classList.contains('drawn') || e.classList.contains('failed'))",
                                           timeout=60_000)
                except sync_api.TimeoutError:
                    pytest.fail(f"{audience}: charts never finished; dialogs {dialogs}, errors {errors[:3]}")
                n_charts = page.eval_on_selector_all(".chart", "els => els.length")
                drawn = page.eval_on_selector_all(".chart", "els => els.filter(e => e.querySelector('svg, canvas')"
                                                            " && e.classList.contains('drawn')).length")
                assert n_charts > 0 and drawn == n_charts, (audience, drawn, n_charts)
                page.mouse.move(300, 300)
                for sel in ("#s-overview svg rect", "#s-status svg path"):
                    if page.query_selector(sel):
                        page.hover(sel, force=True)  # tooltips render hostile labels too
                assert not dialogs, (audience, dialogs)
                assert not errors, (audience, errors)
                assert requests == [url], (audience, requests)
                body = page.inner_text("body")
                for s in EXPECTED[audience]:
                    assert s in body, (audience, s)
                if audience != "investigator":
                    assert HANDLE not in body
                chart_text = "\n".join(page.eval_on_selector_all(".chart svg text",
                                                                 "els => els.map(e => e.textContent)"))
                assert BOARDS[0] in chart_text, audience  # chart labels are text, not markup
                assert page.evaluate("document.querySelectorAll('script').length") == 3
                assert page.evaluate("document.querySelectorAll('style').length") == 1
                assert page.evaluate("document.querySelectorAll('[onerror],[onload],[onmouseover],iframe,"
                                     "a[href^=\"javascript\"]').length") == 0
                assert page.evaluate("getComputedStyle(document.body).display") != "none"
                page.close()
            # without JavaScript: text and tables read, each chart shows its static picture
            ctx = browser.new_context(java_script_enabled=False)
            page = ctx.new_page()
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            url = Path(reports["public"].html).resolve().as_uri()
            page.goto(url)
            page.wait_for_load_state("load")
            loaded = page.eval_on_selector_all(".chart img", "els => els.filter(e => e.naturalWidth > 0).length")
            assert loaded == page.eval_on_selector_all(".chart", "els => els.length") > 0
            assert BOARDS[1] in page.inner_text("body") and requests == [url]
            ctx.close()
        finally:
            browser.close()

"""Write a report: report.html (one offline file), report.json and charts/ (SVG and PNG).

report.html embeds everything it needs: the stylesheet, the Vega/Vega-Lite/Vega-Embed bundle shipped by
vl-convert, and each chart's spec with its data as JSON. Forum text is escaped wherever it lands: Jinja2
autoescaping for the HTML, ``\\u003c``-style escapes for JSON inside ``<script>`` (so ``</script>`` and
``<!--`` cannot break out), and chart labels are drawn by Vega as text. A Content-Security-Policy allows
only the report's own scripts and stylesheet (by hash), images from data: URIs and nothing remote.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import jinja2

from forumscope.errors import UsageError
from forumscope.report import charts
from forumscope.report.format import fmt_value, hidden
from forumscope.report.model import Report

FORMATS = ("html", "json", "charts")
INIT_JS = """(function () {
  var node = document.getElementById('fs-specs');
  if (!node || !window.vegaEmbed) { return; }
  var specs = JSON.parse(node.textContent);
  Object.keys(specs).forEach(function (id) {
    var el = document.getElementById(id);
    if (!el) { return; }
    window.vegaEmbed(el, specs[id], {ast: true, actions: false, renderer: 'svg', defaultStyle: false,
                                     tooltip: {disableDefaultStyle: true}})
      .then(function () { el.classList.add('drawn'); })
      .catch(function (e) { el.classList.add('failed'); console.error('chart ' + id + ': ' + e); });
  });
})();"""


@dataclass
class Written:
    out_dir: Path
    html: Path | None
    json: Path | None
    charts: list[Path]
    seconds: float
    html_bytes: int


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` left (so no ``</script>`` or
    ``<!--``), and no U+2028/U+2029 line separators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


_BUNDLE: Future | None = None
_BUNDLE_LOCK = threading.Lock()


def prefetch() -> None:
    """Start building the Vega bundle in the background (vl-convert needs a few seconds and releases the GIL);
    call it before the report's queries so the two overlap."""
    global _BUNDLE
    with _BUNDLE_LOCK:
        if _BUNDLE is None:
            _BUNDLE = ThreadPoolExecutor(1, thread_name_prefix="vega-bundle").submit(_make_bundle)


def _bundle() -> str:
    prefetch()
    assert _BUNDLE is not None
    return _BUNDLE.result()


def _make_bundle() -> str:
    js = charts.javascript_bundle()
    low = js.lower()
    if "</script" in low or "<!--" in js:  # would end the script element early; never expected
        raise RuntimeError("the Vega bundle contains </script or <!--; it cannot be inlined safely")
    return js


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("forumscope", "data/report"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["cell"] = lambda v, col: fmt_value(v, col.kind, col.fmt)
    env.globals["is_hidden"] = lambda v, kind: kind in ("count", "share", "stat", "value") and hidden(v)
    env.globals["status_text"] = {"ok": "", "partial": "partly run", "not_run": "not run", "empty": "no data",
                                  "omitted": "not for this audience"}
    return env


def _css() -> str:
    return _env().loader.get_source(_env(), "report.css")[0]


def _figure_jobs(report: Report) -> list[tuple[str, str, dict[str, Any]]]:
    tables = report.tables()
    jobs = []
    for s in report.sections:
        for fig in s.figures:
            spec = charts.with_data(fig.spec, charts.chart_rows(tables[fig.table]))
            jobs.append((fig.id, "chart-" + fig.id.replace(".", "-"), spec))
    return jobs


def write_report(report: Report, out_dir: str | Path, formats: Iterable[str] = FORMATS) -> Written:
    """Write the report into ``out_dir`` (created; files of the same names are replaced)."""
    t0 = time.perf_counter()
    formats = tuple(formats)
    if "html" in formats:
        prefetch()
    for f in formats:
        if f not in FORMATS:
            raise UsageError(f"unknown report format {f!r}; choose from: {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = _figure_jobs(report)
    figs = {f.id: f for s in report.sections for f in s.figures}
    want_png = "charts" in formats

    def draw(job):
        svg = charts.to_svg(job[2])
        return job[0], svg, (charts.svg_to_png(svg) if want_png else None)

    svgs: dict[str, str] = {}
    chart_paths: list[Path] = []
    if jobs and ("charts" in formats or "html" in formats):
        with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="chart") as pool:
            drawn = list(pool.map(draw, jobs))
        cdir = out / "charts"
        if want_png:
            cdir.mkdir(exist_ok=True)
        for fid, svg, png in drawn:
            svgs[fid] = svg
            if want_png:
                stem = fid.replace(".", "-")
                (cdir / f"{stem}.svg").write_text(svg, encoding="utf-8")
                (cdir / f"{stem}.png").write_bytes(png)
                figs[fid].files = {"svg": f"charts/{stem}.svg", "png": f"charts/{stem}.png"}
                chart_paths += [cdir / f"{stem}.svg", cdir / f"{stem}.png"]
    json_path = html_path = None
    data = report.to_json()
    if "json" in formats:
        json_path = out / "report.json"
        json_path.write_text(json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False), encoding="utf-8")
    html_bytes = 0
    if "html" in formats:
        html_path = out / "report.html"
        html = render_html(report, {j[1]: j[2] for j in jobs}, {j[1]: svgs.get(j[0], "") for j in jobs},
                           {j[0]: j[1] for j in jobs})
        html_path.write_text(html, encoding="utf-8")
        html_bytes = len(html.encode("utf-8"))
    return Written(out, html_path, json_path, chart_paths, time.perf_counter() - t0, html_bytes)


def render_html(report: Report, specs: dict[str, dict[str, Any]], svgs: dict[str, str],
                chart_ids: dict[str, str]) -> str:
    css = _css()
    bundle = _bundle() if specs else ""
    specs_json = json_for_script(specs)
    scripts = [bundle, INIT_JS] if specs else []
    csp = "; ".join([
        "default-src 'none'",
        "script-src " + (" ".join(csp_hash(s) for s in scripts) if scripts else "'none'"),
        "style-src " + csp_hash(css),
        "img-src data:", "font-src 'none'", "connect-src 'none'", "media-src 'none'", "object-src 'none'",
        "frame-src 'none'", "worker-src 'none'", "manifest-src 'none'", "base-uri 'none'", "form-action 'none'",
    ])
    fallbacks = {cid: "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode()
                 for cid, svg in svgs.items() if svg}
    return _env().get_template("report.html.j2").render(
        report=report, meta=report.meta, privacy=report.privacy, sections=report.sections, csp=csp, css=css,
        bundle=bundle, init_js=INIT_JS, specs_json=specs_json, has_charts=bool(specs), chart_ids=chart_ids,
        fallbacks=fallbacks, audience_notes=AUDIENCE_NOTES[report.audience])


AUDIENCE_NOTES = {
    "investigator": "Investigator report: full detail for lawful casework. Members appear as keyed pseudonyms "
                    "(or handles where the case is set to reveal them). Time-zone, alias and role results are "
                    "leads with their uncertainty, never identifications.",
    "researcher": "Researcher report: members appear as keyed pseudonyms only. Quotes appear only where the case "
                  "allows them, with e-mail addresses, URLs, IP and onion addresses redacted.",
    "public": "Public report: aggregates only. No handles, pseudonyms, quotes or rows about one person; counts "
              "below the case's minimum cell size are shown as ranges (such as “<10”), and cells that would let a "
              "reader recover them by subtraction are suppressed.",
}

"""Vega-Lite chart specs (data left out: it is the figure's table) and their offline rendering.

Specs carry ``"data": {"name": "table"}``; :func:`with_data` fills in the rows of the figure's
table, with hidden (suppressed) values as null and a ``<field>_shown`` text for tooltips.
Rendering to SVG and PNG uses vl-convert (no network, no browser).
"""

from __future__ import annotations

import copy
from typing import Any

from forumscope.report.model import Table

VL_VERSION = "6.4"
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.4.json"  # an identifier only; never fetched
WIDTH = 620
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
CONFIG = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260, "grid": True, "gridColor": "#e8e8e8"},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260},
    "range": {"category": ["#1f5f8b", "#d1793f", "#4c9a5b", "#8f5aa8", "#c44e52", "#7f7f7f", "#b5a23a",
                           "#3fa7b5", "#e377c2", "#17becf"]},
    "mark": {"color": "#1f5f8b"},
}


def _base(title: str | None = None, height: int = 260, width: int = WIDTH) -> dict[str, Any]:
    spec: dict[str, Any] = {"$schema": SCHEMA, "data": {"name": "table"}, "width": width, "height": height,
                            "config": copy.deepcopy(CONFIG)}
    if title:
        spec["description"] = title
    return spec


def _tip(fields: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Tooltip entries: (field, title, type); counts use their ``_shown`` text."""
    out = []
    for f, title, typ in fields:
        if typ == "count":
            out.append({"field": f + "_shown", "type": "nominal", "title": title})
        elif typ == "share":
            out.append({"field": f, "type": "quantitative", "title": title, "format": ".1%"})
        elif typ == "temporal":
            out.append({"field": f, "type": "temporal", "title": title, "timeUnit": "utcyearmonth"})
        else:
            out.append({"field": f, "type": typ, "title": title})
    return out


def bar(cat: str, val: str, *, cat_title: str, val_title: str, count: bool = True, share: bool = False,
        color: str | None = None, color_title: str = "", sort: Any = "-x", height: int | None = None,
        n_bars: int = 10, stack: bool = True, extra_tip: list[tuple[str, str, str]] = (),
        zero: bool = True) -> dict[str, Any]:
    """Horizontal bars: one per category (optionally coloured and stacked by ``color``)."""
    spec = _base(height=height or max(120, 22 * n_bars))
    x: dict[str, Any] = {"field": val, "type": "quantitative", "title": val_title}
    if share:
        x["axis"] = {"format": "%"}
    if not stack:
        x["stack"] = None
    if not zero:
        x["scale"] = {"zero": False}
    enc: dict[str, Any] = {
        "y": {"field": cat, "type": "nominal", "title": None, "sort": sort},  # the figure's title names it
        "x": x,
        "tooltip": _tip([(cat, cat_title, "nominal"), (val, val_title, "count" if count else
                                                             ("share" if share else "quantitative"))]
                        + ([(color, color_title, "nominal")] if color else []) + list(extra_tip)),
    }
    if color:
        enc["color"] = {"field": color, "type": "nominal", "title": color_title}
    spec["mark"] = {"type": "bar"}
    spec["encoding"] = enc
    return spec


def line(x: str, y: str, *, x_title: str, y_title: str, temporal: bool = True, color: str | None = None,
         color_title: str = "", share: bool = False, count: bool = True, points: bool = False,
         band: tuple[str, str] | None = None, log_y: bool = False, height: int = 260,
         rules: list[dict[str, Any]] | None = None, zero: bool = True, color_sort: Any = None) -> dict[str, Any]:
    """Lines over time (or over a quantitative x), optionally by ``color``, with an interval band."""
    spec = _base(height=height)
    xenc: dict[str, Any] = ({"field": x, "type": "temporal", "title": x_title, "timeUnit": "utcyearmonth",
                             "axis": {"format": "%Y-%m", "labelAngle": 0}} if temporal
                            else {"field": x, "type": "quantitative", "title": x_title})
    yenc: dict[str, Any] = {"field": y, "type": "quantitative", "title": y_title}
    if share:
        yenc["axis"] = {"format": "%"}
    if log_y:
        yenc["scale"] = {"type": "log"}
    elif not zero:
        yenc["scale"] = {"zero": False}
    tip = [(x, x_title, "temporal" if temporal else "quantitative"),
           (y, y_title, "count" if count else ("share" if share else "quantitative"))]
    layer_enc: dict[str, Any] = {"x": xenc, "y": yenc}
    if color:
        layer_enc["color"] = {"field": color, "type": "nominal", "title": color_title}
        if color_sort is not None:
            layer_enc["color"]["sort"] = color_sort
        tip.append((color, color_title, "nominal"))
    layers: list[dict[str, Any]] = [{"mark": {"type": "line", "point": points, "interpolate": "linear"},
                                     "encoding": {**layer_enc, "tooltip": _tip(tip)}}]
    if band:  # drawn after the lines so that the legend comes from the lines
        b = {"mark": {"type": "area", "opacity": 0.18},
             "encoding": {"x": xenc, "y": {"field": band[0], "type": "quantitative"},
                          "y2": {"field": band[1]}}}
        if color:  # its own (legend-less) fill scale with the same domain order, hence the same colours
            b["encoding"]["fill"] = {"field": color, "type": "nominal", "legend": None,
                                     **({"sort": color_sort} if color_sort is not None else {})}
        layers.append(b)
    for r in rules or []:
        layers.append(r)
    spec["layer"] = layers
    return spec


def event_rules(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Vertical rules with a label at event dates (``date`` as YYYY-MM-DD, ``label``)."""
    if not events:
        return []
    return [
        {"data": {"values": events}, "mark": {"type": "rule", "color": "#c44e52", "strokeDash": [4, 3]},
         "encoding": {"x": {"field": "date", "type": "temporal"},
                      "tooltip": [{"field": "label", "type": "nominal", "title": "event"},
                                  {"field": "date", "type": "temporal", "title": "date"}]}},
        {"data": {"values": events}, "mark": {"type": "text", "align": "left", "dx": 3, "dy": -4, "y": 0,
                                              "color": "#c44e52", "fontSize": 10, "limit": 180},
         "encoding": {"x": {"field": "date", "type": "temporal"}, "text": {"field": "label"}}},
    ]


def intervals(cat: str, est: str, lo: str, hi: str, *, cat_title: str, est_title: str, ref: float | None = None,
              log_x: bool = False, color: str | None = None, color_title: str = "", n_rows: int = 6,
              sort: Any = None) -> dict[str, Any]:
    """Point estimates with interval bars, one row per category; an optional reference line."""
    spec = _base(height=max(100, 26 * n_rows))
    xscale = {"type": "log"} if log_x else {"zero": False}
    yenc = {"field": cat, "type": "nominal", "title": None, "sort": sort}
    tip = _tip([(cat, cat_title, "nominal"), (est, est_title, "quantitative"), (lo, "lower", "quantitative"),
                (hi, "upper", "quantitative")] + ([(color, color_title, "nominal")] if color else []))
    col = {"color": {"field": color, "type": "nominal", "title": color_title}} if color else {}
    layers: list[dict[str, Any]] = [
        {"mark": {"type": "rule", "strokeWidth": 2},
         "encoding": {"y": yenc, "x": {"field": lo, "type": "quantitative", "scale": xscale, "title": est_title},
                      "x2": {"field": hi}, **col}},
        {"mark": {"type": "point", "filled": True, "size": 60},
         "encoding": {"y": yenc, "x": {"field": est, "type": "quantitative", "scale": xscale}, "tooltip": tip,
                      **col}},
    ]
    if ref is not None:
        layers.append({"data": {"values": [{"ref": ref}]}, "mark": {"type": "rule", "color": "#999",
                                                                      "strokeDash": [3, 3]},
                       "encoding": {"x": {"field": "ref", "type": "quantitative"}}})
    if color:
        layers[0]["encoding"]["yOffset"] = {"field": color, "type": "nominal"}
        layers[1]["encoding"]["yOffset"] = {"field": color, "type": "nominal"}
    spec["layer"] = layers
    return spec


def columns_with_intervals(cat: str, est: str, lo: str, hi: str, *, cat_title: str, est_title: str,
                           sort: Any = None, share: bool = True, height: int = 220) -> dict[str, Any]:
    """Vertical bars (one per category, in ``sort`` order) with an interval rule on each."""
    spec = _base(height=height)
    x = {"field": cat, "type": "ordinal", "title": cat_title, "sort": sort, "axis": {"labelAngle": -45}}
    y: dict[str, Any] = {"field": est, "type": "quantitative", "title": est_title}
    if share:
        y["axis"] = {"format": "%"}
    spec["layer"] = [
        {"mark": {"type": "bar", "opacity": 0.85},
         "encoding": {"x": x, "y": y, "tooltip": _tip([(cat, cat_title, "nominal"),
                                                       (est, est_title, "share" if share else "quantitative"),
                                                       (lo, "lower", "share" if share else "quantitative"),
                                                       (hi, "upper", "share" if share else "quantitative")])}},
        {"mark": {"type": "rule", "color": "#333"},
         "encoding": {"x": x, "y": {"field": lo, "type": "quantitative"}, "y2": {"field": hi}}},
    ]
    return spec


def heatmap(x: str, y: str, val: str, *, x_title: str, y_title: str, val_title: str, count: bool = True,
            x_sort: Any = None, y_sort: Any = None, height: int = 190, scheme: str = "blues",
            diverging: bool = False) -> dict[str, Any]:
    spec = _base(height=height)
    color: dict[str, Any] = {"field": val, "type": "quantitative", "title": val_title,
                             "scale": {"scheme": scheme}}
    if diverging:
        color["scale"] = {"scheme": "redblue", "domainMid": 1, "reverse": True}
    spec["mark"] = {"type": "rect"}
    spec["encoding"] = {
        "x": {"field": x, "type": "ordinal", "title": x_title, "sort": x_sort, "axis": {"labelAngle": 0}},
        "y": {"field": y, "type": "ordinal", "title": None, "sort": y_sort},
        "color": color,
        "tooltip": _tip([(y, y_title, "nominal"), (x, x_title, "nominal"),
                         (val, val_title, "count" if count else "quantitative")]),
    }
    return spec


# ----------------------------------------------------------------------------- data and rendering

def chart_rows(table: Table) -> list[dict[str, Any]]:
    """The table's rows as chart data: hidden values null, counts also as text (``<field>_shown``)."""
    from forumscope.report.format import fmt_value
    from forumscope.report.model import jsonable

    rows = []
    for r in table.rows:
        d: dict[str, Any] = {}
        for c in table.columns:
            v = r.get(c.name)
            if isinstance(v, str) and c.kind in ("count", "share", "stat", "value"):
                d[c.name] = None  # a suppression marker
            else:
                d[c.name] = jsonable(v)
            if c.kind == "count":
                d[c.name + "_shown"] = fmt_value(v, "count")
        rows.append(d)
    return rows


def with_data(spec: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    s = copy.deepcopy(spec)
    s["data"] = {"values": rows}
    return s


def to_svg(spec: dict[str, Any]) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(spec, vl_version=VL_VERSION)


def svg_to_png(svg: str, scale: float = 2.0) -> bytes:
    import vl_convert as vlc

    return vlc.svg_to_png(svg, scale=scale)


def javascript_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (from vl-convert; no network)."""
    import vl_convert as vlc

    return vlc.javascript_bundle(vl_version=VL_VERSION)


def versions() -> dict[str, str]:
    import vl_convert as vlc

    try:
        return {"vl-convert": _pkg_version("vl-convert-python"), "vega": vlc.get_vega_version(),
                "vega-lite": VL_VERSION, "vega-embed": vlc.get_vega_embed_version()}
    except Exception:  # noqa: BLE001 - versions are informative only
        return {"vega-lite": VL_VERSION}


def _pkg_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"

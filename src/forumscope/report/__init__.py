"""The per-audience report: one offline HTML file, report.json and charts (docs/report.md).

>>> from forumscope import open_case                                   # doctest: +SKIP
>>> from forumscope.report import build_report, write_report          # doctest: +SKIP
>>> with open_case("cases/se") as case:                                # doctest: +SKIP
...     paths = write_report(build_report(case, "public"), "reports/se-public")
"""

from __future__ import annotations

from forumscope.report.build import REPORT_STEPS, SECTION_IDS, build_report
from forumscope.report.privacy import AUDIENCES
from forumscope.report.render import write_report

__all__ = ["AUDIENCES", "REPORT_STEPS", "SECTION_IDS", "build_report", "write_report"]

"""The settings registry: one place that defines every case setting.

``case.toml`` holds these sections; the CLI and the docs (docs/settings.md) are
derived from the same registry, and a test fails when a setting is undocumented.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from forumscope.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    section: str
    name: str
    default: Any
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting("case", "name", "", "Name of the case (defaults to the folder name)."),
    Setting("case", "created_at", "", "When the case was created (UTC, set once)."),
    Setting("case", "forumscope_version", "", "forumscope version that created the case."),
    Setting("privacy", "min_cell_size", 10, "Counts below this are suppressed as '<N' in public outputs."),
    Setting("privacy", "reveal_handles", False, "Show real handles to the investigator audience instead of keyed pseudonyms."),
    Setting("privacy", "allow_quotes", False, "Allow verbatim (redacted) quotes in researcher reports."),
    Setting("privacy", "store_private_message_text", False, "Keep the text of private messages (metadata is always kept)."),
    Setting("privacy", "store_contact_pseudonyms", False, "Keep e-mail addresses and IPs as keyed pseudonyms (never in clear)."),
    Setting("ingest", "min_time", "1980-01-01", "Times before this are implausible: stored empty and flagged."),
    Setting("ingest", "max_future_days", 1, "Times more than this many days after ingest are stored empty and flagged."),
    Setting("ingest", "max_record_bytes", 64 * 1024 * 1024, "Larger single records are rejected."),
    Setting("ingest", "max_archive_bytes", 20 * 1024 ** 3, "Archives that expand past this many bytes are refused."),
    Setting("ingest", "max_archive_members", 100_000, "Archives with more members are refused."),
    Setting("duckdb", "memory_limit", "2GB", "DuckDB memory limit; work beyond it spills to the case's .tmp folder."),
    Setting("duckdb", "threads", 0, "DuckDB threads (0 = all cores)."),
)


def _defaults() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in SETTINGS:
        out.setdefault(s.section, {})[s.name] = s.default
    return out


DEFAULTS = _defaults()


def merge_settings(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``override``; unknown sections or keys and wrong types are errors."""
    out = copy.deepcopy(base)
    for section, values in override.items():
        if section not in out or not isinstance(values, dict):
            raise ConfigError(f"unknown settings section [{section}]")
        for key, value in values.items():
            if key not in out[section]:
                raise ConfigError(f"unknown setting {section}.{key}")
            default = out[section][key]
            if isinstance(default, bool) != isinstance(value, bool) or (
                    not isinstance(default, bool) and type(default) is not type(value)):
                raise ConfigError(f"setting {section}.{key} must be a {type(default).__name__}, got {value!r}")
            out[section][key] = value
    return out

"""What every forum-engine mapping shares: the engine spec, the mapping context and SQL helpers.

How a dump becomes canonical records (docs/engines/README.md)
-------------------------------------------------------------
1. **Parse** (:mod:`forumscope.sqldump.parser`): the dump is streamed; nothing in it is executed.
2. **Stage** (:mod:`forumscope.sqldump.staging`): rows of the engine's *known tables* go into a scratch
   DuckDB database in the case's ``.tmp`` folder, one staging table per source table, named by the
   source table name **without the prefix** (``phpbb_posts`` -> ``posts``; ``public.posts`` -> ``posts``).
   Only the columns listed in :attr:`EngineSpec.known_tables` are staged, under the dump's column
   names, as ``VARCHAR`` (NULL kept) unless :attr:`EngineSpec.column_types` says otherwise, plus
   ``_offset BIGINT``: the byte offset of the row in the (decompressed) dump (NULL for a live
   database). Columns named in :attr:`EngineSpec.contact_columns` (e-mail addresses, IPs) are replaced
   by keyed pseudonyms while staging, or by NULL when the case does not ask for them, so they never
   exist in clear anywhere. Tables in :attr:`EngineSpec.never_stored` (sessions, login keys) and
   unknown tables are never staged; they are listed in a notice with their row counts.
3. **Map**: the engine module ``forumscope.engines.<name>`` defines ``ENGINE = EngineSpec(...)`` and
   ``map_tables(con, ctx) -> dict[str, str | pyarrow.Table]``: for each canonical table
   (``forums``, ``boards``, ``users``, ``ranks``, ``groups``, ``memberships``, ``threads``, ``posts``,
   ``interactions``, ``attachments``, ``private_messages``, ``contacts``, ...) a SQL query over the
   staging tables (run on ``con``) or an Arrow table. Column names are the model's field names
   (:mod:`forumscope.model.schema`), any subset; add ``_offset`` (the source row's byte offset) so that
   rejects point into the dump. ``forum_id`` may be left out: it is filled with ``ctx.forum_id``.
   Use the helpers below: :meth:`MapContext.col` for columns that a version of the engine may lack,
   the SQL macros of :func:`install_macros` (``fs_epoch``, ``fs_id``, ...), :func:`convert_markup`
   for post text (plain text for analysis + quotes, mentions, links, attachment references).
4. **Load**: :func:`emit_tables` streams each result in batches into the ingest sink (the
   :class:`forumscope.ingest.loader.Loader`), which validates, de-duplicates, derives reply
   interactions, rejects and reconciles exactly as for every other format.

Never map password hashes, session tables or tokens (``EngineSpec`` refuses such column names), and
never write e-mail addresses or IPs except through ``contact_columns`` (keyed pseudonyms, only when the
case sets ``privacy.store_contact_pseudonyms``). Private-message text only when
``ctx.store_pm_text`` (``privacy.store_private_message_text``).

A minimal engine module::

    from forumscope.engines.base import EngineSpec, MapContext

    ENGINE = EngineSpec(
        name="tinybb", title="TinyBB 1.x", dialect="mysql", prefixes=("tiny_",),
        known_tables={"users": ["id", "name", "joined"], "posts": ["id", "topic", "author", "body", "at"]},
        signature_tables=["users", "posts"], required_tables=["posts"])

    def map_tables(con, ctx: MapContext) -> dict:
        return {
            "users": "SELECT id, name, fs_epoch(joined) AS registered_at, _offset FROM users",
            "posts": f"SELECT p.id, p.topic AS thread_id, fs_id(p.author) AS author_id, m.text, "
                     f"p.body AS raw, 'bbcode' AS format, fs_epoch(p.at) AS created_at, p._offset "
                     f"FROM posts p LEFT JOIN _markup m ON m.id = p.id",
        }
    # (with convert_markup(con, ctx, "SELECT id, body AS raw FROM posts", "bbcode") called first)
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import duckdb
import pyarrow as pa

from forumscope.model.schema import TABLES
from forumscope.store.sql import sql_str

__all__ = [
    "EngineSpec", "MapContext", "SECRET_COLUMN", "install_macros", "convert_markup", "emit_tables", "arrow_batches",
    "arrow_to_table",
    "group_kind", "access_rule", "sql_str", "qi",
]

# Column names that hold secrets: never staged, whatever a spec says (SAFETY.md, issue 8).
SECRET_COLUMN = re.compile(
    r"(pass(word|wd|_?hash)|passwd|^password|salt|login_?key|secret|token|otp|totp|two_?factor|tfa_|"
    r"api_?key|auth_?key|activation_?key|actkey|newpasswd|remember_?me|cookie)", re.I)
DIALECTS = ("mysql", "postgres")
MARKUP_FORMATS = ("plain", "html", "bbcode", "bbcode-escaped", "markdown", "phpbb")


def qi(name: str) -> str:
    """A quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class EngineSpec:
    """What an engine's dump looks like and which parts of it are read.

    ``known_tables``: unprefixed source table -> the columns the mapping uses (only these are staged).
    ``signature_tables``: unprefixed tables whose presence identifies the engine (auto-detection
    scores engines by how many of these a dump has; also used to find the table prefix).
    ``required_tables``: without them the dump cannot be mapped (an ``InputError`` names them).
    ``prefixes``: the engine's usual table prefixes, tried first (``("phpbb_",)``; ``("",)`` for none).
    ``never_stored``: unprefixed table -> why it is never read (sessions, login attempts, caches).
    ``contact_columns``: unprefixed table -> {column: "email" | "ip"}; those columns are pseudonymised
    while staging (or NULL when the case does not ask for them). They must also be in ``known_tables``.
    ``column_types``: unprefixed table -> {column: DuckDB type} for staging (default VARCHAR);
    values that do not convert are staged as NULL and counted in a notice.
    ``markup``: the default markup of post text (``bbcode``, ``bbcode-escaped`` for BBCode stored
    HTML-escaped (SMF, phpBB 3.0), ``html``, ``markdown``, ``plain`` or ``phpbb`` for phpBB's stored
    format, BBCode or s9e XML).
    ``install_columns``: optional unprefixed table -> every column in install order, used when a dump
    has neither a CREATE TABLE nor column lists for a table (reported in a notice).
    ``targets``: unprefixed source table -> the canonical table its rows become (``{"topics": "threads"}``);
    a row that cannot be parsed is rejected under that table, so reconciliation counts it.
    ``optional_columns``: unprefixed table -> used columns that only some versions of the engine have
    (their absence is expected and not reported).
    """

    name: str
    title: str
    dialect: str
    known_tables: Mapping[str, Sequence[str]]
    signature_tables: Sequence[str]
    required_tables: Sequence[str] = ()
    prefixes: Sequence[str] = ("",)
    never_stored: Mapping[str, str] = field(default_factory=dict)
    contact_columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    column_types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    markup: str = "bbcode"
    install_columns: Mapping[str, Sequence[str]] = field(default_factory=dict)
    description: str = ""
    targets: Mapping[str, str] = field(default_factory=dict)
    optional_columns: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def target_of(self, table: str) -> str | None:
        """The canonical table a source table's rows become (for rejects and row-count notices):
        ``targets`` first, else the same name when it is a canonical table, else None."""
        if table in self.targets:
            return self.targets[table]
        return table if table in TABLES and TABLES[table].kind == "data" else None

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise ValueError(f"engine {self.name}: dialect must be one of {DIALECTS}")
        if self.markup not in MARKUP_FORMATS:
            raise ValueError(f"engine {self.name}: markup must be one of {MARKUP_FORMATS}")
        for table, cols in self.known_tables.items():
            for c in cols:
                if SECRET_COLUMN.search(c):
                    raise ValueError(f"engine {self.name}: column {table}.{c} looks like a secret; it is never read")
            if table in self.never_stored:
                raise ValueError(f"engine {self.name}: {table} is both known and never stored")
        for table, cols in self.contact_columns.items():
            for c, kind in cols.items():
                if kind not in ("email", "ip"):
                    raise ValueError(f"engine {self.name}: contact column {table}.{c} kind must be email or ip")
                if c not in self.known_tables.get(table, ()):
                    raise ValueError(f"engine {self.name}: contact column {table}.{c} is not in known_tables")
        for t in list(self.signature_tables) + list(self.required_tables):
            if t not in self.known_tables and t not in self.never_stored:
                raise ValueError(f"engine {self.name}: signature/required table {t} is not a known table")

    def wanted_columns(self, table: str) -> list[str]:
        """Columns staged for an (unprefixed) table; empty when the table is not read."""
        return list(self.known_tables.get(table, ()))


@dataclass
class MapContext:
    """What a mapping function knows besides the staging tables.

    ``tables``: staged (unprefixed) table -> the columns actually staged (a subset of the spec's
    columns: a version of the engine may lack some). ``rows``: source rows read per staged table.
    ``settings``: the case settings (``privacy``, ``ingest`` ...). ``work_dir``: a scratch folder inside
    the case's ``.tmp`` (deleted after the ingest). ``notices``: short lines shown after the ingest.
    """

    spec: EngineSpec
    forum_id: str
    source: str
    prefix: str = ""
    forum_name: str | None = None
    tables: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    work_dir: Path = Path(".")
    key: bytes | None = None
    notices: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # mapping findings for tests and docs (counts ...)

    # ---------------------------------------------------------------- privacy
    @property
    def store_pm_text(self) -> bool:
        """True when the case keeps private-message text (``privacy.store_private_message_text``)."""
        return bool(self.settings.get("privacy", {}).get("store_private_message_text", False))

    @property
    def store_contacts(self) -> bool:
        """True when the case keeps e-mail/IP pseudonyms (``privacy.store_contact_pseudonyms``) and a key exists."""
        return bool(self.settings.get("privacy", {}).get("store_contact_pseudonyms", False)) and self.key is not None

    def pseudonym(self, kind: str, value: str | bytes | None) -> str | None:
        """Keyed pseudonym of an e-mail address or IP (HMAC-SHA256 with the case key), or None when the
        case does not ask for them or the value is empty. E-mails are lower-cased and trimmed first."""
        if value is None or not self.store_contacts:
            return None
        if kind == "ip":
            value = ip_text(value)
        if isinstance(value, bytes):
            if not value.strip(b"\0 "):
                return None
            data = value
        else:
            v = value.strip()
            if kind == "email":
                v = v.lower()
            if not v or v in ("0", "0.0.0.0", "::"):
                return None
            data = v.encode("utf-8")
        assert self.key is not None
        mac = hmac.new(self.key, kind.encode() + b"\x1f" + data, hashlib.sha256).hexdigest()
        return ("E-" if kind == "email" else "I-") + mac[:16]

    # ---------------------------------------------------------------- staging tables
    def has(self, table: str, *columns: str) -> bool:
        """True when ``table`` was staged (and has every one of ``columns``)."""
        cols = self.tables.get(table)
        return cols is not None and all(c in cols for c in columns)

    def col(self, table: str, column: str, default: str = "NULL", alias: str | None = None) -> str:
        """SQL for ``alias.column`` when the staged table has it, else ``default`` (a SQL expression)."""
        if not self.has(table, column):
            return default
        return f"{qi(alias)}.{qi(column)}" if alias else qi(column)

    def notice(self, text: str) -> None:
        self.notices.append(text)


# ------------------------------------------------------------------------------------------ SQL helpers
MACROS = (
    # epoch seconds (as text or number) -> TIMESTAMP (UTC); 0, negative, empty or non-numeric -> NULL
    "CREATE OR REPLACE MACRO fs_epoch(x) AS CASE WHEN TRY_CAST(x AS BIGINT) > 0 AND TRY_CAST(x AS BIGINT) "
    "< 32503680000 THEN make_timestamp(TRY_CAST(x AS BIGINT) * 1000000) END",
    # 'YYYY-MM-DD HH:MM:SS' (MySQL DATETIME, PostgreSQL timestamp) -> TIMESTAMP; zero dates -> NULL
    "CREATE OR REPLACE MACRO fs_datetime(x) AS CASE WHEN x IS NULL OR starts_with(CAST(x AS VARCHAR), '0000') "
    "THEN NULL ELSE TRY_CAST(TRY_CAST(x AS TIMESTAMPTZ) AS TIMESTAMP) END",
    # id columns: '' and '0' (the usual 'none' in forum schemas) -> NULL, else the text
    "CREATE OR REPLACE MACRO fs_id(x) AS CASE WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) IN ('', '0', '-1') "
    "THEN NULL ELSE trim(CAST(x AS VARCHAR)) END",
    "CREATE OR REPLACE MACRO fs_int(x) AS TRY_CAST(NULLIF(trim(CAST(x AS VARCHAR)), '') AS BIGINT)",
    "CREATE OR REPLACE MACRO fs_bool(x) AS CASE WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) = '' THEN NULL "
    "WHEN lower(trim(CAST(x AS VARCHAR))) IN ('1', 't', 'true', 'y', 'yes') THEN true "
    "WHEN TRY_CAST(x AS BIGINT) IS NOT NULL THEN TRY_CAST(x AS BIGINT) <> 0 ELSE false END",
    # empty text -> NULL
    "CREATE OR REPLACE MACRO fs_nz(x) AS NULLIF(trim(CAST(x AS VARCHAR)), '')",
    # comma/space separated id lists ('1,2,3') -> '1|2|3' (the model's list separator); empty -> NULL
    "CREATE OR REPLACE MACRO fs_idlist(x) AS NULLIF(array_to_string(list_filter(list_transform("
    "string_split_regex(coalesce(CAST(x AS VARCHAR), ''), '[,;| ]+'), lambda s: trim(s)), lambda s: s <> ''), '|'), '')",
)


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``fs_*`` SQL helpers on ``con``: macros ``fs_epoch(x)`` (epoch seconds -> TIMESTAMP,
    0 -> NULL), ``fs_datetime(x)`` (date-time text -> TIMESTAMP, zero dates -> NULL), ``fs_id(x)`` ('', '0',
    '-1' -> NULL), ``fs_int(x)``, ``fs_bool(x)``, ``fs_nz(x)`` ('' -> NULL), ``fs_idlist(x)`` ('1,2' -> '1|2'),
    and Python functions ``fs_html(x)`` (HTML entities decoded: phpBB, MyBB and SMF store names and titles
    escaped) and ``fs_text(x, fmt)`` (markup -> plain text, for small fields such as board descriptions and
    signatures; post text goes through :func:`convert_markup`)."""
    for m in MACROS:
        con.execute(m)
    import html

    import pyarrow.compute as pc

    from forumscope.markup import to_text

    def _html(arr: pa.Array) -> pa.Array:
        vals = arr.to_pylist()
        if not pc.any(pc.fill_null(pc.match_substring(arr, "&"), False)).as_py():
            return arr
        return pa.array([html.unescape(v) if v is not None and "&" in v else v for v in vals], pa.string())

    def _text(arr: pa.Array, fmts: pa.Array) -> pa.Array:
        return pa.array([None if v is None else (to_text(v, f or "plain").text or None)
                         for v, f in zip(arr.to_pylist(), fmts.to_pylist())], pa.string())

    for name, fn, args in (("fs_html", _html, ["VARCHAR"]), ("fs_text", _text, ["VARCHAR", "VARCHAR"])):
        try:
            con.remove_function(name)
        except Exception:  # noqa: BLE001 - not registered yet
            pass
        con.create_function(name, fn, args, "VARCHAR", type="arrow", null_handling="special")


def convert_markup(con: duckdb.DuckDBPyConnection, ctx: MapContext, source_sql: str, fmt: str | None = None,
                   *, name: str = "_markup", batch_rows: int = 20_000) -> None:
    """Convert post markup to plain text, out of core.

    ``source_sql`` selects ``id`` and ``raw`` (and optionally ``format`` per row, which wins over
    ``fmt``; ``fmt`` defaults to the engine's ``markup``). ``id`` is the join key: select the staging
    table's ``rowid`` (``SELECT rowid AS id, post_text AS raw FROM posts``, then join
    ``CAST(p.rowid AS VARCHAR) = m.id``) so that two rows with the same post id (duplicate keys in a dump)
    keep their own text and reach the loader's duplicate check. Creates two tables on ``con``:

    - ``{name}`` (``id``, ``text``): plain text for analysis; quoted blocks are removed from it (they
      are someone else's words) and kept as references;
    - ``{name}_refs`` (``id``, ``kind``, ``target_name``, ``target_post_id``, ``target_user_id``,
      ``detail``): one row per quote (``kind = 'quote'``), mention (``'mention'``), link (``'link'``,
      detail = the URL, never fetched) and attachment reference (``'attachment'``, detail = its id or
      name) found in the markup, in order of appearance.
    """
    import pyarrow.parquet as pq

    from forumscope.markup import to_text

    fmt = fmt or ctx.spec.markup
    out_dir = ctx.work_dir / f"{name}.parts"
    out_dir.mkdir(parents=True, exist_ok=True)
    text_path, refs_path = out_dir / "text.parquet", out_dir / "refs.parquet"
    text_schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    ref_schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("target_name", pa.string()),
                            ("target_post_id", pa.string()), ("target_user_id", pa.string()),
                            ("detail", pa.string())])
    reader = arrow_batches(con, source_sql, batch_rows)
    with pq.ParquetWriter(text_path, text_schema) as tw, pq.ParquetWriter(refs_path, ref_schema) as rw:
        for batch in reader:
            cols = batch.schema.names
            ids = batch.column(cols.index("id")).cast(pa.string()).to_pylist()
            raws = batch.column(cols.index("raw")).cast(pa.string()).to_pylist()
            fmts = (batch.column(cols.index("format")).cast(pa.string()).to_pylist() if "format" in cols
                    else [None] * len(ids))
            texts: list[str | None] = []
            r_id: list[str] = []
            r_kind: list[str] = []
            r_name: list[str | None] = []
            r_post: list[str | None] = []
            r_user: list[str | None] = []
            r_detail: list[str | None] = []
            for pid, raw, f in zip(ids, raws, fmts):
                if raw is None:
                    texts.append(None)
                    continue
                conv = to_text(raw, f or fmt)
                texts.append(conv.text)
                for ref in conv.refs:
                    r_id.append(pid)
                    r_kind.append(ref.kind)
                    r_name.append(ref.target_name)
                    r_post.append(ref.target_post_id)
                    r_user.append(ref.target_user_id)
                    r_detail.append(ref.detail)
            tw.write_table(pa.table([pa.array(ids, pa.string()), pa.array(texts, pa.string())], schema=text_schema))
            if r_id:
                rw.write_table(pa.table([pa.array(r_id, pa.string()), pa.array(r_kind, pa.string()),
                                         pa.array(r_name, pa.string()), pa.array(r_post, pa.string()),
                                         pa.array(r_user, pa.string()), pa.array(r_detail, pa.string())],
                                        schema=ref_schema))
    con.execute(f"CREATE OR REPLACE TABLE {qi(name)} AS SELECT * FROM read_parquet({sql_str(str(text_path))})")
    con.execute(f"CREATE OR REPLACE TABLE {qi(name + '_refs')} AS SELECT * FROM read_parquet({sql_str(str(refs_path))})")


def arrow_batches(con: duckdb.DuckDBPyConnection, sql: str, batch_rows: int = 50_000):
    """Stream a query's result as Arrow record batches (on a cursor of ``con``; DuckDB 1.x and 2.x)."""
    rel = con.cursor().sql(sql)
    fn = getattr(rel, "to_arrow_reader", None) or getattr(rel, "fetch_arrow_reader", None) or rel.record_batch
    return fn(batch_rows)


def arrow_to_table(con: duckdb.DuckDBPyConnection, name: str, data: pa.Table) -> None:
    """Store an Arrow table as a real DuckDB table ``name`` (visible to every cursor, unlike a registered view)."""
    con.register("_fs_arrow_tmp", data)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {qi(name)} AS SELECT * FROM _fs_arrow_tmp")
    finally:
        con.unregister("_fs_arrow_tmp")


def emit_tables(con: duckdb.DuckDBPyConnection, ctx: MapContext, results: Mapping[str, str | pa.Table],
                sink: Any, *, batch_rows: int = 50_000,
                on_table: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Stream each mapped table into ``sink`` (a :class:`forumscope.ingest.base.Sink`) in batches, with
    ``_source = ctx.source`` and the row's ``_offset``; fills ``forum_id`` when missing. Columns that are
    not fields of the model are an error (a bug in the mapping). Returns rows emitted per table."""
    counts: dict[str, int] = {}
    for table, res in results.items():
        if table not in TABLES or TABLES[table].kind != "data":
            raise KeyError(f"engine {ctx.spec.name}: mapping returned unknown table {table!r}")
        if isinstance(res, str):
            batches = iter(arrow_batches(con, res, batch_rows))
        else:
            batches = iter(res.to_batches(batch_rows))
        n = 0
        fields = set(TABLES[table].field_names)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            names = batch.schema.names
            bad = [c for c in names if c not in fields and c not in ("_offset", "_line")]
            if bad:
                raise KeyError(f"engine {ctx.spec.name}: table {table}: not fields of the model: {bad}")
            cols: dict[str, list[Any]] = {c: batch.column(i).to_pylist() for i, c in enumerate(names)}
            rows = batch.num_rows
            if "forum_id" in fields and "forum_id" not in cols:
                cols["forum_id"] = [ctx.forum_id] * rows
            cols["_source"] = [ctx.source] * rows
            if "_offset" in cols:
                cols["_offset"] = [None if v is None else int(v) for v in cols["_offset"]]
            sink.emit(table, cols)
            n += rows
        counts[table] = n
        if on_table:
            on_table(table, n)
    return counts


# ------------------------------------------------------------------------------------------ small helpers
_KINDS = (
    ("admin", re.compile(r"admin", re.I)),
    ("moderator", re.compile(r"mod(erator)?s?\b|moderat", re.I)),
    ("bot", re.compile(r"\bbots?\b|spider|crawler", re.I)),
    ("banned", re.compile(r"bann", re.I)),
    ("staff", re.compile(r"staff|team", re.I)),
    ("vip", re.compile(r"\bvip|premium|donor|supporter|elite|trusted", re.I)),
    ("member", re.compile(r"regist|^\s*(all\s+)?(members?|users?)\s*$|newly|guest|unverified|awaiting|coppa", re.I)),
)


def group_kind(name: str | None, *, hint: str | None = None) -> str:
    """A group's kind (admin, moderator, staff, vip, member, banned, bot, other) from its name or an
    engine hint (e.g. phpBB's ``GLOBAL_MODERATORS``). The engine's own flags (is_admin ...) win."""
    for text in (hint, name):
        if not text:
            continue
        for kind, rx in _KINDS:
            if rx.search(text):
                return kind
    return "other"


def access_rule(*, min_posts: int | None = None, group_ids: Sequence[str] = (), min_rank_id: str | None = None,
                note: str | None = None) -> str | None:
    """``boards.access_rule`` text in the forms the gating analysis reads: ``posts>=N``, ``rank>=R``,
    ``group:a|b`` (joined with ``; `` when several apply), plus an optional note."""
    parts = []
    if min_posts is not None:
        parts.append(f"posts>={int(min_posts)}")
    if min_rank_id is not None:
        parts.append(f"rank>={min_rank_id}")
    if group_ids:
        parts.append("group:" + "|".join(group_ids))
    if note:
        parts.append(note)
    return "; ".join(parts) or None


def add_interactions(out: dict[str, Any], sql: str) -> None:
    """Append interaction rows (SQL) to whatever ``out["interactions"]`` already holds."""
    out["interactions"] = f"{out['interactions']} UNION ALL BY NAME {sql}" if "interactions" in out else sql


def pm_links_sql(private_messages_sql: str) -> str:
    """One ``private_message`` interaction per message and recipient (metadata only), from the mapped
    ``private_messages`` SQL whose ``recipient_ids`` are ``|``-separated."""
    return ("SELECT 'pm:' || pm.id || ':' || rc AS id, 'private_message' AS kind, pm.sender_id AS source_user_id, "
            "rc AS target_user_id, pm.sent_at AS created_at, pm._offset FROM (" + private_messages_sql + ") pm, "
            "unnest(string_split(coalesce(pm.recipient_ids, ''), '|')) AS u(rc) WHERE rc <> ''")


def add_pm_links(ctx: "MapContext", out: dict[str, Any], text_kind: str = "private-message text") -> None:
    """One ``private_message`` interaction per message and recipient of the mapped ``private_messages``
    (metadata only), with a notice when the case does not keep the messages' text."""
    if "private_messages" not in out:
        return
    if not ctx.store_pm_text:
        ctx.notice(f"{ctx.spec.name}: {text_kind} not stored (privacy.store_private_message_text is off)")
    add_interactions(out, pm_links_sql(out["private_messages"]))


def contacts_sql(parts: Sequence[str], id_macro: str = "fs_id") -> str | None:
    """The ``contacts`` table from ``parts``: SELECTs of (uid, kind, p = the staged pseudonym, t = when
    seen). One row per member, kind and pseudonym with first/last seen and how many records carry it;
    ``id_macro`` turns the engine's user id into the canonical one."""
    if not parts:
        return None
    return (f"SELECT kind || ':' || coalesce({id_macro}(uid), '') || ':' || p AS id, {id_macro}(uid) AS user_id, "
            "kind, p AS pseudonym, min(t) AS first_seen_at, max(t) AS last_seen_at, count(*) AS records FROM ("
            + " UNION ALL ".join(parts) + ") WHERE p IS NOT NULL GROUP BY ALL")


def ip_text(value: str | bytes) -> str | bytes:
    """An IP address in canonical text form (IPv4 dotted, IPv6 compressed, IPv4-mapped IPv6 as IPv4)
    from packed bytes (4 or 16) or text; anything else as it is."""
    import ipaddress

    try:
        if isinstance(value, bytes):
            if len(value) not in (4, 16):
                return value
            addr = ipaddress.ip_address(value)
        else:
            addr = ipaddress.ip_address(value.strip())
    except ValueError:
        return value
    mapped = getattr(addr, "ipv4_mapped", None)
    return str(mapped or addr)


def to_int(v: Any, default: int = 0) -> int:
    """A staged (text) value as an int, ``default`` when it is missing or not a number."""
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return default


def query_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """A small query's rows as dicts (column name -> value); for lookup tables, never for posts."""
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]

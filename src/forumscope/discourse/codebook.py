"""Codebooks as data: YAML files with codes, definitions, rules, examples and lexicons.

A codebook is validated when it is loaded; every error names the file, the line and the field
(docs/codebooks.md describes the format). Shipped codebooks live in
``forumscope/data/codebooks/<id>.yaml`` and are loaded by name::

    from forumscope.discourse.codebook import load_codebook
    cb = load_codebook("operating-model")          # shipped, by id
    cb = load_codebook("my/own-codebook.yaml")     # any file
    [c.id for c in cb.codes]

Safety (SAFETY.md): a code marked ``definition_only: true`` (every child-abuse-specific
construct) may not carry examples, lexicon entries or patterns; the loader refuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from forumscope.errors import ConfigError, InputError

CODEBOOK_DIR = "data/codebooks"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
LANG_RE = re.compile(r"^[a-z]{2}$")

TOP_FIELDS = {"id", "version", "title", "description", "languages", "references", "codes",
              "help_seeking_code", "unit"}
CODE_FIELDS = {"id", "label", "definition", "include", "exclude", "examples", "lexicon", "patterns",
               "exclude_patterns", "definition_only", "references", "level"}
UNITS = ("post", "sentence")


@dataclass(frozen=True)
class Code:
    id: str
    label: str
    definition: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    lexicon: dict[str, tuple[str, ...]] = field(default_factory=dict)
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exclude_patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a match vetoes the rules layer
    definition_only: bool = False
    references: tuple[str, ...] = ()
    level: str = "sentence"  # the smallest unit the code is meant for: "sentence" or "post"


@dataclass(frozen=True)
class Codebook:
    id: str
    version: str
    title: str
    description: str
    languages: tuple[str, ...]
    references: tuple[str, ...]
    codes: tuple[Code, ...]
    help_seeking_code: str | None = None
    path: str = ""

    @property
    def code_ids(self) -> list[str]:
        return [c.id for c in self.codes]

    def index(self, code_id: str) -> int:
        for i, c in enumerate(self.codes):
            if c.id == code_id:
                return i
        raise ConfigError(f"codebook {self.id}: no code {code_id!r}", path=self.path or None)

    def code(self, code_id: str) -> Code:
        return self.codes[self.index(code_id)]


# ----------------------------------------------------------------------------- YAML with line numbers
class _Doc:
    """The parsed YAML plus the line (1-based) of every mapping key and sequence item."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.lines: dict[tuple[Any, ...], int] = {}
        self._loader = yaml.SafeLoader("")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InputError(f"not valid YAML: {problem}", path=path, line=line) from None
        if node is None:
            raise InputError("the codebook file is empty", path=path, line=1)
        self.data = self._build(node, ())

    def _build(self, node: yaml.Node, where: tuple[Any, ...]) -> Any:
        self.lines[where] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    self.fail(where, f"keys must be text, got {key!r}", line=k.start_mark.line + 1)
                if key in out:
                    self.fail(where, f"duplicate key {key!r}", line=k.start_mark.line + 1)
                out[key] = self._build(v, where + (key,))
                self.lines[where + (key,)] = k.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(v, where + (i,)) for i, v in enumerate(node.value)]
        return self._loader.construct_object(node, deep=True)

    def line(self, where: tuple[Any, ...]) -> int | None:
        while where and where not in self.lines:
            where = where[:-1]
        return self.lines.get(where)

    def fail(self, where: tuple[Any, ...], message: str, *, line: int | None = None) -> None:
        name = _field_name(where)
        raise ConfigError(f"{'field ' + name + ': ' if name else ''}{message}", path=self.path,
                          line=line if line is not None else self.line(where))


def _field_name(where: tuple[Any, ...]) -> str:
    out = ""
    for w in where:
        out += f"[{w}]" if isinstance(w, int) else (f".{w}" if out else str(w))
    return out


# ----------------------------------------------------------------------------- validation
def _text(doc: _Doc, where: tuple[Any, ...], value: Any, *, required: bool = True) -> str:
    if value is None:
        if required:
            doc.fail(where, "is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        doc.fail(where, f"must be text, got {type(value).__name__}")
    text = str(value).strip()
    if required and not text:
        doc.fail(where, "must not be empty")
    return text


def _texts(doc: _Doc, where: tuple[Any, ...], value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        doc.fail(where, f"must be a list of texts, got {type(value).__name__}")
    return tuple(_text(doc, where + (i,), v) for i, v in enumerate(value))


def _by_language(doc: _Doc, where: tuple[Any, ...], value: Any, languages: tuple[str, ...],
                 *, regex: bool) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        doc.fail(where, "must map language codes (en, de, ...) to lists of entries")
    out: dict[str, tuple[str, ...]] = {}
    for lang, entries in value.items():
        w = where + (lang,)
        if not LANG_RE.match(lang):
            doc.fail(w, f"{lang!r} is not an ISO 639-1 language code (two lower-case letters)")
        if languages and lang not in languages:
            doc.fail(w, f"language {lang!r} is not in the codebook's languages ({', '.join(languages)})")
        items = _texts(doc, w, entries)
        if regex:
            for i, p in enumerate(items):
                try:
                    re.compile(p)
                except re.error as exc:
                    doc.fail(w + (i,), f"not a valid regular expression: {exc}")
        out[lang] = items
    return out


def _check_fields(doc: _Doc, where: tuple[Any, ...], value: dict[str, Any], allowed: set[str]) -> None:
    for k in value:
        if k not in allowed:
            doc.fail(where + (k,), f"unknown field; allowed: {', '.join(sorted(allowed))}")


def parse_codebook(text: str, path: str = "<codebook>") -> Codebook:
    """Validate a codebook's YAML text and return it (errors name path, line and field)."""
    doc = _Doc(path, text)
    d = doc.data
    if not isinstance(d, dict):
        doc.fail((), "the codebook must be a mapping with id, version, languages, references and codes")
    _check_fields(doc, (), d, TOP_FIELDS)
    cid = _text(doc, ("id",), d.get("id"))
    if not ID_RE.match(cid):
        doc.fail(("id",), f"{cid!r} must be lower-case letters, digits, '-', '_' or '.'")
    version = _text(doc, ("version",), d.get("version"))
    langs = _texts(doc, ("languages",), d.get("languages"))
    if not langs:
        doc.fail(("languages",), "is required: the languages the codebook's lexicons and examples cover")
    for i, lang in enumerate(langs):
        if not LANG_RE.match(lang):
            doc.fail(("languages", i), f"{lang!r} is not an ISO 639-1 language code")
    refs = _texts(doc, ("references",), d.get("references"))
    raw_codes = d.get("codes")
    if not isinstance(raw_codes, list) or not raw_codes:
        doc.fail(("codes",), "is required: a non-empty list of codes")
    codes: list[Code] = []
    seen: set[str] = set()
    for i, rc in enumerate(raw_codes):
        w = ("codes", i)
        if not isinstance(rc, dict):
            doc.fail(w, "each code must be a mapping with id, label and definition")
        _check_fields(doc, w, rc, CODE_FIELDS)
        code_id = _text(doc, w + ("id",), rc.get("id"))
        if not ID_RE.match(code_id):
            doc.fail(w + ("id",), f"{code_id!r} must be lower-case letters, digits, '-', '_' or '.'")
        if code_id in seen:
            doc.fail(w + ("id",), f"duplicate code id {code_id!r}")
        seen.add(code_id)
        only = rc.get("definition_only", False)
        if not isinstance(only, bool):
            doc.fail(w + ("definition_only",), "must be true or false")
        level = _text(doc, w + ("level",), rc.get("level", "sentence"))
        if level not in UNITS:
            doc.fail(w + ("level",), f"must be one of {', '.join(UNITS)}")
        code = Code(
            id=code_id,
            label=_text(doc, w + ("label",), rc.get("label")),
            definition=_text(doc, w + ("definition",), rc.get("definition")),
            include=_texts(doc, w + ("include",), rc.get("include")),
            exclude=_texts(doc, w + ("exclude",), rc.get("exclude")),
            examples=_texts(doc, w + ("examples",), rc.get("examples")),
            lexicon=_by_language(doc, w + ("lexicon",), rc.get("lexicon"), langs, regex=False),
            patterns=_by_language(doc, w + ("patterns",), rc.get("patterns"), langs, regex=True),
            exclude_patterns=_by_language(doc, w + ("exclude_patterns",), rc.get("exclude_patterns"), langs,
                                          regex=True),
            definition_only=only,
            references=_texts(doc, w + ("references",), rc.get("references")),
            level=level,
        )
        if only:  # SAFETY.md: clinical definition, nothing a model could echo
            for name in ("examples", "lexicon", "patterns", "exclude_patterns"):
                if getattr(code, name):
                    doc.fail(w + (name,), "a definition_only code carries a definition only (SAFETY.md); "
                                          f"remove its {name}")
        codes.append(code)
    help_code = d.get("help_seeking_code")
    if help_code is not None:
        help_code = _text(doc, ("help_seeking_code",), help_code)
        if help_code not in seen:
            doc.fail(("help_seeking_code",), f"{help_code!r} is not one of the codebook's codes")
    return Codebook(id=cid, version=version, title=_text(doc, ("title",), d.get("title"), required=False) or cid,
                    description=_text(doc, ("description",), d.get("description"), required=False),
                    languages=langs, references=refs, codes=tuple(codes), help_seeking_code=help_code, path=path)


# ----------------------------------------------------------------------------- loading
def shipped_codebooks() -> list[str]:
    """Ids of the codebooks that ship with forumscope."""
    root = resources.files("forumscope").joinpath(CODEBOOK_DIR)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def codebook_path(name_or_path: str | Path) -> Path:
    """The file behind a shipped codebook id or a path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise ConfigError("codebook file not found", path=str(p))
        return p
    shipped = resources.files("forumscope").joinpath(CODEBOOK_DIR, f"{name_or_path}.yaml")
    if not shipped.is_file():
        raise ConfigError(f"unknown codebook {str(name_or_path)!r}; shipped: {', '.join(shipped_codebooks())} "
                          "(or give the path of a .yaml file)")
    return Path(str(shipped))


def load_codebook(name_or_path: str | Path) -> Codebook:
    """Load and validate a codebook by shipped id (``operating-model``) or by path."""
    if isinstance(name_or_path, Codebook):
        return name_or_path
    path = codebook_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"codebook is not UTF-8 text (byte {exc.start})", path=str(path)) from None
    return parse_codebook(text, str(path))

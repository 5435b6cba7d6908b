"""Forum markup to plain text, keeping quotes, mentions, links and attachment references as data.

>>> c = to_text('[quote="ann" post_id=12 user_id=3]old words[/quote]I agree, @bob', "bbcode")
>>> c.text
'I agree, @bob'
>>> [(r.kind, r.target_name, r.target_post_id, r.target_user_id) for r in c.refs]
[('quote', 'ann', '12', '3'), ('mention', 'bob', None, None)]

Formats: ``bbcode`` and ``bbcode-escaped`` (stored HTML-escaped with ``<br />`` line breaks: SMF,
phpBB 3.0) (phpBB 3.0, SMF, MyBB, vBulletin, XenForo dialects: ``[quote="name" post_id=N]``,
``[quote author=name link=msg=N date=T]``, ``[quote='name' pid='N']``, ``[QUOTE=name;N]``,
``[QUOTE="name, post: N, member: U"]``), ``phpbb`` (phpBB 3.2+'s stored s9e XML, or 3.0 BBCode with
``:uid`` suffixes), ``html`` (parsed with lxml; ``blockquote``/``aside.quote`` with ``data-*``
attributes), ``markdown`` (Discourse: ``[quote="name, post:N, topic:T"]`` blocks, ``@mentions``,
links), ``plain``.

The text for analysis leaves quoted blocks out (they are another member's words; each becomes a
``quote`` reference) and image tags out (never fetched: SAFETY.md); link texts, code and list items
stay. Nothing here fetches anything: URLs are kept as text only.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

__all__ = ["Ref", "Converted", "to_text", "bbcode_to_text", "html_to_text", "markdown_to_text", "phpbb_to_text",
           "mentions", "FORMATS"]

FORMATS = ("plain", "bbcode", "bbcode-escaped", "phpbb", "html", "markdown")


@dataclass
class Ref:
    """A reference found in markup: ``quote``, ``mention``, ``link`` or ``attachment``."""

    kind: str
    target_name: str | None = None
    target_post_id: str | None = None
    target_user_id: str | None = None
    detail: str | None = None


@dataclass
class Converted:
    text: str
    refs: list[Ref] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- mentions, links
_MENTION = re.compile(r"(?<![\w@/.])@([A-Za-z0-9_][\w.\-]{0,39})", re.U)
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'\[\]]+|\bwww\.[^\s<>\"'\[\]]+", re.I)


def mentions(text: str) -> list[str]:
    """``@name`` mentions in plain text (trailing punctuation dropped)."""
    out = []
    for m in _MENTION.finditer(text):
        name = m.group(1).rstrip(".-")
        if name:
            out.append(name)
    return out


def _plain_refs(text: str, refs: list[Ref]) -> None:
    for name in mentions(text):
        refs.append(Ref("mention", target_name=name))
    for m in _URL.finditer(text):
        refs.append(Ref("link", detail=m.group(0).rstrip(".,;:!?)")))


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# ------------------------------------------------------------------------------------------- BBCode
_TAGS = ("b|i|u|s|strike|color|colour|size|font|url|email|img|code|icode|php|html|list|ul|ol|li|\\*|quote|"
         "spoiler|hide|center|left|right|justify|align|indent|sub|sup|hr|table|tr|td|th|thead|tbody|youtube|"
         "media|video|flash|attach|attachment|user|mention|highlight|pre|noparse|plain|float|rtl|ltr|"
         "h[1-6]|heading|abbr|acronym|glow|shadow|move|tt|ftp|iurl|nobbc|me|time|member|face|ispoiler|"
         "s9e|ext|fa|blur|offtopic|mod|note|box|mark|small|large|strong|em")
_TAG = re.compile(r"\[(/?)(" + _TAGS + r")(?:(=|\s)([^\]]*))?(?::[0-9a-z]{5,10})?(?::[umo])?\]", re.I)
_QUOTE_OPEN = re.compile(r"\[quote(?:(=|\s)([^\]]*))?(?::[0-9a-z]{5,10})?\]", re.I)
_QUOTE_CLOSE = re.compile(r"\[/quote(?::[0-9a-z]{5,10})?\]", re.I)
_QUOTE_ANY = re.compile(r"\[(/?)quote(?:(?:=|\s)([^\]]*))?(?::[0-9a-z]{5,10})?\]", re.I)
_ATTR = re.compile(r"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s\]]+))""")
_NUM = re.compile(r"\d+")


def _strip_quotes(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    return s.replace("&quot;", "")


def parse_quote_attrs(sep: str | None, arg: str | None) -> Ref:
    """The target of a quote tag from its argument, in every dialect listed in the module docstring."""
    ref = Ref("quote")
    if not arg:
        return ref
    arg = html.unescape(arg).strip()
    if sep == "=":
        # [quote="name" post_id=1 user_id=2] / [quote='name' pid='1'] / [QUOTE=name;123] /
        # [QUOTE="name, post: 123, member: 45"] / [quote="name, post:3, topic:12"]
        m = re.match(r"""("[^"]*"|'[^']*'|[^\s;]*)(.*)$""", arg, re.S)
        first, rest = (m.group(1), m.group(2)) if m else (arg, "")
        name = _strip_quotes(first)
        if rest.startswith(";"):  # vBulletin [QUOTE=name;123]
            pid = _NUM.match(rest[1:].strip())
            ref.target_post_id = pid.group(0) if pid else None
            rest = ""
        inner = re.match(r"^(.*?),\s*(post|member|topic|user)\s*:\s*(\d+)(.*)$", name, re.S)
        if inner:  # XenForo / Discourse: "name, post: 123, member: 45"
            ref.target_name = inner.group(1).strip() or None
            for key, val in re.findall(r"(post|member|topic|user)\s*:\s*(\d+)", name[len(inner.group(1)):]):
                if key == "post":
                    ref.target_post_id = val
                elif key in ("member", "user"):
                    ref.target_user_id = val
                elif key == "topic":
                    ref.detail = f"topic:{val}"
        else:
            ref.target_name = name or None
        attrs = rest
    else:
        attrs = arg
    for key, a, b, c in _ATTR.findall(attrs):
        val = a if a or (not b and not c and '""' in attrs) else (b or c)
        key = key.lower()
        if key in ("post_id", "pid", "postid", "post"):
            ref.target_post_id = _NUM.search(val).group(0) if _NUM.search(val) else None
        elif key in ("user_id", "uid", "userid", "member"):
            ref.target_user_id = val or None
        elif key in ("author", "name", "username"):
            ref.target_name = val or None
        elif key == "link":  # SMF link=msg=123 or topic=5.msg123#msg123
            m = re.search(r"msg=?(\d+)", val)
            if m:
                ref.target_post_id = m.group(1)
        elif key in ("time", "date", "dateline"):
            ref.detail = ref.detail or f"time:{val}"
    if ref.target_name is not None and not ref.target_name.strip():
        ref.target_name = None
    return ref


def _remove_quotes(text: str, refs: list[Ref]) -> str:
    """Remove quote blocks (outermost with their nested ones), recording the outermost as refs."""
    out: list[str] = []
    depth = 0
    pos = 0
    for m in _QUOTE_ANY.finditer(text):
        closing = m.group(1) == "/"
        if not closing:
            if depth == 0:
                out.append(text[pos:m.start()])
                om = _QUOTE_OPEN.match(text, m.start())
                refs.append(parse_quote_attrs(om.group(1), om.group(2)) if om else Ref("quote"))
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                pos = m.end()
        # a stray [/quote] outside any quote is dropped with the text around kept
        elif depth == 0:
            out.append(text[pos:m.start()])
            pos = m.end()
    if depth == 0:
        out.append(text[pos:])
    # an unclosed quote: its content is dropped like a closed one
    return "".join(out)


_IMG = re.compile(r"\[img(?:=[^\]]*)?(?::[0-9a-z]{5,10})?\](.*?)\[/img(?::[0-9a-z]{5,10})?\]", re.I | re.S)
_URL_TAG = re.compile(r"\[url=([^\]]+?)(?::[0-9a-z]{5,10})?\](.*?)\[/url(?::[0-9a-z]{5,10})?\]", re.I | re.S)
_URL_BARE = re.compile(r"\[url(?::[0-9a-z]{5,10})?\](.*?)\[/url(?::[0-9a-z]{5,10})?\]", re.I | re.S)
_ATTACH_TAG = re.compile(r"\[(attach(?:ment)?)(?:=([^\]]*))?(?::[0-9a-z]{5,10})?\](.*?)\[/\1(?::[0-9a-z]{5,10})?\]",
                         re.I | re.S)
_USER_TAG = re.compile(r"\[(user|mention|member)(?:=([^\]]*))?\](.*?)\[/\1\]", re.I | re.S)
_PHPBB_SMILEY = re.compile(r"<!-- s(.*?) -->.*?<!-- s\1 -->", re.S)
_PHPBB_LINKCOMMENT = re.compile(r"<!-- [lmwe] -->")
_HTML_TAG = re.compile(r"<[^>]{0,2000}>")


def bbcode_to_text(raw: str, *, entities: bool = False) -> Converted:
    """BBCode (any common dialect) -> text + refs. ``entities``: the source stores HTML entities
    (phpBB 3.0, MyBB is plain)."""
    refs: list[Ref] = []
    t = raw
    if entities:
        t = _PHPBB_SMILEY.sub(lambda m: m.group(1), t)
        t = _PHPBB_LINKCOMMENT.sub("", t)
        t = _BR.sub("\n", t)
        t = _HTML_TAG.sub("", t)
    t = _remove_quotes(t, refs)

    def _img(m: re.Match[str]) -> str:
        refs.append(Ref("link", detail=html.unescape(m.group(1).strip())))
        return ""

    def _url(m: re.Match[str]) -> str:
        refs.append(Ref("link", detail=html.unescape(m.group(1).strip().strip("\"'"))))
        return m.group(2)

    def _url_bare(m: re.Match[str]) -> str:
        refs.append(Ref("link", detail=html.unescape(m.group(1).strip())))
        return m.group(1)

    def _attach(m: re.Match[str]) -> str:
        arg = (m.group(2) or "").strip().strip("\"'")
        body = m.group(3).strip()
        ident = body or arg  # phpBB: [attachment=index]file name[/attachment]; SMF/MyBB: [attach]id[/attach]
        refs.append(Ref("attachment", detail=ident or None))
        return ""

    def _user(m: re.Match[str]) -> str:
        uid = (m.group(2) or "").strip().strip("\"'")
        name = m.group(3).strip().lstrip("@")
        refs.append(Ref("mention", target_name=name or None, target_user_id=uid if uid.isdigit() else None))
        return "@" + name if name else ""

    t = _IMG.sub(_img, t)
    t = _ATTACH_TAG.sub(_attach, t)
    t = _USER_TAG.sub(_user, t)
    t = _URL_TAG.sub(_url, t)
    t = _URL_BARE.sub(_url_bare, t)
    t = _TAG.sub(lambda m: "\n" if m.group(2) == "*" or m.group(2).lower() in ("li", "hr") else "", t)
    if entities:
        t = html.unescape(t)
    text = _tidy(t)
    seen_mentions = {r.target_name for r in refs if r.kind == "mention"}
    for name in mentions(text):
        if name not in seen_mentions:
            refs.append(Ref("mention", target_name=name))
    known_links = {r.detail for r in refs if r.kind == "link"}
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?)")
        if url not in known_links:
            refs.append(Ref("link", detail=url))
    return Converted(text, refs)


# ------------------------------------------------------------------------------------------- phpBB
_S9E_MARK = re.compile(r"<([se])>.*?</\1>", re.S)
_S9E_QUOTE = re.compile(r"<QUOTE((?:\s+\w+=\"[^\"]*\")*)\s*>", re.S)
_S9E_QUOTE_ANY = re.compile(r"<(/?)QUOTE\b[^>]*>", re.S)
_S9E_ATTRS = re.compile(r"(\w+)=\"([^\"]*)\"")
_S9E_URL = re.compile(r"<URL\s+url=\"([^\"]*)\"[^>]*>", re.S)
_S9E_IMG = re.compile(r"<IMG\s+src=\"([^\"]*)\"[^>]*>.*?</IMG>", re.S)
_S9E_ATTACH = re.compile(r"<ATTACHMENT\b([^>]*)>.*?</ATTACHMENT>", re.S)
_S9E_MENTION = re.compile(r"<MENTION\b([^>]*)>(.*?)</MENTION>", re.S)
_S9E_SMILEY = re.compile(r"<E>(.*?)</E>", re.S)
_BR = re.compile(r"<br\s*/?>\n?", re.I)
_LI = re.compile(r"<(?:LI|\*)\b[^>]*>", re.S)


def phpbb_to_text(raw: str) -> Converted:
    """phpBB's stored post text: s9e XML (``<t>...</t>`` / ``<r>...</r>``, phpBB 3.2+) or 3.0 BBCode."""
    s = raw.lstrip()
    if s.startswith("<t>") or s.startswith("<t/>"):
        body = s[3:-4] if s.endswith("</t>") else s[3:]
        text = html.unescape(_BR.sub("\n", body))
        refs: list[Ref] = []
        _plain_refs(text, refs)
        return Converted(_tidy(text), refs)
    if not s.startswith("<r>"):
        return bbcode_to_text(raw, entities=True)
    refs = []
    t = s[3:-4] if s.endswith("</r>") else s[3:]
    t = _S9E_MARK.sub("", t)  # the original markup of each tag
    out: list[str] = []
    depth = 0
    pos = 0
    for m in _S9E_QUOTE_ANY.finditer(t):
        if m.group(1) != "/":
            if depth == 0:
                out.append(t[pos:m.start()])
                attrs = dict(_S9E_ATTRS.findall(m.group(0)))
                refs.append(Ref("quote", target_name=html.unescape(attrs["author"]) if attrs.get("author") else None,
                                target_post_id=attrs.get("post_id") or None,
                                target_user_id=attrs.get("user_id") or None,
                                detail=f"time:{attrs['time']}" if attrs.get("time") else None))
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                pos = m.end()
    if depth == 0:
        out.append(t[pos:])
    t = "".join(out)

    def _img(m: re.Match[str]) -> str:
        refs.append(Ref("link", detail=html.unescape(m.group(1))))
        return ""

    def _attach(m: re.Match[str]) -> str:
        attrs = dict(_S9E_ATTRS.findall(m.group(1)))
        refs.append(Ref("attachment", detail=html.unescape(attrs.get("filename") or attrs.get("index") or "") or None))
        return ""

    def _mention(m: re.Match[str]) -> str:
        attrs = dict(_S9E_ATTRS.findall(m.group(1)))
        name = html.unescape(_HTML_TAG.sub("", m.group(2))).lstrip("@")
        refs.append(Ref("mention", target_name=name or None, target_user_id=attrs.get("user_id") or None))
        return "@" + name

    t = _S9E_IMG.sub(_img, t)
    t = _S9E_ATTACH.sub(_attach, t)
    t = _S9E_MENTION.sub(_mention, t)
    for m in _S9E_URL.finditer(t):
        refs.append(Ref("link", detail=html.unescape(m.group(1))))
    t = _S9E_SMILEY.sub(lambda m: m.group(1), t)
    t = _BR.sub("\n", t)
    t = _LI.sub("\n", t)
    t = _HTML_TAG.sub("", t)
    text = _tidy(html.unescape(t))
    known = {r.target_name for r in refs if r.kind == "mention"}
    for name in mentions(text):
        if name not in known:
            refs.append(Ref("mention", target_name=name))
    return Converted(text, refs)


# ------------------------------------------------------------------------------------------- HTML, Markdown
_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "aside", "ul",
          "ol", "table", "section", "article", "header", "footer", "hr", "dd", "dt"}


def html_to_text(raw: str) -> Converted:
    """HTML -> text + refs (lxml; scripts, styles and images dropped; quotes kept as refs)."""
    refs: list[Ref] = []
    try:
        import lxml.html  # declared dependency; without it, tags are stripped (quotes stay in the text)

        root = lxml.html.fragment_fromstring(raw, create_parent="div")
    except Exception:  # noqa: BLE001 - unparseable HTML (or no lxml): strip tags
        text = html.unescape(_HTML_TAG.sub(" ", raw))
        _plain_refs(text, refs)
        return Converted(_tidy(text), refs)
    for el in list(root.iter("script", "style", "noscript", "template", "iframe", "object", "embed")):
        el.drop_tree()
    for el in list(root.iter("blockquote", "aside")):
        if el.getparent() is None:
            continue
        cls = el.get("class") or ""
        if el.tag == "aside" and "quote" not in cls:
            continue
        # outermost quotes only
        anc = el.getparent()
        nested = False
        while anc is not None:
            if anc.tag in ("blockquote",) or (anc.tag == "aside" and "quote" in (anc.get("class") or "")):
                nested = True
                break
            anc = anc.getparent()
        if nested:
            continue
        name = el.get("data-username") or el.get("data-author") or el.get("data-quote") or None
        post = el.get("data-post") or el.get("data-post-id") or el.get("data-source")
        if post and not post.isdigit():
            m = re.search(r"(\d+)", post)
            post = m.group(1) if m else None
        user = el.get("data-user-id") or el.get("data-attributes-member") or None
        refs.append(Ref("quote", target_name=name, target_post_id=post, target_user_id=user,
                        detail=f"topic:{el.get('data-topic')}" if el.get("data-topic") else None))
        el.drop_tree()
    for a in root.iter("a"):
        href = a.get("href")
        cls = a.get("class") or ""
        if "mention" in cls:
            name = (a.text_content() or "").strip().lstrip("@")
            refs.append(Ref("mention", target_name=name or None, target_user_id=a.get("data-user-id")))
        elif href:
            refs.append(Ref("link", detail=href))
    for img in list(root.iter("img")):
        if img.get("src"):
            refs.append(Ref("link", detail=img.get("src")))
        alt = img.get("alt") or ""
        if img.get("class") and "emoji" in (img.get("class") or "") and alt:
            img.tail = alt + (img.tail or "")
        img.drop_tree() if img.getparent() is not None else None
    parts: list[str] = []

    def walk(el) -> None:  # noqa: ANN001
        if el.tag in _BLOCK:
            parts.append("\n")
        if el.text:
            parts.append(el.text)
        for child in el:
            if isinstance(child.tag, str):
                walk(child)
            if child.tail:
                parts.append(child.tail)
        if el.tag in _BLOCK:
            parts.append("\n")

    walk(root)
    text = _tidy("".join(parts))
    known = {r.target_name for r in refs if r.kind == "mention"}
    for name in mentions(text):
        if name not in known:
            refs.append(Ref("mention", target_name=name))
    return Converted(text, refs)


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_MD_EMPH = re.compile(r"(\*\*|~~|\*)(?=\S)(.+?)(?<=\S)\1")
# underscore emphasis only at word boundaries (CommonMark): snake_case names and o_O stay as written
_MD_EMPH_U = re.compile(r"(?<![\w])(__|_)(?=\S)(.+?)(?<=\S)\1(?![\w])")
_MD_HEAD = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
_MD_BQ = re.compile(r"^\s{0,3}>\s?", re.M)
_MD_FENCE = re.compile(r"^```[^\n]*\n|^```\s*$", re.M)
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+", re.M)


_UPLOAD_PATH = re.compile(r"^(?:https?://[^/\s]+)?/uploads/", re.I)
# a link, and the " (12.5 KB)" Discourse writes after a link to an uploaded file
_MD_LINK_SIZE = re.compile(_MD_LINK.pattern + r"(?P<size>[ \t]*\(\d+(?:[.,]\d+)?\s*[KMG]?B\))?", re.I)


def _is_upload(url: str) -> bool:
    """Discourse's short upload URLs (``upload://...``) and paths of its upload store."""
    return url.startswith("upload://") or bool(_UPLOAD_PATH.match(url))


def markdown_to_text(raw: str) -> Converted:
    """Markdown (with Discourse's BBCode-style quotes) -> text + refs."""
    refs: list[Ref] = []
    t = _remove_quotes(raw, refs)

    def _link(m: re.Match[str]) -> str:
        url = m.group(2)
        if _is_upload(url):  # an uploaded file (image or not): an attachment reference, not text
            refs.append(Ref("attachment", detail=url))
            return ""
        refs.append(Ref("link", detail=url))
        return ("" if m.group(0).startswith("!") else m.group(1)) + (m.group("size") or "")

    t = _MD_LINK_SIZE.sub(_link, t)
    t = _ATTACH_TAG.sub(lambda m: refs.append(Ref("attachment", detail=m.group(3).strip() or None)) or "", t)
    t = _MD_FENCE.sub("", t)
    t = _MD_CODE.sub(lambda m: m.group(1), t)
    t = _MD_HEAD.sub("", t)
    t = _MD_BQ.sub("", t)
    t = _MD_LIST.sub("", t)
    t = _MD_EMPH.sub(lambda m: m.group(2), t)
    t = _MD_EMPH_U.sub(lambda m: m.group(2), t)
    t = _HTML_TAG.sub("", t)
    text = _tidy(html.unescape(t))
    known_links = {r.detail for r in refs if r.kind == "link"}
    for name in mentions(text):
        refs.append(Ref("mention", target_name=name))
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?)")
        if url not in known_links:
            refs.append(Ref("link", detail=url))
    return Converted(text, refs)


def to_text(raw: str | None, fmt: str) -> Converted:
    """Markup in ``fmt`` (one of :data:`FORMATS`) -> :class:`Converted` (plain text + refs)."""
    if raw is None:
        return Converted("", [])
    if fmt == "phpbb":
        return phpbb_to_text(raw)
    if fmt == "bbcode":
        return bbcode_to_text(raw)
    if fmt == "bbcode-escaped":  # BBCode stored HTML-escaped, line breaks as <br /> (SMF, phpBB 3.0)
        return bbcode_to_text(raw, entities=True)
    if fmt == "html":
        return html_to_text(raw)
    if fmt == "markdown":
        return markdown_to_text(raw)
    refs: list[Ref] = []
    _plain_refs(raw, refs)
    return Converted(_tidy(raw), refs)

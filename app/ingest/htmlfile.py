"""HTML pages with the standard library's parser: readable blocks under their heading path.

Scripts, styles, navigation and other page furniture are dropped; h1-h6 build the heading
path; each block (paragraph, list item, table row, ...) becomes a section "paragraph N".
The file is fed to the parser in pieces and sections are handed out as they complete, so a
large page streams like a text file does.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from app.ingest.sections import MAX_HEADING_CHARS, MAX_SECTION_CHARS, RawSection, heading_title
from app.ingest.textfiles import open_text

DROPPED = frozenset({"script", "style", "nav", "noscript", "template", "svg", "title", "iframe"})
HEADINGS = {f"h{level}": level for level in range(1, 7)}
BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl", "dt"}
    | {"fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main"}
    | {"ol", "p", "pre", "section", "summary", "table", "tbody", "thead", "tr", "ul"}
)
CELLS = frozenset({"td", "th"})
_FEED_CHARS = 65_536


class _BlockParser(HTMLParser):
    """Collects finished sections in `ready`; the caller drains it after each feed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ready: list[RawSection] = []
        self._stack: list[tuple[int, str]] = []
        self._parts: list[str] = []
        self._size = 0
        self._skip = 0  # depth inside dropped elements
        self._pre = 0  # depth inside <pre>, where whitespace is kept
        self._heading: list[str] | None = None  # text of the heading being read
        self._level = 0
        self._paragraphs = 0
        self._cut = False  # the last section was cut from a block that is still open
        self._cells = 0  # cells seen in the current block

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skip = 0  # a dropped element left unclosed in the head ends here
        if tag in DROPPED:
            self._skip += 1
        elif self._skip:
            return
        elif tag in HEADINGS:
            self._flush()
            self._heading, self._level = [], HEADINGS[tag]
        elif tag in BLOCKS:
            self._end_heading()
            self._flush()
            self._pre += tag == "pre"
        elif tag in CELLS:
            self._data(" | " if self._cells else " ")
            self._cells += 1
        elif tag == "br":
            self._data("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED:
            self._skip = max(self._skip - 1, 0)
        elif self._skip:
            return
        elif tag in HEADINGS:
            self._end_heading()
        elif tag in BLOCKS:
            self._flush()
            self._pre = max(self._pre - (tag == "pre"), 0)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._data(data)

    def close(self) -> None:
        super().close()
        self._end_heading()
        self._flush()

    def _data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
            self._size += len(data)
            if self._size > 4 * MAX_HEADING_CHARS:  # an unclosed heading: the rest is text
                self._end_heading()
            return
        self._parts.append(data)
        self._size += len(data)
        if self._size >= MAX_SECTION_CHARS:
            self._flush(cut=True)

    def _end_heading(self) -> None:
        if self._heading is None:
            return
        title = heading_title("".join(self._heading))
        self._size = sum(len(part) for part in self._parts)
        while self._stack and self._stack[-1][0] >= self._level:
            self._stack.pop()
        self._stack.extend([(self._level, title)] if title else [])
        self._heading = None

    def _flush(self, *, cut: bool = False) -> None:
        """Hand out the collected block; the pieces of a block cut for size share a number."""
        text = "".join(self._parts)
        self._parts, self._size = [], 0
        self._cells = self._cells if cut else 0
        text = text if self._pre else " ".join(text.split())
        continued, self._cut = self._cut, cut
        if not text.strip():
            self._cut = continued and cut
            return
        self._paragraphs += not continued
        heading = " > ".join(title for _, title in self._stack)
        self.ready.append(RawSection(text, f"paragraph {self._paragraphs}", heading))


class _MetaDateParser(HTMLParser):
    """Finds the first date-bearing <meta> in a page's head; stops looking at <body>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self.body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.body = True
        if tag != "meta" or self.body:
            return
        values = {name.lower(): value or "" for name, value in attrs}
        key = (values.get("name") or values.get("property") or "").strip().lower()
        content = values.get("content", "").strip()
        if key in META_DATE_NAMES and content:
            self.found.setdefault(key, content)


META_DATE_NAMES = ("dcterms.created", "date", "article:published_time", "dc.date")
_META_HEAD_CHARS = 65_536


def html_meta_date(path: Path) -> str | None:
    """The raw text of the page's date <meta> (name="dcterms.created", "date", "dc.date" or
    property="article:published_time", in that order of preference), from the head only."""
    parser = _MetaDateParser()
    with open_text(path, []) as stream:
        parser.feed(stream.read(_META_HEAD_CHARS))
    for name in META_DATE_NAMES:
        if name in parser.found:
            return parser.found[name]
    return None


def read_html(path: Path, notes: list[str]) -> Iterator[RawSection]:
    """Blocks of an HTML file, decoded like a text file (UTF-8, else Windows-1252)."""
    parser = _BlockParser()
    with open_text(path, notes) as stream:
        while data := stream.read(_FEED_CHARS):
            parser.feed(data)
            yield from parser.ready
            parser.ready.clear()
    parser.close()
    yield from parser.ready

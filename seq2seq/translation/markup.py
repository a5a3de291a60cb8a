"""Inline markup kept through translation: tags taken out, the text translated, the tags put back by alignment.

A line may hold XML/HTML inline elements (`<b>…</b>`, `<a href="…">…</a>`),
empty ones (`<br/>`, and HTML's `<br>`, `<img …>` and the other void
elements) and placeholders (`{name}`: letters, digits and `_` between
braces). They are read with Python's `html.parser` (entities such as
`&amp;` become their characters), taken out, and the plain text is
translated. Each element is then put back around the target words its
source words are aligned to by the model's attention
(:mod:`seq2seq.translation.alignment`, on letters and digits only, keeping
the links both directions of the attention agree on): an element around
source words goes around the span of the target words aligned to any of
them (and around its children's), and an element whose text ends in a
letter or digit closes before the punctuation its last target word ends
with ("<b>Tom</b>?" stays so); an empty element or a placeholder goes before the target word
aligned to the source word that followed it (or after the one aligned to the
word before it, when the next is not aligned; at the end when none did);
an empty element parts the words on either side (`Zeile<br/>zwei` is read
as two words).

The output is always well-formed: each element is opened and closed once,
children inside their parents and siblings apart (a child is clipped to
its parent's span, a sibling that would overlap the one before it starts
after it, an element left without words stays as an empty pair there; comments
`<!--…-->` are kept as empty elements), and
an element none of whose words are aligned goes around the target word at
the same relative position: an element is never dropped. Start tags are
written exactly as they came (attributes unchanged); text is written with
`&`, `<` and `>` escaped. A line whose tags do not nest (`<b><i></b></i>`,
an end tag without a start, a start never ended) is an error naming it.
"""

from __future__ import annotations

import dataclasses
import html
import re
from html.parser import HTMLParser

from seq2seq.errors import UserError

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PLACEHOLDER = re.compile(r"\{[A-Za-z0-9_]+\}")  # a token, not markup: the one pattern read without the parser


@dataclasses.dataclass
class Element:
    """A tag pair (`end` the end tag's text) or an empty element (`end` None) and its place in the text."""

    start_text: str
    end: str | None
    begin: int  # character offsets in the plain text: [begin, finish); empty elements: begin == finish
    finish: int = -1
    placeholder: bool = False
    children: list[Element] = dataclasses.field(default_factory=list)
    span: tuple[int, int] = (0, 0)  # target words [first, last + 1); empty elements: (position, position)
    closes_before_punctuation: bool = False  # its text ends in a letter or digit ("<b>Tom</b>?", "<b>Tom</b> .")


class _Reader(HTMLParser):
    def __init__(self, where: str):
        super().__init__(convert_charrefs=True)
        self.where, self.text, self.root, self.stack = where, [], Element("", "", 0), []

    @property
    def position(self) -> int:
        return sum(len(part) for part in self.text)

    def parent(self) -> Element:
        return self.stack[-1] if self.stack else self.root

    def handle_data(self, data: str) -> None:
        last = 0
        for match in PLACEHOLDER.finditer(data):
            self.text.append(data[last : match.start()])
            self.parent().children.append(Element(match.group(), None, self.position, self.position, placeholder=True))
            last = match.end()
        self.text.append(data[last:])

    def handle_starttag(self, tag: str, attrs) -> None:
        element = Element(self.get_starttag_text(), None if tag in VOID else f"</{tag}>", self.position)
        self.parent().children.append(element)
        if tag not in VOID:
            self.stack.append(element)
        else:
            element.finish = element.begin
            self.text.append(" ")  # a line break or an image parts the words around it

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.parent().children.append(Element(self.get_starttag_text(), None, self.position, self.position))
        self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1].end != f"</{tag}>":
            opened = f"the open {self.stack[-1].start_text}" if self.stack else "no open element"
            raise UserError(f"{self.where}: </{tag}> closes {opened}; tags must nest (<b><i>…</i></b>).")
        self.stack.pop().finish = self.position

    def handle_comment(self, data: str) -> None:  # kept, as an empty element, like <?…> and <!…>
        self.parent().children.append(Element(f"<!--{data}-->", None, self.position, self.position))

    def handle_pi(self, data: str) -> None:
        self.parent().children.append(Element(f"<?{data}>", None, self.position, self.position))

    def handle_decl(self, decl: str) -> None:
        self.parent().children.append(Element(f"<!{decl}>", None, self.position, self.position))

    def unknown_decl(self, data: str) -> None:
        raise UserError(f"{self.where}: unsupported markup <![{data}]>; inline tags and text only.")


def parse(line: str, where: str = "line") -> tuple[str, Element]:
    """`(plain text, root element)` of a marked-up line; a `UserError` naming `where` when its tags do not nest."""
    reader = _Reader(where)
    reader.feed(line)
    reader.close()
    if reader.stack:
        raise UserError(f"{where}: {reader.stack[-1].start_text} is never closed; close it or escape '<' as &lt;.")
    text = "".join(reader.text)
    reader.root.finish = len(text)
    return text, reader.root


def _words(text: str) -> list[tuple[int, int]]:
    """Character spans of the white-space separated words (the alignment's words)."""
    spans, start = [], None
    for index, character in enumerate(text + " "):
        if character.isspace():
            if start is not None:
                spans.append((start, index))
            start = None
        elif start is None:
            start = index
    return spans


def place(root: Element, source_text: str, target_words: list[str], pairs) -> None:
    """Sets each element's target `span` from the alignment `pairs` `[(source word, target word)]`."""
    words = _words(source_text)
    linked: dict[int, set[int]] = {}
    for source, target in pairs:
        linked.setdefault(source, set()).add(target)
    count = max(1, len(target_words))

    def following(offset: int) -> int:
        """The source word that starts at or after `offset` (len(words): none)."""
        return next((index for index, (start, _) in enumerate(words) if start >= offset), len(words))

    def proportional(source_word: int) -> int:
        return min(len(target_words) - 1, source_word * count // max(1, len(words))) if target_words else 0

    def visit(element: Element) -> None:
        for child in element.children:
            visit(child)
        if element.end is None:  # empty: before the target word aligned to the next source word
            word = following(element.begin)
            targets, before = linked.get(word), linked.get(word - 1)
            if targets:
                place = min(targets)
            elif word == len(words):
                place = len(target_words)
            elif before:  # or after the one aligned to the word before
                place = max(before) + 1
            else:
                place = proportional(word)
            element.span = (place, place)
            return
        inside = [i for i, (start, finish) in enumerate(words) if start < element.finish and finish > element.begin]
        inner = source_text[element.begin : element.finish].strip()
        element.closes_before_punctuation = bool(inner) and inner[-1].isalnum()
        targets = set().union(*(linked.get(i, set()) for i in inside)) if inside else set()
        spans = [child.span for child in element.children if child.end is not None and child.span[1] > child.span[0]]
        targets |= {t for first, last in spans for t in range(first, last)}
        if targets:
            element.span = (min(targets), max(targets) + 1)
        elif inside and target_words:
            word = proportional(inside[0])
            element.span = (word, word + 1)
        else:
            word = proportional(following(element.begin)) if target_words else 0
            element.span = (word, word)

    visit(root)
    root.span = (0, len(target_words))
    _nest(root)


def _nest(element: Element) -> None:
    """Clips children into `element`'s span and moves overlapping siblings apart (see the module doc)."""
    low, high = element.span
    end = low
    element.children.sort(key=lambda c: (c.span[0], c.end is not None))  # stable: source order among equals
    for child in element.children:
        first = max(low, min(child.span[0], high), end)
        last = max(first, min(child.span[1], high))
        child.span = (first, last)
        end = last if child.end is not None else first
        _nest(child)


def render(root: Element, target_words: list[str]) -> str:
    """The target words with the elements around them (see the module doc)."""
    atoms: list[tuple[str, str]] = []  # (kind, text): word and tail (escaped when written), open, close, placeholder

    def walk(element: Element, low: int, high: int) -> None:
        position = low
        for child in element.children:
            while position < child.span[0]:
                atoms.append(("word", target_words[position]))
                position += 1
            if child.end is None:
                atoms.append(("placeholder" if child.placeholder else "open", child.start_text))
                continue
            atoms.append(("open", child.start_text))
            walk(child, child.span[0], child.span[1])
            tail = ""
            if child.closes_before_punctuation and atoms[-1][0] == "tail":  # an inner element's, kept outside
                tail = atoms.pop()[1]
            elif child.closes_before_punctuation and atoms[-1][0] == "word":  # "<b>Tom</b>?" stays so
                word = atoms[-1][1]
                core = word.rstrip("".join(c for c in word if not c.isalnum()))
                tail = word[len(core) :] if core else ""
                if tail:
                    atoms[-1] = ("word", core)
            atoms.append(("close", child.end))
            if tail:
                atoms.append(("tail", tail))
            position = max(position, child.span[1])
        while position < high:
            atoms.append(("word", target_words[position]))
            position += 1

    walk(root, 0, len(target_words))
    out, previous = [], None
    for kind, text in atoms:
        if previous is not None and kind not in ("close", "tail") and previous != "open":
            out.append(" ")
        out.append(html.escape(text, quote=False) if kind in ("word", "tail") else text)
        previous = kind
    return "".join(out)


def restore(line_text: str, root: Element, translation: str, pairs) -> str:
    """`translation` of the plain text `line_text` with `root`'s elements put back (see the module doc)."""
    target_words = translation.split()
    place(root, line_text, target_words, pairs)
    return render(root, target_words)

"""The lecture decks (lectures/*.md): parsing, and the rules an instructor's deck must follow.

A deck is reveal.js Markdown: slides split by a line ``---``, speaker notes after ``Note:``,
slide attributes in ``<!-- .slide: class="question" -->``. Figures and printed tables come
from the executed notebooks by label (``![](figure:LABEL)``, ``{{ output: LABEL }}``); every
other number must appear in a chapter's stored text or outputs. lectures/README.md describes
the format for authors; this module is what the build, the tests and the browser check share.
Standard library only: the tests run without the website's packages.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LECTURES = ROOT / "lectures"
NOTEBOOK_DIR = ROOT / "notebooks"

# One threshold per rule, used by the tests and the browser check alike.
MAX_SLIDE_WORDS = 40
MIN_FIGURE_TEXT_PX = 18  # on a 1280x720 slide
LECTURE_MINUTES = (45, 50)
MIN_ALT_WORDS = 6  # a figure's alt text is a sentence stating its finding
SLIDE_SIZE = (1280, 720)
# The box a figure fills on a figure slide (the slide less its padding and heading): a
# conservative static estimate; the browser check measures the displayed size.
FIGURE_BOX = (1200, 560)

NOTE_FIELDS = ("Say", "Point at", "Ask", "Answer", "Pitfall", "Minutes")
FIGURE = re.compile(r"!\[([^\]]*)\]\(figure:([\w-]+)\)")
OUTPUT = re.compile(r"^\{\{[ \t]*output:[ \t]*([\w-]+)[ \t]*\}\}[ \t]*$", re.M)
SLIDE_ATTRS = re.compile(r"<!--\s*\.slide:(.*?)-->", re.S)
COMMENT = re.compile(r"<!--.*?-->", re.S)
# Words that point at something a deck cannot show: notebook cells and unseen output.
UNSEEN = re.compile(
    r"\bcells?\b|\b(?:shown|printed|simulated|plotted|listed|see|as) (?:below|above)\b"
    r"|\bbelow:|\b(?:the|this) (?:output|printout)\b|\bscroll\b|\bfill in\b|\bnext code\b",
    re.I,
)
# "Lecture 3", "50 minutes": the deck's own bookkeeping, not a result of the chapter.
LECTURE_LENGTH = re.compile(r"\bLecture \d+\b|\b\d+(?:-\d+)? (?:minutes|min)\b", re.I)
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.I)


@dataclass
class Slide:
    number: int  # from 1, as reveal.js counts
    body: str  # Markdown shown on the slide
    notes: str  # the speaker notes, after "Note:"
    classes: list[str] = field(default_factory=list)
    backup: bool = False

    @property
    def heading(self) -> str:
        match = re.search(r"^#{1,3} (.+)$", self.body, re.M)
        return match.group(1).strip() if match else ""

    @property
    def figures(self) -> list[str]:
        return [label for _, label in FIGURE.findall(self.body)]

    @property
    def outputs(self) -> list[str]:
        return OUTPUT.findall(self.body)

    def where(self) -> str:
        return f"slide {self.number} ({self.heading[:40] or 'untitled'!r})"


@dataclass
class Deck:
    path: Path
    slides: list[Slide]
    chapters: list[str]  # notebook stems whose text and outputs the deck may quote

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def title(self) -> str:
        return self.slides[0].heading if self.slides else self.name

    @property
    def lecture(self) -> list[Slide]:
        """The slides taught in the lecture: all but the backup section."""
        return [s for s in self.slides if not s.backup]


def parse_deck(path: Path) -> Deck:
    text = path.read_text(encoding="utf-8")
    chapters = [path.stem]
    first = text.splitlines()[0] if text.strip() else ""
    if match := re.match(r"<!--\s*chapters:(.*?)-->", first):
        chapters = match.group(1).split()
        text = text.split("\n", 1)[1] if "\n" in text else ""
    slides: list[Slide] = []
    backup = False
    for number, chunk in enumerate(re.split(r"^---[ \t]*$", text, flags=re.M), start=1):
        body, _, notes = chunk.partition("\nNote:")
        classes: list[str] = []
        for attrs in SLIDE_ATTRS.findall(body):
            if found := re.search(r'class="([^"]*)"', attrs):
                classes += found.group(1).split()
        slide = Slide(number, body.strip("\n"), notes.strip("\n"), classes)
        backup = backup or slide.heading.lower() == "backup"
        slide.backup = backup
        slides.append(slide)
    return Deck(path, slides, chapters)


def decks() -> list[Deck]:
    return [parse_deck(p) for p in sorted(LECTURES.glob("[0-9][0-9]_*.md"))]


def visible_text(body: str) -> str:
    """A slide's text as a reader meets it: a formula or a figure counts once or not at all."""
    text = COMMENT.sub(" ", body)
    text = FIGURE.sub(" ", text)
    text = OUTPUT.sub(" ", text)
    text = re.sub(r"\$\$.*?\$\$", " FORMULA ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " FORMULA ", text)
    return re.sub(r"[#*|>`_]|^\s*(?:[-+]|\d+\.)\s", " ", text, flags=re.M)


def slide_words(body: str) -> int:
    """Words on a slide: tokens with a letter or digit, each formula one word."""
    return sum(bool(re.search(r"\w", token)) for token in visible_text(body).split())


def note_fields(notes: str) -> tuple[dict[str, str], list[str]]:
    """The notes' fields (``Say``, ``Minutes``, ...) and any text before the first field."""
    fields: dict[str, str] = {}
    stray: list[str] = []
    current = None
    pattern = re.compile(rf"^({'|'.join(NOTE_FIELDS)}):\s*(.*)$")
    for line in notes.splitlines():
        if match := pattern.match(line.strip()):
            current = match.group(1)
            fields[current] = (fields.get(current, "") + " " + match.group(2)).strip()
        elif current is None and line.strip():
            stray.append(line.strip())
        elif current is not None:
            fields[current] = (fields[current] + " " + line.strip()).strip()
    return fields, stray


def minutes(slide: Slide) -> float | None:
    value = note_fields(slide.notes)[0].get("Minutes", "")
    return float(value) if re.fullmatch(r"\d+(?:\.\d+)?", value) else None


# ---- the notebooks: labelled cells, stored text ----------------------------------------


def load_notebook(stem: str) -> dict:
    return json.loads((NOTEBOOK_DIR / f"{stem}.ipynb").read_text(encoding="utf-8"))


def labelled_cells(nb: dict) -> dict[str, dict]:
    return {c["metadata"]["label"]: c for c in nb["cells"] if c.get("metadata", {}).get("label")}


def figure_output(cell: dict) -> dict | None:
    """The one PNG output of a figure cell (its data and metadata), or None."""
    pngs = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    return pngs[0] if len(pngs) == 1 else None


def png_size(data: str) -> tuple[int, int]:
    """Width and height in pixels of a base64 PNG, read from its header."""
    raw = base64.b64decode(data[:64])
    return struct.unpack(">II", raw[16:24])


def figure_text_px(output: dict, box: tuple[int, int] = FIGURE_BOX) -> float | None:
    """The smallest text of a stored figure in screen pixels when it fills ``box``.

    ``text_px`` is recorded by helpers/plot.py in the PNG's own pixels; the figure is scaled
    to fit the box, keeping its aspect ratio.
    """
    text_px = output.get("metadata", {}).get("image/png", {}).get("text_px")
    if text_px is None:
        return None
    width, height = png_size(output["data"]["image/png"])
    return text_px * min(box[0] / width, box[1] / height)


def output_text(cell: dict) -> str:
    """A labelled cell's printed result: its Markdown output, else its plain text."""
    for output in cell.get("outputs", []):
        if "text/markdown" in output.get("data", {}):
            return "".join(output["data"]["text/markdown"])
    plain = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            plain.append("".join(output["text"]))
        elif "text/plain" in output.get("data", {}):
            plain.append("".join(output["data"]["text/plain"]))
    return "```text\n" + "".join(plain).rstrip("\n") + "\n```" if plain else ""


def chapter_text(nb: dict) -> str:
    """Everything a chapter states: its Markdown, alt texts and stored text outputs."""
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        parts.append(cell.get("metadata", {}).get("alt", ""))
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append("".join(output["text"]))
            for kind in ("text/plain", "text/markdown", "text/html"):
                parts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def _present(number: str, corpus: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", corpus) is not None


# ---- the rules ---------------------------------------------------------------------------


def deck_problems(deck: Deck) -> list[str]:
    """Every way ``deck`` breaks the rules of lectures/README.md, one line each."""
    problems: list[str] = []
    notebooks = {}
    for stem in deck.chapters:
        if not (NOTEBOOK_DIR / f"{stem}.ipynb").exists():
            problems.append(f"chapter {stem!r} has no notebook")
        else:
            notebooks[stem] = load_notebook(stem)
    cells = {label: c for nb in notebooks.values() for label, c in labelled_cells(nb).items()}
    corpus = "\n".join(chapter_text(nb) for nb in notebooks.values())
    for slide in deck.slides:
        where = slide.where()
        words = slide_words(slide.body)
        if words > MAX_SLIDE_WORDS:
            problems.append(f"{where}: {words} words (at most {MAX_SLIDE_WORDS})")
        fields, stray = note_fields(slide.notes)
        if not slide.notes.strip():
            problems.append(f"{where}: no speaker notes")
        if stray:
            problems.append(f"{where}: notes text outside a field: {stray[0][:40]!r}")
        for name in ("Say", "Minutes"):
            if not fields.get(name):
                problems.append(f"{where}: notes have no {name}:")
        if slide.notes.strip() and minutes(slide) is None:
            problems.append(f"{where}: Minutes: must be a number, not {fields.get('Minutes')!r}")
        if slide.figures and not fields.get("Point at"):
            problems.append(f"{where}: a figure slide's notes need Point at:")
        if {"question", "exercise"} & set(slide.classes):
            for name in ("Ask", "Answer"):
                if not fields.get(name):
                    problems.append(f"{where}: a question or exercise slide needs {name}:")
        text = COMMENT.sub(" ", slide.body) + "\n" + slide.notes
        if found := UNSEEN.search(text):
            problems.append(f"{where}: refers to something the deck does not show: {found[0]!r}")
        for label in slide.figures:
            cell = cells.get(label)
            output = figure_output(cell) if cell else None
            if output is None:
                problems.append(f"{where}: no cell with one figure is labelled {label!r}")
                continue
            px = figure_text_px(output)
            if px is None:
                problems.append(f"{where}: figure {label!r} has no text_px (re-execute)")
            elif px < MIN_FIGURE_TEXT_PX:
                problems.append(
                    f"{where}: figure {label!r} text {px:.1f} px (at least {MIN_FIGURE_TEXT_PX})"
                )
            if not cell.get("metadata", {}).get("alt"):
                problems.append(f"{where}: figure {label!r} has no alt text in its cell")
        for label in slide.outputs:
            if label not in cells or not output_text(cells[label]):
                problems.append(f"{where}: no labelled cell with printed output {label!r}")
        if "exercise" in slide.classes:
            continue  # a paper exercise's numbers are its own givens and hand-worked answer
        quoted = COMMENT.sub(" ", FIGURE.sub(" ", OUTPUT.sub(" ", slide.body)))
        notes = re.sub(r"^Minutes:.*$", "", slide.notes, flags=re.M)
        for number in sorted(numbers(LECTURE_LENGTH.sub(" ", quoted + "\n" + notes))):
            if not _present(number, corpus):
                problems.append(f"{where}: {number} is in no stored text or output of the chapter")
    problems += structure_problems(deck)
    return problems


def structure_problems(deck: Deck) -> list[str]:
    """A lecture's shape: title, agenda, questions, an exercise, summary, bridge, length."""
    problems = []
    lecture = deck.lecture
    headings = [s.heading.lower() for s in lecture]
    if not lecture or not re.match(r"# ", lecture[0].body.lstrip()):
        problems.append("the first slide is not a title slide (# Title)")
    for name in ("agenda", "summary", "next"):
        if not any(h.startswith(name) for h in headings):
            problems.append(f"no slide headed {name.title()!r}")
    if not any("question" in s.classes for s in lecture):
        problems.append('no question slide (class="question")')
    if not any("exercise" in s.classes for s in lecture):
        problems.append('no in-class exercise slide (class="exercise")')
    total = sum(minutes(s) or 0 for s in lecture)
    low, high = LECTURE_MINUTES
    if not low <= total <= high:
        problems.append(f"the lecture's minutes add up to {total:g} (want {low}-{high})")
    return problems

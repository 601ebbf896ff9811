"""The Chinese edition: gettext catalogues in, Chinese notebooks and decks out, drift found.

    python -m translations.catalog update   refresh translations/zh_CN/*.po from the English
    python -m translations.catalog build    write notebooks/zh/*.ipynb and lectures/zh/*.md
    python -m translations.catalog check    list every missing, fuzzy, stale or damaged message

One catalogue per notebook and per deck (``translations/zh_CN/NN_name.po`` and
``translations/zh_CN/lecture_NN_name.po``). A notebook's messages are its Markdown cells and the
alt text of its figures; each message's context (``msgctxt``) is the cell's id, so a message
follows its cell when cells move. A deck's messages are its slides, in order (``slide N``).
Code cells are never translated: the Chinese notebook runs the same code and stores the same
outputs as the English one, so nbval checks both against one truth.

``update`` behaves as gettext's ``msgmerge``: a message whose English changed keeps its old
translation, is marked fuzzy and records the old English (``#| msgid``), so a translator sees
what changed. ``check`` then reports it until the translator revises it and drops the flag.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat
import polib

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
CATALOGUES = ROOT / "translations" / LANGUAGE
NOTEBOOKS = ROOT / "notebooks"
LECTURES = ROOT / "lectures"
ZH_NOTEBOOKS = NOTEBOOKS / "zh"
ZH_LECTURES = LECTURES / "zh"
DECK_PREFIX = "lecture_"  # a deck's catalogue: lecture_NN_name.po
SLIDE_BREAK = re.compile(r"^---[ \t]*\n", re.M)

# What a translation must carry over unchanged from its English source: fenced code, display
# and inline maths, code spans, HTML comments (slide attributes), a deck's figure and table
# references, and link targets. Order matters: a code fence may hold a `$`.
PROTECTED = re.compile(
    r"```.*?```"  # fenced code
    r"|\$\$.*?\$\$"  # display maths
    r"|(?<![\\$])\$(?:[^$\n]|\n(?!\n))+?\$"  # inline maths, perhaps across a line break
    r"|`[^`\n]+`"  # code span
    r"|<!--.*?-->"  # HTML comment, e.g. <!-- .slide: class="question" -->
    r"|\{\{[^}]*\}\}"  # {{ output: LABEL }}
    r"|\]\([^)\s]+\)",  # a link's or image's target: ](url)
    re.S,
)
# Digits outside the protected spans: every number of the English must appear in the Chinese.
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
CJK = re.compile(r"[\u3400-\u9fff]")
# English a translation may keep: an emphasised title (*Dive into Deep Learning*), an HTML tag.
KEPT_ENGLISH = re.compile(r"\*(?:[^*\n]|\n(?!\n))+\*|<[^>]+>|https?://\S+")
MAX_ENGLISH_RUN = 5  # more consecutive English words than this is untranslated prose


@dataclass(frozen=True)
class Message:
    context: str  # the cell id (notebook) or "slide N" (deck)
    english: str
    where: str  # "cell 1a2b3c4d" or "slide 3", for reports


# ---- what is translated ------------------------------------------------------------------


def notebook_messages(nb: dict) -> list[Message]:
    """A notebook's Markdown cells and figure alt texts, keyed by cell id."""
    messages = []
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and source.strip():
            messages.append(Message(cell["id"], source, f"cell {cell['id']}"))
        alt = cell.get("metadata", {}).get("alt")
        if alt:
            messages.append(Message(f"{cell['id']}:alt", alt, f"alt text of cell {cell['id']}"))
    return messages


def split_deck(text: str) -> list[str]:
    """A deck's text cut at its slide breaks, keeping the breaks: slides at even indices."""
    parts: list[str] = []
    last = 0
    for match in SLIDE_BREAK.finditer(text):
        parts += [text[last : match.start()], match.group(0)]
        last = match.end()
    return [*parts, text[last:]]


def _core(chunk: str) -> tuple[str, str, str]:
    """A slide's text without its surrounding blank lines: (leading, core, trailing)."""
    core = chunk.strip("\n")
    if not core:
        return chunk, "", ""
    start = chunk.index(core)
    return chunk[:start], core, chunk[start + len(core) :]


def deck_messages(text: str) -> list[Message]:
    """A deck's slides, one message each, keyed by position ("slide 1", ...)."""
    messages = []
    for index, chunk in enumerate(split_deck(text)[::2], start=1):
        core = _core(chunk)[1]
        if index == 1 and core.startswith("<!-- chapters:"):
            core = core.split("\n", 1)[1].strip("\n") if "\n" in core else ""
        if core:
            messages.append(Message(f"slide {index}", core, f"slide {index}"))
    return messages


@dataclass(frozen=True)
class Source:
    """One English source and its catalogue."""

    path: Path
    kind: str  # "notebook" or "deck"

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def catalogue(self) -> Path:
        prefix = DECK_PREFIX if self.kind == "deck" else ""
        return CATALOGUES / f"{prefix}{self.path.stem}.po"

    @property
    def output(self) -> Path:
        folder = ZH_NOTEBOOKS if self.kind == "notebook" else ZH_LECTURES
        return folder / self.path.name

    def messages(self) -> list[Message]:
        if self.kind == "notebook":
            return notebook_messages(json.loads(self.path.read_text(encoding="utf-8")))
        return deck_messages(self.path.read_text(encoding="utf-8"))


def sources(names: list[str] | None = None) -> list[Source]:
    """Every notebook and deck, or those whose catalogue name starts with one of ``names``
    (``03`` is notebook 03, ``lecture_03`` its deck)."""
    notebooks = [Source(p, "notebook") for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    lectures = [Source(p, "deck") for p in sorted(LECTURES.glob("[0-9][0-9]_*.md"))]
    everything = notebooks + lectures
    if not names:
        return everything
    return [s for s in everything if s.catalogue.stem.startswith(tuple(names))]


# ---- catalogues ----------------------------------------------------------------------------


def load(path: Path) -> polib.POFile:
    return polib.pofile(str(path), wrapwidth=0) if path.exists() else new_catalogue()


def new_catalogue() -> polib.POFile:
    po = polib.POFile(wrapwidth=0)
    po.metadata = {
        "Project-Id-Version": "momentum-from-scratch",
        "Language": LANGUAGE,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    return po


def merged(po: polib.POFile, messages: list[Message]) -> polib.POFile:
    """The catalogue brought in line with the English, as msgmerge does.

    Same context and English: kept. Same English under another context (a slide moved): its
    translation is reused. Same context, new English: the old translation kept, marked fuzzy,
    the old English recorded. Messages the English no longer has are dropped.
    """
    by_context = {e.msgctxt: e for e in po}
    by_english = {e.msgid: e for e in po if e.msgstr and "fuzzy" not in e.flags}
    out = new_catalogue()
    out.metadata = po.metadata or out.metadata
    for message in messages:
        old = by_context.get(message.context)
        entry = polib.POEntry(msgctxt=message.context, msgid=message.english, msgstr="")
        if old is not None and old.msgid == message.english:
            entry = old
        elif message.english in by_english:
            entry.msgstr = by_english[message.english].msgstr
        elif old is not None and old.msgstr:
            entry.msgstr = old.msgstr
            entry.flags = ["fuzzy"]
            entry.previous_msgid = old.previous_msgid or old.msgid
        entry.occurrences = []
        out.append(entry)
    return out


def update(names: list[str] | None = None) -> None:
    CATALOGUES.mkdir(parents=True, exist_ok=True)
    for source in sources(names):
        po = merged(load(source.catalogue), source.messages())
        po.save(str(source.catalogue))
        fuzzy = sum("fuzzy" in e.flags for e in po)
        empty = sum(not e.msgstr for e in po)
        name = source.catalogue.relative_to(ROOT)
        print(f"{name}: {len(po)} messages, {fuzzy} fuzzy, {empty} empty")


def translations(po: polib.POFile) -> dict[str, str]:
    """Context -> translation, for messages with a finished translation."""
    return {e.msgctxt: e.msgstr for e in po if e.msgstr and "fuzzy" not in e.flags}


# ---- the Chinese notebooks and decks -------------------------------------------------------


def translated_notebook(nb: dict, done: dict[str, str]) -> dict:
    """The English notebook with its Markdown and alt texts translated; code cells and
    outputs untouched. An untranslated message stays English (``check`` reports it)."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and cell["id"] in done:
            cell["source"] = done[cell["id"]]
        alt_key = f"{cell['id']}:alt"
        if alt_key in done and cell.get("metadata", {}).get("alt"):
            cell["metadata"]["alt"] = done[alt_key]
    nb["metadata"]["language"] = LANGUAGE
    return nb


def translated_deck(text: str, done: dict[str, str]) -> str:
    """The deck with each translated slide's text replaced; breaks and blank lines kept."""
    parts = split_deck(text)
    for index in range(0, len(parts), 2):
        lead, core, trail = _core(parts[index])
        if index == 0 and core.startswith("<!-- chapters:"):
            header, _, rest = core.partition("\n")
            rest_lead, core, _ = _core(rest)
            lead += header + "\n" + rest_lead
        key = f"slide {index // 2 + 1}"
        parts[index] = lead + done.get(key, core) + trail
    return "".join(parts)


def rendered(source: Source) -> str:
    """The Chinese file's exact text, as ``build`` writes it."""
    done = translations(load(source.catalogue))
    text = source.path.read_text(encoding="utf-8")
    if source.kind == "deck":
        return translated_deck(text, done)
    nb = nbformat.reads(text, as_version=4)
    return nbformat.writes(translated_notebook(nb, done)) + "\n"


def build(names: list[str] | None = None) -> None:
    ZH_NOTEBOOKS.mkdir(exist_ok=True)
    ZH_LECTURES.mkdir(exist_ok=True)
    for source in sources(names):
        source.output.write_text(rendered(source), encoding="utf-8")
        print(f"wrote {source.output.relative_to(ROOT)}")
    # One glossary serves both editions; the Chinese notebooks link to their own copy.
    glossary = (NOTEBOOKS / "glossary.md").read_text(encoding="utf-8")
    (ZH_NOTEBOOKS / "glossary.md").write_text(glossary, encoding="utf-8")


# ---- drift ---------------------------------------------------------------------------------


def protected(text: str) -> Counter[str]:
    return Counter(PROTECTED.findall(text))


def prose(text: str) -> str:
    """Text with its protected spans and kept English removed: what a reader reads as words."""
    return KEPT_ENGLISH.sub(" ", PROTECTED.sub(" ", text))


def english_runs(text: str) -> list[str]:
    """Runs of more than MAX_ENGLISH_RUN consecutive English words in a translation."""
    runs = []
    for segment in re.split(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+", prose(text)):
        words = ENGLISH_WORD.findall(segment)
        if len(words) > MAX_ENGLISH_RUN and re.fullmatch(r"[\sA-Za-z'(),.;:!?/&0-9-]*", segment):
            runs.append(" ".join(words[:8]))
    return runs


def message_problems(english: str, chinese: str) -> list[str]:
    """What a finished translation breaks: protected spans, numbers, untranslated English."""
    problems = []
    lost = protected(english) - protected(chinese)
    for span in lost:
        problems.append(f"drops or alters {span[:60]!r}")
    numbers = set(NUMBER.findall(prose(english))) - set(NUMBER.findall(prose(chinese)))
    if numbers:
        problems.append(f"lacks the number(s) {', '.join(sorted(numbers))}")
    if not CJK.search(prose(chinese)) and len(ENGLISH_WORD.findall(prose(english))) >= 3:
        problems.append("holds no Chinese")
    for run in english_runs(chinese):
        problems.append(f"still holds English prose: {run!r}")
    return problems


def first_words(text: str, n: int = 8) -> str:
    words = " ".join(text.split()[:n])
    return words if len(words) < 70 else words[:67] + "..."


def source_problems(source: Source) -> list[str]:
    """Every problem of one source's catalogue, each naming the source, message and words."""
    po = load(source.catalogue)
    by_context = {e.msgctxt: e for e in po}
    problems = []
    for message in source.messages():
        where = f"{source.name} {message.where} ({first_words(message.english)!r})"
        entry = by_context.get(message.context)
        if entry is None or not entry.msgstr:
            problems.append(f"{where}: no translation")
        elif entry.msgid != message.english:
            problems.append(f"{where}: stale: the English changed since it was translated")
        elif "fuzzy" in entry.flags:
            problems.append(f"{where}: fuzzy: the translation awaits review")
        else:
            problems += [f"{where}: {p}" for p in message_problems(entry.msgid, entry.msgstr)]
    return problems


def check(names: list[str] | None = None) -> int:
    problems = [p for source in sources(names) for p in source_problems(source)]
    print("\n".join(problems) or "every message has a finished, faithful translation")
    return 1 if problems else 0


if __name__ == "__main__":
    commands = {"update": update, "build": build, "check": check}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        raise SystemExit(
            f"usage: python -m translations.catalog {{{'|'.join(commands)}}} [NAME ...]"
        )
    raise SystemExit(commands[sys.argv[1]](sys.argv[2:]) or 0)

"""The lecture decks (lectures/*.md) follow the rules of lectures/README.md.

Each deck is checked as an instructor would need it: words per slide, notes on every slide in
one format, minutes adding up to a lecture, figures legible from the back, no pointer to a
notebook cell, every number found in its chapter's stored outputs. The rules live in
website/decks.py, shared with the build and the browser check.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from website import decks

DECKS = decks.decks()
ZH_DECKS = decks.decks(decks.CHINESE)
NOTEBOOKS = sorted(decks.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_every_chapter_has_a_deck_in_each_language():
    assert [d.name for d in DECKS] == [p.stem for p in NOTEBOOKS]
    assert [d.name for d in ZH_DECKS] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize(
    "deck", DECKS + ZH_DECKS, ids=[f"{d.language.code}-{d.name}" for d in DECKS + ZH_DECKS]
)
def test_deck_follows_the_rules(deck):
    """The Chinese decks follow the same rules, read with their own labels; their numbers
    must appear in the Chinese chapter (which stores the same outputs as the English one)."""
    problems = decks.deck_problems(deck)
    assert not problems, f"{deck.language.code} {deck.name}:\n" + "\n".join(problems)


def test_figure_labels_are_unique_across_the_course():
    labels = Counter(
        label for path in NOTEBOOKS for label in decks.labelled_cells(json.loads(path.read_text()))
    )
    assert not [label for label, n in labels.items() if n > 1]


def test_notebooks_keep_no_speaker_notes():
    """Notes are for the lecturer and live in the decks; a learner's notebook has none."""
    found = [
        f"{path.stem} cell {cell.get('id')}"
        for path in NOTEBOOKS
        for cell in json.loads(path.read_text())["cells"]
        if cell.get("metadata", {}).get("slideshow", {}).get("slide_type") == "notes"
    ]
    assert not found, found


# ---- the rules on small decks made here ----------------------------------------------------

NOTES = "Note:\nSay: Something.\nMinutes: {m}\n"


def write_deck(tmp_path: Path, slides: list[str], chapter: str = "01_gradient_descent") -> Path:
    path = tmp_path / f"{chapter}.md"
    path.write_text("\n\n---\n\n".join(slides), encoding="utf-8")
    return path


def complete_deck(extra: str = "", minutes: float = 9) -> list[str]:
    return [
        "# Title\n\n" + NOTES.format(m=1),
        "## Agenda\n\n- one\n\n" + NOTES.format(m=1),
        '<!-- .slide: class="question" -->\n## Q\n\nNote:\nSay: x\nAsk: q?\nAnswer: a.\nMinutes: 2',
        '<!-- .slide: class="exercise" -->\n## Do it\n\nNote:\nSay: x\nAsk: q?\nAnswer: a.\n'
        f"Minutes: {minutes}",
        f"## Body\n\n{extra}\n\n" + NOTES.format(m=30),
        "## Summary\n\n" + NOTES.format(m=1),
        "## Next: theory\n\n" + NOTES.format(m=1),
        "## Backup\n\n" + NOTES.format(m=20),
    ]


def test_a_complete_deck_passes_and_backup_minutes_do_not_count(tmp_path):
    deck = decks.parse_deck(write_deck(tmp_path, complete_deck()))
    assert decks.structure_problems(deck) == []
    assert sum(decks.minutes(s) for s in deck.lecture) == 45
    assert deck.slides[-1].backup and not deck.slides[-2].backup


def test_a_short_lecture_and_missing_parts_are_named(tmp_path):
    deck = decks.parse_deck(write_deck(tmp_path, complete_deck(minutes=1)[2:5]))
    problems = "\n".join(decks.structure_problems(deck))
    for part in ("title slide", "'Agenda'", "'Summary'", "'Next'", "add up to 33"):
        assert part in problems


def test_words_count_a_formula_once_and_a_figure_not_at_all():
    body = "## Two words\n\n$$x_{t+1} = x_t - \\eta g_t$$\n\nWith $\\eta$ small.\n\n![](figure:a-b)"
    assert decks.slide_words(body) == 2 + 1 + 3


def test_notes_need_their_fields_and_figures_need_a_pointer(tmp_path):
    slides = complete_deck()
    slides[4] = "## Body\n\n![](figure:none)\n\nNote:\nfree text\nMinutes: many"
    problems = "\n".join(decks.deck_problems(decks.parse_deck(write_deck(tmp_path, slides))))
    assert "notes text outside a field: 'free text'" in problems
    assert "no Say:" in problems and "must be a number" in problems
    assert "need Point at:" in problems and "no cell with one figure is labelled 'none'" in problems


def test_a_pointer_to_a_cell_or_unseen_output_is_refused(tmp_path):
    slides = complete_deck(extra="The next cell runs both, shown below.")
    problems = decks.deck_problems(decks.parse_deck(write_deck(tmp_path, slides)))
    assert any("does not show: 'cell'" in p for p in problems)


def test_a_number_missing_from_the_chapter_fails(tmp_path):
    """A slide quoting a result the chapter does not state is stale: the test names it."""
    slides = complete_deck(extra="GD needs 987654321 steps.")
    problems = decks.deck_problems(decks.parse_deck(write_deck(tmp_path, slides)))
    assert any("987654321 is in no stored text" in p for p in problems)


def test_chinese_labels_words_and_bookkeeping(tmp_path):
    """A Chinese deck's notes use Chinese labels with a full-width colon; a Chinese character
    counts half a word; "第 1 讲 · 50 分钟" is bookkeeping, not a result to find."""
    zh = [
        "# 标题\n第 1 讲 · 50 分钟\n\nNote:\n讲述：开场。\n时间：1",
        "## 议程\n\n- 一\n\nNote:\n讲述：x\n时间：1",
        '<!-- .slide: class="question" -->\n## 问\n\nNote:\n讲述：x\n提问：q？\n答案：a。\n时间：2',
        '<!-- .slide: class="exercise" -->\n## 练\n\nNote:\n讲述：x\n提问：q？\n答案：a。\n时间：9',
        "## 正文\n\nNote:\n讲述：x\n时间：30",
        "## 小结\n\nNote:\n讲述：x\n时间：1",
        "## 下一讲：理论\n\nNote:\n讲述：x\n时间：1",
        "## 备用\n\nNote:\n讲述：x\n时间：20",
    ]
    deck = decks.parse_deck(write_deck(tmp_path, zh), decks.CHINESE)
    assert decks.deck_problems(deck) == []
    assert sum(decks.minutes(s, decks.CHINESE) for s in deck.lecture) == 45
    assert deck.slides[-1].backup
    assert (
        decks.slide_words("## 动量法\n\n学习率 $\\eta$ 取 0.4") == 4 + 1 + 1
    )  # 7 characters, a formula, a number
    zh[4] = "## 正文\n\n见下方的单元格。\n\nNote:\n讲述：x\nMinutes: 30"
    problems = "\n".join(
        decks.deck_problems(decks.parse_deck(write_deck(tmp_path, zh), decks.CHINESE))
    )
    assert "does not show: '单元格'" in problems or "does not show: '见下方'" in problems
    assert "notes text outside a field" not in problems and "no Minutes:" in problems


def test_number_matching_is_whole_numbers():
    assert decks._present("0.9", "beta = 0.9.") and not decks._present("0.9", "beta = 0.95")
    assert not decks._present("9", "beta = 0.9") and decks._present("9", "9 steps")


def test_figure_text_scales_with_the_displayed_size():
    # A 400x200 PNG whose smallest text is 20 px: shown 1200 wide (x3, box-limited) -> 60 px.
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (400).to_bytes(4, "big")
    header += (200).to_bytes(4, "big") + b"\x08\x06\x00\x00\x00"
    data = __import__("base64").b64encode(header + b"\x00" * 40).decode()
    output = {"data": {"image/png": data}, "metadata": {"image/png": {"text_px": 20}}}
    assert decks.figure_text_px(output, box=(1200, 900)) == 60
    assert decks.figure_text_px(output, box=(1200, 300)) == 30

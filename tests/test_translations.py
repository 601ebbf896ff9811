"""The Chinese edition cannot drift from the English one.

Every Markdown cell, alt text and slide has a finished translation of the English as it is now
(not fuzzy, not stale); each translation keeps its source's maths, code, links, figure
references and numbers, and holds no untranslated English prose; the committed Chinese
notebooks and decks are exactly what ``make zh`` writes from the English and the catalogues; the
glossary's terms are used. The rules live in translations/catalog.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polib
import pytest

from translations import catalog

SOURCES = catalog.sources()
ROOT = catalog.ROOT


@pytest.mark.parametrize("source", SOURCES, ids=[s.catalogue.stem for s in SOURCES])
def test_catalogue_is_complete_current_and_faithful(source):
    problems = catalog.source_problems(source)
    assert not problems, (
        f"{len(problems)} problem(s); after changing English text run `make zh-update`, "
        "translate the fuzzy entries, then `make zh`:\n" + "\n".join(problems[:40])
    )


@pytest.mark.parametrize("source", SOURCES, ids=[s.catalogue.stem for s in SOURCES])
def test_committed_chinese_file_is_what_make_zh_writes(source):
    assert source.output.exists(), f"{source.output} is missing: run `make zh`"
    assert source.output.read_text(encoding="utf-8") == catalog.rendered(source), (
        f"{source.output.relative_to(ROOT)} differs from its English source and catalogue: "
        "run `make zh` (and `make execute` first if the English outputs changed)"
    )


def test_chinese_notebooks_run_the_english_code():
    """Code cells, their outputs and every cell's metadata but alt text are the English ones."""
    for source in SOURCES:
        if source.kind != "notebook":
            continue
        english = json.loads(source.path.read_text(encoding="utf-8"))["cells"]
        chinese = json.loads(source.output.read_text(encoding="utf-8"))["cells"]
        assert [c["id"] for c in english] == [c["id"] for c in chinese]
        for en, zh in zip(english, chinese, strict=True):
            if en["cell_type"] == "code":
                assert en["source"] == zh["source"] and en["outputs"] == zh["outputs"]
            meta = {k: v for k, v in en["metadata"].items() if k != "alt"}
            assert meta == {k: v for k, v in zh["metadata"].items() if k != "alt"}


def test_the_glossary_is_shared():
    assert (catalog.ZH_NOTEBOOKS / "glossary.md").read_text(encoding="utf-8") == (
        catalog.NOTEBOOKS / "glossary.md"
    ).read_text(encoding="utf-8")


# ---- the drift rules fire ------------------------------------------------------------------


@pytest.fixture
def notebook_copy(tmp_path, monkeypatch):
    """Notebook 03 and its catalogue, copied so that a test may change them."""
    source = next(s for s in SOURCES if s.name == "03_momentum")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "po").mkdir()
    english = tmp_path / "notebooks" / source.path.name
    english.write_text(source.path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "po" / source.catalogue.name).write_text(
        source.catalogue.read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.setattr(catalog, "CATALOGUES", tmp_path / "po")
    return catalog.Source(english, "notebook")


def first_markdown(path: Path) -> tuple[dict, dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(
        c for c in nb["cells"] if c["cell_type"] == "markdown" and "##" in "".join(c["source"])
    )
    return nb, cell


def test_a_changed_english_cell_fails_until_its_translation_follows(notebook_copy):
    assert catalog.source_problems(notebook_copy) == []
    nb, cell = first_markdown(notebook_copy.path)
    cell["source"] = "## 1 · The problem: gradient descent crawls\n\nA changed sentence."
    notebook_copy.path.write_text(json.dumps(nb), encoding="utf-8")

    problems = catalog.source_problems(notebook_copy)
    assert problems == [
        f"03_momentum cell {cell['id']} ('## 1 · The problem: gradient descent crawls'): "
        "stale: the English changed since it was translated"
    ]
    # make zh-update: the old translation stays, marked fuzzy, with the old English beside it.
    po = catalog.merged(catalog.load(notebook_copy.catalogue), notebook_copy.messages())
    entry = next(e for e in po if e.msgctxt == cell["id"])
    assert "fuzzy" in entry.flags and entry.previous_msgid and entry.msgstr
    po.save(str(notebook_copy.catalogue))
    assert [p.split("'): ", 1)[1] for p in catalog.source_problems(notebook_copy)] == [
        "fuzzy: the translation awaits review"
    ]
    # The translator revises it and drops the flag: the rules then read the new translation.
    entry.msgstr = "## 1 · 问题：梯度下降走得很慢\n\n一句改过的话。"
    entry.flags = []
    po.save(str(notebook_copy.catalogue))
    assert catalog.source_problems(notebook_copy) == []


def test_a_missing_translation_is_named(notebook_copy):
    po = catalog.load(notebook_copy.catalogue)
    po[0].msgstr = ""
    po.save(str(notebook_copy.catalogue))
    (problem,) = catalog.source_problems(notebook_copy)
    assert problem.startswith(f"03_momentum cell {po[0].msgctxt} ('# 03 · Momentum")
    assert problem.endswith("no translation")


@pytest.mark.parametrize(
    ("english", "chinese", "found"),
    [
        ("Set $\\eta = 0.4$ here.", "这里取 $\\eta=0.4$。", "drops or alters '$\\\\eta = 0.4$'"),
        ("Call `sgd_momentum` now.", "现在调用 sgd_momentum。", "drops or alters '`sgd_momentum`'"),
        ("See [05](05_momentum_theory.ipynb).", "见 [05](05.ipynb)。", "drops or alters"),
        ("![](figure:03-gd-zigzag)", "![](figure:03-zigzag)", "drops or alters"),
        ("$$x_{t+1} = x_t$$", "$$x_{t+1}=x_t$$", "drops or alters"),
        ("GD needs 166 steps.", "GD 需要 160 步。", "lacks the number(s) 166"),
        (
            "Momentum keeps a leaky sum of past gradients.",
            "动量法 keeps a leaky sum of past gradients here.",
            "still holds English prose",
        ),
        ("Momentum keeps a leaky sum.", "Momentum keeps a leaky sum.", "holds no Chinese"),
    ],
)
def test_a_damaged_translation_is_named(english, chinese, found):
    assert any(found in p for p in catalog.message_problems(english, chinese))


def test_a_faithful_translation_passes():
    english = "At $\\eta = 0.4$, `sgd` needs 166 steps ([05](05_momentum_theory.ipynb))."
    chinese = "当 $\\eta = 0.4$ 时，`sgd` 需要 166 步（[05](05_momentum_theory.ipynb)）。"
    assert catalog.message_problems(english, chinese) == []
    assert catalog.english_runs("引用 *On the importance of initialization and momentum*。") == []


def test_a_deck_rebuilds_exactly_when_untranslated():
    """With no translation, ``make zh`` reproduces the English deck: slide breaks, blank
    lines and the chapters header survive the cut into messages."""
    for source in SOURCES:
        if source.kind == "deck":
            text = source.path.read_text(encoding="utf-8")
            assert catalog.translated_deck(text, {}) == text


# ---- terminology ---------------------------------------------------------------------------


def glossary_terms() -> list[tuple[list[str], list[str]]]:
    """Each glossary row's English terms and its accepted Chinese terms."""
    rows = []
    text = (catalog.NOTEBOOKS / "glossary.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("English term", "---") or set(cells[0]) <= {"-"}:
            continue
        english = [re.sub(r"\s*\(.*?\)", "", t).strip() for t in cells[0].split(",")]
        chinese = [re.sub(r"（.*?）", "", t).strip() for t in re.split(r"[，,、；]", cells[2])]
        rows.append(([t for t in english if t], [t for t in chinese if t]))
    return rows


def english_to_check(entry: polib.POEntry) -> str:
    """The English of a message that its translation must render: its prose, less any
    English the translation keeps (a paper's title stays English)."""
    english = " ".join(catalog.prose(entry.msgid).split())
    kept = r"[A-Za-z][A-Za-z'-]*(?:[ :,?/.-]+[A-Za-z0-9][A-Za-z0-9'-]*)+"
    for words in re.findall(kept, entry.msgstr):
        english = english.replace(words, " ")
    # A keyword argument written out in the notes (momentum=β) is code, not a term.
    return re.sub(r"\b\w+=", " ", english).lower()


def test_glossary_terms_are_used_in_every_catalogue():
    """Where the English uses a glossary term, its translation uses one of the glossary's
    Chinese renderings. A term inside a longer one ("momentum" in "Nesterov momentum") is
    that longer term's."""
    rows = glossary_terms()
    assert len(rows) >= 30
    terms = sorted(
        ((t.lower(), chinese) for english, chinese in rows for t in english),
        key=lambda pair: -len(pair[0]),
    )
    problems = []
    for source in SOURCES:
        for entry in polib.pofile(str(source.catalogue)):
            if not entry.msgstr:
                continue
            english = english_to_check(entry)
            for term, chinese in terms:
                pattern = rf"\b{re.escape(term)}\b"
                if re.search(pattern, english) and not any(c in entry.msgstr for c in chinese):
                    problems.append(
                        f"{source.catalogue.stem} {entry.msgctxt}: {term!r} without "
                        f"{' or '.join(chinese)}"
                    )
                english = re.sub(pattern, " ", english)  # a longer term claims its words
    assert not problems, f"{len(problems)} message(s):\n" + "\n".join(problems[:60])


# ---- the Chinese README --------------------------------------------------------------------


def test_chinese_readme_gives_the_same_commands_and_times():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    quick_start = re.compile(r"```bash\n(make lab.*?\nmake test.*?)\n```", re.S)
    assert quick_start.search(chinese)[1] == quick_start.search(english)[1]
    rows = re.compile(
        r"^\| (\d\d) \| \[[^\]]+\]\(notebooks/(?:zh/)?(\w+)\.ipynb\) \| (\d+ min) \|", re.M
    )
    en_rows = rows.findall(english)
    assert len(en_rows) == len(catalog.sources()) // 2
    assert rows.findall(chinese) == en_rows
    assert "PIP_INDEX_URL=" in chinese and "[中文](README.zh.md)" in english

"""The Chinese guides (README.zh-CN.md) stay faithful to the English ones.

Plain text checks, no TensorFlow: the same commands in the fenced code blocks, the
same tables with the same numbers, relative links that resolve (anchors included),
and a link from each English page to its Chinese page.
"""

import re
from pathlib import Path

import pytest

from kerasdl.registry import APPS, app_names

ROOT = Path(__file__).resolve().parents[1]

# Every registered app's guide (its folder under apps/ is the package its entry imports).
APP_FOLDERS = [APPS[name].import_path.split(":")[0].split(".")[2] for name in app_names()]
PAIRS = [("README.md", "README.zh-CN.md"),
         *((f"apps/{folder}/README.md", f"apps/{folder}/README.zh-CN.md") for folder in APP_FOLDERS)]
IDS = [english for english, _ in PAIRS]

COMMAND_PREFIXES = ("kerasdl ", "kerasdl-edge ", "python ", "pip ")
FENCE = re.compile(r"^\s*(```|~~~)")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def read(relative):
    return (ROOT / relative).read_text(encoding="utf-8")


def fenced_blocks(text):
    """The fenced code blocks of a Markdown text, each as a list of lines."""
    blocks, current, fence = [], None, None
    for line in text.splitlines():
        match = FENCE.match(line)
        if current is None:
            if match:
                current, fence = [], match.group(1)
        elif match and line.strip().startswith(fence) and line.strip() == fence:
            blocks.append(current)
            current = None
        else:
            current.append(line)
    assert current is None, "unclosed code fence"
    return blocks


def prose_lines(text, strip_code=True):
    """The lines outside fenced code blocks, inline code spans removed unless told."""
    lines, inside, fence = [], False, None
    for line in text.splitlines():
        match = FENCE.match(line)
        if not inside and match:
            inside, fence = True, match.group(1)
            continue
        if inside:
            if line.strip() == fence:
                inside = False
            continue
        lines.append(re.sub(r"`[^`]*`", "", line) if strip_code else line)
    return lines


def commands(text):
    """Commands in fenced code blocks, backslash continuations joined."""
    found = []
    for block in fenced_blocks(text):
        joined, pending = [], ""
        for line in block:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1].rstrip() + " "
                continue
            joined.append(pending + line.strip() if pending else line)
            pending = ""
        if pending:
            joined.append(pending.rstrip())
        for line in joined:
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:].lstrip()
            if line.startswith(COMMAND_PREFIXES):
                found.append(line)
    return found


def table_rows(text):
    return [line for line in text.splitlines() if line.startswith("|")]


def table_numbers(text):
    return [n for row in table_rows(text) for n in NUMBER.findall(row)]


def first_difference(english, chinese):
    """A readable note on the first item where two sequences differ."""
    for index, (a, b) in enumerate(zip(english, chinese)):
        if a != b:
            return f"item {index}: English {a!r}, Chinese {b!r}"
    if len(english) != len(chinese):
        index = min(len(english), len(chinese))
        extra = english[index] if len(english) > index else chinese[index]
        side = "English" if len(english) > index else "Chinese"
        return (f"lengths {len(english)} (English) and {len(chinese)} (Chinese); "
                f"item {index} only in {side}: {extra!r}")
    return "no difference"


def slug(heading):
    """GitHub's anchor for a heading text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text):
    found, seen = set(EXPLICIT_ANCHOR.findall(text)), {}
    for line in prose_lines(text, strip_code=False):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text):
    return [target for line in prose_lines(text) for target in LINK.findall(line)]


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_same_commands(english, chinese):
    en, zh = commands(read(english)), commands(read(chinese))
    assert en, f"{english}: no commands found"
    assert en == zh, f"{chinese} differs from {english} in its commands: {first_difference(en, zh)}"


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_code_blocks_identical(english, chinese):
    en, zh = fenced_blocks(read(english)), fenced_blocks(read(chinese))
    en_text = ["\n".join(block) for block in en]
    zh_text = ["\n".join(block) for block in zh]
    assert en_text == zh_text, (
        f"{chinese} differs from {english} in its code blocks: "
        f"{first_difference(en_text, zh_text)}")


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_same_tables(english, chinese):
    en_text, zh_text = read(english), read(chinese)
    en_rows, zh_rows = table_rows(en_text), table_rows(zh_text)
    assert len(en_rows) == len(zh_rows), (
        f"{chinese} has {len(zh_rows)} table rows, {english} {len(en_rows)}: "
        f"{first_difference(en_rows, zh_rows)}")
    for index, (en_row, zh_row) in enumerate(zip(en_rows, zh_rows)):
        en_numbers, zh_numbers = NUMBER.findall(en_row), NUMBER.findall(zh_row)
        assert en_numbers == zh_numbers, (
            f"{chinese} table row {index} ({zh_row!r}) differs in its numbers from {english} "
            f"({en_row!r}): {first_difference(en_numbers, zh_numbers)}")
    en_numbers, zh_numbers = table_numbers(en_text), table_numbers(zh_text)
    assert en_numbers == zh_numbers, (
        f"{chinese} differs from {english} in its table numbers: "
        f"{first_difference(en_numbers, zh_numbers)}")


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_chinese_links_resolve(english, chinese):
    page = ROOT / chinese
    text = read(chinese)
    checked = 0
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http(s), mailto: not checked
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        assert destination.exists(), f"{chinese}: link {target!r} points to a missing file"
        if anchor and destination.suffix == ".md":
            known = anchors(destination.read_text(encoding="utf-8"))
            assert anchor in known, (
                f"{chinese}: link {target!r}: no anchor {anchor!r} in "
                f"{destination.relative_to(ROOT)}")
        checked += 1
    assert checked, f"{chinese}: no relative links found"


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_pages_link_each_other(english, chinese):
    en_targets = [t.partition("#")[0] for t in links(read(english))]
    zh_targets = [t.partition("#")[0] for t in links(read(chinese))]
    assert Path(chinese).name in en_targets, f"{english} has no link to {Path(chinese).name}"
    assert Path(english).name in zh_targets, f"{chinese} has no link back to {Path(english).name}"

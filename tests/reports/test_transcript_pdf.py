"""Transcript pages typeset straight into PDF: every character comes back out of Poppler, pages number on."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from scis.reports.service import render_pdf
from scis.reports.transcript_pdf import TEXT_SIZE, TranscriptBook, columns_for, wrapped
from tests.support.requirements import require

require(shutil.which("pdftotext") is not None, "needs Poppler's pdftotext: run make system-deps")

FRONT = """<html><head><style>@page { size: A4; margin: 20mm 16mm }</style></head>
<body><h1>Front matter</h1><p style="break-before: page">second front page</p></body></html>"""


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "transcript.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True,
                          timeout=300).stdout  # fmt: skip


def test_every_line_and_character_is_extractable_and_pages_number_on(tmp_path: Path) -> None:
    book = TranscriptBook(header="Brigade numérique", footer="Rapport — CASE-1")
    book.section("Transcript: host_1", "Session 1234", "    seq What")
    lines = [f"{seq:>7} message number {seq} «ça va?»" for seq in range(400)]
    for line in lines:
        book.line(line, indent=8)
    # Characters DejaVu Sans Mono cannot draw (CJK, emoji) still come back as text (/ActualText).
    book.line("    400 你好 from the room 😀", indent=8)
    long_message = "    401 " + "".join(f"word{n:04d} " for n in range(80))
    book.line(long_message, indent=8)
    transcript_pages = book.page_count
    assert transcript_pages >= 5  # 400 lines at about 85 a page

    text = pdf_text(render_pdf(FRONT, book), tmp_path)
    pages = text.split("\f")
    assert "Front matter" in pages[0] and "second front page" in pages[1]
    assert all(line.strip() in text for line in lines), "a transcript line is missing"
    assert "你好 from the room 😀" in text
    wrapped = re.sub(r"\s+", "", text.split("    401 ")[1])
    assert "".join(f"word{n:04d}" for n in range(80)) in wrapped, "a wrapped line lost characters"
    total = 2 + transcript_pages
    for number in range(1, total + 1):  # WeasyPrint's pages and the transcript's, numbered as one document
        page = pages[number - 1]
        assert re.search(rf"\b{number} / {total}\b", page), f"page {number} is not numbered {number} / {total}"
        if number > 2:
            assert "Brigade numérique" in page and "Rapport — CASE-1" in page


def test_long_lines_wrap_within_the_margins_and_lose_nothing() -> None:
    width = columns_for(TEXT_SIZE)
    text = "".join(chr(ord("a") + n % 26) for n in range(3 * width))
    pieces = wrapped(text + "\nsecond line", width, indent=10)
    assert all(len(piece) <= width for piece in pieces)
    assert all(piece.startswith(" " * 10) for piece in pieces[1:-1])
    assert "".join(piece.strip() for piece in pieces[:-1]) == text and pieces[-1] == "second line"

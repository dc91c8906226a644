"""Case reports against real PostgreSQL, WeasyPrint and Poppler: what the PDF says, and the tamper flag."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scis.reports import service
from scis.reports.branding import BrandingError, default_wording, load_branding
from scis.reports.models import ReportCreate
from tests.evidence.support import tamper
from tests.reports.support import (
    ADMIN,
    CONTEXT,
    GIFTERS,
    make_case,
    write_case_session,
    write_filled_gaps_session,
)
from tests.support.requirements import require

require(shutil.which("pdftotext") is not None, "needs Poppler's pdftotext: run make system-deps")

ARTIFACTS = Path(os.environ.get("SCIS_TEST_ARTIFACTS", Path(__file__).parents[2] / "build" / "test-artifacts"))


@pytest.fixture
async def conn(superuser_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    # The superuser: tamper() disables the append-only trigger, which scis_app may not.
    async with await psycopg.AsyncConnection.connect(superuser_url, autocommit=True) as connection:
        yield connection


async def report_text(conn: psycopg.AsyncConnection[Any], case_id: int, name: str, language: str = "en") -> str:
    """Produce the report, keep its pages as PNG artifacts and return pdftotext's text of it."""
    created = await service.create(conn, report_in=ReportCreate(case_id=case_id, language=language), context=CONTEXT)
    found = await service.get_pdf(conn, user=ADMIN, report_id=created.id)
    assert found is not None
    folder = ARTIFACTS / "reports" / name
    folder.mkdir(parents=True, exist_ok=True)
    pdf = folder / "report.pdf"
    pdf.write_bytes(found[1])
    return await asyncio.to_thread(poppler, pdf, folder)


def poppler(pdf: Path, folder: Path) -> str:
    """Page PNGs (kept as artifacts) and the text of a PDF, by real Poppler."""
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(folder / "page")], check=True, timeout=300)
    assert sorted(folder.glob("page-*1.png")), "pdftoppm wrote no first page"
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=300).stdout  # fmt: skip


def first_page_images(pdf: Path) -> list[str]:
    """Poppler's list of the images drawn on page 1 (one line each, after two header lines)."""
    listing = subprocess.run(["pdfimages", "-list", "-f", "1", "-l", "1", str(pdf)], check=True,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    return listing.stdout.splitlines()[2:]


def squeezed(text: str) -> str:
    """Text without whitespace: long hashes wrap across lines in the PDF."""
    return re.sub(r"\s+", "", text)


async def session_heads(conn: psycopg.AsyncConnection[Any], case_id: int) -> list[tuple[uuid.UUID, str, int]]:
    cur = await conn.execute(
        "SELECT id, chain_head, events_count FROM live_sessions WHERE case_id = %s ORDER BY started_at", (case_id,)
    )
    return [(row[0], row[1], row[2]) for row in await cur.fetchall()]


async def test_case_report_holds_totals_heads_gaps_transcript(conn: psycopg.AsyncConnection[Any]) -> None:
    case_id = await make_case(conn)
    await write_case_session(conn, case_id, 1000, "disconnect")
    await write_case_session(conn, case_id, 2000, "stall")
    text = await report_text(conn, case_id, "intact")
    flat = squeezed(text)

    heads = await session_heads(conn, case_id)
    events_total = sum(count for _, _, count in heads)
    assert events_total == 2 * (1 + 8 + 1 + 1)
    diamonds = 2 * sum(d * r for d, r in GIFTERS.values())
    assert re.search(rf"Events stored\s+{events_total}\b", text), text[:2000]
    assert re.search(rf"Diamonds \(gifts\)\s+{diamonds}\b", text)
    assert re.search(r"Capture gaps\s+2\b", text)
    for session_id, head, _ in heads:
        assert head in flat, f"chain head of {session_id} missing"
        assert str(session_id) in flat
    assert "disconnectduringtest" in flat and "stallduringtest" in flat
    assert "chat line 1004" in text and "chat line 2005" in text  # transcript, every session
    assert "lion_king" in text and f"x2 ({2 * 29_999} diamonds)" in text
    assert "INTEGRITY FAILURE" not in text and "TAMPERED" not in text
    assert text.count("intact, sealed") == 2


@pytest.mark.parametrize(
    ("language", "completely", "partly", "still_missing", "lost"),
    [
        ("en", "filled by re-sent messages (4 records", "partly filled by re-sent messages (2 records", "still lost:",
         "not filled: a loss"),
        ("fr", "comblée par des messages renvoyés (4 enregistrements",
         "comblée en partie par des messages renvoyés (2 enregistrements", "toujours perdu :", "non comblée : perte"),
    ],
)  # fmt: skip
async def test_each_gap_says_whether_re_sent_records_filled_it_or_it_remains_a_loss(
    conn: psycopg.AsyncConnection[Any], language: str, completely: str, partly: str, still_missing: str, lost: str
) -> None:
    case_id = await make_case(conn)
    seqs = await write_filled_gaps_session(conn, case_id)
    text = await report_text(conn, case_id, f"gap-fills-{language}", language)
    heading = default_wording(language)["appendix"]
    gap_list, appendix = squeezed(text.split(heading)[0]), squeezed(text.split(heading)[-1])
    for part in (gap_list, appendix):  # the gap list and the integrity appendix both say it, per gap
        assert squeezed(completely) in part and squeezed(partly) in part and squeezed(lost) in part, part[-3000:]
        assert squeezed(f"{still_missing} 2025-06-01T20:00:20.000000Z → 2025-06-01T20:00:26.000000Z") in part
        assert part.count(squeezed(lost)) == 1  # only the crash gap is a loss
    crash = f"seq {seqs['crash']}: 2025-06-01T20:00:40.000000Z → 2025-06-01T20:00:50.000000Z (crash), {lost}"
    assert squeezed(crash) in appendix


async def test_an_altered_record_is_flagged_on_page_one_with_its_seq(conn: psycopg.AsyncConnection[Any]) -> None:
    case_id = await make_case(conn)
    intact_id = await write_case_session(conn, case_id, 3000, "disconnect")
    altered_id = await write_case_session(conn, case_id, 4000, "restart")
    await tamper(conn, "UPDATE events SET body = 'i never said that' WHERE session_id = %s AND seq = 2", (altered_id,))

    text = await report_text(conn, case_id, "tampered")
    page_one = text.split("\f")[0]
    assert "INTEGRITY FAILURE" in page_one
    flag = squeezed(page_one)
    assert str(altered_id) in flag and str(intact_id) not in flag.split("Casereference")[0]
    assert "seq2,chat,msg_id4001" in flag and "chain_hash" in flag
    appendix = text.split("Integrity appendix")[-1]
    assert "TAMPERED: seq 2" in appendix and appendix.count("intact, sealed") == 1
    # Verification stops at the altered record; the transcript read in the same pass goes on to the end.
    altered_transcript = text.split(f"Session {altered_id}")[-1]
    assert "i never said that" in altered_transcript and "chat line 4005" in altered_transcript
    assert "59998 diamonds" in altered_transcript and "session_end" in altered_transcript


async def test_an_organisation_overrides_logo_header_footer_and_wording_without_code(
    conn: psycopg.AsyncConnection[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    wording = {"header": "Unité cyber — diffusion restreinte", "footer": "Brigade numérique — confidentiel",
               "appendix": "Annexe d'intégrité de la brigade", "transcript": "Transcription intégrale"}  # fmt: skip
    (tmp_path / "wording.fr.json").write_text(json.dumps(wording, ensure_ascii=False), encoding="utf-8")
    Image.new("RGB", (40, 20), (200, 30, 30)).save(tmp_path / "logo.png")
    monkeypatch.setenv("SCIS_REPORT_BRANDING_DIR", str(tmp_path))
    from scis.core.settings import get_settings

    get_settings.cache_clear()
    try:
        case_id = await make_case(conn)
        await write_case_session(conn, case_id, 5000, "overflow")
        text = await report_text(conn, case_id, "french", language="fr")
    finally:
        get_settings.cache_clear()
    pages = [page for page in text.split("\f") if page.strip()]
    # Header and footer on every page, WeasyPrint's and the transcript's alike.
    assert all(wording["header"] in page and wording["footer"] in page for page in pages), "a page lacks them"
    assert wording["appendix"] in text and f"{wording['transcript']}: host_5000" in text
    assert "Synthèse" in text  # what the organisation did not override stays the French default
    images = await asyncio.to_thread(first_page_images, ARTIFACTS / "reports" / "french" / "report.pdf")
    assert [line.split()[3:5] for line in images] == [["40", "20"]], "the organisation's logo is not on page 1"


def test_a_bad_wording_file_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "wording.en.json").write_text('{"footr": "x"}', encoding="utf-8")
    with pytest.raises(BrandingError, match=r"wording\.en\.json: unknown key 'footr'"):
        load_branding(tmp_path, "en")
    with pytest.raises(BrandingError, match="is not a folder"):
        load_branding(tmp_path / "missing", "en")

"""Write a case's evidence to one archive a third party can check offline (scis.evidence.archive).

Records are streamed from the database through server-side cursors and written to disk as they
come, so a case of any size passes in flat memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

import scis
from scis.core import cases
from scis.evidence import bookmarks
from scis.evidence.archive import FORMAT, MANIFEST, MANIFEST_HASH, README
from scis.evidence.canonical import canonical_bytes
from scis.evidence.media import MediaStore
from scis.evidence.records import GAP, VIDEO_SEGMENT, record_from_row
from scis.evidence.verify import EVENTS_SELECT

README_TEXT = """SCIS evidence archive: case {reference} ({title})
Written {created_at} by SCIS {version}. Manifest SHA-256: {manifest_sha256}

What is here
- manifest.json lists every file with its SHA-256 and size; manifest.sha256 is the SHA-256 of
  manifest.json. Compare it with the hash you were given separately (report, seal, letter).
- sessions/<id>/records.jsonl: each captured record as the exact canonical JSON bytes that were
  hashed into the session's chain; chain.tsv: seq, chain hash, offset and length of the raw frame in
  raw.bin; raw.bin: the frames as received from TikTok; session.json: the session, its chain head and
  its capture gaps (gaps are also records of the chain, kind "gap"); video/<run>/<n>.flv: the live's
  video as received, one file per `video_segment` record (whose SHA-256 it carries), and <n>.mp4 a
  playable copy of it (remuxed, not re-encoded).
- reports/: the case reports produced in SCIS.

How to check it, offline (no SCIS server, no network)
  python3 archive.py THIS_ARCHIVE.tar --manifest-sha256 {manifest_sha256}
with archive.py taken from the scis package (scis/evidence/archive.py, standard library only), or
  scis verify THIS_ARCHIVE.tar --manifest-sha256 {manifest_sha256}
Every file is re-hashed and every session's chain recomputed; any item that does not match is named.
Chain rule: chain_hash(seq) = SHA-256(bytes of chain_hash(seq-1) + record line), 32 zero bytes
before seq 0; a record's raw_sha256 is the SHA-256 of its raw frame.
"""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest_sha256: str
    sessions: int
    records: int


class HashingWriter:
    """A file being written whose SHA-256 and size are known when it closes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.stream: IO[bytes] = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.stream.write(data)
        self.digest.update(data)
        self.size += len(data)

    def close(self) -> dict[str, object]:
        self.stream.close()
        return {"sha256": self.digest.hexdigest(), "size": self.size}


async def export_session(
    conn: AsyncConnection[Any], session: dict[str, Any], folder: Path, media: MediaStore | None = None
) -> dict[str, Any]:
    """Write one session's files (with `media`, its video segments too); their manifest entries by relative path."""
    session_id = session["id"]
    records = HashingWriter(folder / "records.jsonl")
    chain = HashingWriter(folder / "chain.tsv")
    raw = HashingWriter(folder / "raw.bin")
    gaps, video = [], []
    async with conn.transaction(), conn.cursor(name=f"export_{session_id.hex}", row_factory=dict_row) as rows:
        rows.itersize = 2000
        await rows.execute(EVENTS_SELECT, (session_id,))
        async for row in rows:
            records.write(canonical_bytes(session_id, row["seq"], record_from_row(row), row["raw_sha256"]) + b"\n")
            frame = row["raw"]
            length = -1 if frame is None else len(frame)
            chain.write(f"{row['seq']}\t{row['chain_hash']}\t{raw.size}\t{length}\n".encode())
            if frame is not None:
                raw.write(bytes(frame))
            if row["kind"] == GAP:
                gaps.append({"seq": row["seq"], **row["data"]})
            elif row["kind"] == VIDEO_SEGMENT:
                video.append(row["data"])
    entries = {"records.jsonl": records.close(), "chain.tsv": chain.close(), "raw.bin": raw.close()}
    if media is not None:
        entries.update(await asyncio.to_thread(export_video, media, video, folder))
    description = {
        "id": str(session_id), "case_id": session["case_id"], "target": session["target"],
        "source": session["source"], "status": session["status"], "started_at": _iso(session["started_at"]),
        "ended_at": _iso(session["ended_at"]), "chain_head": session["chain_head"],
        "events_count": session["events_count"], "gaps": gaps,
    }  # fmt: skip
    info = HashingWriter(folder / "session.json")
    info.write(json.dumps(description, indent=2, sort_keys=True).encode())
    entries["session.json"] = info.close()
    return entries


def archive_video_path(key: str) -> str:
    """Where a segment's object goes in its session's folder: video/<run>/<file> (the key without the session)."""
    return "video/" + key.split("/", 1)[1]


def export_video(media: MediaStore, segments: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    """Copy each segment's stored objects into the session folder; their manifest entries."""
    entries: dict[str, Any] = {}
    for segment in segments:
        for copy in ("raw", "playable"):
            if entry := segment.get(copy):
                name = archive_video_path(entry["key"])
                writer = HashingWriter(folder / name)
                writer.write(media.get(entry["key"]))
                entries[name] = writer.close()
    return entries


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


async def export_snapshots(conn: AsyncConnection[Any], case_id: int, folder: Path) -> dict[str, object]:
    """The case's marked moments (scis.snapshots): each bookmark's hashed content as JSON, its frame as JPEG."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM case_snapshots WHERE case_id = %s ORDER BY id", (case_id,))
    entries: dict[str, object] = {}
    for row in await cur.fetchall():
        content = {**bookmarks.content_of(row), "format": bookmarks.FORMAT, "sha256": row["sha256"]}
        writer = HashingWriter(folder / f"{row['id']}.json")
        writer.write(json.dumps(content, indent=2, sort_keys=True).encode())
        entries[f"snapshots/{row['id']}.json"] = writer.close()
        if row["frame_jpeg"] is not None:
            frame = HashingWriter(folder / f"{row['id']}.jpg")
            frame.write(bytes(row["frame_jpeg"]))
            entries[f"snapshots/{row['id']}.jpg"] = frame.close()
    return entries


Progress = Callable[[int, str], None]


def no_progress(percent: int, stage: str) -> None:
    """Nobody follows this export's progress."""


async def export_case(
    conn: AsyncConnection[Any],
    case_id: int,
    out: Path,
    media: MediaStore | None = None,
    progress: Progress = no_progress,
) -> ExportResult:
    """Write the case's archive to `out` (a .tar), video from `media`; CaseNotFound when there is no such case.

    `progress(percent, stage)` hears 0-90 % as the sessions' records are written (by record count),
    then the reports, the manifest and the tar.
    """
    case = await cases.get_or_raise(conn, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM live_sessions WHERE case_id = %s ORDER BY started_at, id", (case_id,))
    sessions = await cur.fetchall()
    created_at = datetime.now(UTC).isoformat()
    top = f"scis-case-{case['reference']}"
    with tempfile.TemporaryDirectory(prefix="scis-export-", dir=out.parent) as tmp:
        root = Path(tmp) / top
        files: dict[str, object] = {}
        records = 0
        total = sum(session["events_count"] or 0 for session in sessions) or 1
        for number, session in enumerate(sessions, 1):
            progress(90 * records // total, f"session {number} of {len(sessions)}: {session['target']}")
            entries = await export_session(conn, session, root / "sessions" / str(session["id"]), media)
            files.update({f"sessions/{session['id']}/{name}": entry for name, entry in entries.items()})
            records += session["events_count"] or 0
        progress(90, "reports and marked moments")
        await cur.execute("SELECT id, pdf FROM reports WHERE case_id = %s ORDER BY id", (case_id,))
        for report in await cur.fetchall():
            writer = HashingWriter(root / "reports" / f"{report['id']}.pdf")
            writer.write(bytes(report["pdf"]))
            files[f"reports/{report['id']}.pdf"] = writer.close()
        files.update(await export_snapshots(conn, case_id, root / "snapshots"))
        manifest = json.dumps(
            {"format": FORMAT, "case": {"id": case_id, "reference": case["reference"], "title": case["title"]},
             "created_at": created_at, "scis_version": scis.__version__, "files": files},
            indent=2, sort_keys=True,
        ).encode()  # fmt: skip
        manifest_sha256 = hashlib.sha256(manifest).hexdigest()
        (root / MANIFEST).write_bytes(manifest)
        (root / MANIFEST_HASH).write_text(manifest_sha256 + "\n", encoding="ascii")
        readme = README_TEXT.format(reference=case["reference"], title=case["title"], created_at=created_at,
                               version=scis.__version__, manifest_sha256=manifest_sha256)  # fmt: skip
        # The README is for people and named in no hash: the manifest is what is checked.
        readme_entry = HashingWriter(root / README)
        readme_entry.write(readme.encode())
        readme_entry.close()
        progress(95, "writing the archive")
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(root, arcname=top, recursive=True)
        partial.replace(out)
    return ExportResult(out, manifest_sha256, len(sessions), records)

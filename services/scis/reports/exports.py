"""Case evidence exports from the API: `scis export` run as a report job, the archive kept in PostgreSQL.

The worker writes the archive with scis.evidence.export (records streamed through server-side
cursors) into a temporary folder, then copies it into case_export_chunks 1 MiB at a time while
hashing it, so neither the writing nor the storing nor the download holds more than a chunk.
See docs/decisions/715-case-export-jobs.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from scis.core import cases
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.evidence.export import ExportResult, Progress, export_case
from scis.evidence.media import MediaStore
from scis.reports.models import CaseExportRead

CHUNK_BYTES = 1 << 20
EXPORT_COLUMNS = "id, case_id, manifest_sha256, archive_sha256, size, sessions, records, created_by, created_at"


@dataclass
class BuiltExport:
    """An archive written to a temporary folder, not yet stored; `discard` removes the folder."""

    result: ExportResult
    folder: Path

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


async def build_export(
    conn: AsyncConnection, *, user: User, case_id: int, media: MediaStore | None, progress: Progress
) -> BuiltExport:
    """Write the case's archive (CaseNotFound unless `user` may see the case)."""
    case = await cases.require_member(conn, user=user, case_id=case_id)
    folder = Path(tempfile.mkdtemp(prefix="scis-export-job-"))
    try:
        result = await export_case(conn, case_id, folder / f"scis-case-{case['reference']}.tar", media, progress)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return BuiltExport(result, folder)


def file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def store_export(conn: AsyncConnection, *, built: BuiltExport, case_id: int, context: AuditContext) -> int:
    """Keep the archive in chunks with its SHA-256s and audit it; call inside the job's finishing transaction.

    The archive is read twice (hash, then copy): the export row is append-only, so its hash must be
    known when it is written, before the chunks that reference it.
    """
    archive_sha256, size = await asyncio.to_thread(file_sha256, built.result.path)
    chunks = -(-size // CHUNK_BYTES)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """INSERT INTO case_exports (case_id, manifest_sha256, archive_sha256, size, chunks, sessions, records,
                                     created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (case_id, built.result.manifest_sha256, archive_sha256, size, chunks, built.result.sessions,
         built.result.records, context.actor.username),
    )  # fmt: skip
    row = await cur.fetchone()
    assert row is not None
    export_id = int(row["id"])
    with built.result.path.open("rb") as archive:
        for n in range(chunks):
            chunk = await asyncio.to_thread(archive.read, CHUNK_BYTES)
            await conn.execute(
                "INSERT INTO case_export_chunks (export_id, n, data) VALUES (%s, %s, %s)", (export_id, n, chunk)
            )
    await audit.record(
        conn, context, action="export.create", target=f"case_export:{export_id}",
        details={"case_id": case_id, "manifest_sha256": built.result.manifest_sha256,
                 "archive_sha256": archive_sha256, "bytes": size},
    )  # fmt: skip
    return export_id


async def list_exports(conn: AsyncConnection, *, user: User, case_id: int) -> list[CaseExportRead]:
    """The case's exports, newest first; CaseNotFound unless the caller may see the case."""
    await cases.require_member(conn, user=user, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {EXPORT_COLUMNS} FROM case_exports WHERE case_id = %s ORDER BY id DESC", (case_id,))
    return [CaseExportRead(**row) for row in await cur.fetchall()]


async def get_export(conn: AsyncConnection, *, user: User, case_id: int, export_id: int) -> CaseExportRead | None:
    """One export of the case; CaseNotFound unless the caller may see the case, None when it has no such export."""
    await cases.require_member(conn, user=user, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {EXPORT_COLUMNS} FROM case_exports WHERE id = %s AND case_id = %s", (export_id, case_id))
    row = await cur.fetchone()
    return CaseExportRead(**row) if row else None


async def audit_download(conn: AsyncConnection, *, context: AuditContext, export: CaseExportRead) -> None:
    async with conn.transaction():
        await audit.record(
            conn, context, action="export.download", target=f"case_export:{export.id}",
            details={"case_id": export.case_id, "manifest_sha256": export.manifest_sha256,
                     "archive_sha256": export.archive_sha256, "bytes": export.size},
        )  # fmt: skip


async def archive_chunks(pool: AsyncConnectionPool[Any], export_id: int) -> AsyncIterator[bytes]:
    """The stored archive, one chunk per query (flat memory whatever its size)."""
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        n = 0
        while True:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT data FROM case_export_chunks WHERE export_id = %s AND n = %s", (export_id, n))
            row = await cur.fetchone()
            if row is None:
                return
            yield bytes(row["data"])
            n += 1

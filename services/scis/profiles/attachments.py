"""Profile attachments: bytes stored once by SHA-256, the media type sniffed from the bytes themselves."""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.profiles.models import AttachmentRead
from scis.profiles.service import require_visible

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

# Leading bytes of the formats analysts attach (screenshots, exports, documents).
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"ftyp", 4, "video/mp4"),
    (b"PK\x03\x04", 0, "application/zip"),
)


def sniff(content: bytes) -> str:
    """The media type the bytes are, whatever the uploader claimed."""
    for signature, offset, media_type in SIGNATURES:
        if content[offset : offset + len(signature)] == signature:
            return media_type
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


async def attach(
    conn: AsyncConnection,
    cache: aioredis.Redis,
    *,
    profile_id: int,
    filename: str,
    content: bytes,
    context: AuditContext,
) -> AttachmentRead:
    await require_visible(conn, cache, user=context.actor, profile_id=profile_id)
    digest = hashlib.sha256(content).hexdigest()
    media_type = sniff(content)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "INSERT INTO attachment_blobs (sha256, size, content) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (digest, len(content), content),
        )
        await cur.execute(
            """INSERT INTO profile_attachments (profile_id, sha256, filename, media_type, uploaded_by)
               VALUES (%s, %s, %s, %s, %s) RETURNING *""",
            (profile_id, digest, filename, media_type, context.actor.username),
        )
        row = await cur.fetchone()
        assert row is not None
        await audit.record(
            conn, context, action="profile.attach", target=f"profile:{profile_id}",
            details={"attachment_id": row["id"], "sha256": digest, "size": len(content), "media_type": media_type},
        )  # fmt: skip
    return AttachmentRead(**row, size=len(content))


async def list_attachments(
    conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int
) -> list[AttachmentRead]:
    await require_visible(conn, cache, user=user, profile_id=profile_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT a.*, b.size FROM profile_attachments a JOIN attachment_blobs b ON b.sha256 = a.sha256
            WHERE a.profile_id = %s ORDER BY a.id""",
        (profile_id,),
    )
    return [AttachmentRead(**row) for row in await cur.fetchall()]


async def content_of(
    conn: AsyncConnection, cache: aioredis.Redis, *, user: User, profile_id: int, attachment_id: int
) -> tuple[AttachmentRead, bytes] | None:
    await require_visible(conn, cache, user=user, profile_id=profile_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT a.*, b.size, b.content FROM profile_attachments a JOIN attachment_blobs b ON b.sha256 = a.sha256
            WHERE a.profile_id = %s AND a.id = %s""",
        (profile_id, attachment_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    content = bytes(row.pop("content"))
    return AttachmentRead(**row), content

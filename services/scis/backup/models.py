"""What a backup archive holds, as its manifest says."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

MANIFEST_FORMAT = 1


class ArchivedFile(BaseModel):
    """One member of the archive, by its path inside the archive."""

    path: str
    bytes: int
    sha256: str


class SessionAtBackup(BaseModel):
    """A live session as the database snapshot holds it."""

    id: UUID
    target: str
    status: str
    events_count: int
    chain_head: str | None


class Manifest(BaseModel):
    format: int = MANIFEST_FORMAT
    created_at: datetime
    scis_version: str
    server_version: str = Field(description="PostgreSQL server version of the snapshot")
    database: ArchivedFile = Field(description="pg_dump custom-format snapshot")
    roles: ArchivedFile = Field(description="pg_dumpall --roles-only (no passwords)")
    files: list[ArchivedFile] = Field(description="evidence files from SCIS_HOME, under home/")
    sessions: list[SessionAtBackup]


class SessionVerdict(BaseModel):
    id: UUID
    intact: bool
    records_checked: int
    sealed: bool
    detail: str


class RestoreResult(BaseModel):
    database_url: str = Field(description="where the database was restored (password redacted)")
    files_restored: int
    sessions: list[SessionVerdict]

    @property
    def all_intact(self) -> bool:
        return all(s.intact for s in self.sessions)

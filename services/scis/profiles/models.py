"""Profile models: the validation rules the create wizard shares."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from scis.core.fields import BIGINT_MAX, Text

HANDLE_PATTERN = r"^@?[A-Za-z0-9._]{2,24}$"


class RiskLevel(StrEnum):
    unknown = "unknown"
    low = "low"
    medium = "medium"
    high = "high"


def normalise_tags(tags: list[str]) -> list[str]:
    cleaned = sorted({tag.strip().lower() for tag in tags if tag.strip()})
    for tag in cleaned:
        if len(tag) > 40:
            raise ValueError(f"tag {tag[:20]!r}… is longer than 40 characters")
    return cleaned


def normalise_aliases(aliases: list[str]) -> list[str]:
    cleaned = [alias.strip() for alias in aliases]
    for index, alias in enumerate(cleaned):
        if not alias:
            raise ValueError(f"alias {index} is empty; remove it or give a name")
    return list(dict.fromkeys(cleaned))


class ProfileBase(BaseModel):
    display_name: Text = Field("", max_length=200, description="how analysts refer to this person")
    risk_level: RiskLevel = RiskLevel.unknown
    tags: list[Text] = Field(default_factory=list, max_length=50)
    aliases: list[Annotated[Text, Field(max_length=100)]] = Field(
        default_factory=list, max_length=50, description="other names this person is known by (searched)"
    )
    notes: Text = Field("", max_length=50_000)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalise_tags(value)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        return normalise_aliases(value)


class ProfileCreate(ProfileBase):
    unique_id: str = Field(pattern=HANDLE_PATTERN, description="the TikTok @handle, with or without @")
    case_id: int | None = Field(None, ge=1, le=BIGINT_MAX, description="the case this profile belongs to")
    tiktok_user_id: int | None = Field(None, ge=1, le=BIGINT_MAX, description="TikTok's numeric user id, when known")
    duplicate_reason: Text | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="why a second profile of the same person in the same case is needed (else 409)",
    )

    @field_validator("unique_id")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        return value.removeprefix("@").lower()


class ProfileUpdate(BaseModel):
    display_name: Text | None = Field(None, max_length=200)
    risk_level: RiskLevel | None = None
    tags: list[Text] | None = Field(None, max_length=50)
    aliases: list[Annotated[Text, Field(max_length=100)]] | None = Field(None, max_length=50)
    notes: Text | None = Field(None, max_length=50_000)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalise_tags(value)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalise_aliases(value)


class ProfileRead(ProfileBase):
    id: int
    unique_id: str
    case_id: int | None
    subject_id: int | None
    tiktok_user_id: int | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="moves on with every change; the ETag is built from it")
    duplicate_reason: str | None = None


class ExistingProfile(BaseModel):
    id: int
    unique_id: str
    subject_id: int | None


class DuplicateConflict(BaseModel):
    """The 409 a second profile of the same person in the same case gets (without duplicate_reason)."""

    detail: str
    existing_profiles: list[ExistingProfile]


class ProfilePage(BaseModel):
    items: list[ProfileRead]
    total: int


class NoteCreate(BaseModel):
    body: Text = Field(min_length=1, max_length=20_000, description="the note; notes cannot be changed later")

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the note is blank; write something")
        return value


class NoteRead(BaseModel):
    id: int
    profile_id: int
    author: str
    body: str
    created_at: datetime


class AttachmentRead(BaseModel):
    id: int
    profile_id: int
    sha256: str = Field(description="SHA-256 of the bytes; identical uploads share one stored copy")
    filename: str
    media_type: str = Field(description="sniffed from the bytes, not taken from the upload")
    size: int
    uploaded_by: str
    uploaded_at: datetime


class LinkedAccountCreate(BaseModel):
    subject_id: int = Field(ge=1, le=BIGINT_MAX, description="the TikTok account (subject) to link")
    reason: Text = Field(min_length=1, max_length=2000, description="why it is the same person")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the reason is blank; say why this account is the same person")
        return value.strip()


class LinkedAccountRead(BaseModel):
    profile_id: int
    subject_id: int
    tiktok_user_id: int
    unique_id: str | None
    nickname: str | None
    reason: str
    linked_by: str
    linked_at: datetime

"""Wizard models: the one-shot check, and the draft moved step by step (docs/decisions/610)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from scis.core.fields import BIGINT_MAX, Text
from scis.profiles.models import HANDLE_PATTERN, ExistingProfile, ProfileBase, ProfileCreate


class FieldProblem(BaseModel):
    field: str
    value: object | None
    problem: str


class WizardCheck(BaseModel):
    """What the wizard tells the analyst before anything is written."""

    valid: bool
    problems: list[FieldProblem]
    normalised: ProfileCreate | None = None
    known_subject: dict[str, object] | None = None
    existing_profile_ids: list[int] = []


STEPS = ("identity", "accounts", "classification", "case")
REQUIRED_STEPS = ("identity",)


class IdentityStep(BaseModel):
    """Who: a subject already seen in a capture, TikTok's numeric user id, or an @handle (one is enough)."""

    subject_id: int | None = Field(None, ge=1, le=BIGINT_MAX, description="a subject seen in captures")
    tiktok_user_id: int | None = Field(None, ge=1, le=BIGINT_MAX)
    unique_id: str | None = Field(None, pattern=HANDLE_PATTERN, description="the @handle, with or without @")

    @field_validator("unique_id")
    @classmethod
    def _strip_at(cls, value: str | None) -> str | None:
        return None if value is None else value.removeprefix("@").lower()

    @model_validator(mode="after")
    def _something(self) -> IdentityStep:
        if self.subject_id is None and self.tiktok_user_id is None and self.unique_id is None:
            raise ValueError("give subject_id, tiktok_user_id or unique_id: who is this profile about?")
        return self


class LinkedAccountIn(BaseModel):
    subject_id: int = Field(ge=1, le=BIGINT_MAX, description="another TikTok account (subject) of this person")
    reason: Text = Field(min_length=1, max_length=2000, description="why it is the same person")


class AccountsStep(BaseModel):
    linked: list[LinkedAccountIn] = Field(default_factory=list, max_length=50)


class ClassificationStep(ProfileBase):
    """Name, risk, tags, aliases and a first note (the same rules as a profile)."""


class CaseStep(BaseModel):
    case_id: int | None = Field(None, ge=1, le=BIGINT_MAX, description="the case the profile belongs to")
    duplicate_reason: Text | None = Field(
        None, min_length=1, max_length=2000, description="why a second profile of this person in the case is needed"
    )


class ResolvedIdentity(BaseModel):
    """The identity step resolved against the subjects seen in captures."""

    subject_id: int | None
    tiktok_user_id: int | None
    unique_id: str | None
    nickname: str | None = None
    last_seen_at: datetime | None = None


class Review(BaseModel):
    """What committing would do, and what stands in its way."""

    ready: bool
    missing_steps: list[str]
    identity: ResolvedIdentity | None
    duplicates: list[ExistingProfile] = Field(description="same person in the same case: commit refuses (409)")
    similar: list[ExistingProfile] = Field(description="similar handle, name or alias in the case: check first")


class DraftRead(BaseModel):
    id: int
    created_by: str
    steps: dict[str, dict[str, object]]
    profile_id: int | None = Field(description="the profile the draft became or was merged into")
    outcome: Literal["created", "merged"] | None = Field(None, description="created a profile, or merged into one")
    created_at: datetime
    updated_at: datetime
    review: Review


class MergeRequest(BaseModel):
    profile_id: int = Field(ge=1, le=BIGINT_MAX, description="the existing profile (of the draft's case) to merge into")

"""Wizard models."""

from __future__ import annotations

from pydantic import BaseModel

from scis.profiles.models import ProfileCreate


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

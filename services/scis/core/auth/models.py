"""Account and login models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from scis.core.fields import Text

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"


class Role(StrEnum):
    viewer = "viewer"
    investigator = "investigator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


ROLE_RANK = {Role.viewer: 0, Role.investigator: 1, Role.admin: 2}


class User(BaseModel):
    """The caller of a request, as its token says."""

    model_config = ConfigDict(frozen=True)
    username: str
    role: Role


class UserCreate(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, description="lower-case letters, digits, . _ -")
    password: str = Field(min_length=10, max_length=256, description="at least 10 characters")
    role: Role = Role.viewer


class UserRead(BaseModel):
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime


class LoginRequest(BaseModel):
    username: Text = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    username: str
    role: Role

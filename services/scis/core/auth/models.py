"""Account and login models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from scis.core.auth.policy import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, check_password
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
    """The caller of a request: the user and role of its live server-side session."""

    model_config = ConfigDict(frozen=True)
    username: str
    role: Role
    session_id: str | None = None


# A new password: long enough and not a common one (scis.core.auth.policy says why it is refused).
Password = Annotated[
    str,
    Field(
        max_length=MAX_PASSWORD_LENGTH,
        description=f"at least {MIN_PASSWORD_LENGTH} characters, not one of the most common passwords",
    ),
    AfterValidator(check_password),
]


class UserCreate(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, description="lower-case letters, digits, . _ -")
    password: Password
    role: Role = Role.viewer


class UserRead(BaseModel):
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    password_changed_at: datetime


class Account(BaseModel):
    """A stored account as login needs it."""

    id: int
    username: str
    role: Role
    disabled: bool
    password_hash: str


class PasswordChange(BaseModel):
    """The caller changes their own password."""

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: Password


class PasswordReset(BaseModel):
    """An admin sets another account's password."""

    new_password: Password


class RoleChange(BaseModel):
    role: Role


class LoginRequest(BaseModel):
    username: Text = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    username: str
    role: Role

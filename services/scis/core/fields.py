"""Values the API accepts only within what PostgreSQL stores, so anything else is a clear 422, not a 500."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

BIGINT_MAX = 2**63 - 1
"""The largest PostgreSQL bigint: every id, offset and counter column is one."""

RowId = Annotated[int, Ge(1), Le(BIGINT_MAX)]
"""A row id (bigint identity): 1 to 2**63-1."""


def _refuse_nul(value: str) -> str:
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL: refuse it here, naming the field, instead of failing the write.
        raise PydanticCustomError("nul_character", "must not contain the NUL character (\\u0000); remove it")
    return value


Text = Annotated[str, AfterValidator(_refuse_nul)]
"""Text that is stored in PostgreSQL: anything but the NUL character."""

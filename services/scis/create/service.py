"""Checking a draft profile against the rules and what the evidence already knows."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from pydantic import ValidationError

from scis.core import cases
from scis.core.auth.models import User
from scis.create.models import FieldProblem, WizardCheck
from scis.profiles.models import ProfileCreate


def problems_of(error: ValidationError) -> list[FieldProblem]:
    return [
        FieldProblem(
            field=".".join(str(p) for p in item["loc"]) or "body",
            value=item.get("input"),
            problem=item["msg"],
        )
        for item in error.errors()
    ]


async def check_draft(conn: AsyncConnection, *, user: User, draft: dict[str, Any]) -> WizardCheck:
    try:
        profile = ProfileCreate.model_validate(draft)
    except ValidationError as error:
        return WizardCheck(valid=False, problems=problems_of(error))
    problems: list[FieldProblem] = []
    cur = conn.cursor(row_factory=dict_row)
    if profile.case_id is not None:
        try:
            case = await cases.require_member(conn, user=user, case_id=profile.case_id)
        except cases.CaseNotFound:
            refused = FieldProblem(field="case_id", value=profile.case_id, problem=cases.UNKNOWN_CASE_PROBLEM)
            return WizardCheck(valid=False, problems=[refused])
        if case["status"] != "open":
            problems.append(
                FieldProblem(
                    field="case_id", value=profile.case_id, problem="the case is closed; reopen it to add profiles"
                )
            )
    await cur.execute(
        """SELECT id, tiktok_user_id, unique_id, nickname, first_seen_at, last_seen_at FROM subjects
           WHERE lower(unique_id) = %s OR (%s::bigint IS NOT NULL AND tiktok_user_id = %s) LIMIT 1""",
        (profile.unique_id, profile.tiktok_user_id, profile.tiktok_user_id),
    )
    subject = await cur.fetchone()
    await cur.execute(
        "SELECT id FROM profiles WHERE unique_id = %s AND case_id IS NOT DISTINCT FROM %s",
        (profile.unique_id, profile.case_id),
    )
    existing = [row["id"] for row in await cur.fetchall()]
    return WizardCheck(
        valid=not problems,
        problems=problems,
        normalised=profile,
        known_subject={k: (str(v) if v is not None else None) for k, v in subject.items()} if subject else None,
        existing_profile_ids=existing,
    )

"""Checking a draft profile against the rules and what the evidence already knows."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ValidationError

from scis.core import cases
from scis.core.app import InvalidRequest
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.create.models import (
    REQUIRED_STEPS,
    AccountsStep,
    CaseStep,
    ClassificationStep,
    DraftRead,
    FieldProblem,
    IdentityStep,
    ResolvedIdentity,
    Review,
    WizardCheck,
)
from scis.profiles import service as profiles
from scis.profiles.linked import insert_link, require_subject
from scis.profiles.models import (
    ExistingProfile,
    LinkedAccountCreate,
    ProfileCreate,
    RiskLevel,
    normalise_aliases,
    normalise_tags,
)


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


# --- Drafts: the wizard step by step (docs/decisions/610) -------------------------------------------


class DraftNotFound(LookupError):
    pass


class DraftCommitted(Exception):
    """The draft already became a profile; a draft is committed once."""

    def __init__(self, draft_id: int, profile_id: int) -> None:
        super().__init__(f"draft {draft_id} was already committed as profile {profile_id}; open that profile")
        self.profile_id = profile_id


async def new_draft(conn: AsyncConnection, *, user: User) -> int:
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute("INSERT INTO profile_drafts (created_by) VALUES (%s) RETURNING id", (user.username,))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _draft_row(conn: AsyncConnection, *, user: User, draft_id: int, lock: bool = False) -> dict[str, Any]:
    """The caller's own draft (a draft is private work: nobody else sees it, admins included)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT * FROM profile_drafts WHERE id = %s AND created_by = %s" + (" FOR UPDATE" if lock else ""),
        (draft_id, user.username),
    )
    row = await cur.fetchone()
    if row is None:
        raise DraftNotFound(f"no draft {draft_id} of yours; start one with POST /api/create/drafts")
    return row


async def resolve_identity(conn: AsyncConnection, identity: IdentityStep) -> ResolvedIdentity:
    """The identity against the subjects seen: by subject, else by user id, else by the handle's latest owner.

    InvalidRequest when a subject_id names none, or when the given user id and handle disagree with it.
    """
    cur = conn.cursor(row_factory=dict_row)
    select = "SELECT id, tiktok_user_id, unique_id, nickname, last_seen_at FROM subjects"
    if identity.subject_id is not None:
        await cur.execute(select + " WHERE id = %s", (identity.subject_id,))
    elif identity.tiktok_user_id is not None:
        await cur.execute(select + " WHERE tiktok_user_id = %s", (identity.tiktok_user_id,))
    else:
        await cur.execute(
            select + " WHERE lower(unique_id) = %s ORDER BY last_seen_at DESC NULLS LAST LIMIT 1", (identity.unique_id,)
        )
    subject = await cur.fetchone()
    if subject is None:
        if identity.subject_id is not None:
            raise InvalidRequest(
                "subject_id", identity.subject_id, "no subject with this id; search subjects, or give the @handle"
            )
        return ResolvedIdentity(subject_id=None, tiktok_user_id=identity.tiktok_user_id, unique_id=identity.unique_id)
    if identity.tiktok_user_id is not None and identity.tiktok_user_id != subject["tiktok_user_id"]:
        raise InvalidRequest(
            "tiktok_user_id",
            identity.tiktok_user_id,
            f"subject {subject['id']} has user id {subject['tiktok_user_id']}; give one of the two, or matching ones",
        )
    return ResolvedIdentity(
        subject_id=subject["id"],
        tiktok_user_id=subject["tiktok_user_id"],
        unique_id=identity.unique_id or (subject["unique_id"] or "").lower() or None,
        nickname=subject["nickname"],
        last_seen_at=subject["last_seen_at"],
    )


async def check_step(conn: AsyncConnection, *, user: User, step: str, answer: BaseModel) -> dict[str, Any]:
    """The step's answer checked against the database (pydantic already checked its shape), as stored."""
    if isinstance(answer, IdentityStep):
        await resolve_identity(conn, answer)
    elif isinstance(answer, AccountsStep):
        for index, link in enumerate(answer.linked):
            await require_subject(conn, subject_id=link.subject_id, field=f"linked.{index}.subject_id")
    elif isinstance(answer, CaseStep) and answer.case_id is not None:
        try:
            case = await cases.require_member(conn, user=user, case_id=answer.case_id)
        except cases.CaseNotFound:
            raise InvalidRequest("case_id", answer.case_id, cases.UNKNOWN_CASE_PROBLEM) from None
        if case["status"] != "open":
            raise InvalidRequest("case_id", answer.case_id, "the case is closed; reopen it to add profiles")
    return answer.model_dump(mode="json", exclude_none=True)


async def save_step(conn: AsyncConnection, *, user: User, draft_id: int, step: str, answer: BaseModel) -> None:
    stored = await check_step(conn, user=user, step=step, answer=answer)
    async with conn.transaction():
        draft = await _draft_row(conn, user=user, draft_id=draft_id, lock=True)
        if draft["profile_id"] is not None:
            raise DraftCommitted(draft_id, draft["profile_id"])
        await conn.execute(
            "UPDATE profile_drafts SET steps = steps || %s, updated_at = now() WHERE id = %s",
            (Jsonb({step: stored}), draft_id),
        )


def profile_of(steps: dict[str, Any], identity: ResolvedIdentity) -> ProfileCreate:
    """The profile the draft's steps describe (the steps were validated when saved)."""
    classification = steps.get("classification", {})
    case = steps.get("case", {})
    return ProfileCreate.model_validate(
        {
            **classification,
            "unique_id": identity.unique_id,
            "tiktok_user_id": identity.tiktok_user_id,
            "case_id": case.get("case_id"),
            "duplicate_reason": case.get("duplicate_reason"),
        }
    )


async def similar_profiles(conn: AsyncConnection, *, case_id: int | None, identity: ResolvedIdentity) -> list[Any]:
    """Profiles in the case whose handle, name or alias looks like this person's handle or nickname."""
    terms = [term.lower() for term in (identity.unique_id, identity.nickname) if term]
    if not terms:
        return []
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT p.id, p.unique_id, p.subject_id FROM profiles p
            WHERE p.deleted_at IS NULL AND p.case_id IS NOT DISTINCT FROM %(case)s
              AND EXISTS (SELECT 1 FROM unnest(%(terms)s::text[]) t
                           WHERE p.unique_id %% t OR lower(p.display_name) %% t
                              OR EXISTS (SELECT 1 FROM unnest(p.aliases) alias WHERE lower(alias) %% t))
            ORDER BY p.id LIMIT 20""",
        {"case": case_id, "terms": terms},
    )
    return list(await cur.fetchall())


async def review_of(conn: AsyncConnection, draft: dict[str, Any]) -> Review:
    steps: dict[str, Any] = draft["steps"]
    missing = [step for step in REQUIRED_STEPS if step not in steps]
    if "identity" not in steps:
        return Review(ready=False, missing_steps=missing, identity=None, duplicates=[], similar=[])
    identity = await resolve_identity(conn, IdentityStep.model_validate(steps["identity"]))
    case_id = steps.get("case", {}).get("case_id")
    if identity.unique_id is None:
        missing.append("identity")  # a user id never seen in a capture: the handle is needed too
        return Review(ready=False, missing_steps=missing, identity=identity, duplicates=[], similar=[])
    duplicates = await profiles.duplicates_of(
        conn, case_id=case_id, unique_id=identity.unique_id, subject_id=identity.subject_id
    )
    duplicate_ids = {row["id"] for row in duplicates}
    similar = [row for row in await similar_profiles(conn, case_id=case_id, identity=identity)
               if row["id"] not in duplicate_ids]  # fmt: skip
    excused = bool(steps.get("case", {}).get("duplicate_reason"))
    return Review(
        ready=not missing and (not duplicates or excused),
        missing_steps=missing,
        identity=identity,
        duplicates=[ExistingProfile.model_validate(row) for row in duplicates],
        similar=[ExistingProfile.model_validate(row) for row in similar],
    )


async def read_draft(conn: AsyncConnection, *, user: User, draft_id: int) -> DraftRead:
    draft = await _draft_row(conn, user=user, draft_id=draft_id)
    return DraftRead(**draft, review=await review_of(conn, draft))


async def _open_draft(conn: AsyncConnection, *, user: User, draft_id: int) -> tuple[dict[str, Any], ResolvedIdentity]:
    """The caller's draft, locked, still open and with its identity resolved: (its steps, the identity)."""
    draft = await _draft_row(conn, user=user, draft_id=draft_id, lock=True)
    if draft["profile_id"] is not None:
        raise DraftCommitted(draft_id, draft["profile_id"])
    steps: dict[str, Any] = draft["steps"]
    if "identity" not in steps:
        raise InvalidRequest("identity", None, "the identity step is missing; PUT it first")
    return steps, await resolve_identity(conn, IdentityStep.model_validate(steps["identity"]))


async def commit_draft(conn: AsyncConnection, *, draft_id: int, context: AuditContext) -> int:
    """Create the profile and its linked accounts, and close the draft: all or nothing, audited.

    InvalidRequest for a missing step, DuplicateProfile when the case has this person (no reason given).
    The caller announces the profile (profiles.announce_created) once this transaction is committed.
    """
    async with conn.transaction():
        steps, identity = await _open_draft(conn, user=context.actor, draft_id=draft_id)
        if identity.unique_id is None:
            raise InvalidRequest(
                "identity.unique_id", None, "this user id was never seen in a capture: give the @handle too"
            )
        profile_in = profile_of(steps, identity)
        profile_id = await profiles.insert_profile(conn, profile_in=profile_in, context=context)
        for index, link in enumerate(steps.get("accounts", {}).get("linked", [])):
            link_in = LinkedAccountCreate.model_validate(link)
            if link_in.subject_id != identity.subject_id:
                await insert_link(
                    conn, profile_id=profile_id, link=link_in, context=context, field=f"accounts.linked.{index}"
                )
        await conn.execute(
            "UPDATE profile_drafts SET profile_id = %s, outcome = 'created', updated_at = now() WHERE id = %s",
            (profile_id, draft_id),
        )
        await audit.record(
            conn, context, action="profile.wizard_commit", target=f"profile:{profile_id}", details={"draft": draft_id}
        )
    return profile_id


# --- Merge: the draft's person is a profile the case already has (docs/decisions/616) ---------------

RISK_ORDER = list(RiskLevel)  # unknown < low < medium < high


def merged_classification(target: dict[str, Any], draft: ClassificationStep, handle: str | None) -> dict[str, Any]:
    """The target's fields with the draft's added: tags and aliases joined (the draft's handle becomes an
    alias when it differs), the higher risk, the target's name unless it has none. Only what changes."""
    aliases = list(target["aliases"]) + list(draft.aliases)
    if handle and handle != target["unique_id"]:
        aliases.append(f"@{handle}")
    merged = {
        "aliases": normalise_aliases(aliases),
        "tags": normalise_tags(list(target["tags"]) + list(draft.tags)),
        "risk_level": max(RiskLevel(target["risk_level"]), draft.risk_level, key=RISK_ORDER.index).value,
        "display_name": target["display_name"] or draft.display_name,
    }
    return {field: value for field, value in merged.items() if value != target[field]}


async def _merge_target(conn: AsyncConnection, *, user: User, profile_id: int, case_id: int | None) -> dict[str, Any]:
    """The live profile to merge into, locked; InvalidRequest when the caller cannot see it or it is in
    another case than the draft's."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT id, case_id, subject_id, unique_id, display_name, risk_level, tags, aliases, version
             FROM profiles WHERE id = %s AND deleted_at IS NULL FOR UPDATE""",
        (profile_id,),
    )
    target = await cur.fetchone()
    if target is None or not await cases.may_see(conn, user=user, case_id=target["case_id"], owner=None):
        raise InvalidRequest("profile_id", profile_id, "no profile with this id of yours; pick one the review lists")
    if target["case_id"] != case_id:
        raise InvalidRequest(
            "profile_id", profile_id,
            f"profile {profile_id} is in case {target['case_id']}, the draft is for case {case_id}; "
            "merge into a profile of the draft's case, or change the draft's case step",
        )  # fmt: skip
    return target


async def merge_draft(
    conn: AsyncConnection, *, draft_id: int, profile_id: int, context: AuditContext, expected_version: int | None
) -> int:
    """Fold the draft into an existing profile instead of creating one: all or nothing, audited.

    The profile gains the draft's tags, aliases (its handle too, when different), risk when higher, its
    note as an authored note, and the draft's person and accounts as linked accounts. StaleVersion when
    `expected_version` is not the profile's; the caller announces the change once committed.
    """
    async with conn.transaction():
        steps, identity = await _open_draft(conn, user=context.actor, draft_id=draft_id)
        case_id = steps.get("case", {}).get("case_id")
        target = await _merge_target(conn, user=context.actor, profile_id=profile_id, case_id=case_id)
        if expected_version is not None and expected_version != target["version"]:
            raise profiles.StaleVersion(profile_id, target["version"])
        classification = ClassificationStep.model_validate(steps.get("classification", {}))
        changes = merged_classification(target, classification, identity.unique_id)
        assignments = "".join(f"{column} = %({column})s, " for column in changes)
        await conn.execute(
            f"UPDATE profiles SET {assignments}updated_at = now(), version = version + 1 WHERE id = %(id)s",
            {**changes, "id": profile_id},
        )
        if classification.notes:
            await conn.execute(
                "INSERT INTO profile_notes (profile_id, author, body) VALUES (%s, %s, %s)",
                (profile_id, context.actor.username, classification.notes),
            )
        links = [LinkedAccountCreate.model_validate(link) for link in steps.get("accounts", {}).get("linked", [])]
        if identity.subject_id is not None:
            reason = f"merged from wizard draft {draft_id} (@{identity.unique_id})"
            links.insert(0, LinkedAccountCreate(subject_id=identity.subject_id, reason=reason))
        for index, link_in in enumerate(links):
            if link_in.subject_id != target["subject_id"]:
                await insert_link(
                    conn, profile_id=profile_id, link=link_in, context=context, field=f"accounts.linked.{index}"
                )
        await conn.execute(
            "UPDATE profile_drafts SET profile_id = %s, outcome = 'merged', updated_at = now() WHERE id = %s",
            (profile_id, draft_id),
        )
        await audit.record(
            conn, context, action="profile.wizard_merge", target=f"profile:{profile_id}",
            details={"draft": draft_id, "fields": sorted(changes), "note": bool(classification.notes),
                     "version": target["version"] + 1},
        )  # fmt: skip
    return profile_id

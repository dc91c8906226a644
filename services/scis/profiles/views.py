"""Profile routes."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import Header, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from scis.core import cases
from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.deps import Audit, CurrentUser, Db, Investigator, Redis
from scis.core.fields import BIGINT_MAX, RowId, Text
from scis.profiles import attachments, linked, service
from scis.profiles.models import (
    AttachmentRead,
    DuplicateConflict,
    ExistingProfile,
    LinkedAccountCreate,
    LinkedAccountRead,
    NoteCreate,
    NoteRead,
    ProfileCreate,
    ProfilePage,
    ProfileRead,
    ProfileUpdate,
    RiskLevel,
)

router = api_router("profiles")

IF_MATCH_DESCRIPTION = "the ETag of the copy you changed; a stale one is refused with 412"


def expected_version(profile_id: int, if_match: str | None) -> int | None:
    """The version an If-Match header names (None: no precondition); 412 when it names no version of this profile."""
    if if_match is None or if_match.strip() == "*":
        return None
    found = re.fullmatch(rf'\s*(?:W/)?"profile-{profile_id}-v(\d+)"\s*', if_match)
    if found is None:
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED,
            f"If-Match {if_match[:80]!r} is not an ETag of profile {profile_id}; GET it and use its ETag",
        )
    return int(found.group(1))


def stale(error: service.StaleVersion) -> HTTPException:
    return HTTPException(
        status.HTTP_412_PRECONDITION_FAILED,
        f"{error}; someone changed it since you read it: GET it again and retry with the new ETag",
    )


def duplicate_conflict(error: service.DuplicateProfile) -> JSONResponse:
    """409 naming the profiles that already stand for this person in the case."""
    conflict = DuplicateConflict(
        detail=str(error), existing_profiles=[ExistingProfile.model_validate(row) for row in error.existing]
    )
    return JSONResponse(conflict.model_dump(mode="json"), status_code=status.HTTP_409_CONFLICT)


DUPLICATE_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"model": DuplicateConflict, "description": "the case already has this person"}
}


@router.get(
    "/profiles",
    response_model=ProfilePage,
    tags=["profiles"],
    summary="Profiles: search by handle, name, alias or id; filter by case, tag, risk",
)
async def list_profiles(
    db: Db,
    user: CurrentUser,
    case_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    q: Text | None = Query(
        None, max_length=100, description="handle, name, alias or id; fuzzy (trigram), an exact handle first"
    ),
    tag: Text | None = Query(None, max_length=40, description="only profiles with this tag"),
    risk_level: RiskLevel | None = Query(None, description="only profiles at this risk level"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=BIGINT_MAX),
) -> ProfilePage:
    return await service.list_profiles(
        db, user=user, case_id=case_id, search=q, limit=limit, offset=offset, tag=tag,
        risk_level=risk_level.value if risk_level else None,
    )  # fmt: skip


@router.get(
    "/profiles/{profile_id}",
    response_model=ProfileRead,
    tags=["profiles"],
    summary="One profile",
    responses=error_responses(404),
)
async def get_profile(profile_id: RowId, db: Db, cache: Redis, user: CurrentUser) -> Response:
    # The hot path (issue 11's cached p99 goal): the JSON is sent as cached, not rebuilt as a model.
    found = await service.get_json(db, cache, user=user, profile_id=profile_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no profile with id {profile_id}")
    body, version = found
    return Response(body, media_type="application/json", headers={"ETag": service.etag(profile_id, version)})


@router.post(
    "/profiles",
    response_model=ProfileRead,
    status_code=201,
    tags=["profiles"],
    summary="Create a profile (409 when the case already has this person, unless duplicate_reason says why)",
    responses={**error_responses(403), **DUPLICATE_RESPONSE},
)
async def create_profile(
    body: ProfileCreate, db: Db, cache: Redis, _: Investigator, context: Audit
) -> ProfileRead | JSONResponse:
    try:
        return await service.create(db, cache, profile_in=body, context=context)
    except service.UnknownCase:
        raise InvalidRequest("case_id", body.case_id, cases.UNKNOWN_CASE_PROBLEM) from None
    except service.DuplicateProfile as error:
        return duplicate_conflict(error)


@router.patch(
    "/profiles/{profile_id}",
    response_model=ProfileRead,
    tags=["profiles"],
    summary="Change a profile",
    responses=error_responses(403, 404, 412),
)
async def update_profile(
    profile_id: RowId,
    body: ProfileUpdate,
    db: Db,
    cache: Redis,
    _: Investigator,
    context: Audit,
    response: Response,
    if_match: str | None = Header(None, max_length=200, description=IF_MATCH_DESCRIPTION),
) -> ProfileRead:
    version = expected_version(profile_id, if_match)
    try:
        updated = await service.update(
            db, cache, profile_id=profile_id, profile_in=body, context=context, expected_version=version
        )
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except service.StaleVersion as error:
        raise stale(error) from None
    response.headers["ETag"] = service.etag(updated.id, updated.version)
    return updated


@router.delete(
    "/profiles/{profile_id}",
    status_code=204,
    tags=["profiles"],
    summary="Delete a profile (soft: kept with who and when, audited)",
    responses=error_responses(403, 404, 412),
)
async def delete_profile(
    profile_id: RowId,
    db: Db,
    cache: Redis,
    _: Investigator,
    context: Audit,
    if_match: str | None = Header(None, max_length=200, description=IF_MATCH_DESCRIPTION),
) -> Response:
    version = expected_version(profile_id, if_match)
    try:
        await service.delete(db, cache, profile_id=profile_id, context=context, expected_version=version)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except service.StaleVersion as error:
        raise stale(error) from None
    return Response(status_code=204)


@router.post(
    "/profiles/{profile_id}/notes",
    response_model=NoteRead,
    status_code=201,
    tags=["profiles"],
    summary="Add a note (append-only: authored, timestamped, never changed)",
    responses=error_responses(403, 404),
)
async def add_note(
    profile_id: RowId, body: NoteCreate, db: Db, cache: Redis, _: Investigator, context: Audit
) -> NoteRead:
    try:
        return await service.add_note(db, cache, profile_id=profile_id, note_in=body, context=context)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get(
    "/profiles/{profile_id}/notes",
    response_model=list[NoteRead],
    tags=["profiles"],
    summary="A profile's notes, oldest first",
    responses=error_responses(404),
)
async def list_notes(
    profile_id: RowId,
    db: Db,
    cache: Redis,
    user: CurrentUser,
    after_id: int = Query(0, ge=0, le=BIGINT_MAX, description="the last note id of the previous page"),
    limit: int = Query(100, ge=1, le=500),
) -> list[NoteRead]:
    try:
        return await service.list_notes(db, cache, user=user, profile_id=profile_id, after_id=after_id, limit=limit)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


FILENAME_PATTERN = r"^[^/\\\x00-\x1f]{1,200}$"


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes (never held whole)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"attachments are limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"attachments are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/profiles/{profile_id}/attachments",
    response_model=AttachmentRead,
    status_code=201,
    tags=["profiles"],
    summary="Attach a file (the request body); stored by SHA-256, type sniffed from the bytes",
    responses=error_responses(403, 404, 413),
)
async def add_attachment(
    profile_id: RowId,
    request: Request,
    db: Db,
    cache: Redis,
    _: Investigator,
    context: Audit,
    filename: str = Query(..., pattern=FILENAME_PATTERN, description="the file's name, no folders"),
) -> AttachmentRead:
    content = await read_capped(request, attachments.MAX_ATTACHMENT_BYTES)
    if not content:
        raise InvalidRequest("body", "", "the file is empty; send its bytes as the request body")
    try:
        return await attachments.attach(
            db, cache, profile_id=profile_id, filename=filename, content=content, context=context
        )
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get(
    "/profiles/{profile_id}/attachments",
    response_model=list[AttachmentRead],
    tags=["profiles"],
    summary="A profile's attachments, oldest first",
    responses=error_responses(404),
)
async def list_attachments(profile_id: RowId, db: Db, cache: Redis, user: CurrentUser) -> list[AttachmentRead]:
    try:
        return await attachments.list_attachments(db, cache, user=user, profile_id=profile_id)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get(
    "/profiles/{profile_id}/attachments/{attachment_id}",
    tags=["profiles"],
    summary="An attachment's bytes, with its sniffed type",
    responses=error_responses(404),
)
async def get_attachment(profile_id: RowId, attachment_id: RowId, db: Db, cache: Redis, user: CurrentUser) -> Response:
    try:
        found = await attachments.content_of(db, cache, user=user, profile_id=profile_id, attachment_id=attachment_id)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no attachment {attachment_id} on profile {profile_id}")
    attachment, content = found
    return Response(
        content,
        media_type=attachment.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{attachment.sha256}"',
        },
    )


@router.get(
    "/profiles/{profile_id}/accounts",
    response_model=list[LinkedAccountRead],
    tags=["profiles"],
    summary="The other TikTok accounts linked to a profile, with why and who linked them",
    responses=error_responses(404),
)
async def list_linked_accounts(profile_id: RowId, db: Db, cache: Redis, user: CurrentUser) -> list[LinkedAccountRead]:
    try:
        return await linked.list_linked(db, cache, user=user, profile_id=profile_id)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.post(
    "/profiles/{profile_id}/accounts",
    response_model=LinkedAccountRead,
    status_code=201,
    tags=["profiles"],
    summary="Link another TikTok account (a subject) to a profile, saying why (audited)",
    responses=error_responses(403, 404),
)
async def link_account(
    profile_id: RowId, body: LinkedAccountCreate, db: Db, cache: Redis, _: Investigator, context: Audit
) -> LinkedAccountRead:
    try:
        return await linked.link(db, cache, profile_id=profile_id, link_in=body, context=context)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.delete(
    "/profiles/{profile_id}/accounts/{subject_id}",
    status_code=204,
    tags=["profiles"],
    summary="Unlink an account from a profile (audited with the reason it had)",
    responses=error_responses(403, 404),
)
async def unlink_account(
    profile_id: RowId, subject_id: RowId, db: Db, cache: Redis, _: Investigator, context: Audit
) -> Response:
    try:
        removed = await linked.unlink(db, cache, profile_id=profile_id, subject_id=subject_id, context=context)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"subject {subject_id} is not linked to profile {profile_id}")
    return Response(status_code=204)

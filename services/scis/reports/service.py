"""Producing PDF case reports (Jinja2 + WeasyPrint) and keeping them with their SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname
from uuid import UUID

from jinja2 import Environment, PackageLoader, select_autoescape
from prometheus_client import Counter, Histogram
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from scis import __version__
from scis.core import cases
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.core.settings import get_settings
from scis.evidence.records import GAP
from scis.evidence.verify import verify_session
from scis.reports import charts
from scis.reports.branding import load_branding
from scis.reports.models import ReportCreate, ReportRead

CASE_TEMPLATE = "case_report.html.j2"

CaseNotFound = cases.CaseNotFound
TOP_PARTICIPANTS = 20
TRANSCRIPT_BATCH = 2000

REPORTS_CREATED = Counter("scis_reports_created_total", "Case reports rendered and stored.")
RENDER_SECONDS = Histogram(
    "scis_report_render_seconds", "Time to render a case report PDF.", buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120)
)


@lru_cache(maxsize=1)
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("scis.reports", "templates"), autoescape=select_autoescape(["j2"]), enable_async=True
    )


ASSET_DIR = Path(__file__).resolve().parent / "templates"


def is_report_asset(url: str) -> bool:
    """Whether rendering may load this URL: inline data, or a file inside the report templates folder."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "data":
        return True
    if scheme != "file" or parts.netloc not in ("", "localhost"):
        return False
    path = Path(url2pathname(unquote(parts.path))).resolve()
    return path.is_relative_to(ASSET_DIR)


def report_url_fetcher() -> Any:
    """WeasyPrint's fetcher, refusing everything but the report's own assets (no network, no other file)."""
    from weasyprint.urls import URLFetcher

    class ReportAssetFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not is_report_asset(url):
                raise ValueError(f"report rendering refuses to fetch {url!r}: only the report's own assets load")
            return super().fetch(url, headers)

    return ReportAssetFetcher(allowed_protocols=("data", "file"), allow_redirects=False)


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    document = HTML(string=html, base_url=ASSET_DIR.as_uri() + "/", url_fetcher=report_url_fetcher())
    return bytes(document.write_pdf())


async def gather_case(conn: AsyncConnection, *, user: User, case_id: int) -> dict[str, Any]:
    """What a case report shows apart from the transcript; CaseNotFound unless the caller may see the case."""
    case = await cases.require_member(conn, user=user, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM live_sessions WHERE case_id = %s ORDER BY started_at", (case_id,))
    sessions = await cur.fetchall()
    await cur.execute(
        "SELECT username, added_by, added_at FROM case_members WHERE case_id = %s ORDER BY username", (case_id,)
    )
    members = await cur.fetchall()
    await cur.execute(
        """SELECT e.kind, count(*) AS n FROM events e JOIN live_sessions s ON s.id = e.session_id
           WHERE s.case_id = %s GROUP BY e.kind ORDER BY e.kind""",
        (case_id,),
    )
    counts = [(row["kind"], row["n"]) for row in await cur.fetchall()]
    await cur.execute(
        """SELECT e.unique_id, max(e.nickname) AS nickname,
                  count(*) FILTER (WHERE e.kind = 'chat') AS messages,
                  count(*) FILTER (WHERE e.kind = 'gift') AS gifts,
                  coalesce(sum(e.diamond_count * coalesce(e.repeat_count, 1)) FILTER (WHERE e.kind = 'gift'), 0)
                      AS diamonds
             FROM events e JOIN live_sessions s ON s.id = e.session_id
            WHERE s.case_id = %s AND e.unique_id IS NOT NULL
            GROUP BY e.unique_id ORDER BY diamonds DESC, messages DESC, e.unique_id LIMIT %s""",
        (case_id, TOP_PARTICIPANTS),
    )
    top = await cur.fetchall()
    await cur.execute(
        """SELECT date_trunc('minute', e.captured_at) AS minute, count(*) AS n
             FROM events e JOIN live_sessions s ON s.id = e.session_id
            WHERE s.case_id = %s GROUP BY 1 ORDER BY 1""",
        (case_id,),
    )
    per_minute = [row["n"] for row in await cur.fetchall()]
    await cur.execute("SELECT * FROM profiles WHERE case_id = %s ORDER BY unique_id", (case_id,))
    profiles = await cur.fetchall()
    integrity = [await session_integrity(conn, session) for session in sessions]
    return {
        "case": case,
        "sessions": sessions,
        "members": members,
        "event_counts": counts,
        "top_participants": top,
        "profiles": profiles,
        "integrity": integrity,
        "tampered": [item for item in integrity if not item["verdict"].intact],
        "totals": {
            "sessions": len(sessions),
            "events": sum(n for _, n in counts),
            "gaps": sum(len(item["gaps"]) for item in integrity),
            "diamonds": sum(row["diamonds"] for row in top),
        },
        "charts": {
            "by_type": charts.as_image_source(charts.bar_chart(counts)),
            "per_minute": charts.as_image_source(charts.line_chart(per_minute)),
        },
    }


async def session_integrity(conn: AsyncConnection, session: dict[str, Any]) -> dict[str, Any]:
    """A session's chain re-verified from the stored bytes now, with its capture gaps."""
    verdict = await verify_session(conn, session["id"])
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT seq, data FROM events WHERE session_id = %s AND kind = %s ORDER BY seq", (session["id"], GAP)
    )
    gaps = [{"seq": row["seq"], **row["data"]} for row in await cur.fetchall()]
    return {"session": session, "verdict": verdict, "gaps": gaps}


def describe_event(row: dict[str, Any]) -> str:
    """What one transcript line says an event was."""
    kind, data = row["kind"], row["data"] or {}
    if kind == "chat":
        return str(row["body"] or "")
    if kind == "gift":
        repeat = row["repeat_count"] or 1
        diamonds = (row["diamond_count"] or 0) * repeat
        return f"gift {row['gift_name'] or row['gift_id']} x{repeat} ({diamonds} diamonds)"
    if kind == GAP:
        return f"capture gap {data.get('from')} to {data.get('to')}: {data.get('reason')} {data.get('detail', '')}"
    if row["counts"]:
        return f"{kind} " + ", ".join(f"{key} {value}" for key, value in sorted(row["counts"].items()))
    return kind


async def transcript(conn: AsyncConnection, session_id: UUID) -> AsyncIterator[dict[str, Any]]:
    """A session's events in order, read through a server-side cursor so a large session is never held whole."""
    async with conn.cursor(name=f"transcript_{session_id.hex}", row_factory=dict_row) as rows:
        rows.itersize = TRANSCRIPT_BATCH
        await rows.execute(
            """SELECT seq, kind, captured_at, unique_id, nickname, body, gift_id, gift_name, diamond_count,
                      repeat_count, counts, data FROM events WHERE session_id = %s ORDER BY seq""",
            (session_id,),
        )
        async for row in rows:
            yield {"seq": row["seq"], "at": row["captured_at"], "who": row["unique_id"] or "", "kind": row["kind"],
                   "what": describe_event(row)}  # fmt: skip


async def render_html(conn: AsyncConnection, *, facts: dict[str, Any], language: str, **context: Any) -> str:
    """The report's HTML; the transcript streams from the database while the template renders."""
    branding = load_branding(get_settings().report_branding_dir, language)
    template = templates().get_template(CASE_TEMPLATE)
    # Named cursors live inside a transaction; one read-only snapshot also keeps the transcript consistent.
    async with conn.transaction():
        return await template.render_async(
            t=branding.wording, logo=branding.logo, language=language,
            transcript=lambda session_id: transcript(conn, session_id), **facts, **context,
        )  # fmt: skip


async def create(conn: AsyncConnection, *, report_in: ReportCreate, context: AuditContext) -> ReportRead:
    facts = await gather_case(conn, user=context.actor, case_id=report_in.case_id)
    title = report_in.title or f"Case report: {facts['case']['title']}"
    html = await render_html(
        conn, facts=facts, language=report_in.language, title=title, author=context.actor.username,
        generated_at=datetime.now(UTC), version=__version__,
    )  # fmt: skip
    # Rendering takes CPU for a while; keep the event loop answering meanwhile.
    with RENDER_SECONDS.time():
        pdf = await asyncio.to_thread(render_pdf, html)
    digest = hashlib.sha256(pdf).hexdigest()
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            """INSERT INTO reports (case_id, title, template, sha256, pdf, created_by)
               VALUES (%s, %s, %s, %s, %s, %s)
               RETURNING id, case_id, title, template, sha256, created_by, created_at""",
            (report_in.case_id, title, CASE_TEMPLATE, digest, pdf, context.actor.username),
        )
        row = await cur.fetchone()
        assert row is not None
        await audit.record(
            conn,
            context,
            action="report.create",
            target=f"report:{row['id']}",
            details={
                "case_id": report_in.case_id,
                "sha256": digest,
                "tampered_sessions": [str(item["session"]["id"]) for item in facts["tampered"]],
            },
        )
    REPORTS_CREATED.inc()
    return ReportRead(**row)


async def list_reports(conn: AsyncConnection, *, user: User, case_id: int | None) -> list[ReportRead]:
    visible, scope = cases.visible_filter(user, case_column="case_id", owner_column="created_by")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"""SELECT id, case_id, title, template, sha256, created_by, created_at FROM reports
           WHERE (%(case)s::bigint IS NULL OR case_id = %(case)s) AND {visible} ORDER BY id DESC""",
        {"case": case_id, **scope},
    )
    return [ReportRead(**row) for row in await cur.fetchall()]


async def get_pdf(conn: AsyncConnection, *, user: User, report_id: int) -> tuple[str, bytes] | None:
    """The report's title and PDF when it exists and the caller may see it."""
    visible, scope = cases.visible_filter(user, case_column="case_id", owner_column="created_by")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT title, pdf FROM reports WHERE id = %(id)s AND {visible}", {"id": report_id, **scope})
    row = await cur.fetchone()
    return (row["title"], bytes(row["pdf"])) if row else None

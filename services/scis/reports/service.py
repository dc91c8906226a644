"""Producing PDF case reports (Jinja2 + WeasyPrint) and keeping them with their SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from jinja2 import Environment, PackageLoader, select_autoescape
from prometheus_client import Counter, Histogram
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from scis import __version__
from scis.core import cases
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.reports.models import ReportCreate, ReportRead

CASE_TEMPLATE = "case_report.html.j2"

CaseNotFound = cases.CaseNotFound

REPORTS_CREATED = Counter("scis_reports_created_total", "Case reports rendered and stored.")
RENDER_SECONDS = Histogram(
    "scis_report_render_seconds", "Time to render a case report PDF.", buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120)
)


@lru_cache(maxsize=1)
def templates() -> Environment:
    return Environment(loader=PackageLoader("scis.reports", "templates"), autoescape=select_autoescape(["j2"]))


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


async def gather_case(conn: AsyncConnection, *, user: User, case_id: int) -> dict[str, object]:
    """What a case report shows; CaseNotFound unless the caller may see the case."""
    case = await cases.require_member(conn, user=user, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM live_sessions WHERE case_id = %s ORDER BY started_at", (case_id,))
    sessions = await cur.fetchall()
    await cur.execute(
        """SELECT e.kind, count(*) AS n FROM events e JOIN live_sessions s ON s.id = e.session_id
           WHERE s.case_id = %s GROUP BY e.kind ORDER BY e.kind""",
        (case_id,),
    )
    counts = [(row["kind"], row["n"]) for row in await cur.fetchall()]
    await cur.execute("SELECT * FROM profiles WHERE case_id = %s ORDER BY unique_id", (case_id,))
    profiles = await cur.fetchall()
    return {"case": case, "sessions": sessions, "event_counts": counts, "profiles": profiles}


async def create(conn: AsyncConnection, *, report_in: ReportCreate, context: AuditContext) -> ReportRead:
    facts = await gather_case(conn, user=context.actor, case_id=report_in.case_id)
    title = report_in.title or f"Case report: {facts['case']['title']}"  # type: ignore[index]
    html = (
        templates()
        .get_template(CASE_TEMPLATE)
        .render(
            title=title, author=context.actor.username, generated_at=datetime.now(UTC), version=__version__, **facts
        )
    )
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
            details={"case_id": report_in.case_id, "sha256": digest},
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

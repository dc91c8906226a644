"""Producing PDF case reports (Jinja2 + WeasyPrint) and keeping them with their SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
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
from scis.evidence.gaps import session_gaps
from scis.evidence.records import GAP
from scis.evidence.verify import verify_session
from scis.reports import charts
from scis.reports.branding import Branding, load_branding
from scis.reports.models import ReportCreate, ReportJobCreate, ReportRead
from scis.reports.transcript_pdf import TranscriptBook, finisher

CASE_TEMPLATE = "case_report.html.j2"
SUBJECT_TEMPLATE = "subject_report.html.j2"

CaseNotFound = cases.CaseNotFound
# Told how far a report has come: percent (0-100) and what it is doing.
Progress = Callable[[int, str], None]


def no_progress(percent: int, stage: str) -> None:
    """For callers nobody is watching."""


class SubjectNotFound(LookupError):
    """No such subject, or one never seen in the case's lives: a subject report has nothing to say."""

    def __init__(self, subject_id: int, case_id: int) -> None:
        super().__init__(f"no subject {subject_id} seen in the lives of case {case_id}")


@dataclass
class TranscriptCounter:
    """Turns transcript rows streamed so far into a percent between `start` and `end` of the job."""

    total: int
    progress: Progress
    start: int = 15
    end: int = 80
    seen: int = field(default=0)

    def __call__(self) -> None:
        self.seen += 1
        if self.seen % 500 == 0 or self.seen == self.total:
            share = min(1.0, self.seen / max(1, self.total))
            self.progress(self.start + round((self.end - self.start) * share), f"transcript {self.seen}/{self.total}")


@dataclass(frozen=True)
class BuiltReport:
    """A rendered report, not yet stored."""

    title: str
    template: str
    pdf: bytes
    sha256: str
    tampered_sessions: list[str]
    subject_id: int | None = None


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


def layout(html: str) -> Any:
    from weasyprint import HTML

    return HTML(string=html, base_url=ASSET_DIR.as_uri() + "/", url_fetcher=report_url_fetcher()).render()


def render_pdf(html: str, book: TranscriptBook | None = None) -> bytes:
    """The PDF of `html`, followed by the transcript pages of `book` (which numbers every page)."""
    document = layout(html)
    return bytes(document.write_pdf(finisher=None if book is None else finisher(book)))


def warm_up() -> None:
    """Load WeasyPrint, its fonts and the transcript font once, when a replica starts, not in its first job."""
    render_pdf("<p>SCIS</p>", TranscriptBook(header="", footer=""))


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
    return {
        "case": case,
        "sessions": sessions,
        "members": members,
        "event_counts": counts,
        "top_participants": top,
        "profiles": profiles,
        "totals": {
            "sessions": len(sessions),
            "events": sum(n for _, n in counts),
            "diamonds": sum(row["diamonds"] for row in top),
        },
        "charts": {
            "by_type": charts.as_image_source(charts.bar_chart(counts)),
            "per_minute": charts.as_image_source(charts.line_chart(per_minute)),
        },
    }


def integrity_facts(integrity: list[dict[str, Any]]) -> dict[str, Any]:
    """What the report says of its sessions' verification: each verdict, the tampered ones, the gaps."""
    return {
        "integrity": integrity,
        "tampered": [item for item in integrity if not item["verdict"].intact],
    }


async def session_integrity(
    conn: AsyncConnection, session: dict[str, Any], on_row: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """A session's chain re-verified from the stored bytes now (`on_row` sees each row read), with its gaps."""
    verdict = await verify_session(conn, session["id"], on_row=on_row)
    return {"session": session, "verdict": verdict, "gaps": await session_gaps(conn, session["id"])}


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


TRANSCRIPT_COLUMNS = """e.session_id, e.seq, e.kind, e.captured_at, e.unique_id, e.nickname, e.body, e.gift_id,
    e.gift_name, e.diamond_count, e.repeat_count, e.counts, e.data"""


async def streamed_events(
    conn: AsyncConnection, name: str, query: str, params: tuple[Any, ...], on_row: Callable[[], None]
) -> AsyncIterator[dict[str, Any]]:
    """Transcript lines read through a server-side cursor, so a large transcript is never held whole."""
    async with conn.cursor(name=name, row_factory=dict_row) as rows:
        rows.itersize = TRANSCRIPT_BATCH
        await rows.execute(query, params)
        async for row in rows:
            on_row()
            yield transcript_event(row, row["session_id"])


def transcript_event(row: dict[str, Any], session_id: UUID) -> dict[str, Any]:
    """A stored event (the transcript's or the chain verification's columns) as a transcript line's fields."""
    return {"seq": row["seq"], "at": row["captured_at"], "who": row["unique_id"] or "", "kind": row["kind"],
            "what": describe_event(row), "session_id": session_id}  # fmt: skip


KIND_WIDTH, WHO_WIDTH = 13, 24


@dataclass(frozen=True)
class TranscriptLayout:
    """How transcript lines are laid out in columns; continuation lines of a long one indent under "what"."""

    columns: str
    indent: int
    line: Callable[[dict[str, Any]], str]


def case_layout(t: dict[str, str]) -> TranscriptLayout:
    """seq, time, type, who, what: one line per event of a session."""
    clock = max(8, len(t["time"]))

    def line(event: dict[str, Any]) -> str:
        return (f"{event['seq']:>7} {event['at']:%H:%M:%S}{'':<{clock - 8}} {event['kind']:<{KIND_WIDTH}} "
                f"{event['who']:<{WHO_WIDTH}} {event['what']}")  # fmt: skip

    columns = f"{'seq':>7} {t['time']:<{clock}} {t['type']:<{KIND_WIDTH}} {t['who']:<{WHO_WIDTH}} {t['what']}"
    return TranscriptLayout(columns=columns, indent=7 + 1 + clock + 1 + KIND_WIDTH + 1 + WHO_WIDTH + 1, line=line)


def subject_layout(t: dict[str, str]) -> TranscriptLayout:
    """time, session (first 8 hex digits), seq, type, what: one person's events across lives."""
    clock = max(19, len(t["time"]))
    session = max(8, len(t["session"]))

    def line(event: dict[str, Any]) -> str:
        return (f"{event['at']:%Y-%m-%d %H:%M:%S}{'':<{clock - 19}} {event['session_id'].hex[:8]:<{session}} "
                f"{event['seq']:>7} {event['kind']:<{KIND_WIDTH}} {event['what']}")  # fmt: skip

    columns = f"{t['time']:<{clock}} {t['session']:<{session}} {'seq':>7} {t['type']:<{KIND_WIDTH}} {t['what']}"
    return TranscriptLayout(columns=columns, indent=clock + 1 + session + 1 + 7 + 1 + KIND_WIDTH + 1, line=line)


def transcript(
    conn: AsyncConnection, session_id: UUID, on_row: Callable[[], None] = lambda: None, after_seq: int = -1
) -> AsyncIterator[dict[str, Any]]:
    """A session's events in order (those after `after_seq`)."""
    query = f"SELECT {TRANSCRIPT_COLUMNS} FROM events e WHERE e.session_id = %s AND e.seq > %s ORDER BY e.seq"
    return streamed_events(conn, f"transcript_{session_id.hex}", query, (session_id, after_seq), on_row)


def subject_transcript(
    conn: AsyncConnection, *, case_id: int, tiktok_user_id: int, on_row: Callable[[], None]
) -> AsyncIterator[dict[str, Any]]:
    """Everything one person did in a case's lives, in time order across lives."""
    query = f"""SELECT {TRANSCRIPT_COLUMNS} FROM events e JOIN live_sessions s ON s.id = e.session_id
                WHERE s.case_id = %s AND e.user_id = %s ORDER BY e.captured_at, s.started_at, e.seq"""
    return streamed_events(conn, "subject_transcript", query, (case_id, tiktok_user_id), on_row)


async def render_html(
    *, template_name: str, branding: Branding, facts: dict[str, Any], language: str, **context: Any
) -> str:
    """The report's HTML: everything but the transcripts (typeset by transcript_pdf after its pages)."""
    template = templates().get_template(template_name)
    return await template.render_async(t=branding.wording, logo=branding.logo, language=language, **facts, **context)


async def to_pdf(html: str, book: TranscriptBook, progress: Progress) -> tuple[bytes, str]:
    """The report's pages (WeasyPrint) followed by its transcript pages, and the PDF's SHA-256."""
    progress(80, "rendering the PDF")
    # Rendering takes CPU for a while; keep the event loop answering meanwhile.
    with RENDER_SECONDS.time():
        pdf = await asyncio.to_thread(render_pdf, html, book)
    progress(95, "storing")
    return pdf, hashlib.sha256(pdf).hexdigest()


def produced_by(author: str) -> dict[str, Any]:
    return {"author": author, "generated_at": datetime.now(UTC), "version": __version__}


async def build_case_report(
    conn: AsyncConnection, *, user: User, report_in: ReportCreate, progress: Progress = no_progress
) -> BuiltReport:
    """The case report rendered as `user` may see it; CaseNotFound when they may not see the case."""
    progress(2, "reading the case")
    facts = await gather_case(conn, user=user, case_id=report_in.case_id)
    title = report_in.title or f"Case report: {facts['case']['title']}"
    counter = TranscriptCounter(total=facts["totals"]["events"], progress=progress)
    progress(counter.start, "transcript")
    branding = load_branding(get_settings().report_branding_dir, report_in.language)
    t = branding.wording
    book = TranscriptBook(header=t["header"], footer=f"{t['footer']} — {facts['case']['reference']}")
    columns = case_layout(t)
    integrity = []
    # Named cursors live inside a transaction; one snapshot also keeps verification and transcripts consistent.
    async with conn.transaction():
        for session in facts["sessions"]:
            book.section(f"{t['transcript']}: {session['target']}", f"{t['session']} {session['id']}", columns.columns)
            integrity.append(await transcribed_integrity(conn, session, book, columns, counter))
    facts |= integrity_facts(integrity)
    facts["totals"]["gaps"] = sum(len(item["gaps"]) for item in integrity)
    html = await render_html(template_name=CASE_TEMPLATE, branding=branding, facts=facts,
                             language=report_in.language, title=title, **produced_by(user.username))  # fmt: skip
    pdf, digest = await to_pdf(html, book, progress)
    tampered = [str(item["session"]["id"]) for item in facts["tampered"]]
    return BuiltReport(title=title, template=CASE_TEMPLATE, pdf=pdf, sha256=digest, tampered_sessions=tampered)


async def transcribed_integrity(
    conn: AsyncConnection,
    session: dict[str, Any],
    book: TranscriptBook,
    columns: TranscriptLayout,
    counter: TranscriptCounter,
) -> dict[str, Any]:
    """The session's chain verified and its transcript written in one read of its records (decision 712).

    Verification stops at the first record that fails; the transcript goes on from the next one.
    """
    last_seq = -1

    def write(row: dict[str, Any]) -> None:
        nonlocal last_seq
        counter()
        last_seq = row["seq"]
        book.line(columns.line(transcript_event(row, session["id"])), columns.indent)

    item = await session_integrity(conn, session, on_row=write)
    if not item["verdict"].intact:
        async for event in transcript(conn, session["id"], counter, after_seq=last_seq):
            book.line(columns.line(event), columns.indent)
    return item


async def gather_subject(conn: AsyncConnection, *, user: User, case_id: int, subject_id: int) -> dict[str, Any]:
    """One person across a case's lives; CaseNotFound / SubjectNotFound when there is nothing to show."""
    case = await cases.require_member(conn, user=user, case_id=case_id)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM subjects WHERE id = %s", (subject_id,))
    subject = await cur.fetchone()
    if subject is None or subject["tiktok_user_id"] is None:
        raise SubjectNotFound(subject_id, case_id)
    await cur.execute(
        """SELECT s.id, s.target, s.started_at, min(e.captured_at) AS first_seen_at, max(e.captured_at) AS last_seen_at,
                  count(*) AS events, count(*) FILTER (WHERE e.kind = 'chat') AS messages,
                  count(*) FILTER (WHERE e.kind = 'gift') AS gifts,
                  coalesce(sum(e.diamond_count * coalesce(e.repeat_count, 1)) FILTER (WHERE e.kind = 'gift'), 0)
                      AS diamonds
             FROM events e JOIN live_sessions s ON s.id = e.session_id
            WHERE s.case_id = %s AND e.user_id = %s GROUP BY s.id ORDER BY min(e.captured_at)""",
        (case_id, subject["tiktok_user_id"]),
    )
    lives = await cur.fetchall()
    if not lives:
        raise SubjectNotFound(subject_id, case_id)
    await cur.execute(
        """SELECT kind, value, first_seen_at, last_seen_at FROM subject_aliases
            WHERE subject_id = %s ORDER BY kind, first_seen_at""",
        (subject_id,),
    )
    aliases = await cur.fetchall()
    await cur.execute(
        """SELECT coalesce(e.gift_name, e.gift_id::text) AS gift, count(*) AS times,
                  sum(coalesce(e.repeat_count, 1)) AS count,
                  coalesce(sum(e.diamond_count * coalesce(e.repeat_count, 1)), 0) AS diamonds
             FROM events e JOIN live_sessions s ON s.id = e.session_id
            WHERE s.case_id = %s AND e.user_id = %s AND e.kind = 'gift' GROUP BY 1 ORDER BY diamonds DESC, 1""",
        (case_id, subject["tiktok_user_id"]),
    )
    gifts = await cur.fetchall()
    await cur.execute(
        """SELECT date_trunc('minute', e.captured_at) AS minute, count(*) AS n
             FROM events e JOIN live_sessions s ON s.id = e.session_id
            WHERE s.case_id = %s AND e.user_id = %s GROUP BY 1 ORDER BY 1""",
        (case_id, subject["tiktok_user_id"]),
    )
    per_minute = [row["n"] for row in await cur.fetchall()]
    await cur.execute(
        "SELECT * FROM profiles WHERE case_id = %s AND subject_id = %s ORDER BY id", (case_id, subject_id)
    )
    profiles = await cur.fetchall()
    return {
        "case": case,
        "subject": subject,
        "aliases": aliases,
        "lives": lives,
        "gifts": gifts,
        "profiles": profiles,
        "totals": {
            "events": sum(row["events"] for row in lives),
            "messages": sum(row["messages"] for row in lives),
            "gifts": sum(row["gifts"] for row in lives),
            "diamonds": sum(row["diamonds"] for row in lives),
        },
        "charts": {"per_minute": charts.as_image_source(charts.line_chart(per_minute))},
    }


async def build_subject_report(
    conn: AsyncConnection, *, user: User, report_in: ReportJobCreate, progress: Progress = no_progress
) -> BuiltReport:
    assert report_in.subject_id is not None
    progress(2, "reading the subject")
    facts = await gather_subject(conn, user=user, case_id=report_in.case_id, subject_id=report_in.subject_id)
    handle = facts["subject"]["unique_id"] or facts["subject"]["tiktok_user_id"]
    title = report_in.title or f"Subject report: @{handle} in {facts['case']['reference']}"
    counter = TranscriptCounter(total=facts["totals"]["events"], progress=progress)
    progress(counter.start, "transcript")
    branding = load_branding(get_settings().report_branding_dir, report_in.language)
    t = branding.wording
    book = TranscriptBook(header=t["header"], footer=f"{t['subject_footer']} — {facts['case']['reference']}")
    events = subject_transcript(conn, case_id=report_in.case_id, tiktok_user_id=facts["subject"]["tiktok_user_id"],
                                on_row=counter)  # fmt: skip
    columns = subject_layout(t)
    async with conn.transaction():
        book.section(f"{t['transcript']}: @{handle}", title, columns.columns)
        async for event in events:
            book.line(columns.line(event), columns.indent)
    html = await render_html(template_name=SUBJECT_TEMPLATE, branding=branding, facts=facts,
                             language=report_in.language, title=title, **produced_by(user.username))  # fmt: skip
    pdf, digest = await to_pdf(html, book, progress)
    return BuiltReport(title=title, template=SUBJECT_TEMPLATE, pdf=pdf, sha256=digest, tampered_sessions=[],
                       subject_id=report_in.subject_id)  # fmt: skip


async def build_report(
    conn: AsyncConnection, *, user: User, report_in: ReportJobCreate, progress: Progress = no_progress
) -> BuiltReport:
    if report_in.kind == "subject":
        return await build_subject_report(conn, user=user, report_in=report_in, progress=progress)
    return await build_case_report(conn, user=user, report_in=report_in, progress=progress)


async def store_report(
    conn: AsyncConnection, *, built: BuiltReport, case_id: int, context: AuditContext, job_id: int | None = None
) -> ReportRead:
    """Keep the PDF with its SHA-256 and audit it; call inside the transaction that finishes its job."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """INSERT INTO reports (case_id, subject_id, title, template, sha256, pdf, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           RETURNING id, case_id, title, template, sha256, created_by, created_at""",
        (case_id, built.subject_id, built.title, built.template, built.sha256, built.pdf, context.actor.username),
    )
    row = await cur.fetchone()
    assert row is not None
    details: dict[str, Any] = {"case_id": case_id, "sha256": built.sha256, "tampered_sessions": built.tampered_sessions}
    if built.subject_id is not None:
        details["subject_id"] = built.subject_id
    if job_id is not None:
        details["job_id"] = job_id
    await audit.record(conn, context, action="report.create", target=f"report:{row['id']}", details=details)
    REPORTS_CREATED.inc()
    return ReportRead(**row)


async def create(conn: AsyncConnection, *, report_in: ReportCreate, context: AuditContext) -> ReportRead:
    """A case report produced within the request (the job queue does the same in the background)."""
    built = await build_case_report(conn, user=context.actor, report_in=report_in)
    async with conn.transaction():
        return await store_report(conn, built=built, case_id=report_in.case_id, context=context)


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


async def download(
    conn: AsyncConnection, *, context: AuditContext, report_id: int, job_id: int | None = None
) -> bytes | None:
    """The PDF for the caller, with the download written to the audit log; None when they may not see it."""
    found = await get_pdf(conn, user=context.actor, report_id=report_id)
    if found is None:
        return None
    pdf = found[1]
    details: dict[str, Any] = {"sha256": hashlib.sha256(pdf).hexdigest(), "bytes": len(pdf)}
    if job_id is not None:
        details["job_id"] = job_id
    async with conn.transaction():
        await audit.record(conn, context, action="report.download", target=f"report:{report_id}", details=details)
    return pdf

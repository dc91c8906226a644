"""Report generation as jobs: queued in PostgreSQL, taken by any replica's worker, never left running.

A job is claimed with FOR UPDATE SKIP LOCKED, so two workers never take the same one. While it
runs, its worker writes a heartbeat with the progress every SCIS_REPORT_JOB_HEARTBEAT_SECONDS; a job
whose heartbeat is older than SCIS_REPORT_JOB_STALE_SECONDS lost its worker (killed, crashed, node
gone) and is taken again, until SCIS_REPORT_JOB_MAX_ATTEMPTS tries, after which it is failed with
that reason. Cancelling marks the row; the worker sees it at its next heartbeat and stops.
Each heartbeat and each end is also published on the case's bus channel (bus.CASE_REPORT_JOBS), which
the analyser pushes over Socket.IO to the case's members (decision 713).
See docs/decisions/710-report-jobs.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import Counter
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from scis.core import bus, cases
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.evidence.media import MediaStore
from scis.reports import exports, service
from scis.reports.exports import BuiltExport
from scis.reports.models import ReportJobCreate, ReportJobRead

log = logging.getLogger(__name__)

JOBS_FINISHED = Counter("scis_report_jobs_total", "Report jobs finished, by outcome.", ["outcome"])
for _outcome in ("done", "failed", "cancelled", "retried"):
    JOBS_FINISHED.labels(_outcome)

JOB_COLUMNS = """j.id, j.kind, j.case_id, j.subject_id, j.title, j.language, j.status, j.progress, j.stage,
    j.reason, j.attempts, j.report_id, r.sha256, j.export_id, x.manifest_sha256, j.requested_by, j.requested_at,
    j.started_at, j.finished_at"""
JOB_FROM = "report_jobs j LEFT JOIN reports r ON r.id = j.report_id LEFT JOIN case_exports x ON x.id = j.export_id"


class JobNotFound(LookupError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"no report job with id {job_id}")


class JobFinished(Exception):
    """The job already ended; it can no longer be cancelled."""


async def announce(conn: AsyncConnection, redis: aioredis.Redis | None, job_id: int) -> None:
    """Publish the job as it now is on its case's channel; a Redis outage only loses the push, not the job."""
    if redis is None:
        return
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {JOB_COLUMNS} FROM {JOB_FROM} WHERE j.id = %s",
        (job_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return
    job = ReportJobRead(**row)
    try:
        await bus.publish(redis, bus.CASE_REPORT_JOBS.name(str(job.case_id)), job.model_dump(mode="json"))
    except (aioredis.RedisError, OSError) as error:
        log.warning("report job %s: progress not pushed (%s); the API still has it", job_id, error)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def enqueue(conn: AsyncConnection, *, job_in: ReportJobCreate, context: AuditContext) -> ReportJobRead:
    """Queue a report; CaseNotFound unless the caller may see the case."""
    await cases.require_member(conn, user=context.actor, case_id=job_in.case_id)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            """INSERT INTO report_jobs (kind, case_id, subject_id, title, language, requested_by)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
            (job_in.kind, job_in.case_id, job_in.subject_id, job_in.title, job_in.language, context.actor.username),
        )
        row = await cur.fetchone()
        assert row is not None
        await audit.record(
            conn, context, action="report.request", target=f"report_job:{row['id']}",
            details={"case_id": job_in.case_id, "kind": job_in.kind, "subject_id": job_in.subject_id},
        )  # fmt: skip
    found = await get(conn, user=context.actor, job_id=row["id"])
    assert found is not None
    return found


async def enqueue_export(conn: AsyncConnection, *, case_id: int, context: AuditContext) -> ReportJobRead:
    """Queue the case's evidence export; CaseNotFound unless the caller may see the case."""
    await cases.require_member(conn, user=context.actor, case_id=case_id)
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            """INSERT INTO report_jobs (kind, case_id, language, requested_by)
               VALUES ('export', %s, 'en', %s) RETURNING id""",
            (case_id, context.actor.username),
        )
        row = await cur.fetchone()
        assert row is not None
        await audit.record(conn, context, action="export.request", target=f"report_job:{row['id']}",
                           details={"case_id": case_id})  # fmt: skip
    found = await get(conn, user=context.actor, job_id=row["id"])
    assert found is not None
    return found


async def get(conn: AsyncConnection, *, user: User, job_id: int) -> ReportJobRead | None:
    """The job when it exists and the caller may see its case."""
    visible, scope = cases.visible_filter(user, case_column="j.case_id")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"""SELECT {JOB_COLUMNS} FROM {JOB_FROM}
            WHERE j.id = %(id)s AND {visible}""",
        {"id": job_id, **scope},
    )
    row = await cur.fetchone()
    return ReportJobRead(**row) if row else None


async def list_jobs(conn: AsyncConnection, *, user: User, case_id: int | None, limit: int) -> list[ReportJobRead]:
    visible, scope = cases.visible_filter(user, case_column="j.case_id")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"""SELECT {JOB_COLUMNS} FROM {JOB_FROM}
            WHERE (%(case)s::bigint IS NULL OR j.case_id = %(case)s) AND {visible}
            ORDER BY j.id DESC LIMIT %(limit)s""",
        {"case": case_id, "limit": limit, **scope},
    )
    return [ReportJobRead(**row) for row in await cur.fetchall()]


async def cancel(conn: AsyncConnection, *, job_id: int, context: AuditContext) -> ReportJobRead:
    """Mark a queued or running job cancelled (its worker stops at the next heartbeat)."""
    job = await get(conn, user=context.actor, job_id=job_id)
    if job is None:
        raise JobNotFound(job_id)
    async with conn.transaction():
        cur = await conn.execute(
            """UPDATE report_jobs SET status = 'cancelled', reason = %s, stage = 'cancelled', finished_at = now()
               WHERE id = %s AND status IN ('queued', 'running') RETURNING id""",
            (f"cancelled by {context.actor.username}", job_id),
        )
        if await cur.fetchone() is None:
            raise JobFinished(f"report job {job_id} already ended ({job.status}); nothing to cancel")
        await audit.record(conn, context, action="report.cancel", target=f"report_job:{job_id}")
    JOBS_FINISHED.labels("cancelled").inc()
    found = await get(conn, user=context.actor, job_id=job_id)
    assert found is not None
    return found


async def fail_exhausted(conn: AsyncConnection, *, stale_seconds: float, max_attempts: int) -> int:
    """Fail the jobs whose worker died on their last allowed try; returns how many."""
    cur = await conn.execute(
        """UPDATE report_jobs SET status = 'failed', stage = 'failed', finished_at = now(),
                  reason = format('its worker stopped answering %%s times (last: %%s); not retried again',
                                  attempts, worker)
           WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => %s) AND attempts >= %s""",
        (stale_seconds, max_attempts),
    )
    if cur.rowcount:
        JOBS_FINISHED.labels("failed").inc(cur.rowcount)
    return cur.rowcount


async def claim(conn: AsyncConnection, *, worker: str, stale_seconds: float) -> dict[str, Any] | None:
    """Take the oldest queued job, or a running one whose worker stopped beating; None when there is none."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """WITH next AS (
               SELECT id, status FROM report_jobs
                WHERE status = 'queued'
                   OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => %(stale)s))
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
           UPDATE report_jobs j SET status = 'running', attempts = j.attempts + 1, worker = %(worker)s,
                  heartbeat_at = now(), started_at = now(), progress = 0, stage = 'starting'
             FROM next WHERE j.id = next.id
           RETURNING j.*, next.status AS was""",
        {"stale": stale_seconds, "worker": worker},
    )
    row = await cur.fetchone()
    if row is not None and row["was"] == "running":
        JOBS_FINISHED.labels("retried").inc()
        log.warning("report job %s lost its worker; taken again (attempt %s)", row["id"], row["attempts"])
    return row


@dataclass
class JobProgress:
    """What the running job last reported; the heartbeat writes it."""

    percent: int = 0
    stage: str = "starting"

    def __call__(self, percent: int, stage: str) -> None:
        self.percent, self.stage = max(self.percent, min(100, percent)), stage


async def beat(conn: AsyncConnection, *, job_id: int, worker: str, progress: JobProgress) -> bool:
    """Heartbeat and progress; False when the job is no longer this worker's to run (cancelled, taken)."""
    cur = await conn.execute(
        """UPDATE report_jobs SET heartbeat_at = now(), progress = %s, stage = %s
           WHERE id = %s AND worker = %s AND status = 'running' RETURNING id""",
        (progress.percent, progress.stage[:200], job_id, worker),
    )
    return await cur.fetchone() is not None


async def requester(conn: AsyncConnection, username: str) -> User | None:
    """The account that asked, as it is now (a disabled account's jobs do not run)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT role FROM users WHERE username = %s AND NOT disabled", (username,))
    row = await cur.fetchone()
    return User(username=username, role=Role(row["role"])) if row else None


Built = service.BuiltReport | BuiltExport


async def finish(
    conn: AsyncConnection, *, job: dict[str, Any], worker: str, built: Built, context: AuditContext
) -> bool:
    """Store the report or archive and mark the job done in one transaction; False if the job stopped being ours."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT 1 FROM report_jobs WHERE id = %s AND worker = %s AND status = 'running' FOR UPDATE",
            (job["id"], worker),
        )
        if await cur.fetchone() is None:
            return False
        if isinstance(built, BuiltExport):
            export_id = await exports.store_export(conn, built=built, case_id=job["case_id"], context=context)
            await conn.execute(
                """UPDATE report_jobs SET status = 'done', progress = 100, stage = 'done', export_id = %s,
                          finished_at = now(), heartbeat_at = now() WHERE id = %s""",
                (export_id, job["id"]),
            )
            JOBS_FINISHED.labels("done").inc()
            return True
        report = await service.store_report(conn, built=built, case_id=job["case_id"], context=context,
                                            job_id=job["id"])  # fmt: skip
        await conn.execute(
            """UPDATE report_jobs SET status = 'done', progress = 100, stage = 'done', report_id = %s,
                      finished_at = now(), heartbeat_at = now() WHERE id = %s""",
            (report.id, job["id"]),
        )
    JOBS_FINISHED.labels("done").inc()
    return True


async def fail(conn: AsyncConnection, *, job_id: int, worker: str, reason: str) -> None:
    cur = await conn.execute(
        """UPDATE report_jobs SET status = 'failed', stage = 'failed', reason = %s, finished_at = now()
           WHERE id = %s AND worker = %s AND status = 'running'""",
        (reason[:2000], job_id, worker),
    )
    if cur.rowcount:
        JOBS_FINISHED.labels("failed").inc()


async def requeue(conn: AsyncConnection, *, worker: str) -> int:
    """Give a stopping worker's running jobs back to the queue (this try does not count)."""
    cur = await conn.execute(
        """UPDATE report_jobs SET status = 'queued', stage = 'queued again: its worker stopped', progress = 0,
                  attempts = greatest(attempts - 1, 0), worker = NULL, heartbeat_at = NULL
           WHERE worker = %s AND status = 'running'""",
        (worker,),
    )
    return cur.rowcount


def failure_reason(error: Exception) -> str:
    """What the requester reads when the job failed."""
    if isinstance(error, service.CaseNotFound | service.SubjectNotFound):
        return f"{error}, or no longer yours"
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class WorkerConfig:
    heartbeat_seconds: float
    stale_seconds: float
    max_attempts: int
    poll_seconds: float = 1.0
    media: MediaStore | None = None  # where exports read the cases' video from


def build(
    conn: AsyncConnection, job: dict[str, Any], *, user: User, progress: JobProgress, config: WorkerConfig
) -> Coroutine[Any, Any, Built]:
    """What the job produces: the case's evidence archive, or a case or subject report."""
    if job["kind"] == "export":
        return exports.build_export(conn, user=user, case_id=job["case_id"], media=config.media, progress=progress)
    report_in = ReportJobCreate(
        kind=job["kind"], case_id=job["case_id"], subject_id=job["subject_id"], title=job["title"],
        language=job["language"],
    )  # fmt: skip
    return service.build_report(conn, user=user, report_in=report_in, progress=progress)


async def run_job(
    pool: AsyncConnectionPool,
    job: dict[str, Any],
    *,
    worker: str,
    config: WorkerConfig,
    redis: aioredis.Redis | None = None,
) -> str:
    """Produce one claimed job's report while beating (and pushing its progress); returns how it ended."""
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        outcome = await produce(pool, conn, job, worker=worker, config=config, redis=redis)
        await announce(conn, redis, job["id"])
        return outcome


async def produce(
    pool: AsyncConnectionPool,
    conn: AsyncConnection,
    job: dict[str, Any],
    *,
    worker: str,
    config: WorkerConfig,
    redis: aioredis.Redis | None,
) -> str:
    """Build the report on `conn` while another connection beats; store it unless the job stopped being ours."""
    progress = JobProgress()
    await announce(conn, redis, job["id"])
    user = await requester(conn, job["requested_by"])
    if user is None:
        await fail(conn, job_id=job["id"], worker=worker,
                   reason=f"the account {job['requested_by']} is disabled or gone")  # fmt: skip
        return "failed"
    context = AuditContext(actor=user, source_ip=None, request_id=f"report-job-{job['id']}", service="reports")
    work = asyncio.create_task(build(conn, job, user=user, progress=progress, config=config))
    ours = True
    try:
        async with pool.connection() as beat_conn:
            await beat_conn.set_autocommit(True)
            while not work.done():
                await asyncio.wait({work}, timeout=config.heartbeat_seconds)
                if not work.done():
                    ours = await beat(beat_conn, job_id=job["id"], worker=worker, progress=progress)
                    if ours:
                        await announce(beat_conn, redis, job["id"])
                    else:
                        work.cancel()
                        break
    except BaseException:
        work.cancel()  # shutting down, or the database went away: the job is taken again later
        # Let the report stop before its connection goes back to the pool (and retrieve its error).
        with contextlib.suppress(BaseException):
            await asyncio.gather(work, return_exceptions=True)
        raise
    try:
        built = await work
    except asyncio.CancelledError:
        if ours:
            raise
        log.info("report job %s stopped: cancelled or taken over", job["id"])
        return "cancelled"
    except Exception as error:  # noqa: BLE001 - any failure is the job's, told to the requester
        log.exception("report job %s failed", job["id"])
        await fail(conn, job_id=job["id"], worker=worker, reason=failure_reason(error))
        return "failed"
    try:
        if not await finish(conn, job=job, worker=worker, built=built, context=context):
            return "cancelled"
    finally:
        if isinstance(built, BuiltExport):
            built.discard()
    return "done"


class Worker:
    """Runs report jobs in this process until stopped; any number of replicas may run one each."""

    def __init__(
        self, pool: AsyncConnectionPool, config: WorkerConfig, *, slots: int = 1, redis: aioredis.Redis | None = None
    ) -> None:
        self.pool, self.config, self.slots, self.redis = pool, config, slots, redis
        self.name = worker_name()
        self.wake = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self.loop(), name=f"report-worker-{i}") for i in range(self.slots)]

    async def stop(self) -> None:
        """Stop taking jobs; the ones this worker was running go back to the queue for another replica."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        try:
            async with self.pool.connection() as conn:
                await conn.set_autocommit(True)
                await requeue(conn, worker=self.name)
        except Exception:  # noqa: BLE001 - unreachable database: the heartbeat rule requeues them later
            log.warning("report worker %s could not give its jobs back; they are retried once stale", self.name)

    async def next_job(self) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)
            await fail_exhausted(conn, stale_seconds=self.config.stale_seconds, max_attempts=self.config.max_attempts)
            return await claim(conn, worker=self.name, stale_seconds=self.config.stale_seconds)

    async def run(self, job: dict[str, Any]) -> None:
        try:
            await run_job(self.pool, job, worker=self.name, config=self.config, redis=self.redis)
        except Exception as error:  # a fault of SCIS's, not the report's: say so, do not retry it blindly
            log.exception("report job %s: the worker failed", job["id"])
            async with self.pool.connection() as conn:
                await conn.set_autocommit(True)
                await fail(conn, job_id=job["id"], worker=self.name, reason=f"the worker failed: {error!r}")

    async def loop(self) -> None:
        while True:
            try:
                job = await self.next_job()
                if job is not None:
                    await self.run(job)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be away; the job stays claimable
                log.exception("report worker: could not take or run a job; retrying")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.config.poll_seconds)

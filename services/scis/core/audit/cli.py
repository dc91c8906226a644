"""`scis verify --audit`: recompute the audit log's hash chain; exit 0 intact, 1 tampered, 2 error."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict

import psycopg

from scis.core.audit.chain import AuditChainVerdict, verify_audit_chain
from scis.core.db import first_line, redact

EXIT_INTACT = 0
EXIT_TAMPERED = 1
EXIT_ERROR = 2


async def _verify(url: str) -> AuditChainVerdict:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await verify_audit_chain(conn)


def run_audit_verify(url: str, *, as_json: bool = False) -> int:
    try:
        verdict = asyncio.run(_verify(url))
    except psycopg.OperationalError as error:
        print(f"cannot reach PostgreSQL at {redact(url)}: {first_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except psycopg.errors.UndefinedTable:
        print("the audit chain does not exist yet: run `scis db migrate` first", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps({**asdict(verdict), "summary": verdict.describe()}) if as_json else verdict.describe())
    return EXIT_INTACT if verdict.intact else EXIT_TAMPERED

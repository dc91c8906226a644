"""Tamper-evident evidence: canonical records, a SHA-256 hash chain per live session, verification."""

from scis.evidence.chain import ChainTail, append_records, gap_record, seal_session, start_session
from scis.evidence.records import ChainedRecord, EventRecord
from scis.evidence.verify import ChainFailure, ChainVerdict, verify_session

__all__ = [
    "ChainFailure",
    "ChainTail",
    "ChainVerdict",
    "ChainedRecord",
    "EventRecord",
    "append_records",
    "gap_record",
    "seal_session",
    "start_session",
    "verify_session",
]

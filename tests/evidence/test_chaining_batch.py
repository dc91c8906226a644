"""ChainingBatch: rows chained as they are read, each record once, the same rows as chain_records."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

import scis.evidence.chain as chain
from scis.evidence.chain import ChainingBatch, ChainTail, chain_records
from tests.evidence.support import sample_events


def test_rows_read_twice_are_chained_once_and_equal_chain_records(monkeypatch: pytest.MonkeyPatch) -> None:
    session_id, tail = uuid.uuid4(), ChainTail(5, "ab" * 32)
    records = sample_events(6)
    expected, expected_tail = chain_records(session_id, tail, copy.deepcopy(records))
    chained: list[int] = []
    real = chain.storable_canonical_texts

    def counting(session: str, seq: int, *args: Any) -> Any:
        chained.append(seq)
        return real(session, seq, *args)

    monkeypatch.setattr(chain, "storable_canonical_texts", counting)
    batch = ChainingBatch(session_id, tail, records)
    first_read = []
    for row in batch.rows_iter():  # a COPY that fails after three rows
        first_read.append(row)
        if len(first_read) == 3:
            break
    assert chained == [5, 6, 7]
    second_read = list(batch.rows_iter())  # its retry reads them all
    assert second_read[:3] == first_read and all(a is b for a, b in zip(first_read, second_read, strict=False))
    rows, tail_after = batch.complete()
    assert chained == [5, 6, 7, 8, 9, 10]
    assert [r.chain_hash for r in rows] == [r.chain_hash for r in expected] and tail_after == expected_tail


def test_an_empty_batch_keeps_the_tail() -> None:
    tail = ChainTail(3, "cd" * 32)
    assert ChainingBatch(uuid.uuid4(), tail, []).complete() == ([], tail)

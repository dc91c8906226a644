"""Offline check of a SCIS evidence archive: no database, no network, only the Python standard library.

This file stands alone on purpose: a recipient may copy it out of the package and run
`python3 archive.py ARCHIVE [--manifest-sha256 HASH]` on any machine with Python 3.11+, or run
`scis verify ARCHIVE` with the scis package. Exit status 0: everything matches; 1: something does not
(each item is named); 2: the archive cannot be read.

Archive layout (an uncompressed tar, one top folder):
  manifest.json         {"format", "case", "created_at", "files": {path: {"sha256", "size"}}}
  manifest.sha256       SHA-256 of manifest.json (also printed by `scis export`: write it into a report or seal)
  README.txt            for the recipient
  sessions/<id>/session.json   the session: target, times, status, chain head, record count, gaps
  sessions/<id>/records.jsonl  one line per record: exactly the canonical bytes hashed into the chain
  sessions/<id>/chain.tsv      per record: seq, chain hash, offset and length of its raw frame in raw.bin
  sessions/<id>/raw.bin        the raw frames as received from TikTok, one after another
  sessions/<id>/video/<run>/<n>.flv|.mp4  the live's video as received per `video_segment` record, and a
                               playable copy; each hashes to the SHA-256 its record (in the chain) carries
  reports/<id>.pdf             the case's reports
  snapshots/<id>.json|.jpg     marked moments: the bookmark (its "sha256" is the SHA-256 of the object
                               without "sha256", canonical JSON: sorted keys, no spaces, ASCII) and its
                               still frame, which hashes to the bookmark's "frame_sha256"
Chain rule: chain_hash(seq) = sha256(bytes.fromhex(chain_hash(seq - 1)) + record_line), 32 zero bytes
before seq 0; each record's "raw_sha256" is the SHA-256 of its raw frame (null when it has none).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

FORMAT = "scis-evidence-archive-v1"
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
README = "README.txt"  # for people; it quotes the manifest hash, so it cannot be listed in the manifest
GENESIS = "0" * 64
CHUNK = 1 << 20


@dataclass(frozen=True)
class Problem:
    item: str  # the archive path (and record) that does not match
    detail: str

    def __str__(self) -> str:
        return f"MISMATCH {self.item}: {self.detail}"


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class Archive:
    """The members of an archive by their path below the top folder."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members: dict[str, tarfile.TarInfo] = {}
        for member in tar.getmembers():
            if member.isfile():
                parts = PurePosixPath(member.name).parts
                self.members["/".join(parts[1:])] = member

    def open(self, path: str) -> IO[bytes]:
        stream = self.tar.extractfile(self.members[path])
        assert stream is not None
        return stream

    def read(self, path: str) -> bytes:
        with self.open(path) as stream:
            return stream.read()


def check_manifest(archive: Archive, expected: str | None) -> tuple[dict[str, dict[str, object]], list[Problem]]:
    problems: list[Problem] = []
    if MANIFEST not in archive.members:
        return {}, [Problem(MANIFEST, "missing: this is not a SCIS evidence archive")]
    raw = archive.read(MANIFEST)
    actual = hashlib.sha256(raw).hexdigest()
    stored = archive.read(MANIFEST_HASH).decode("ascii", "replace").strip() if MANIFEST_HASH in archive.members else ""
    if actual != stored:
        problems.append(Problem(MANIFEST, f"hashes to {actual}, {MANIFEST_HASH} says {stored or 'nothing'}"))
    if expected is not None and actual != expected.lower():
        problems.append(Problem(MANIFEST, f"hashes to {actual}, the hash you were given is {expected}"))
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not isinstance(files, dict):
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT!r}")
    except (ValueError, KeyError, TypeError) as error:
        return {}, [*problems, Problem(MANIFEST, f"unreadable: {error}")]
    return files, problems


def check_files(archive: Archive, files: dict[str, dict[str, object]]) -> list[Problem]:
    """Every listed file present with its SHA-256 and size; nothing unlisted."""
    problems = []
    for path, expected in sorted(files.items()):
        if path not in archive.members:
            problems.append(Problem(path, "listed in the manifest but missing from the archive"))
            continue
        with archive.open(path) as stream:
            digest, size = sha256_of(stream)
        if digest != expected.get("sha256") or size != expected.get("size"):
            problems.append(Problem(path, f"SHA-256 {digest} ({size} bytes), manifest says {expected.get('sha256')} "
                                          f"({expected.get('size')} bytes)"))  # fmt: skip
    for path in sorted(set(archive.members) - set(files) - {MANIFEST, MANIFEST_HASH, README}):
        problems.append(Problem(path, "in the archive but not in the manifest"))
    return problems


def chain_rows(archive: Archive, folder: str) -> Iterator[tuple[bytes, list[str]]]:
    with archive.open(f"{folder}/records.jsonl") as records, archive.open(f"{folder}/chain.tsv") as chain:
        for line, row in zip(records, chain, strict=False):
            yield line.rstrip(b"\n"), row.decode("ascii", "replace").rstrip("\n").split("\t")


def check_video(archive: Archive, folder: str, record: dict[str, Any]) -> Problem | None:
    """A video segment's files in the archive hash to what its chain record says."""
    for copy in ("raw", "playable"):
        entry = (record.get("data") or {}).get(copy)
        if not entry:
            continue
        path = f"{folder}/video/{str(entry.get('key', '')).split('/', 1)[-1]}"
        if path not in archive.members:
            return Problem(path, f"video segment of seq {record.get('seq')} is not in the archive")
        with archive.open(path) as stream:
            digest, size = sha256_of(stream)
        if digest != entry.get("sha256"):
            return Problem(path, f"hashes to {digest} ({size} bytes), its record (seq {record.get('seq')}) says "
                                 f"{entry.get('sha256')}")  # fmt: skip
    return None


def check_session(archive: Archive, folder: str) -> list[Problem]:
    """Recompute a session's chain from its record lines and raw frames; name the first record that differs."""
    try:
        session = json.loads(archive.read(f"{folder}/session.json"))
        raw = archive.open(f"{folder}/raw.bin")
    except (KeyError, ValueError) as error:
        return [Problem(folder, f"session files unreadable: {error}")]
    prev, count = GENESIS, 0
    with raw:
        for line, row in chain_rows(archive, folder):
            item = f"{folder}/records.jsonl seq {count}"
            try:
                seq, stored_hash, offset, length = int(row[0]), row[1], int(row[2]), int(row[3])
                record = json.loads(line)
            except (ValueError, IndexError) as error:
                return [Problem(item, f"unreadable: {error}")]
            if seq != count or record.get("seq") != seq:
                return [Problem(item, f"out of order: chain says seq {seq}, record says {record.get('seq')}")]
            frame_hash = None
            if length >= 0:
                raw.seek(offset)
                frame_hash = hashlib.sha256(raw.read(length)).hexdigest()
            if frame_hash != record.get("raw_sha256"):
                return [Problem(f"{folder}/raw.bin seq {seq}", f"raw frame hashes to {frame_hash}, "
                                                              f"record says {record.get('raw_sha256')}")]  # fmt: skip
            if record.get("kind") == "video_segment" and (problem := check_video(archive, folder, record)):
                return [problem]
            prev = hashlib.sha256(bytes.fromhex(prev) + line).hexdigest()
            if prev != stored_hash:
                return [Problem(item, f"chain hash {prev}, stored {stored_hash} (kind {record.get('kind')}, "
                                      f"msg_id {record.get('msg_id')})")]  # fmt: skip
            count += 1
    if count != session.get("events_count"):
        return [Problem(f"{folder}/records.jsonl", f"{count} records, the session says {session.get('events_count')}")]
    if session.get("chain_head") not in (None, prev):
        return [Problem(f"{folder}/session.json", f"chain head {session.get('chain_head')}, records chain to {prev}")]
    return []


def check_snapshot(archive: Archive, path: str) -> Problem | None:
    """A bookmark hashes to its sha256 and its frame (if any) to its frame_sha256."""
    try:
        bookmark = json.loads(archive.read(path))
        content = {key: value for key, value in bookmark.items() if key != "sha256"}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        if hashlib.sha256(canonical).hexdigest() != bookmark["sha256"]:
            return Problem(path, "the bookmark does not hash to its sha256")
        frame = path[: -len(".json")] + ".jpg"
        if bookmark["frame_sha256"] is None:
            return Problem(frame, "a frame the bookmark does not name") if frame in archive.members else None
        if frame not in archive.members:
            return Problem(frame, "missing: the bookmark names a frame")
        if hashlib.sha256(archive.read(frame)).hexdigest() != bookmark["frame_sha256"]:
            return Problem(frame, "does not hash to the bookmark's frame_sha256")
    except (KeyError, ValueError, TypeError) as error:
        return Problem(path, f"unreadable bookmark: {error}")
    return None


def verify_archive(path: str, expected_manifest: str | None = None) -> tuple[list[Problem], list[str]]:
    """Problems found (empty: all matches) and one line per session checked."""
    with tarfile.open(path, "r:") as tar:
        archive = Archive(tar)
        files, problems = check_manifest(archive, expected_manifest)
        problems += check_files(archive, files)
        sessions = sorted({"/".join(p.split("/")[:2]) for p in archive.members if p.startswith("sessions/")})
        lines = []
        for folder in sessions:
            found = check_session(archive, folder)
            problems += found
            lines.append(f"{folder}: {'intact' if not found else 'DOES NOT MATCH'}")
        for bookmark in sorted(p for p in archive.members if p.startswith("snapshots/") and p.endswith(".json")):
            problem = check_snapshot(archive, bookmark)
            problems += [problem] if problem else []
            lines.append(f"{bookmark}: {'intact' if not problem else 'DOES NOT MATCH'}")
    return problems, lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("archive", help="evidence archive written by `scis export` (.tar)")
    parser.add_argument("--manifest-sha256", help="the manifest hash you were given (printed at export)")


def run(args: argparse.Namespace) -> int:
    try:
        problems, lines = verify_archive(args.archive, args.manifest_sha256)
    except (OSError, tarfile.TarError) as error:
        print(f"cannot read archive {args.archive}: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    for problem in problems:
        print(problem)
    print("archive intact" if not problems else f"archive DOES NOT MATCH: {len(problems)} item(s)")
    return 0 if not problems else 1


def main() -> None:
    parser = argparse.ArgumentParser(description="Check a SCIS evidence archive offline.")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()

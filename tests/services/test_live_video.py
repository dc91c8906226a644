"""WebRTC from the lives service: aiortc clients on loopback receive the live's frames (the simulator's
frame counter advances), five viewers share one source pull and no decode, a viewer leaving stops
neither the others nor the recording, and only the case's members may watch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from scis.simulator import SimulatorServer
from scis.simulator.video import read_code
from tests.capture.support import capture_settings, new_capture, opened_pool, wait_for
from tests.services.conftest import auth
from tests.support.cases import make_case


class Viewer:
    """An analyst's browser, played by aiortc: offer, answer, then the received video track."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        self.viewer_id = ""

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.track.set_result(track)

    async def offer(self, client: httpx.AsyncClient, token: str, session_id: Any) -> httpx.Response:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return await client.post(
            f"/api/lives/lives/{session_id}/video/offer",
            json={"sdp": self.pc.localDescription.sdp, "type": "offer"},
            headers=auth(token),
        )

    async def join(self, client: httpx.AsyncClient, token: str, session_id: Any) -> None:
        response = await self.offer(client, token, session_id)
        assert response.status_code == 200, response.text
        answer = response.json()
        self.viewer_id = answer["viewer_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))

    async def counters(self, frames: int) -> list[int]:
        """The frame counters drawn into the next decoded frames this viewer receives."""
        track = await asyncio.wait_for(self.track, 30)
        return [read_code(await asyncio.wait_for(track.recv(), 30))[0] for _ in range(frames)]


def advancing(counters: list[int]) -> bool:
    """The picture moves on: many different frames, later ones later. (H.264 is passed through, so a
    packet lost on a busy machine garbles frames until the next keyframe: order is not asserted.)"""
    return len(set(counters)) >= 5 and counters[-1] > counters[0]


async def test_five_viewers_watch_one_relay_and_leaving_stops_nothing_else(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    lives = clients["lives"]

    def leave(viewer: Viewer) -> Any:
        url = f"/api/lives/lives/{capture.session_id}/video/viewers/{viewer.viewer_id}"
        return lives.delete(url, headers=auth(tokens["viewer"]))

    case_id = make_case(postgres_url, created_by="t-admin", members=["t-viewer"])
    async with SimulatorServer() as sim, opened_pool(postgres_url) as pool:
        room = sim.add_room("webrtc_live", rate=10, seed=8)
        settings = capture_settings(tmp_path, video_segment_seconds=1.0)
        capture = new_capture(sim, "webrtc_live", settings, pool, video=True, case_id=case_id)
        running = asyncio.create_task(capture.run())
        await wait_for(lambda: capture.stats.video_segments >= 1, seconds=60)
        assert room.video_connections == 1  # the capture's own pull

        outsider = Viewer()
        hidden = await outsider.offer(lives, tokens["investigator"], capture.session_id)
        assert hidden.status_code == 404, "a non-member must not learn the live exists"
        await outsider.pc.close()

        viewers = [Viewer() for _ in range(5)]
        for viewer in viewers:
            await viewer.join(lives, tokens["viewer"], capture.session_id)
        seen = await asyncio.gather(*(viewer.counters(15) for viewer in viewers))
        assert all(advancing(counters) for counters in seen), seen
        relay = (await lives.get(f"/api/lives/lives/{capture.session_id}/video", headers=auth(tokens["viewer"]))).json()
        assert relay["viewers"] == 5 and relay["recorded"] and relay["packets_relayed"] > 0
        assert relay["decodes"] == 0, "the relay passes H.264 through"
        assert room.video_connections == 2, "five viewers must share one source pull (plus the capture's)"
        active = (await lives.get("/api/lives/lives/active", headers=auth(tokens["viewer"]))).json()
        listed = next(item for item in active if item["session"]["id"] == str(capture.session_id))
        assert listed["webrtc_viewers"] == 5 and listed["recorded_video"] and listed["duration_seconds"] > 0
        outsiders = (await lives.get("/api/lives/lives/active", headers=auth(tokens["investigator"]))).json()
        assert all(item["session"]["id"] != str(capture.session_id) for item in outsiders)

        segments_before = capture.stats.video_segments
        for viewer in viewers[1:]:
            assert (await leave(viewer)).status_code == 204
            await viewer.pc.close()
        assert advancing(await viewers[0].counters(15)), "the last viewer keeps watching"
        await wait_for(lambda: capture.stats.video_segments >= segments_before + 2, seconds=60)
        assert not running.done(), "viewers leaving must never stop the recording"

        await leave(viewers[0])
        await viewers[0].pc.close()
        room.end()
        stats = await asyncio.wait_for(running, 60)
        assert stats.status == "ended"
        over = Viewer()
        ended = await over.offer(lives, tokens["viewer"], capture.session_id)
        assert ended.status_code == 409 and "not live" in ended.text
        await over.pc.close()
        await room.stop()

"""A viewer of the WebRTC relay gets every packet in order, and one that fell behind resumes at a
keyframe (scis.lives.webrtc.ViewerPackets; decision 808), on the simulator's real H.264 stream."""

from __future__ import annotations

import asyncio

from aiortc.contrib.media import MediaRelay

from scis.lives.webrtc import MAX_BACKLOG_SECONDS, LiveVideoTrack, ViewerPackets, media_seconds
from scis.simulator import SimulatorServer


async def test_a_viewer_gets_every_packet_and_catches_up_at_a_keyframe_when_behind() -> None:
    async with SimulatorServer() as sim:
        room = sim.add_room("catch_up", rate=0)
        source = LiveVideoTrack(f"{sim.base_url}/stage/stream-{room.room_id}_origin.flv")
        viewer = ViewerPackets(MediaRelay(), source)
        try:
            previous = await asyncio.wait_for(viewer.recv(), 60)
            # A viewer that keeps up gets consecutive timestamps. A loaded machine can stall this test for
            # seconds, and then the viewer rightly drops its backlog: such pairs are not counted.
            consecutive = 0
            for _ in range(120):
                skipped = viewer.skipped + source.skipped  # the viewer's catch-up, or the source's (807)
                packet = await asyncio.wait_for(viewer.recv(), 30)
                assert packet.pts is not None and previous.pts is not None and packet.pts > previous.pts
                if viewer.skipped + source.skipped == skipped:
                    assert media_seconds(previous, packet) < MAX_BACKLOG_SECONDS
                    consecutive += 1
                previous = packet
                if consecutive >= 15:
                    break
            assert consecutive >= 15, f"only {consecutive} packets arrived in order without a catch-up"
            await asyncio.sleep(4)  # the viewer stalls for two GOPs (the simulator's keyframe every 2 s)
            resumed = await asyncio.wait_for(viewer.recv(), 30)
            assert viewer.skipped > 0, "a viewer more than MAX_BACKLOG_SECONDS behind drops its backlog"
            assert resumed.is_keyframe, "and resumes at a keyframe: a clean picture, not a garbled one"
            assert media_seconds(previous, resumed) > MAX_BACKLOG_SECONDS
        finally:
            viewer.stop()
            source.stop()

// The live's video beside its feed, over WebRTC from the lives service: the browser offers to receive
// one video track, the lives service answers with its relay of the live (one source pull per live,
// shared by every viewer, the H.264 passed through). Leaving the page leaves the relay; the recording
// goes on, it is the capture's, not the viewer's.
import { Paper, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { memo, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { lives } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";

type VideoState = "idle" | "connecting" | "playing" | "ended";

// Offers go whole (no trickle ICE): the lives service answers once, so the offer carries its candidates.
const GATHER_AT_MOST_MS = 3000;

function gathered(connection: RTCPeerConnection): Promise<void> {
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((done) => {
    const finish = () => {
      connection.removeEventListener("icegatheringstatechange", check);
      window.clearTimeout(timer);
      done();
    };
    const check = () => {
      if (connection.iceGatheringState === "complete") finish();
    };
    const timer = window.setTimeout(finish, GATHER_AT_MOST_MS);
    connection.addEventListener("icegatheringstatechange", check);
  });
}

/** Connects a recvonly peer to the live's relay; returns the viewer id the lives service gave it. */
async function watch(sessionId: string, connection: RTCPeerConnection): Promise<string> {
  connection.addTransceiver("video", { direction: "recvonly" });
  await connection.setLocalDescription(await connection.createOffer());
  await gathered(connection);
  const local = connection.localDescription!;
  const answer = await unwrap(
    lives.POST("/api/lives/lives/{session_id}/video/offer", {
      params: { path: { session_id: sessionId } },
      body: { sdp: local.sdp, type: "offer" },
    }),
  );
  await connection.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  return answer.viewer_id;
}

function leave(sessionId: string, viewerId: string): void {
  // keepalive: the request outlives the page when the analyst closes the tab.
  const path = `/api/lives/lives/${encodeURIComponent(sessionId)}/video/viewers/${encodeURIComponent(viewerId)}`;
  void fetch(path, { method: "DELETE", credentials: "same-origin", keepalive: true }).catch(() => undefined);
}

/** Plays the live's video while `active`; says why there is none otherwise. Memoised: the live page
 * redraws at every animation frame while events flow, this panel only when its props change. */
export const LiveVideo = memo(function LiveVideo({
  sessionId,
  active,
  waiting,
}: {
  sessionId: string;
  active: boolean;
  waiting: boolean;
}) {
  const { t } = useTranslation();
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<VideoState>("idle");
  const [error, setError] = useState<unknown>(null);
  const described = useQuery({
    queryKey: ["live-video", sessionId],
    queryFn: () =>
      unwrap(lives.GET("/api/lives/lives/{session_id}/video", { params: { path: { session_id: sessionId } } })),
    retry: false,
    enabled: !waiting, // no session yet: asked again once the capture has one
  });
  const recorded = described.data?.recorded ?? false;
  const playable = recorded && active;

  useEffect(() => {
    if (!playable) return;
    const connection = new RTCPeerConnection();
    let viewerId: string | null = null;
    let closed = false;
    setState("connecting");
    setError(null);
    connection.addEventListener("track", (event) => {
      const element = video.current;
      if (!element) return;
      element.srcObject = event.streams[0] ?? new MediaStream([event.track]);
      // Muted autoplay is allowed without a click; the analyst has the controls to pause.
      void element.play().catch(() => undefined);
    });
    connection.addEventListener("connectionstatechange", () => {
      if (connection.connectionState === "failed" || connection.connectionState === "closed") setState("ended");
    });
    watch(sessionId, connection).then(
      (id) => {
        viewerId = id;
        if (closed) leave(sessionId, id);
      },
      (failure: unknown) => {
        if (closed) return;
        // 409: the live ended (or records no video) between the status we read and our offer.
        setState("ended");
        setError(failure instanceof ApiError && failure.status === 409 ? null : failure);
      },
    );
    return () => {
      closed = true;
      connection.close();
      if (viewerId) leave(sessionId, viewerId);
    };
  }, [sessionId, playable]);

  let note: string | null = null;
  if (waiting) note = t("video.waitingVideo");
  else if (described.isSuccess && !recorded) note = t("video.notRecorded");
  else if (recorded && !active) note = t("video.ended");
  else if (state === "ended") note = t("video.lost");
  return (
    <Paper withBorder p="xs" data-testid="video-panel" data-state={playable ? state : "none"}>
      <Text size="sm" fw={600} mb={4}>{t("video.title")}</Text>
      <ErrorNote error={described.error ?? error} />
      {playable && (
        <video
          ref={video}
          data-testid="live-video"
          onPlaying={() => setState("playing")}
          autoPlay
          muted
          playsInline
          controls
          aria-label={t("video.player")}
          style={{ width: "100%", aspectRatio: "16 / 9", background: "black", display: "block" }}
        />
      )}
      {note && <Text size="sm" c="dimmed" role="status">{note}</Text>}
    </Paper>
  );
});

// "Mark this moment": the lives service turns the live's still frame and the records around now into a
// hashed bookmark of the case. The route belongs to the snapshots API; until a deployment has it, the
// list route answers 404 and the button is not offered (the page never sends what cannot be kept).
import { Button, Group, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { memo, useState } from "react";
import { useTranslation } from "react-i18next";
import { apiError } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { formatDateTime, shortHash } from "../../lib/format";

/** A marked moment as the snapshots API returns it (the fields this page shows). */
export interface Snapshot {
  id: number;
  marked_at: string;
  note: string;
  frame_sha256: string | null;
  records: unknown[];
  sha256: string;
}

function snapshotsPath(sessionId: string): string {
  return `/api/lives/lives/${encodeURIComponent(sessionId)}/snapshots`;
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...init,
    headers: { "content-type": "application/json", ...init?.headers },
  });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw apiError(response.status, body);
  return body as T;
}

/** The session's marked moments, or null when this deployment has no snapshots API. */
async function listSnapshots(sessionId: string): Promise<Snapshot[] | null> {
  const response = await fetch(snapshotsPath(sessionId), { credentials: "same-origin" });
  if (response.status === 404 || response.status === 405) return null;
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw apiError(response.status, body);
  return body as Snapshot[];
}

// Memoised like LiveVideo: not redrawn with every frame of the feed.
export const MarkMoment = memo(function MarkMoment({
  sessionId,
  canMark,
  waiting,
}: {
  sessionId: string;
  canMark: boolean;
  waiting: boolean;
}) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [note, setNote] = useState("");
  const key = ["snapshots", sessionId];
  // A waiting capture has no session to mark yet (its 404 would read as "no snapshots API").
  const marked = useQuery({ queryKey: key, queryFn: () => listSnapshots(sessionId), retry: false, enabled: !waiting });
  const mark = useMutation({
    mutationFn: () => call<Snapshot>(snapshotsPath(sessionId), { method: "POST", body: JSON.stringify({ note }) }),
    onSuccess: () => {
      setNote("");
      return client.invalidateQueries({ queryKey: key });
    },
  });
  if (marked.data === null || (marked.data === undefined && !marked.error)) return null; // none here, or not yet
  const moments = marked.data ?? [];
  const last = mark.data;
  return (
    <div data-testid="mark-moment">
      <ErrorNote error={marked.error ?? mark.error} />
      {canMark && (
        <Group align="flex-end" gap="xs" mt="xs">
          <TextInput
            size="xs"
            style={{ flex: 1 }}
            label={t("video.note")}
            value={note}
            maxLength={2000}
            onChange={(event) => setNote(event.currentTarget.value)}
          />
          <Button size="xs" onClick={() => mark.mutate()} loading={mark.isPending} data-testid="mark">
            {t("video.mark")}
          </Button>
        </Group>
      )}
      {last && (
        <Text size="xs" mt={4} role="status" data-testid="marked" data-sha256={last.sha256}>
          {t("video.marked", {
            at: formatDateTime(last.marked_at),
            count: last.records.length,
            sha: shortHash(last.sha256, 12),
          })}
          {last.frame_sha256 ? "" : ` ${t("video.noFrame")}`}
        </Text>
      )}
      <Text size="xs" c="dimmed" mt={4} data-testid="moments" data-count={moments.length}>
        {t("video.moments", { count: moments.length })}
      </Text>
    </div>
  );
});

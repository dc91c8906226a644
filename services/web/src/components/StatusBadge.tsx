import { Badge } from "@mantine/core";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";

const COLOURS: Record<string, string> = {
  ready: "green", ok: "green", live: "green", open: "green", starting: "blue", waiting: "blue",
  ended: "gray", stopped: "gray", closed: "gray", offline: "yellow",
  not_found: "orange", private: "orange", blocked: "red", failed: "red", down: "red", unreachable: "red",
};

/** A status in words: its translation, else (a status newer than this UI) the API's own word with its
 * underscores as spaces, never a raw key. `waiting` (issue 13) is translated under `video.status`. */
export function statusWords(t: TFunction, status: string): string {
  const readable = t(`video.status.${status}`, { defaultValue: status.replace(/_/g, " ") });
  return t(`status.${status}`, { defaultValue: readable });
}

/** A status word in the user's language. */
export function StatusBadge({ status }: { status: string }) {
  const { t } = useTranslation();
  return (
    <Badge color={COLOURS[status] ?? "gray"} variant="dot" data-status={status}>
      {statusWords(t, status)}
    </Badge>
  );
}

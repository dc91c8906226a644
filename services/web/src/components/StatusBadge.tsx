import { Badge } from "@mantine/core";
import { useTranslation } from "react-i18next";

const COLOURS: Record<string, string> = {
  ready: "green", ok: "green", live: "green", open: "green", starting: "blue", waiting: "blue",
  ended: "gray", stopped: "gray", closed: "gray", offline: "yellow",
  not_found: "orange", private: "orange", blocked: "red", failed: "red", down: "red", unreachable: "red",
};

/** A status word in the user's language; a status this UI does not know yet (a newer API) is shown as
 * the API's own word with its underscores as spaces, never as a raw key. */
export function StatusBadge({ status }: { status: string }) {
  const { t } = useTranslation();
  const readable = t(`video.status.${status}`, { defaultValue: status.replace(/_/g, " ") });
  return (
    <Badge color={COLOURS[status] ?? "gray"} variant="dot" data-status={status}>
      {t(`status.${status}`, { defaultValue: readable })}
    </Badge>
  );
}

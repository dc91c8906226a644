import { Badge } from "@mantine/core";
import { useTranslation } from "react-i18next";

const COLOURS: Record<string, string> = {
  ready: "green", ok: "green", live: "green", open: "green", starting: "blue",
  ended: "gray", stopped: "gray", closed: "gray", offline: "yellow",
  not_found: "orange", private: "orange", blocked: "red", failed: "red", down: "red", unreachable: "red",
};

/** A status word in the user's language (the API's own word when we have no translation). */
export function StatusBadge({ status }: { status: string }) {
  const { t } = useTranslation();
  return (
    <Badge color={COLOURS[status] ?? "gray"} variant="dot" data-status={status}>
      {t(`status.${status}`, { defaultValue: status })}
    </Badge>
  );
}

import { Badge, Group, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import type { EventRead } from "../../api/client";
import { diamondsOf } from "../../lib/feed";

const KIND_COLOURS: Record<string, string> = {
  chat: "blue", gift: "grape", like: "pink", join: "teal", follow: "green", share: "cyan",
  viewers: "gray", control: "orange", gap: "red", session_start: "dark", session_end: "dark",
};

function who(event: EventRead): string {
  if (!event.unique_id && !event.nickname) return "";
  return event.nickname ? `${event.nickname} (@${event.unique_id ?? "?"})` : `@${event.unique_id}`;
}

/** What happened, in words, for one event of the feed. */
export function useDescribe() {
  const { t } = useTranslation();
  return (event: EventRead): string => {
    const counts = event.counts ?? {};
    switch (event.kind) {
      case "chat":
        return event.body ?? "";
      case "gift":
        return t("live.giftText", {
          name: event.gift_name ?? event.gift_id,
          count: event.repeat_count ?? 1,
          diamonds: diamondsOf(event),
        }) + (event.inferred ? ` ${t("live.inferred")}` : "");
      case "like":
        return t("live.likeText", { count: Number(counts.count ?? 0), total: Number(counts.total ?? 0) });
      case "viewers":
        return t("live.viewersText", { count: Number(counts.viewer_count ?? 0) });
      case "gap":
        return t("live.gapText", { reason: String(event.data.reason ?? "?") });
      default:
        return event.body ?? "";
    }
  };
}

export function FeedRow({ event, describe }: { event: EventRead; describe: (event: EventRead) => string }) {
  const { t } = useTranslation();
  return (
    <Group gap="xs" wrap="nowrap" h="100%" px="xs" data-seq={event.seq} style={{ borderBottom: "1px solid var(--mantine-color-gray-2)" }}>
      <Text size="xs" c="dimmed" w={52} ta="right" ff="monospace">{event.seq}</Text>
      <Badge size="sm" w={110} color={KIND_COLOURS[event.kind] ?? "gray"} variant="dot">
        {t(`kinds.${event.kind}`, { defaultValue: event.kind })}
      </Badge>
      <Text size="sm" fw={600} truncate maw={220}>{who(event)}</Text>
      <Text size="sm" truncate>{describe(event)}</Text>
    </Group>
  );
}

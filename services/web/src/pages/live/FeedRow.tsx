// One row of the live feed. Plain elements, not Mantine components, and memoised: at 1,000 events/s
// a frame mounts a dozen new rows and moves the rest, and that must stay well under a frame's time.
import { memo, useCallback } from "react";
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
  return useCallback((event: EventRead): string => {
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
  }, [t]);
}

const ROW_STYLE = {
  display: "flex", alignItems: "center", gap: 8, height: "100%", padding: "0 8px", whiteSpace: "nowrap",
  borderBottom: "1px solid var(--mantine-color-gray-2)", fontSize: "var(--mantine-font-size-sm)",
} as const;
const SEQ_STYLE = {
  width: 52, flex: "none", textAlign: "right", fontFamily: "var(--mantine-font-family-monospace)",
  fontSize: "var(--mantine-font-size-xs)", color: "var(--mantine-color-dimmed)",
} as const;
const KIND_STYLE = { width: 110, flex: "none", display: "flex", alignItems: "center", gap: 6, fontSize: "var(--mantine-font-size-xs)", fontWeight: 600 } as const;
const WHO_STYLE = { maxWidth: 220, flex: "none", fontWeight: 600, overflow: "hidden", textOverflow: "ellipsis" } as const;
const TEXT_STYLE = { overflow: "hidden", textOverflow: "ellipsis", minWidth: 0 } as const;

export const FeedRow = memo(function FeedRow({ event, kindLabel, text }: { event: EventRead; kindLabel: string; text: string }) {
  const colour = `var(--mantine-color-${KIND_COLOURS[event.kind] ?? "gray"}-6)`;
  return (
    <div data-seq={event.seq} style={ROW_STYLE}>
      <span style={SEQ_STYLE}>{event.seq}</span>
      <span style={KIND_STYLE}>
        <span aria-hidden style={{ width: 8, height: 8, borderRadius: 4, background: colour, flex: "none" }} />
        {kindLabel}
      </span>
      <span style={WHO_STYLE}>{who(event)}</span>
      <span style={TEXT_STYLE}>{text}</span>
    </div>
  );
});

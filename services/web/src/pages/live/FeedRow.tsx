// One row of the live feed. Plain elements styled by classes, not Mantine components, and memoised:
// at 1,000 events/s a frame mounts a dozen new rows, and that must stay well under a frame's time.
import { memo, useCallback } from "react";
import { useTranslation } from "react-i18next";
import type { EventRead } from "../../api/client";
import { diamondsOf } from "../../lib/feed";
import classes from "./FeedRow.module.css";

const KIND_COLOURS: Record<string, string> = {
  chat: "blue", gift: "grape", like: "pink", join: "teal", follow: "green", share: "cyan",
  viewers: "gray", control: "orange", gap: "red", session_start: "dark", session_end: "dark", other: "gray",
};
// One style object per kind, made once: React compares it by identity and writes nothing for a row.
const KIND_DOTS: Record<string, { background: string }> = Object.fromEntries(
  Object.entries(KIND_COLOURS).map(([kind, colour]) => [kind, { background: `var(--mantine-color-${colour}-6)` }]),
);

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

export const FeedRow = memo(function FeedRow({ event, kindLabel, text }: { event: EventRead; kindLabel: string; text: string }) {
  return (
    <div data-seq={event.seq} className={classes.row}>
      <span className={classes.seq}>{event.seq}</span>
      <span className={classes.kind}>
        <span aria-hidden className={classes.dot} style={KIND_DOTS[event.kind] ?? KIND_DOTS.other} />
        {kindLabel}
      </span>
      <span className={classes.who}>{who(event)}</span>
      <span className={classes.text}>{text}</span>
    </div>
  );
});

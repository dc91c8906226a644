import { Anchor, Badge, Button, Card, Chip, Grid, Group, Paper, SimpleGrid, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";
import { analyser } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { StatusBadge } from "../../components/StatusBadge";
import { ViewerChart } from "../../components/ViewerChart";
import type { EventRead } from "../../api/client";
import { type FeedStore, newestFirst, viewerSeries } from "../../lib/feed";
import { formatNumber } from "../../lib/format";
import { type ThrottledTicker, useTicker } from "../../lib/ticker";
import { allows, useMe } from "../../shell/auth";
import { isRunning } from "../captures/CapturesPage";
import { FeedRow, useDescribe } from "./FeedRow";
import rowClasses from "./FeedRow.module.css";
import { LiveVideo } from "./LiveVideo";
import { MarkMoment } from "./MarkMoment";
import { type LiveFeed, useLiveFeed } from "./useLiveFeed";

const FEED_KINDS = ["chat", "gift", "like", "join", "follow", "share", "viewers", "control", "gap"];
const ROW_HEIGHT = 30; // FeedRow.module.css .box has the same height

function Figure({ label, value, testId }: { label: string; value: number | null; testId: string }) {
  return (
    <Card withBorder padding="xs">
      <Text size="xs" c="dimmed">{label}</Text>
      <Text size="lg" fw={700} data-testid={testId}>{formatNumber(value)}</Text>
    </Card>
  );
}

interface FeedFiltersProps {
  kinds: string[];
  setKinds: (kinds: string[]) => void;
  user: string;
  setUser: (user: string) => void;
  paused: boolean;
  setPaused: (paused: boolean) => void;
}

// Memoised: the page redraws at every animation frame while events flow; the filter bar's Mantine
// controls only when a filter or the pause state changes.
const FeedFilters = memo(function FeedFilters({ kinds, setKinds, user, setUser, paused, setPaused }: FeedFiltersProps) {
  const { t } = useTranslation();
  return (
    <Group mb="xs" justify="space-between" align="flex-end">
      <Chip.Group multiple value={kinds} onChange={setKinds}>
        <Group gap={4} role="group" aria-label={t("live.filterKinds")}>
          {FEED_KINDS.map((kind) => (
            <Chip key={kind} value={kind} size="xs">{t(`kinds.${kind}`)}</Chip>
          ))}
        </Group>
      </Chip.Group>
      <Group align="flex-end">
        <TextInput
          size="xs"
          label={t("live.filterUser")}
          placeholder="@handle"
          value={user}
          onChange={(event) => setUser(event.currentTarget.value)}
        />
        <Button size="xs" variant={paused ? "filled" : "default"} onClick={() => setPaused(!paused)} data-testid="pause">
          {paused ? t("live.resume") : t("live.pause")}
        </Button>
      </Group>
    </Group>
  );
});

// The counts and totals: redrawn a few times a second (figures ticker), never per frame.
const LiveFigures = memo(function LiveFigures({ feed }: { feed: LiveFeed }) {
  const { t } = useTranslation();
  useTicker(feed.figures);
  const totals = feed.store.totals;
  return (
    <SimpleGrid cols={{ base: 3, md: 6 }} mb="sm">
      <Figure label={t("live.received")} value={feed.held()} testId="feed-count" />
      <Figure label={t("captures.viewers")} value={totals.viewers} testId="viewers" />
      <Figure label={t("live.likes")} value={totals.likes} testId="likes" />
      <Figure label={t("live.gifts")} value={totals.gifts} testId="gifts" />
      <Figure label={t("live.diamonds")} value={totals.diamonds} testId="diamonds" />
      <Figure label={t("live.chats")} value={totals.byKind.chat ?? 0} testId="chats" />
    </SimpleGrid>
  );
});

const PausedNote = memo(function PausedNote({ feed }: { feed: LiveFeed }) {
  const { t } = useTranslation();
  useTicker(feed.figures);
  return (
    <Text size="sm" c="orange" mb="xs" role="status">
      {t("live.pausedNote", { count: feed.store.received - feed.held() })}
    </Text>
  );
});

const LiveChart = memo(function LiveChart({ store, chart }: { store: FeedStore; chart: ThrottledTicker }) {
  const { t } = useTranslation();
  const version = useTicker(chart);
  const series = useMemo(() => viewerSeries(store.events), [version, store]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Paper withBorder p="xs" mb="sm">
      <ViewerChart series={series} label={t("live.viewerChart")} />
    </Paper>
  );
});

// The rows' words, computed once per event and language: the visible rows are redrawn every frame
// (they all move down as new ones arrive at the top), their translations need not be.
function useRowWords() {
  const { t } = useTranslation();
  const describe = useDescribe();
  return useMemo(() => {
    const kinds = new Map<string, string>();
    const known = new WeakMap<EventRead, [string, string]>();
    return (event: EventRead): [string, string] => {
      let words = known.get(event);
      if (!words) {
        let kind = kinds.get(event.kind);
        if (kind === undefined) kinds.set(event.kind, (kind = t(`kinds.${event.kind}`, { defaultValue: event.kind })));
        words = [kind, describe(event)];
        known.set(event, words);
      }
      return words;
    };
  }, [t, describe]);
}

// Layout and paint of the feed stay inside its box: a row moving does not re-lay out the page.
const FEED_STYLE = {
  height: "calc(100vh - 470px)", minHeight: 240, overflow: "auto", contain: "strict",
  border: "1px solid var(--mantine-color-gray-3)",
} as const;

// Rows drawn beyond the visible ones (each is work at every frame while events flow).
const OVERSCAN = 8;

interface FeedListProps {
  feed: LiveFeed;
  kinds: string[];
  user: string;
}

// The only part redrawn at every animation frame (frames ticker): a virtualised list, newest first.
const FeedList = memo(function FeedList({ feed, kinds, user }: FeedListProps) {
  const { t } = useTranslation();
  const version = useTicker(feed.frames);
  const { store } = feed;
  // Recomputed when the feed redraws (at most once per frame, never while paused) or the filters change.
  const shown = useMemo(() => newestFirst(store.events, { kinds, user }), [version, kinds, user, store]); // eslint-disable-line react-hooks/exhaustive-deps
  const words = useRowWords();
  const scroller = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: OVERSCAN,
  });
  if (feed.held() === 0) return <Empty>{t("live.empty")}</Empty>;
  // New rows arrive at the top and push all others down. Rather than moving every row (a style write
  // per row per frame), each row sits at a fixed offset from the oldest row shown, -(its place counted
  // from the oldest), inside one anchor moved down by a row per new event: a frame restyles one element.
  const oldestAt = (shown.length - 1) * ROW_HEIGHT;
  return (
    <div ref={scroller} style={FEED_STYLE} tabIndex={0} role="log" aria-label={t("live.feed")} data-testid="feed" data-shown={shown.length}>
      <div style={{ height: rows.getTotalSize(), position: "relative" }}>
        <div style={{ position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${oldestAt}px)` }}>
          {rows.getVirtualItems().map((row) => {
            const event = shown[row.index];
            const [kindLabel, text] = words(event);
            const fromOldest = shown.length - 1 - row.index;
            return (
              <div key={event.seq} className={rowClasses.box} style={{ transform: `translateY(${-fromOldest * ROW_HEIGHT}px)` }}>
                <FeedRow event={event} kindLabel={kindLabel} text={text} />
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
});

export function LivePage() {
  const { t } = useTranslation();
  const sessionId = useParams().sessionId!;
  const me = useMe().data;
  const client = useQueryClient();
  const [paused, setPaused] = useState(false);
  const [kinds, setKinds] = useState<string[]>([]);
  const [user, setUser] = useState("");
  const { feed, connection, error } = useLiveFeed(sessionId, paused);
  const monitor = useQuery({
    queryKey: ["monitors", sessionId],
    queryFn: () => unwrap(analyser.GET("/api/analyser/monitors/{session_id}", { params: { path: { session_id: sessionId } } })),
    refetchInterval: 2000,
    retry: false,
  });
  const stop = useMutation({
    mutationFn: () =>
      unwrap(analyser.DELETE("/api/analyser/monitors/{session_id}", { params: { path: { session_id: sessionId } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["monitors"] }),
  });

  const capture = monitor.data;
  const target = capture ? `@${capture.target}` : sessionId;
  // "waiting": the capture polls an offline target and starts when it goes live (a newer API's status).
  const waiting = (capture?.status as string | undefined) === "waiting";

  return (
    <>
      <PageTitle
        actions={
          <Group>
            <Badge variant="dot" color={connection === "connected" ? "green" : "orange"} data-testid="connection" data-state={connection}>
              {t(`live.connection.${connection}`)}
            </Badge>
            {capture && <StatusBadge status={capture.status} />}
            <Anchor component={Link} to={`/sessions/${sessionId}`}>{t("captures.evidence")}</Anchor>
            {capture && isRunning(capture) && allows(me, "investigator") && (
              <Button color="red" variant="light" onClick={() => stop.mutate()} loading={stop.isPending}>
                {t("captures.stop")}
              </Button>
            )}
          </Group>
        }
      >
        {t("live.title", { target })}
      </PageTitle>
      {/* While waiting there is no session yet: the events API's 404 says nothing the note does not. */}
      <ErrorNote error={(waiting ? null : error) ?? stop.error} />
      {waiting && capture && (
        <Text c="blue" mb="sm" role="status" data-testid="waiting">{t("video.waiting", { target: capture.target })}</Text>
      )}
      <LiveFigures feed={feed} />
      <LiveChart store={feed.store} chart={feed.chart} />
      <Grid>
        <Grid.Col span={{ base: 12, lg: 8 }}>
          <FeedFilters kinds={kinds} setKinds={setKinds} user={user} setUser={setUser} paused={paused} setPaused={setPaused} />
          {paused && <PausedNote feed={feed} />}
          <FeedList feed={feed} kinds={kinds} user={user} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 4 }}>
          <LiveVideo sessionId={sessionId} active={!!capture && capture.status === "live"} waiting={waiting} />
          <MarkMoment
            sessionId={sessionId}
            canMark={!!capture && isRunning(capture) && allows(me, "investigator")}
            waiting={waiting}
          />
        </Grid.Col>
      </Grid>
    </>
  );
}

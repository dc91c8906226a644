import { Alert, Anchor, Button, Code, Group, MultiSelect, Paper, Table, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";
import { analyser, type EventRead } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime, shortHash } from "../../lib/format";
import { useDescribe } from "../live/FeedRow";
import { GapsPanel } from "./GapsPanel";

const KINDS = [
  "chat", "gift", "gift_update", "like", "join", "follow", "share", "viewers", "control", "pin", "emote",
  "unknown", "unknown_frame", "malformed", "session_start", "gap", "gap_filled", "session_end",
];
const PAGE_SIZE = 100;

interface Filters {
  kinds: string[];
  userId: string;
  since: string;
  until: string;
}

/** `datetime-local` input value as ISO 8601 UTC, or undefined when empty. */
function isoOrUndefined(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

function textOf(event: EventRead): string {
  return [event.body, event.unique_id, event.nickname, event.gift_name, JSON.stringify(event.data)].join(" ").toLowerCase();
}

function VerifyPanel({ sessionId }: { sessionId: string }) {
  const { t } = useTranslation();
  const verify = useMutation({
    mutationFn: () =>
      unwrap(analyser.GET("/api/analyser/sessions/{session_id}/verify", { params: { path: { session_id: sessionId } } })),
  });
  const result = verify.data;
  return (
    <Paper withBorder p="sm" mb="md">
      <Group>
        <Button onClick={() => verify.mutate()} loading={verify.isPending} data-testid="verify">
          {t("session.verify")}
        </Button>
        <Text size="sm" c="dimmed">{t("session.verifyHint")}</Text>
      </Group>
      <ErrorNote error={verify.error} />
      {result && (
        <Alert mt="sm" color={result.intact ? "green" : "red"} role="status" data-testid="verdict" data-intact={result.intact}>
          {result.intact
            ? t("session.intact", { count: result.records_checked, head: result.chain_head ?? "—" })
            : t("session.broken", {
                seq: result.failure?.seq,
                check: result.failure?.check,
                detail: result.failure?.detail,
              })}
          {result.intact && !result.sealed && ` ${t("session.notSealed")}`}
          <Text size="xs" c="dimmed" mt={4}>{result.message}</Text>
        </Alert>
      )}
    </Paper>
  );
}

function EventDetails({ event }: { event: EventRead }) {
  const { t } = useTranslation();
  return (
    <Table.Tr>
      <Table.Td colSpan={6}>
        <Group gap="xl" align="flex-start">
          <div>
            <Text size="xs">{t("session.rawHash")}: <Code>{event.raw_sha256 ?? "—"}</Code></Text>
            <Text size="xs">{t("session.chainHash")}: <Code>{event.chain_hash}</Code></Text>
            <Text size="xs">msg_id: <Code>{event.msg_id ?? "—"}</Code> · user_id: <Code>{event.user_id ?? "—"}</Code></Text>
            <Text size="xs">{t("session.serverTime")}: {formatDateTime(event.server_time)}</Text>
            {event.kind === "gift" && (
              <Text size="xs">
                {t("session.streak", { count: event.repeat_count ?? 1, diamonds: event.diamond_count ?? 0 })}
                {event.inferred && ` ${t("live.inferred")}`}
              </Text>
            )}
          </div>
          <Code block style={{ maxHeight: 220, overflow: "auto", flex: 1 }}>{JSON.stringify({ counts: event.counts, data: event.data }, null, 2)}</Code>
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}

export function SessionPage() {
  const { t } = useTranslation();
  const sessionId = useParams().sessionId!;
  const describe = useDescribe();
  const [draft, setDraft] = useState<Filters>({ kinds: [], userId: "", since: "", until: "" });
  const [filters, setFilters] = useState<Filters>(draft);
  const [text, setText] = useState("");
  const [cursors, setCursors] = useState<number[]>([-1]);
  const [open, setOpen] = useState<number | null>(null);
  const after = cursors[cursors.length - 1];
  const page = useQuery({
    queryKey: ["events", sessionId, filters, after],
    queryFn: () =>
      unwrap(
        analyser.GET("/api/analyser/sessions/{session_id}/events", {
          params: {
            path: { session_id: sessionId },
            query: {
              after_seq: after,
              limit: PAGE_SIZE,
              kind: filters.kinds.length ? filters.kinds : undefined,
              // Sent as typed: a 422 then names the very value the user entered under the field.
              user_id: filters.userId ? (filters.userId as unknown as number) : undefined,
              since: isoOrUndefined(filters.since),
              until: isoOrUndefined(filters.until),
            },
          },
        }),
      ),
  });
  const problem = page.error instanceof ApiError ? page.error : null;
  const needle = text.trim().toLowerCase();
  const items = (page.data?.items ?? []).filter((event) => !needle || textOf(event).includes(needle));
  const apply = () => {
    setFilters(draft);
    setCursors([-1]);
  };
  return (
    <>
      <PageTitle actions={<Anchor component={Link} to={`/live/${sessionId}`}>{t("captures.liveView")}</Anchor>}>
        {t("session.title")}
      </PageTitle>
      <Text size="sm" c="dimmed" mb="sm">{t("session.id")}: <Code>{sessionId}</Code></Text>
      <VerifyPanel sessionId={sessionId} />
      <GapsPanel sessionId={sessionId} />
      <Paper
        withBorder
        p="sm"
        mb="sm"
        component="form"
        onSubmit={(event) => {
          event.preventDefault();
          apply();
        }}
      >
        <Group align="flex-end">
          <MultiSelect
            label={t("session.kinds")}
            data={KINDS.map((kind) => ({ value: kind, label: t(`kinds.${kind}`, { defaultValue: kind }) }))}
            value={draft.kinds}
            onChange={(kinds) => setDraft({ ...draft, kinds })}
            clearable
            w={260}
            error={problem?.fieldProblem("kind")}
          />
          <TextInput
            label={t("session.userId")}
            value={draft.userId}
            onChange={(event) => setDraft({ ...draft, userId: event.currentTarget.value })}
            error={problem?.fieldProblem("user_id")}
          />
          <TextInput
            type="datetime-local"
            label={t("session.since")}
            value={draft.since}
            onChange={(event) => setDraft({ ...draft, since: event.currentTarget.value })}
            error={problem?.fieldProblem("since")}
          />
          <TextInput
            type="datetime-local"
            label={t("session.until")}
            value={draft.until}
            onChange={(event) => setDraft({ ...draft, until: event.currentTarget.value })}
            error={problem?.fieldProblem("until")}
          />
          <Button type="submit">{t("session.apply")}</Button>
          <TextInput
            label={t("session.text")}
            description={t("session.textHint")}
            value={text}
            onChange={(event) => setText(event.currentTarget.value)}
          />
        </Group>
      </Paper>
      {page.error && !problem?.fields.length && <ErrorNote error={page.error} />}
      {page.data && items.length === 0 && <Empty>{t("session.empty")}</Empty>}
      {items.length > 0 && (
        <Table striped data-testid="evidence">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>seq</Table.Th>
              <Table.Th>{t("session.kind")}</Table.Th>
              <Table.Th>{t("session.captured")}</Table.Th>
              <Table.Th>{t("session.user")}</Table.Th>
              <Table.Th>{t("session.what")}</Table.Th>
              <Table.Th>{t("session.rawHash")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((event) => (
              <Fragment key={event.seq}>
                <Table.Tr
                  bg={event.kind === "gap" ? "var(--mantine-color-red-light)" : undefined}
                  data-kind={event.kind}
                >
                  <Table.Td>
                    <Anchor
                      component="button"
                      type="button"
                      onClick={() => setOpen(open === event.seq ? null : event.seq)}
                      aria-expanded={open === event.seq}
                    >
                      {event.seq}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{t(`kinds.${event.kind}`, { defaultValue: event.kind })}</Table.Td>
                  <Table.Td>{formatDateTime(event.captured_at)}</Table.Td>
                  <Table.Td>{event.unique_id ? `@${event.unique_id}` : ""}</Table.Td>
                  <Table.Td>{describe(event)}</Table.Td>
                  <Table.Td><Code>{shortHash(event.raw_sha256, 12)}</Code></Table.Td>
                </Table.Tr>
                {open === event.seq && <EventDetails event={event} />}
              </Fragment>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Group mt="sm">
        <Button variant="default" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          {t("common.previous")}
        </Button>
        <Button
          variant="default"
          disabled={page.data?.next_after_seq == null}
          onClick={() => setCursors([...cursors, page.data!.next_after_seq!])}
        >
          {t("common.next")}
        </Button>
      </Group>
    </>
  );
}

import { Anchor, Button, Checkbox, Group, Paper, Radio, Select, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { analyser, type MonitorRead } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDateTime, formatNumber } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";
import { useCases } from "../cases/CasesPage";

const FINAL = new Set(["ended", "stopped", "offline", "not_found", "private", "blocked", "failed"]);

export function isRunning(capture: MonitorRead): boolean {
  return !FINAL.has(capture.status);
}

function StartForm() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const cases = useCases();
  const [target, setTarget] = useState("");
  const [caseId, setCaseId] = useState<string | null>(params.get("case"));
  const [source, setSource] = useState<"websocket" | "browser">("websocket");
  const [video, setVideo] = useState(false);
  const [wait, setWait] = useState(false);
  const [again, setAgain] = useState(false);
  const start = useMutation({
    mutationFn: () =>
      unwrap(
        analyser.POST("/api/analyser/monitors", {
          body: { target, source, case_id: caseId ? Number(caseId) : null, video, wait, again: wait && again },
        }),
      ),
    onSuccess: async (started) => {
      await client.invalidateQueries({ queryKey: ["monitors"] });
      navigate(`/live/${started.session_id}`);
    },
  });
  const error = start.error instanceof ApiError ? start.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate();
  };
  const openCases = (cases.data ?? []).filter((item) => item.status === "open");
  return (
    <Paper withBorder p="md" mb="lg" component="form" onSubmit={submit} noValidate aria-labelledby="start-capture">
      <Title order={3} id="start-capture" mb="sm">{t("captures.start")}</Title>
      <Group align="flex-start" grow>
        <TextInput
          label={t("captures.target")}
          description={t("captures.targetHint")}
          placeholder="@handle"
          required
          value={target}
          onChange={(event) => setTarget(event.currentTarget.value)}
          error={error?.fieldProblem("target")}
        />
        <Select
          label={t("captures.case")}
          description={t("captures.caseHint")}
          placeholder={t("captures.noCase")}
          clearable
          searchable
          data={openCases.map((item) => ({ value: String(item.id), label: `${item.reference} — ${item.title}` }))}
          value={caseId}
          onChange={setCaseId}
          error={error?.fieldProblem("case_id")}
        />
      </Group>
      <Radio.Group
        mt="sm"
        label={t("captures.source")}
        value={source}
        onChange={(value) => setSource(value as "websocket" | "browser")}
        error={error?.fieldProblem("source")}
      >
        <Group mt={4}>
          <Radio value="websocket" label={t("captures.sourceWebsocket")} />
          <Radio value="browser" label={t("captures.sourceBrowser")} />
        </Group>
      </Radio.Group>
      <Checkbox
        mt="sm"
        label={t("video.record")}
        checked={video}
        onChange={(event) => setVideo(event.currentTarget.checked)}
        error={error?.fieldProblem("video")}
      />
      <Checkbox
        mt="sm"
        label={t("video.waitForLive")}
        description={t("video.waitForLiveHint")}
        checked={wait}
        onChange={(event) => setWait(event.currentTarget.checked)}
        error={error?.fieldProblem("wait")}
      />
      {wait && (
        <Checkbox
          mt="sm"
          ml="xl"
          label={t("video.waitAgain")}
          description={t("video.waitAgainHint")}
          checked={again}
          onChange={(event) => setAgain(event.currentTarget.checked)}
          error={error?.fieldProblem("again")}
        />
      )}
      {start.error && !error?.fields.length && <ErrorNote error={start.error} />}
      <Button type="submit" mt="md" loading={start.isPending}>{t("captures.startButton")}</Button>
    </Paper>
  );
}

export function CapturesPage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const client = useQueryClient();
  const captures = useQuery({
    queryKey: ["monitors"],
    queryFn: () => unwrap(analyser.GET("/api/analyser/monitors")),
    refetchInterval: 2000,
  });
  const stop = useMutation({
    mutationFn: (sessionId: string) =>
      unwrap(analyser.DELETE("/api/analyser/monitors/{session_id}", { params: { path: { session_id: sessionId } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["monitors"] }),
  });
  const canWrite = allows(me, "investigator");
  return (
    <>
      <PageTitle>{t("captures.title")}</PageTitle>
      {canWrite && <StartForm />}
      <ErrorNote error={captures.error ?? stop.error} />
      {captures.data?.length === 0 && <Empty>{t("captures.empty")}</Empty>}
      {!!captures.data?.length && (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("captures.target")}</Table.Th>
              <Table.Th>{t("captures.source")}</Table.Th>
              <Table.Th>{t("common.status")}</Table.Th>
              <Table.Th>{t("captures.started")}</Table.Th>
              <Table.Th>{t("captures.events")}</Table.Th>
              <Table.Th>{t("captures.viewers")}</Table.Th>
              <Table.Th>{t("captures.gaps")}</Table.Th>
              <Table.Th>{t("common.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {captures.data.map((capture) => (
              <Table.Tr key={capture.session_id} data-testid="capture-row">
                <Table.Td>@{capture.target}</Table.Td>
                <Table.Td>{t(`captures.sources.${capture.source}`, { defaultValue: capture.source })}</Table.Td>
                <Table.Td>
                  <Tooltip label={capture.status_reason || capture.status} disabled={!capture.status_reason}>
                    <span><StatusBadge status={capture.status} /></span>
                  </Tooltip>
                  {capture.status_reason && <Text size="xs" c="dimmed">{capture.status_reason}</Text>}
                </Table.Td>
                <Table.Td>{formatDateTime(capture.started_at)}</Table.Td>
                <Table.Td>{formatNumber(capture.events_total)}</Table.Td>
                <Table.Td>{formatNumber(capture.viewers)}</Table.Td>
                <Table.Td>{formatNumber(capture.gaps)}</Table.Td>
                <Table.Td>
                  <Group gap="xs" wrap="nowrap">
                    <Anchor component={Link} to={`/live/${capture.session_id}`}>{t("captures.liveView")}</Anchor>
                    <Anchor component={Link} to={`/sessions/${capture.session_id}`}>{t("captures.evidence")}</Anchor>
                    {canWrite && isRunning(capture) && (
                      <Button
                        size="compact-xs"
                        color="red"
                        variant="light"
                        onClick={() => stop.mutate(capture.session_id)}
                        loading={stop.isPending && stop.variables === capture.session_id}
                      >
                        {t("captures.stop")}
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}

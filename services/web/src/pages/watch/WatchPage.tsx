import { Badge, Button, Checkbox, Group, Paper, Select, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { io } from "socket.io-client";
import { profiles } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";
import { useCases } from "../cases/CasesPage";

const KINDS = ["user_id", "handle", "keyword", "regex"] as const;
type Kind = (typeof KINDS)[number];

/** New alerts of the case arrive over Socket.IO: refresh the list when one does. */
function useAlertPush(caseId: number, onAlert: () => void) {
  useEffect(() => {
    if (!caseId) return undefined;
    const socket = io({ path: "/socket.io/", transports: ["websocket"] });
    socket.on("connect", () => void socket.emitWithAck("watch_case", { case_id: caseId }));
    socket.on("alert", onAlert);
    return () => {
      socket.disconnect();
    };
  }, [caseId, onAlert]);
}

function Watchlist({ caseId, canWrite }: { caseId: number; canWrite: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [kind, setKind] = useState<string | null>("handle");
  const [value, setValue] = useState("");
  const [scanPast, setScanPast] = useState(false);
  const [pastAlerts, setPastAlerts] = useState<number | null>(null);
  const path = { params: { path: { case_id: caseId } } };
  const list = useQuery({
    queryKey: ["watchlist", caseId],
    queryFn: () => unwrap(profiles.GET("/api/profiles/cases/{case_id}/watchlist", path)),
  });
  const add = useMutation({
    mutationFn: () => unwrap(profiles.POST("/api/profiles/cases/{case_id}/watchlist",
      { ...path, body: { kind: (kind ?? "handle") as Kind, value, note: "", scan_past: scanPast } })),
    onSuccess: (added) => {
      setValue("");
      setPastAlerts(added.scans_past ? added.past_alerts : null);
      void client.invalidateQueries({ queryKey: ["watchlist", caseId] });
      void client.invalidateQueries({ queryKey: ["alerts", caseId] });
    },
  });
  const error = add.error instanceof ApiError ? add.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  return (
    <Paper withBorder p="md" mb="lg" aria-labelledby="watchlist-title">
      <Title order={3} id="watchlist-title" mb="sm">{t("profiles2.watchlist")}</Title>
      <ErrorNote error={list.error} />
      {list.data?.length === 0 && <Empty>{t("profiles2.nothingWatched")}</Empty>}
      <Group gap="xs" mb="sm" data-testid="watchlist">
        {list.data?.map((entry) => <Badge key={entry.id} variant="light">{t(`profiles2.kind_${entry.kind}`)}: {entry.value}</Badge>)}
      </Group>
      {canWrite && (
        <Group component="form" onSubmit={submit} align="flex-end">
          <Select label={t("profiles2.watchKind")} value={kind} onChange={setKind}
            data={KINDS.map((item) => ({ value: item, label: t(`profiles2.kind_${item}`) }))} />
          <TextInput label={t("profiles2.watchValue")} value={value} onChange={(e) => setValue(e.currentTarget.value)}
            error={error?.fieldProblem("value")} />
          <Checkbox label={t("profiles3.scanPast")} checked={scanPast} onChange={(e) => setScanPast(e.currentTarget.checked)} mb={8} />
          <Button type="submit" loading={add.isPending} disabled={!value.trim()}>{t("profiles2.watch")}</Button>
        </Group>
      )}
      {pastAlerts !== null && <Text size="sm" mt="xs" data-testid="past-alerts">{t("profiles3.pastAlerts", { count: pastAlerts })}</Text>}
    </Paper>
  );
}

function Alerts({ caseId, canWrite }: { caseId: number; canWrite: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const alerts = useQuery({
    queryKey: ["alerts", caseId],
    queryFn: () => unwrap(profiles.GET("/api/profiles/cases/{case_id}/alerts", { params: { path: { case_id: caseId } } })),
  });
  const [refresh] = useState(() => () => void client.invalidateQueries({ queryKey: ["alerts", caseId] }));
  useAlertPush(caseId, refresh);
  const acknowledge = useMutation({
    mutationFn: (alertId: number) => unwrap(profiles.POST("/api/profiles/cases/{case_id}/alerts/{alert_id}/acknowledge",
      { params: { path: { case_id: caseId, alert_id: alertId } } })),
    onSuccess: refresh,
  });
  return (
    <Paper withBorder p="md" aria-labelledby="alerts-title">
      <Title order={3} id="alerts-title" mb="sm">{t("profiles2.alerts")} <Badge>{alerts.data?.open ?? 0}</Badge></Title>
      <ErrorNote error={alerts.error ?? acknowledge.error} />
      {alerts.data?.items.length === 0 && <Empty>{t("profiles2.noAlerts")}</Empty>}
      {!!alerts.data?.items.length && (
        <Table striped data-testid="alerts">
          <Table.Tbody>
            {alerts.data.items.map((alert) => (
              <Table.Tr key={alert.id}>
                <Table.Td>{formatDateTime(alert.captured_at)}</Table.Td>
                <Table.Td>{t(`profiles2.kind_${alert.watch_kind}`)}: {alert.watch_value}</Table.Td>
                <Table.Td>@{alert.unique_id ?? "?"} {alert.body}</Table.Td>
                <Table.Td><Link to={`/sessions/${alert.session_id}`}>#{alert.seq}</Link></Table.Td>
                <Table.Td>
                  {alert.acknowledged_by
                    ? `${alert.acknowledged_by} · ${formatDateTime(alert.acknowledged_at)}`
                    : canWrite && <Button size="xs" onClick={() => acknowledge.mutate(alert.id)}>{t("profiles2.acknowledge")}</Button>}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}

export function WatchPage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const cases = useCases();
  const [caseId, setCaseId] = useState<string | null>(null);
  const canWrite = allows(me, "investigator");
  return (
    <>
      <PageTitle>{t("profiles2.watchTitle")}</PageTitle>
      <Select label={t("profiles2.case")} searchable value={caseId} onChange={setCaseId} mb="md" maw={480}
        data={(cases.data ?? []).map((item) => ({ value: String(item.id), label: `${item.reference} — ${item.title}` }))} />
      {caseId && <Watchlist caseId={Number(caseId)} canWrite={canWrite} />}
      {caseId && <Alerts caseId={Number(caseId)} canWrite={canWrite} />}
    </>
  );
}

import { Anchor, Button, Code, Group, Paper, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";
import { analyser, dashboard, reports } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDateTime, formatNumber, shortHash } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";

export function CaseDetailPage() {
  const { t } = useTranslation();
  const caseId = Number(useParams().caseId);
  const me = useMe().data;
  const client = useQueryClient();
  const found = useQuery({
    queryKey: ["cases", caseId],
    queryFn: () => unwrap(dashboard.GET("/api/dashboard/cases/{case_id}", { params: { path: { case_id: caseId } } })),
  });
  const sessions = useQuery({
    queryKey: ["sessions", { caseId }],
    queryFn: () => unwrap(analyser.GET("/api/analyser/sessions", { params: { query: { case_id: caseId } } })),
    refetchInterval: 5000,
  });
  const caseReports = useQuery({
    queryKey: ["reports"],
    queryFn: () => unwrap(reports.GET("/api/reports/reports")),
    select: (all) => all.filter((report) => report.case_id === caseId),
  });
  const setStatus = useMutation({
    mutationFn: (status: "open" | "closed") =>
      unwrap(dashboard.PATCH("/api/dashboard/cases/{case_id}", { params: { path: { case_id: caseId } }, body: { status } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["cases"] }),
  });
  const item = found.data;
  if (found.error) return <ErrorNote error={found.error} />;
  if (!item) return null;
  const canWrite = allows(me, "investigator");
  return (
    <>
      <PageTitle
        actions={
          canWrite && (
            <Group>
              <Button component={Link} to={`/captures?case=${caseId}`}>{t("cases.monitor")}</Button>
              <Button component={Link} to={`/reports?case=${caseId}`} variant="default">{t("reports.generate")}</Button>
              <Button
                variant="default"
                onClick={() => setStatus.mutate(item.status === "open" ? "closed" : "open")}
                loading={setStatus.isPending}
              >
                {item.status === "open" ? t("cases.close") : t("cases.reopen")}
              </Button>
            </Group>
          )
        }
      >
        {`${item.reference} — ${item.title}`}
      </PageTitle>
      <ErrorNote error={setStatus.error} />
      <Paper withBorder p="md" mb="lg">
        <Group gap="xl">
          <StatusBadge status={item.status} />
          <Text size="sm">{t("cases.createdBy")}: {item.created_by}</Text>
          <Text size="sm">{t("cases.createdAt")}: {formatDateTime(item.created_at)}</Text>
        </Group>
        <Text mt="sm" style={{ whiteSpace: "pre-wrap" }}>{item.description || t("cases.noDescription")}</Text>
      </Paper>
      <Title order={3} mb="xs">{t("cases.sessions")}</Title>
      <ErrorNote error={sessions.error} />
      {sessions.data?.length === 0 && <Empty>{t("cases.noSessions")}</Empty>}
      {!!sessions.data?.length && (
        <Table striped mb="lg">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("captures.target")}</Table.Th>
              <Table.Th>{t("common.status")}</Table.Th>
              <Table.Th>{t("captures.started")}</Table.Th>
              <Table.Th>{t("captures.events")}</Table.Th>
              <Table.Th>{t("session.chainHead")}</Table.Th>
              <Table.Th>{t("common.open")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {sessions.data.map((session) => (
              <Table.Tr key={session.id}>
                <Table.Td>@{session.target}</Table.Td>
                <Table.Td><StatusBadge status={session.status} /></Table.Td>
                <Table.Td>{formatDateTime(session.started_at)}</Table.Td>
                <Table.Td>{formatNumber(session.events_count)}</Table.Td>
                <Table.Td><Code>{shortHash(session.chain_head)}</Code></Table.Td>
                <Table.Td>
                  <Group gap="xs">
                    <Anchor component={Link} to={`/live/${session.id}`}>{t("captures.liveView")}</Anchor>
                    <Anchor component={Link} to={`/sessions/${session.id}`}>{t("captures.evidence")}</Anchor>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Title order={3} mb="xs">{t("reports.title")}</Title>
      {caseReports.data?.length === 0 && <Empty>{t("cases.noReports")}</Empty>}
      {!!caseReports.data?.length && (
        <Table striped>
          <Table.Tbody>
            {caseReports.data.map((report) => (
              <Table.Tr key={report.id}>
                <Table.Td>{report.title}</Table.Td>
                <Table.Td>{formatDateTime(report.created_at)}</Table.Td>
                <Table.Td><Code>{shortHash(report.sha256)}</Code></Table.Td>
                <Table.Td>
                  <Anchor href={`/api/reports/reports/${report.id}/pdf`} download>{t("reports.download")}</Anchor>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}

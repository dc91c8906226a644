import { Anchor, Button, Code, CopyButton, Group, Paper, Progress, Select, Table, Text, Title, Tooltip } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { reports } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { formatDateTime } from "../../lib/format";
import { useCases } from "../cases/CasesPage";

const ACTIVE = new Set(["queued", "running"]);
const POLL_MS = 1000;

export function archiveUrl(caseId: number, exportId: number) {
  return `/api/reports/cases/${caseId}/exports/${exportId}/archive`;
}

/** The manifest SHA-256 in full, with a button that copies it (for a report, a seal, a letter). */
export function ManifestHash({ hash }: { hash: string }) {
  const { t } = useTranslation();
  return (
    <Group gap={4} wrap="nowrap" align="center">
      <Code fz="xs" style={{ wordBreak: "break-all" }} data-testid="manifest-sha256">{hash}</Code>
      <CopyButton value={hash}>
        {({ copied, copy }) => (
          <Tooltip label={t("reports4.copy")} withArrow>
            <Button size="compact-xs" variant="default" onClick={copy} aria-label={t("reports4.copy")} data-testid="copy-manifest">
              {copied ? t("reports4.copied") : t("reports4.copyShort")}
            </Button>
          </Tooltip>
        )}
      </CopyButton>
    </Group>
  );
}

/** A case's evidence archives: ask for one, follow it, copy its manifest hash, download it. */
export function ExportPanel({ canExport }: { canExport: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [params] = useSearchParams();
  const cases = useCases();
  const [caseId, setCaseId] = useState<string | null>(params.get("case"));
  const [jobId, setJobId] = useState<number | null>(null);
  const id = caseId ? Number(caseId) : null;
  const exportsList = useQuery({
    queryKey: ["case-exports", id],
    enabled: id !== null,
    queryFn: () => unwrap(reports.GET("/api/reports/cases/{case_id}/exports", { params: { path: { case_id: id ?? 0 } } })),
  });
  const job = useQuery({
    queryKey: ["export-job", jobId],
    enabled: jobId !== null,
    queryFn: () => unwrap(reports.GET("/api/reports/reports/jobs/{job_id}", { params: { path: { job_id: jobId ?? 0 } } })),
    refetchInterval: (query) => (query.state.data && !ACTIVE.has(query.state.data.status) ? false : POLL_MS),
  });
  const status = job.data?.status;
  useEffect(() => {
    if (status === "done") void client.invalidateQueries({ queryKey: ["case-exports"] });
  }, [status, client]);
  const start = useMutation({
    mutationFn: () => unwrap(reports.POST("/api/reports/cases/{case_id}/exports", { params: { path: { case_id: id ?? 0 } } })),
    onSuccess: (queued) => {
      setJobId(queued.id);
      void client.invalidateQueries({ queryKey: ["report-jobs"] });
    },
  });
  return (
    <Paper withBorder p="md" mb="lg" aria-labelledby="case-export" data-testid="export-panel">
      <Title order={3} id="case-export" mb="xs">{t("reports4.title")}</Title>
      <Text size="sm" c="dimmed" mb="sm">{t("reports4.hint")}</Text>
      <Group align="flex-end">
        <Select
          label={t("captures.case")}
          searchable
          data={(cases.data ?? []).map((item) => ({ value: String(item.id), label: `${item.reference} — ${item.title}` }))}
          value={caseId}
          onChange={(value) => {
            setCaseId(value);
            setJobId(null);
          }}
          data-testid="export-case"
        />
        {canExport && (
          <Button
            onClick={() => start.mutate()}
            loading={start.isPending}
            disabled={id === null || (status !== undefined && ACTIVE.has(status))}
            data-testid="export-evidence"
          >
            {t("reports4.export")}
          </Button>
        )}
      </Group>
      <ErrorNote error={start.error ?? job.error ?? exportsList.error} />
      {job.data && (
        <div data-testid="export-job" data-status={job.data.status}>
          <Progress
            mt="sm"
            value={job.data.progress}
            animated={ACTIVE.has(job.data.status)}
            color={job.data.status === "failed" ? "red" : undefined}
            aria-label={`${t("reports2.progress")} ${job.data.progress}%`}
          />
          <Text size="xs" c={job.data.status === "failed" ? "red" : "dimmed"}>
            {t(`reports2.jobStatus.${job.data.status}`)} — {job.data.progress}% — {job.data.reason ?? job.data.stage}
          </Text>
          {job.data.status === "done" && job.data.manifest_sha256 && id !== null && job.data.export_id && (
            <Group mt="xs" gap="sm" data-testid="export-ready">
              <Text size="sm">{t("reports4.ready")}</Text>
              <ManifestHash hash={job.data.manifest_sha256} />
              <Anchor href={archiveUrl(id, job.data.export_id)} download data-testid="download-export">
                {t("reports4.download")}
              </Anchor>
            </Group>
          )}
        </div>
      )}
      {id !== null && exportsList.data?.length === 0 && <Empty>{t("reports4.none")}</Empty>}
      {id !== null && !!exportsList.data?.length && (
        <Table striped mt="sm" data-testid="case-exports">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>#</Table.Th>
              <Table.Th>{t("reports.createdAt")}</Table.Th>
              <Table.Th>{t("reports4.contents")}</Table.Th>
              <Table.Th>{t("reports4.manifest")}</Table.Th>
              <Table.Th>{t("reports4.archive")}</Table.Th>
              <Table.Th>{t("common.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {exportsList.data.map((item) => (
              <Table.Tr key={item.id} data-testid={`case-export-${item.id}`}>
                <Table.Td>{item.id}</Table.Td>
                <Table.Td>{formatDateTime(item.created_at)}<Text size="xs" c="dimmed">{item.created_by}</Text></Table.Td>
                <Table.Td>{t("reports4.counts", { sessions: item.sessions, records: item.records, bytes: item.size })}</Table.Td>
                <Table.Td><ManifestHash hash={item.manifest_sha256} /></Table.Td>
                <Table.Td><Code fz="xs" style={{ wordBreak: "break-all" }}>{item.archive_sha256}</Code></Table.Td>
                <Table.Td>
                  <Anchor href={archiveUrl(item.case_id, item.id)} download>{t("reports4.download")}</Anchor>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}

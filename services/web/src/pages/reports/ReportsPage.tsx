import { Anchor, Button, Code, Group, NumberInput, Paper, Progress, Select, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { io } from "socket.io-client";
import { reports } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import type { components } from "../../api/schema/reports";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";
import { useCases } from "../cases/CasesPage";
import { ExportPanel, archiveUrl } from "./ExportPanel";

type JobKind = "case" | "subject";
type Job = components["schemas"]["ReportJobRead"];
const ACTIVE = new Set(["queued", "running"]);
// Only a safety net: progress arrives pushed over Socket.IO (useJobPush).
const FALLBACK_POLL_MS = 15000;

/** Each running job's progress, pushed by the analyser's Socket.IO to the members of its case. */
function useJobPush(caseIds: number[], onJob: (job: Job) => void, onWatching: () => void) {
  const watched = [...new Set(caseIds)].sort((a, b) => a - b).join(",");
  useEffect(() => {
    if (!watched) return undefined;
    const socket = io({ path: "/socket.io/", transports: ["websocket"] });
    socket.on("connect", () => {
      const acks = watched.split(",").map((caseId) => socket.emitWithAck("watch_case", { case_id: Number(caseId) }));
      // Whatever happened before the rooms were joined is read once from the API.
      void Promise.all(acks).then(onWatching);
    });
    socket.on("report_job", onJob);
    return () => {
      socket.disconnect();
    };
  }, [watched, onJob, onWatching]);
}

function GenerateForm() {
  const { t, i18n } = useTranslation();
  const client = useQueryClient();
  const [params] = useSearchParams();
  // The report is worded in the language the analyst reads the UI in.
  const language = i18n.language.startsWith("fr") ? "fr" : "en";
  const cases = useCases();
  const [caseId, setCaseId] = useState<string | null>(params.get("case"));
  const [kind, setKind] = useState<JobKind>("case");
  const [subjectId, setSubjectId] = useState<string | number>("");
  const [title, setTitle] = useState("");
  const generate = useMutation({
    mutationFn: () =>
      unwrap(
        reports.POST("/api/reports/reports/jobs", {
          body: {
            case_id: Number(caseId),
            title: title || null,
            language,
            kind,
            subject_id: kind === "subject" && subjectId !== "" ? Number(subjectId) : null,
          },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: ["report-jobs"] }),
  });
  const error = generate.error instanceof ApiError ? generate.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    generate.mutate();
  };
  return (
    <Paper withBorder p="md" mb="lg" component="form" onSubmit={submit} noValidate aria-labelledby="new-report">
      <Title order={3} id="new-report" mb="sm">{t("reports.generate")}</Title>
      <Group align="flex-start" grow>
        <Select
          label={t("captures.case")}
          required
          searchable
          data={(cases.data ?? []).map((item) => ({ value: String(item.id), label: `${item.reference} — ${item.title}` }))}
          value={caseId}
          onChange={setCaseId}
          error={error?.fieldProblem("case_id")}
        />
        <Select
          label={t("reports2.kind")}
          data={[
            { value: "case", label: t("reports2.kindCase") },
            { value: "subject", label: t("reports2.kindSubject") },
          ]}
          value={kind}
          onChange={(value) => setKind((value as JobKind) ?? "case")}
          allowDeselect={false}
          data-testid="report-kind"
        />
        {kind === "subject" && (
          <NumberInput
            label={t("reports2.subjectId")}
            description={t("reports2.subjectHint")}
            min={1}
            value={subjectId}
            onChange={setSubjectId}
            error={error?.fieldProblem("subject_id")}
          />
        )}
        <TextInput
          label={t("reports.reportTitle")}
          description={t("reports.titleHint")}
          value={title}
          onChange={(event) => setTitle(event.currentTarget.value)}
          error={error?.fieldProblem("title")}
        />
      </Group>
      {generate.error && !error?.fields.length && <ErrorNote error={generate.error} />}
      <Button type="submit" mt="sm" loading={generate.isPending} disabled={!caseId}>{t("reports2.request")}</Button>
    </Paper>
  );
}

function JobList({ canCancel }: { canCancel: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const jobs = useQuery({
    queryKey: ["report-jobs"],
    queryFn: () => unwrap(reports.GET("/api/reports/reports/jobs", { params: { query: { limit: 50 } } })),
    refetchInterval: (query) => (query.state.data?.some((job) => ACTIVE.has(job.status)) ? FALLBACK_POLL_MS : false),
  });
  // The bar moves with each pushed heartbeat; a job not listed yet (another tab's) reloads the list.
  const [onJob] = useState(() => (pushed: Job) => {
    const listed = client.getQueryData<Job[]>(["report-jobs"]);
    if (listed?.some((job) => job.id === pushed.id)) {
      client.setQueryData<Job[]>(["report-jobs"], listed.map((job) => (job.id === pushed.id ? pushed : job)));
    } else {
      void client.invalidateQueries({ queryKey: ["report-jobs"] });
    }
  });
  const [reload] = useState(() => () => void client.invalidateQueries({ queryKey: ["report-jobs"] }));
  useJobPush((jobs.data ?? []).filter((job) => ACTIVE.has(job.status)).map((job) => job.case_id), onJob, reload);
  const cancel = useMutation({
    mutationFn: (id: number) => unwrap(reports.POST("/api/reports/reports/jobs/{job_id}/cancel", { params: { path: { job_id: id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: ["report-jobs"] }),
  });
  const cases = useCases();
  const caseName = (id: number) => cases.data?.find((item) => item.id === id)?.reference ?? String(id);
  const finished = jobs.data?.filter((job) => job.status === "done").length ?? 0;
  useEffect(() => {
    void client.invalidateQueries({ queryKey: ["reports"] });
  }, [finished, client]);
  return (
    <>
      <Title order={3} size="h4" mb="xs">{t("reports2.jobs")}</Title>
      <ErrorNote error={jobs.error ?? cancel.error} />
      {jobs.data?.length === 0 && <Empty>{t("reports2.noJobs")}</Empty>}
      {!!jobs.data?.length && (
        <Table striped mb="lg" data-testid="report-jobs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>#</Table.Th>
              <Table.Th>{t("captures.case")}</Table.Th>
              <Table.Th>{t("reports2.kind")}</Table.Th>
              <Table.Th>{t("common.status")}</Table.Th>
              <Table.Th w="25%">{t("reports2.progress")}</Table.Th>
              <Table.Th>{t("reports2.requestedBy")}</Table.Th>
              <Table.Th>{t("common.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {jobs.data.map((job) => (
              <Table.Tr key={job.id} data-testid={`report-job-${job.id}`} data-status={job.status}>
                <Table.Td>{job.id}</Table.Td>
                <Table.Td>{caseName(job.case_id)}</Table.Td>
                <Table.Td>{job.kind === "export" ? t("reports4.kindExport") : job.kind === "subject" ? `${t("reports2.kindSubject")} ${job.subject_id}` : t("reports2.kindCase")}</Table.Td>
                <Table.Td>
                  {t(`reports2.jobStatus.${job.status}`)}
                  {job.reason && <Text size="xs" c={job.status === "failed" ? "red" : "dimmed"}>{job.reason}</Text>}
                </Table.Td>
                <Table.Td>
                  <Progress
                    value={job.progress}
                    animated={ACTIVE.has(job.status)}
                    color={job.status === "failed" ? "red" : undefined}
                    aria-label={`${t("reports2.progress")} ${job.progress}%`}
                  />
                  <Text size="xs" c="dimmed">{job.progress}% — {job.stage}</Text>
                </Table.Td>
                <Table.Td>{job.requested_by}<Text size="xs" c="dimmed">{formatDateTime(job.requested_at)}</Text></Table.Td>
                <Table.Td>
                  {job.status === "done" && job.export_id && (
                    <Anchor href={archiveUrl(job.case_id, job.export_id)} download>{t("reports4.download")}</Anchor>
                  )}
                  {job.status === "done" && job.report_id && (
                    <Anchor href={`/api/reports/reports/jobs/${job.id}/pdf`} download data-testid="download-job-pdf">
                      {t("reports.download")}
                    </Anchor>
                  )}
                  {(job.sha256 ?? job.manifest_sha256) && <Code fz="xs" display="block" style={{ wordBreak: "break-all" }}>{job.sha256 ?? job.manifest_sha256}</Code>}
                  {canCancel && ACTIVE.has(job.status) && (
                    <Button size="xs" variant="default" onClick={() => cancel.mutate(job.id)}>{t("reports2.cancel")}</Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}

export function ReportsPage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const list = useQuery({ queryKey: ["reports"], queryFn: () => unwrap(reports.GET("/api/reports/reports")) });
  const cases = useCases();
  const caseName = (id: number | null) => cases.data?.find((item) => item.id === id)?.reference ?? "—";
  return (
    <>
      <PageTitle>{t("reports.title")}</PageTitle>
      {allows(me, "investigator") && <GenerateForm />}
      <ExportPanel canExport={allows(me, "investigator")} />
      <JobList canCancel={allows(me, "investigator")} />
      <ErrorNote error={list.error} />
      {list.data?.length === 0 && <Empty>{t("reports.empty")}</Empty>}
      {!!list.data?.length && (
        <Table striped data-testid="reports">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("reports.reportTitle")}</Table.Th>
              <Table.Th>{t("captures.case")}</Table.Th>
              <Table.Th>{t("reports.createdBy")}</Table.Th>
              <Table.Th>{t("reports.createdAt")}</Table.Th>
              <Table.Th>SHA-256</Table.Th>
              <Table.Th>PDF</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.data.map((report) => (
              <Table.Tr key={report.id}>
                <Table.Td>{report.title}</Table.Td>
                <Table.Td>{caseName(report.case_id)}</Table.Td>
                <Table.Td>{report.created_by}</Table.Td>
                <Table.Td>{formatDateTime(report.created_at)}</Table.Td>
                <Table.Td><Code fz="xs" style={{ wordBreak: "break-all" }}>{report.sha256}</Code></Table.Td>
                <Table.Td>
                  <Anchor href={`/api/reports/reports/${report.id}/pdf`} download data-testid="download-pdf">
                    {t("reports.download")}
                  </Anchor>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}

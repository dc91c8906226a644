import { Alert, Anchor, Button, Group, NumberInput, Paper, Select, Stepper, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { create } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { useCases } from "../cases/CasesPage";

const RISKS = ["unknown", "low", "medium", "high"];

/** The creation wizard: a draft on the server, one step at a time, each checked when it is saved. */
export function WizardPage() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const navigate = useNavigate();
  const cases = useCases();
  const [step, setStep] = useState(0);
  const [handle, setHandle] = useState("");
  const [userId, setUserId] = useState<number | string>("");
  const [displayName, setDisplayName] = useState("");
  const [risk, setRisk] = useState<string | null>("unknown");
  const [tags, setTags] = useState("");
  const [caseId, setCaseId] = useState<string | null>(null);
  const [reason, setReason] = useState("");

  const draft = useQuery({
    queryKey: ["draft"],
    queryFn: () => unwrap(create.POST("/api/create/drafts")),
    staleTime: Infinity,
  });
  const draftId = draft.data?.id ?? 0;
  const path = { params: { path: { draft_id: draftId } } };
  const save = useMutation({
    mutationFn: async (which: number) => {
      if (which === 0) {
        return unwrap(create.PUT("/api/create/drafts/{draft_id}/identity", { ...path,
          body: { unique_id: handle || null, tiktok_user_id: userId === "" ? null : Number(userId) } }));
      }
      if (which === 1) {
        const tagList = tags.split(",").map((tag) => tag.trim()).filter(Boolean);
        return unwrap(create.PUT("/api/create/drafts/{draft_id}/classification", { ...path,
          body: { display_name: displayName, risk_level: (risk ?? "unknown") as "unknown", tags: tagList, notes: "" } }));
      }
      return unwrap(create.PUT("/api/create/drafts/{draft_id}/case", { ...path,
        body: { case_id: caseId ? Number(caseId) : null, duplicate_reason: reason || null } }));
    },
    onSuccess: (saved, which) => {
      client.setQueryData(["draft"], saved);
      setStep(which + 1);
    },
  });
  const commit = useMutation({
    mutationFn: () => unwrap(create.POST("/api/create/drafts/{draft_id}/commit", path)),
    onSuccess: (profile) => {
      client.removeQueries({ queryKey: ["draft"] });
      navigate(`/profiles/${profile.id}`);
    },
  });
  const error = save.error instanceof ApiError ? save.error : null;
  const review = draft.data?.review;
  const submit = (which: number) => (event: FormEvent) => {
    event.preventDefault();
    save.mutate(which);
  };
  return (
    <>
      <PageTitle>{t("profiles2.wizard")}</PageTitle>
      <ErrorNote error={draft.error} />
      <Stepper active={step} onStepClick={setStep} mb="md">
        <Stepper.Step label={t("profiles2.stepIdentity")}>
          <Paper withBorder p="md" component="form" onSubmit={submit(0)} noValidate>
            <Text size="sm" mb="xs">{t("profiles2.identityHint")}</Text>
            <Group grow align="flex-start">
              <TextInput label={t("profiles2.handle")} value={handle} onChange={(e) => setHandle(e.currentTarget.value)}
                error={error?.fieldProblem("unique_id") ?? error?.fieldProblem("body")} />
              <NumberInput label={t("profiles2.userId")} value={userId} onChange={setUserId} allowDecimal={false}
                error={error?.fieldProblem("tiktok_user_id")} />
            </Group>
            <Button type="submit" mt="sm" loading={save.isPending} disabled={!draftId}>{t("common.next")}</Button>
          </Paper>
        </Stepper.Step>
        <Stepper.Step label={t("profiles2.stepClassification")}>
          <Paper withBorder p="md" component="form" onSubmit={submit(1)} noValidate>
            <Group grow align="flex-start">
              <TextInput label={t("profiles2.displayName")} value={displayName}
                onChange={(e) => setDisplayName(e.currentTarget.value)} error={error?.fieldProblem("display_name")} />
              <Select label={t("profiles2.risk")} data={RISKS} value={risk} onChange={setRisk}
                error={error?.fieldProblem("risk_level")} />
              <TextInput label={t("profiles2.tags")} description={t("profiles2.tagsHint")} value={tags}
                onChange={(e) => setTags(e.currentTarget.value)} error={error?.fieldProblem("tags")} />
            </Group>
            <Button type="submit" mt="sm" loading={save.isPending}>{t("common.next")}</Button>
          </Paper>
        </Stepper.Step>
        <Stepper.Step label={t("profiles2.stepCase")}>
          <Paper withBorder p="md" component="form" onSubmit={submit(2)} noValidate>
            <Group grow align="flex-start">
              <Select label={t("profiles2.case")} searchable clearable value={caseId} onChange={setCaseId}
                data={(cases.data ?? []).map((item) => ({ value: String(item.id), label: `${item.reference} — ${item.title}` }))}
                error={error?.fieldProblem("case_id")} />
              <TextInput label={t("profiles2.duplicateReason")} description={t("profiles2.duplicateReasonHint")}
                value={reason} onChange={(e) => setReason(e.currentTarget.value)} error={error?.fieldProblem("duplicate_reason")} />
            </Group>
            <Button type="submit" mt="sm" loading={save.isPending}>{t("common.next")}</Button>
          </Paper>
        </Stepper.Step>
        <Stepper.Completed>
          <Paper withBorder p="md" aria-labelledby="review-title">
            <Title order={3} id="review-title" mb="sm">{t("profiles2.review")}</Title>
            {review?.identity && (
              <Text>@{review.identity.unique_id ?? "?"} {review.identity.nickname ? `(${review.identity.nickname})` : ""}
                {review.identity.subject_id ? ` · ${t("profiles2.seenInCaptures")}` : ` · ${t("profiles2.neverSeen")}`}</Text>
            )}
            {!!review?.duplicates.length && (
              <Alert color="orange" title={t("profiles2.duplicateTitle")} mt="sm" data-testid="duplicate-warning"
                styles={{ title: { color: "var(--mantine-color-text)" } }}>
                {review.duplicates.map((item) => (
                  <Anchor key={item.id} component={Link} to={`/profiles/${item.id}`} mr="sm">@{item.unique_id}</Anchor>
                ))}
                <Text size="sm">{t("profiles2.duplicateHint")}</Text>
              </Alert>
            )}
            {!!review?.similar.length && (
              <Text size="sm" mt="sm">{t("profiles2.similar")}: {review.similar.map((item) => `@${item.unique_id}`).join(", ")}</Text>
            )}
            {commit.error && <ErrorNote error={commit.error} />}
            <Button mt="sm" onClick={() => commit.mutate()} loading={commit.isPending} disabled={!review?.ready}>
              {t("profiles2.commit")}
            </Button>
          </Paper>
        </Stepper.Completed>
      </Stepper>
      {save.error && !error?.fields.length && <ErrorNote error={save.error} />}
    </>
  );
}

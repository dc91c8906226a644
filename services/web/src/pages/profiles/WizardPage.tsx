import { Alert, Anchor, Button, Group, NumberInput, Paper, Select, Stepper, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { create, profiles } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { useCases } from "../cases/CasesPage";

const RISKS = ["unknown", "low", "medium", "high"];

type LinkedAccount = { subject_id: number; handle: string; reason: string };

/** Step 2: other accounts of this person, each a subject seen in captures (found by its user id), with why. */
function AccountsForm({ accounts, setAccounts }: {
  accounts: LinkedAccount[]; setAccounts: (next: LinkedAccount[]) => void;
}) {
  const { t } = useTranslation();
  const [userId, setUserId] = useState<number | string>("");
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const find = useMutation({
    mutationFn: () => unwrap(profiles.GET("/api/profiles/subjects/by-user-id/{tiktok_user_id}",
      { params: { path: { tiktok_user_id: Number(userId) } } })),
    onSuccess: (subject) => {
      setAccounts([...accounts.filter((item) => item.subject_id !== subject.id),
        { subject_id: subject.id, handle: subject.unique_id ?? String(subject.tiktok_user_id), reason }]);
      setUserId("");
      setReason("");
      setProblem(null);
    },
    onError: () => setProblem(t("profiles3.noAccountSeen")),
  });
  return (
    <>
      <Text size="sm" mb="xs">{t("profiles3.accountsHint")}</Text>
      {!!accounts.length && (
        <Table mb="sm" data-testid="wizard-accounts">
          <Table.Tbody>
            {accounts.map((item) => (
              <Table.Tr key={item.subject_id}>
                <Table.Td>@{item.handle}</Table.Td>
                <Table.Td>{item.reason}</Table.Td>
                <Table.Td>
                  <Button variant="subtle" size="xs" onClick={() => setAccounts(accounts.filter((other) => other !== item))}>
                    {t("profiles3.removeAccount")}
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Group grow align="flex-start">
        <NumberInput label={t("profiles3.accountUserId")} value={userId} onChange={setUserId} allowDecimal={false} min={1}
          error={problem} />
        <TextInput label={t("profiles2.reason")} value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
      </Group>
      <Button variant="default" mt="sm" onClick={() => find.mutate()} loading={find.isPending}
        disabled={userId === "" || !reason.trim()}>{t("profiles3.addAccount")}</Button>
    </>
  );
}

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
  const [accounts, setAccounts] = useState<LinkedAccount[]>([]);

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
        return unwrap(create.PUT("/api/create/drafts/{draft_id}/accounts", { ...path,
          body: { linked: accounts.map((item) => ({ subject_id: item.subject_id, reason: item.reason })) } }));
      }
      if (which === 2) {
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
  const merge = useMutation({
    mutationFn: (profileId: number) => unwrap(create.POST("/api/create/drafts/{draft_id}/merge",
      { ...path, body: { profile_id: profileId } })),
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
        <Stepper.Step label={t("profiles3.stepAccounts")}>
          <Paper withBorder p="md" component="form" onSubmit={submit(1)} noValidate>
            <AccountsForm accounts={accounts} setAccounts={setAccounts} />
            <Group mt="sm"><Button type="submit" loading={save.isPending}>{t("common.next")}</Button></Group>
          </Paper>
        </Stepper.Step>
        <Stepper.Step label={t("profiles2.stepClassification")}>
          <Paper withBorder p="md" component="form" onSubmit={submit(2)} noValidate>
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
          <Paper withBorder p="md" component="form" onSubmit={submit(3)} noValidate>
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
                <Text size="sm">{t("profiles2.duplicateHint")}</Text>
              </Alert>
            )}
            {!!(review?.duplicates.length || review?.similar.length) && (
              <Table mt="sm" data-testid="merge-candidates">
                <Table.Tbody>
                  {[...(review?.duplicates ?? []), ...(review?.similar ?? [])].map((item) => (
                    <Table.Tr key={item.id}>
                      <Table.Td>@{item.unique_id}</Table.Td>
                      <Table.Td>
                        {review?.duplicates.some((dup) => dup.id === item.id) ? t("profiles2.duplicateTitle") : t("profiles2.similar")}
                      </Table.Td>
                      <Table.Td>
                        <Anchor component={Link} to={`/profiles/${item.id}`} mr="sm">{t("profiles3.open")}</Anchor>
                        <Button size="xs" variant="default" loading={merge.isPending && merge.variables === item.id}
                          onClick={() => merge.mutate(item.id)}>{t("profiles3.mergeInto", { handle: item.unique_id })}</Button>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
            {!!(review?.duplicates.length || review?.similar.length) && <Text size="xs">{t("profiles3.mergeHint")}</Text>}
            {merge.error && <ErrorNote error={merge.error} />}
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

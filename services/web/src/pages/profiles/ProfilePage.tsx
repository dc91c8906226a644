import { Anchor, Badge, Button, Code, Group, NumberInput, Paper, SimpleGrid, Stack, Table, Text, Textarea, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";
import { profiles } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime, shortHash } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";

function Notes({ profileId, canWrite }: { profileId: number; canWrite: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [body, setBody] = useState("");
  const path = { params: { path: { profile_id: profileId } } };
  const notes = useQuery({
    queryKey: ["profile-notes", profileId],
    queryFn: () => unwrap(profiles.GET("/api/profiles/profiles/{profile_id}/notes", path)),
  });
  const add = useMutation({
    mutationFn: () => unwrap(profiles.POST("/api/profiles/profiles/{profile_id}/notes", { ...path, body: { body } })),
    onSuccess: () => {
      setBody("");
      void client.invalidateQueries({ queryKey: ["profile-notes", profileId] });
    },
  });
  const error = add.error instanceof ApiError ? add.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  return (
    <Paper withBorder p="md" aria-labelledby="notes-title">
      <Title order={3} id="notes-title" mb="sm">{t("profiles2.notes")}</Title>
      <ErrorNote error={notes.error} />
      {notes.data?.length === 0 && <Empty>{t("profiles2.noNotes")}</Empty>}
      <Stack gap="xs" mb="sm">
        {notes.data?.map((note) => (
          <Paper key={note.id} withBorder p="xs">
            <Text size="xs" c="dimmed">{note.author} · {formatDateTime(note.created_at)}</Text>
            <Text style={{ whiteSpace: "pre-wrap" }}>{note.body}</Text>
          </Paper>
        ))}
      </Stack>
      {canWrite && (
        <form onSubmit={submit} noValidate>
          <Textarea label={t("profiles2.addNote")} value={body} onChange={(e) => setBody(e.currentTarget.value)}
            error={error?.fieldProblem("body")} autosize minRows={2} />
          {add.error && !error?.fields.length && <ErrorNote error={add.error} />}
          <Button type="submit" mt="xs" loading={add.isPending} disabled={!body.trim()}>{t("profiles2.saveNote")}</Button>
        </form>
      )}
    </Paper>
  );
}

function LinkedAccounts({ profileId, canWrite }: { profileId: number; canWrite: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [subjectId, setSubjectId] = useState<number | string>("");
  const [reason, setReason] = useState("");
  const path = { params: { path: { profile_id: profileId } } };
  const linked = useQuery({
    queryKey: ["profile-accounts", profileId],
    queryFn: () => unwrap(profiles.GET("/api/profiles/profiles/{profile_id}/accounts", path)),
  });
  const link = useMutation({
    mutationFn: () => unwrap(profiles.POST("/api/profiles/profiles/{profile_id}/accounts",
      { ...path, body: { subject_id: Number(subjectId), reason } })),
    onSuccess: () => {
      setSubjectId("");
      setReason("");
      void client.invalidateQueries({ queryKey: ["profile-accounts", profileId] });
    },
  });
  const error = link.error instanceof ApiError ? link.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    link.mutate();
  };
  return (
    <Paper withBorder p="md" aria-labelledby="accounts-title">
      <Title order={3} id="accounts-title" mb="sm">{t("profiles2.linkedAccounts")}</Title>
      <ErrorNote error={linked.error} />
      {linked.data?.length === 0 && <Empty>{t("profiles2.noLinked")}</Empty>}
      {!!linked.data?.length && (
        <Table data-testid="linked-accounts" mb="sm">
          <Table.Tbody>
            {linked.data.map((account) => (
              <Table.Tr key={account.subject_id}>
                <Table.Td>@{account.unique_id ?? "?"} <Code fz="xs">{String(account.tiktok_user_id)}</Code></Table.Td>
                <Table.Td>{account.reason}</Table.Td>
                <Table.Td>{account.linked_by} · {formatDateTime(account.linked_at)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {canWrite && (
        <Group component="form" onSubmit={submit} align="flex-end">
          <NumberInput label={t("profiles2.subjectId")} value={subjectId} onChange={setSubjectId} min={1}
            error={error?.fieldProblem("subject_id")} allowDecimal={false} />
          <TextInput label={t("profiles2.reason")} value={reason} onChange={(e) => setReason(e.currentTarget.value)}
            error={error?.fieldProblem("reason")} />
          <Button type="submit" loading={link.isPending} disabled={!subjectId}>{t("profiles2.link")}</Button>
        </Group>
      )}
    </Paper>
  );
}

function Attachments({ profileId }: { profileId: number }) {
  const { t } = useTranslation();
  const list = useQuery({
    queryKey: ["profile-attachments", profileId],
    queryFn: () => unwrap(profiles.GET("/api/profiles/profiles/{profile_id}/attachments",
      { params: { path: { profile_id: profileId } } })),
  });
  return (
    <Paper withBorder p="md" aria-labelledby="attachments-title">
      <Title order={3} id="attachments-title" mb="sm">{t("profiles2.attachments")}</Title>
      <ErrorNote error={list.error} />
      {list.data?.length === 0 && <Empty>{t("profiles2.noAttachments")}</Empty>}
      {list.data?.map((item) => (
        <Text key={item.id}>
          <Anchor href={`/api/profiles/profiles/${profileId}/attachments/${item.id}`} download>{item.filename}</Anchor>
          {" "}<Code fz="xs">{item.media_type}</Code> {item.size} B · {shortHash(item.sha256)}
        </Text>
      ))}
    </Paper>
  );
}

function Timeline({ subjectId }: { subjectId: number }) {
  const { t } = useTranslation();
  const timeline = useQuery({
    queryKey: ["subject-timeline", subjectId],
    queryFn: () => unwrap(profiles.GET("/api/profiles/subjects/{subject_id}/timeline",
      { params: { path: { subject_id: subjectId }, query: { limit: 50 } } })),
  });
  return (
    <Paper withBorder p="md" aria-labelledby="timeline-title">
      <Title order={3} id="timeline-title" mb="sm">{t("profiles2.timeline")}</Title>
      <ErrorNote error={timeline.error} />
      {timeline.data?.items.length === 0 && <Empty>{t("profiles2.noTimeline")}</Empty>}
      {!!timeline.data?.items.length && (
        <Table striped data-testid="timeline">
          <Table.Tbody>
            {timeline.data.items.map((item) => (
              <Table.Tr key={`${item.session_id}-${item.seq}`}>
                <Table.Td>{formatDateTime(item.captured_at)}</Table.Td>
                <Table.Td>{item.kind}</Table.Td>
                <Table.Td>{item.body}</Table.Td>
                <Table.Td><Anchor component={Link} to={`/sessions/${item.session_id}`}>#{item.seq}</Anchor></Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}

export function ProfilePage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const profileId = Number(useParams().profileId);
  const profile = useQuery({
    queryKey: ["profile", profileId],
    queryFn: () => unwrap(profiles.GET("/api/profiles/profiles/{profile_id}", { params: { path: { profile_id: profileId } } })),
  });
  const canWrite = allows(me, "investigator");
  const data = profile.data;
  return (
    <>
      <PageTitle>{data ? `@${data.unique_id}` : t("profiles2.profile")}</PageTitle>
      <ErrorNote error={profile.error} />
      {data && (
        <Stack>
          <Group>
            {data.display_name && <Text fw={600}>{data.display_name}</Text>}
            <Badge variant="light">{data.risk_level}</Badge>
            {data.tags?.map((tag) => <Badge key={tag} variant="outline">{tag}</Badge>)}
            {data.case_id && <Anchor component={Link} to={`/cases/${data.case_id}`}>{t("profiles2.case")} {data.case_id}</Anchor>}
            {data.tiktok_user_id && <Code>{String(data.tiktok_user_id)}</Code>}
          </Group>
          {!!data.aliases?.length && <Text size="sm">{t("profiles2.aliases")}: {data.aliases.join(", ")}</Text>}
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Notes profileId={profileId} canWrite={canWrite} />
            <LinkedAccounts profileId={profileId} canWrite={canWrite} />
            <Attachments profileId={profileId} />
            {data.subject_id && <Timeline subjectId={data.subject_id} />}
          </SimpleGrid>
        </Stack>
      )}
    </>
  );
}

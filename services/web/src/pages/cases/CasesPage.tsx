import { Anchor, Button, Group, Paper, Table, Textarea, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { dashboard } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { Empty } from "../../components/Empty";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDateTime } from "../../lib/format";
import { allows, useMe } from "../../shell/auth";

export function useCases() {
  return useQuery({ queryKey: ["cases"], queryFn: () => unwrap(dashboard.GET("/api/dashboard/cases")) });
}

function NewCaseForm() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [reference, setReference] = useState("");
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(dashboard.POST("/api/dashboard/cases", { body: { reference, title, description } })),
    onSuccess: async (created) => {
      await client.invalidateQueries({ queryKey: ["cases"] });
      navigate(`/cases/${created.id}`);
    },
  });
  const error = create.error instanceof ApiError ? create.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <Paper withBorder p="md" mb="lg" component="form" onSubmit={submit} noValidate aria-labelledby="new-case">
      <Title order={3} id="new-case" mb="sm">{t("cases.new")}</Title>
      <Group align="flex-start" grow>
        <TextInput
          label={t("cases.reference")}
          description={t("cases.referenceHint")}
          required
          value={reference}
          onChange={(event) => setReference(event.currentTarget.value)}
          error={error?.fieldProblem("reference")}
        />
        <TextInput
          label={t("cases.caseTitle")}
          required
          value={title}
          onChange={(event) => setTitle(event.currentTarget.value)}
          error={error?.fieldProblem("title")}
        />
      </Group>
      <Textarea
        mt="sm"
        label={t("cases.description")}
        autosize
        minRows={2}
        value={description}
        onChange={(event) => setDescription(event.currentTarget.value)}
        error={error?.fieldProblem("description")}
      />
      {create.error && !error?.fields.length && <ErrorNote error={create.error} />}
      <Button type="submit" mt="sm" loading={create.isPending}>{t("cases.create")}</Button>
    </Paper>
  );
}

export function CasesPage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const cases = useCases();
  return (
    <>
      <PageTitle>{t("cases.title")}</PageTitle>
      {allows(me, "investigator") && <NewCaseForm />}
      <ErrorNote error={cases.error} />
      {cases.data?.length === 0 && <Empty>{t("cases.empty")}</Empty>}
      {!!cases.data?.length && (
        <Table striped highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("cases.reference")}</Table.Th>
              <Table.Th>{t("cases.caseTitle")}</Table.Th>
              <Table.Th>{t("common.status")}</Table.Th>
              <Table.Th>{t("cases.createdBy")}</Table.Th>
              <Table.Th>{t("cases.createdAt")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {cases.data.map((item) => (
              <Table.Tr key={item.id}>
                <Table.Td>
                  <Anchor component={Link} to={`/cases/${item.id}`}>{item.reference}</Anchor>
                </Table.Td>
                <Table.Td>{item.title}</Table.Td>
                <Table.Td><StatusBadge status={item.status} /></Table.Td>
                <Table.Td>{item.created_by}</Table.Td>
                <Table.Td>{formatDateTime(item.created_at)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}

// Accounts (admins). Main's API lists and creates accounts; changing a role, disabling an account and
// resetting a password arrive with the accounts API (issue 7) and get their buttons then.
import { Badge, Button, Group, Paper, PasswordInput, Select, Table, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { dashboard } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime } from "../../lib/format";
import type { Role } from "../../shell/auth";

const ROLES: Role[] = ["viewer", "investigator", "admin"];

function NewAccountForm() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const create = useMutation({
    mutationFn: () => unwrap(dashboard.POST("/api/auth/users", { body: { username, password, role } })),
    onSuccess: async () => {
      setUsername("");
      setPassword("");
      await client.invalidateQueries({ queryKey: ["users"] });
    },
  });
  const error = create.error instanceof ApiError ? create.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <Paper withBorder p="md" mb="lg" component="form" onSubmit={submit} noValidate aria-labelledby="new-account">
      <Title order={3} id="new-account" mb="sm">{t("accounts.new")}</Title>
      <Group align="flex-start" grow>
        <TextInput
          label={t("signIn.username")}
          description={t("accounts.usernameHint")}
          required
          value={username}
          onChange={(event) => setUsername(event.currentTarget.value)}
          error={error?.fieldProblem("username")}
        />
        <PasswordInput
          label={t("signIn.password")}
          description={t("accounts.passwordHint")}
          required
          autoComplete="new-password"
          value={password}
          onChange={(event) => setPassword(event.currentTarget.value)}
          error={error?.fieldProblem("password")}
        />
        <Select
          label={t("accounts.role")}
          data={ROLES.map((value) => ({ value, label: t(`roles.${value}`) }))}
          value={role}
          onChange={(value) => value && setRole(value as Role)}
          allowDeselect={false}
          error={error?.fieldProblem("role")}
        />
      </Group>
      {create.error && !error?.fields.length && <ErrorNote error={create.error} />}
      <Button type="submit" mt="sm" loading={create.isPending}>{t("accounts.create")}</Button>
    </Paper>
  );
}

export function AccountsPage() {
  const { t } = useTranslation();
  const users = useQuery({ queryKey: ["users"], queryFn: () => unwrap(dashboard.GET("/api/auth/users")) });
  return (
    <>
      <PageTitle>{t("accounts.title")}</PageTitle>
      <NewAccountForm />
      <ErrorNote error={users.error} />
      {!!users.data?.length && (
        <Table striped data-testid="accounts">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("signIn.username")}</Table.Th>
              <Table.Th>{t("accounts.role")}</Table.Th>
              <Table.Th>{t("common.status")}</Table.Th>
              <Table.Th>{t("accounts.createdAt")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {users.data.map((user) => (
              <Table.Tr key={user.id}>
                <Table.Td>{user.username}</Table.Td>
                <Table.Td>{t(`roles.${user.role}`)}</Table.Td>
                <Table.Td>
                  <Badge color={user.disabled ? "gray" : "green"} variant="dot">
                    {user.disabled ? t("accounts.disabled") : t("accounts.active")}
                  </Badge>
                </Table.Td>
                <Table.Td>{formatDateTime(user.created_at)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}

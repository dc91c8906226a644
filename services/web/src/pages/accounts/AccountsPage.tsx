// Accounts (admins): create, change a role, disable or enable, set a new password. Each change ends the
// account's sessions on the server; the last active admin cannot be demoted or disabled (409, shown).
import { Badge, Button, Group, Modal, Paper, PasswordInput, Select, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { dashboard } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { PageTitle } from "../../components/PageTitle";
import { formatDateTime } from "../../lib/format";
import { type Role, useMe } from "../../shell/auth";

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

interface Account {
  username: string;
  role: Role;
  disabled: boolean;
}

/** Sets another account's password in a dialog; the API names what is wrong with it at the field. */
function PasswordDialog({ account, onClose, onDone }: { account: Account; onClose: () => void; onDone: () => void }) {
  const { t } = useTranslation();
  const [password, setPassword] = useState("");
  const reset = useMutation({
    mutationFn: () =>
      unwrap(
        dashboard.PUT("/api/auth/users/{username}/password", {
          params: { path: { username: account.username } },
          body: { new_password: password },
        }),
      ),
    onSuccess: onDone,
  });
  const error = reset.error instanceof ApiError ? reset.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    reset.mutate();
  };
  return (
    <Modal opened onClose={onClose} title={t("accountActions.resetTitle", { username: account.username })}>
      <form onSubmit={submit} noValidate>
        <PasswordInput
          label={t("accountActions.newPassword")}
          description={t("accounts.passwordHint")}
          autoComplete="new-password"
          required
          data-autofocus
          value={password}
          onChange={(event) => setPassword(event.currentTarget.value)}
          error={error?.fieldProblem("new_password")}
          aria-invalid={!!error?.fieldProblem("new_password")}
        />
        {reset.error && !error?.fields.length && <ErrorNote error={reset.error} />}
        <Group mt="md" justify="flex-end">
          <Button variant="default" onClick={onClose}>{t("accountActions.cancel")}</Button>
          <Button type="submit" loading={reset.isPending} data-testid="save-password">{t("accountActions.save")}</Button>
        </Group>
      </form>
    </Modal>
  );
}

/** Role, disable/enable and password for one account (not your own: that is the profile's job). */
function AccountActions({ account, isMe, onChanged }: { account: Account; isMe: boolean; onChanged: (note: string) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [resetting, setResetting] = useState(false);
  const path = { params: { path: { username: account.username } } };
  const done = async (note: string) => {
    await client.invalidateQueries({ queryKey: ["users"] });
    onChanged(note);
  };
  const role = useMutation({
    mutationFn: (next: Role) => unwrap(dashboard.PUT("/api/auth/users/{username}/role", { ...path, body: { role: next } })),
    onSuccess: (user) => done(t("accountActions.roleChanged", { username: user.username, role: t(`roles.${user.role}`) })),
  });
  const toggle = useMutation({
    mutationFn: () =>
      unwrap(
        account.disabled
          ? dashboard.POST("/api/auth/users/{username}/enable", path)
          : dashboard.POST("/api/auth/users/{username}/disable", path),
      ),
    onSuccess: (user) =>
      done(t(user.disabled ? "accountActions.wasDisabled" : "accountActions.wasEnabled", { username: user.username })),
  });
  const failure = role.error ?? toggle.error;
  return (
    <>
      <Group gap="xs" wrap="nowrap">
        <Select
          size="xs"
          w={150}
          aria-label={t("accountActions.roleOf", { username: account.username })}
          data={ROLES.map((value) => ({ value, label: t(`roles.${value}`) }))}
          value={account.role}
          onChange={(value) => value && value !== account.role && role.mutate(value as Role)}
          allowDeselect={false}
          disabled={isMe || role.isPending}
          data-testid="role"
        />
        <Button
          size="xs"
          variant="default"
          disabled={isMe}
          loading={toggle.isPending}
          onClick={() => toggle.mutate()}
          data-testid="toggle-disabled"
        >
          {account.disabled ? t("accountActions.enable") : t("accountActions.disable")}
        </Button>
        <Button size="xs" variant="default" disabled={isMe} onClick={() => setResetting(true)} data-testid="reset-password">
          {t("accountActions.resetPassword")}
        </Button>
      </Group>
      <ErrorNote error={failure} />
      {resetting && (
        <PasswordDialog
          account={account}
          onClose={() => setResetting(false)}
          onDone={() => {
            setResetting(false);
            void done(t("accountActions.passwordSet", { username: account.username }));
          }}
        />
      )}
    </>
  );
}

export function AccountsPage() {
  const { t } = useTranslation();
  const me = useMe().data;
  const [note, setNote] = useState("");
  const users = useQuery({ queryKey: ["users"], queryFn: () => unwrap(dashboard.GET("/api/auth/users")) });
  return (
    <>
      <PageTitle>{t("accounts.title")}</PageTitle>
      <NewAccountForm />
      <ErrorNote error={users.error} />
      <Text role="status" size="sm" mb="xs" data-testid="account-note">{note}</Text>
      {!!users.data?.length && (
        <Table striped data-testid="accounts">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("signIn.username")}</Table.Th>
              <Table.Th>{t("accounts.role")}</Table.Th>
              <Table.Th>{t("common.status")}</Table.Th>
              <Table.Th>{t("accounts.createdAt")}</Table.Th>
              <Table.Th>{t("accountActions.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {users.data.map((user) => (
              <Table.Tr key={user.id} data-username={user.username}>
                <Table.Td>{user.username}</Table.Td>
                <Table.Td>{t(`roles.${user.role}`)}</Table.Td>
                <Table.Td>
                  <Badge color={user.disabled ? "gray" : "green"} variant="dot">
                    {user.disabled ? t("accounts.disabled") : t("accounts.active")}
                  </Badge>
                </Table.Td>
                <Table.Td>{formatDateTime(user.created_at)}</Table.Td>
                <Table.Td>
                  <AccountActions account={user} isMe={user.username === me?.username} onChanged={setNote} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}

import { Button, Center, Group, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { dashboard } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { LanguageSwitch } from "../../shell/Layout";
import { ME_KEY } from "../../shell/auth";

export function SignInPage() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const signIn = useMutation({
    mutationFn: () => unwrap(dashboard.POST("/api/auth/login", { body: { username, password } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ME_KEY }),
  });
  const error = signIn.error instanceof ApiError ? signIn.error : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    signIn.mutate();
  };
  document.title = `${t("signIn.title")} · SCIS`;
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder shadow="sm" p="xl" w={380}>
        <form onSubmit={submit} noValidate>
          <Stack>
            <Group justify="space-between">
              <Title order={1} size="h2">SCIS</Title>
              <LanguageSwitch />
            </Group>
            <Text size="sm" c="dimmed">{t("shell.tagline")}</Text>
            <TextInput
              label={t("signIn.username")}
              autoComplete="username"
              required
              value={username}
              onChange={(event) => setUsername(event.currentTarget.value)}
              error={error?.fieldProblem("username")}
            />
            <PasswordInput
              label={t("signIn.password")}
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.currentTarget.value)}
              error={error?.fieldProblem("password")}
            />
            {error?.status === 401 ? (
              <Text c="red" role="alert">{t("signIn.refused")}</Text>
            ) : (
              error?.fields.length === 0 && <ErrorNote error={signIn.error} />
            )}
            {signIn.error && !(signIn.error instanceof ApiError) && <ErrorNote error={signIn.error} />}
            <Button type="submit" loading={signIn.isPending}>
              {t("signIn.submit")}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

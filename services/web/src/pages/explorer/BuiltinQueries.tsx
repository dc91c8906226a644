import { Button, Group, NumberInput, Paper, Select, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { analyser, database } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import type { components } from "../../api/schema/database";
import { ErrorNote } from "../../components/ErrorNote";
import { formatDateTime } from "../../lib/format";
import { ResultGrid } from "./ResultGrid";

type Parameter = components["schemas"]["BuiltinParameter"];
type Value = string | number | null;

/** A datetime-local value (the analyst's clock) as the UTC ISO 8601 the API reads. */
function toUtc(local: string): string {
  const moment = new Date(local);
  return Number.isNaN(moment.getTime()) ? local : moment.toISOString();
}

function ParameterInput({ parameter, value, onChange, error }: {
  parameter: Parameter; value: Value; onChange: (value: Value) => void; error?: string;
}) {
  const { t } = useTranslation();
  const sessions = useQuery({
    queryKey: ["builtin-sessions"],
    enabled: parameter.type === "session",
    queryFn: () => unwrap(analyser.GET("/api/analyser/sessions", { params: { query: { limit: 200 } } })),
  });
  const label = t(`reports4.parameter.${parameter.name}`, { defaultValue: parameter.name });
  const common = { label, description: parameter.description, error, required: parameter.default == null, "data-testid": `builtin-${parameter.name}` };
  if (parameter.type === "session") {
    return (
      <Select
        {...common}
        searchable
        data={(sessions.data ?? []).map((item) => ({ value: item.id, label: `@${item.target} — ${formatDateTime(item.started_at)}` }))}
        value={typeof value === "string" ? value : null}
        onChange={onChange}
      />
    );
  }
  if (parameter.type === "integer") {
    return (
      <NumberInput
        {...common}
        min={parameter.minimum ?? undefined}
        max={parameter.maximum ?? undefined}
        placeholder={parameter.default != null ? String(parameter.default) : undefined}
        value={value ?? ""}
        onChange={(next) => onChange(next === "" ? null : Number(next))}
      />
    );
  }
  return (
    <TextInput
      {...common}
      type={parameter.type === "timestamp" ? "datetime-local" : "text"}
      step={parameter.type === "timestamp" ? 1 : undefined}
      value={typeof value === "string" ? value : ""}
      onChange={(event) => onChange(event.currentTarget.value || null)}
    />
  );
}

/** The ready-made questions (top gifters, joins between two times, what a user said) with their inputs. */
export function BuiltinQueries() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const list = useQuery({ queryKey: ["builtin"], queryFn: () => unwrap(database.GET("/api/database/builtin")) });
  const [name, setName] = useState<string | null>(null);
  const [values, setValues] = useState<Record<string, Value>>({});
  const chosen = list.data?.find((item) => item.name === name) ?? list.data?.[0];
  const run = useMutation({
    mutationFn: () => {
      if (!chosen) throw new Error("no ready-made query");
      const parameters = Object.fromEntries(
        chosen.parameters.map((p) => {
          const value = values[p.name] ?? null;
          return [p.name, p.type === "timestamp" && typeof value === "string" ? toUtc(value) : value];
        }),
      );
      return unwrap(database.POST("/api/database/builtin/{name}", { params: { path: { name: chosen.name } }, body: { parameters } }));
    },
    onSettled: () => client.invalidateQueries({ queryKey: ["explorer-history"] }),
  });
  const error = run.error instanceof ApiError ? run.error : null;
  return (
    <Paper withBorder p="sm" mb="sm" aria-labelledby="builtin-title" data-testid="builtin-queries">
      <Title order={3} size="h5" id="builtin-title" mb="xs">{t("reports4.builtin")}</Title>
      <ErrorNote error={list.error} />
      <Group align="flex-start" grow>
        <Select
          label={t("reports4.question")}
          allowDeselect={false}
          data={(list.data ?? []).map((item) => ({ value: item.name, label: item.title }))}
          value={chosen?.name ?? null}
          onChange={(next) => {
            setName(next);
            setValues({});
            run.reset();
          }}
          data-testid="builtin-name"
        />
        {chosen?.parameters.map((parameter) => (
          <ParameterInput
            key={`${chosen.name}-${parameter.name}`}
            parameter={parameter}
            value={values[parameter.name] ?? null}
            onChange={(value) => setValues((old) => ({ ...old, [parameter.name]: value }))}
            error={error?.fieldProblem(`parameters.${parameter.name}`)}
          />
        ))}
      </Group>
      {chosen && <Text size="xs" c="dimmed" mt={4}>{chosen.description}</Text>}
      <Button size="sm" mt="xs" onClick={() => run.mutate()} loading={run.isPending} disabled={!chosen} data-testid="run-builtin">
        {t("reports4.ask")}
      </Button>
      {run.error && !error?.fields.length && <ErrorNote error={run.error} />}
      {run.data && (
        <>
          <Text size="sm" my="xs" data-testid="builtin-row-count">
            {t("explorer.rows", { count: run.data.row_count, ms: run.data.elapsed_ms.toFixed(1) })}
            {run.data.truncated && ` ${t("explorer.truncated")}`}
          </Text>
          <ResultGrid result={run.data} testId="builtin-results" />
        </>
      )}
    </Paper>
  );
}

// The API's error bodies as something a page can show: one sentence, plus the problem of each field.
export interface FieldProblem {
  field: string;
  value: unknown;
  problem: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
  }

  /** The problem the API named for this field (its last dotted part, as forms name their inputs). */
  fieldProblem(name: string): string | undefined {
    return this.fields.find((item) => item.field === name || item.field.split(".").pop() === name)?.problem;
  }
}

function isFieldProblem(item: unknown): item is FieldProblem {
  return typeof item === "object" && item !== null && "field" in item && "problem" in item;
}

/** An ApiError from a response status and its parsed JSON body (FastAPI's `detail`, our 422 `errors`). */
export function apiError(status: number, body: unknown): ApiError {
  const payload = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const fields = Array.isArray(payload.errors) ? payload.errors.filter(isFieldProblem) : [];
  const detail = typeof payload.detail === "string" ? payload.detail : `HTTP ${status}`;
  return new ApiError(status, detail, fields);
}

/** The data of an openapi-fetch result, or its error thrown as an ApiError. */
export async function unwrap<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok) {
    throw apiError(response.status, error);
  }
  return data as T;
}

import { describe, expect, it } from "vitest";
import { apiError } from "./errors";

describe("apiError", () => {
  it("puts each 422 problem at the field it names", () => {
    const error = apiError(422, {
      detail: "invalid request: body.reference: string should match pattern",
      errors: [{ field: "body.reference", value: "x", problem: "string should match pattern" }],
    });
    expect(error.status).toBe(422);
    expect(error.fieldProblem("reference")).toBe("string should match pattern");
    expect(error.fieldProblem("title")).toBeUndefined();
  });

  it("keeps FastAPI's detail sentence, and says the status when there is none", () => {
    expect(apiError(409, { detail: "already monitoring @x" }).message).toBe("already monitoring @x");
    expect(apiError(502, "<html>bad gateway</html>").message).toBe("HTTP 502");
    expect(apiError(502, undefined).fields).toEqual([]);
  });
});

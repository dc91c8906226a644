import { describe, expect, it } from "vitest";
import { errorPosition, toCsv } from "./csv";

describe("toCsv", () => {
  it("quotes what needs quoting and leaves nulls empty", () => {
    expect(toCsv(["a", "b"], [["x,y", null], ['say "hi"', { k: 1 }]])).toBe(
      'a,b\r\n"x,y",\r\n"say ""hi""","{""k"":1}"\r\n',
    );
  });
});

describe("errorPosition", () => {
  it("reads a character offset or a line and column", () => {
    expect(errorPosition("syntax error at character 8", "SELECT * FRM x")).toBe(8);
    expect(errorPosition("Invalid expression (line 2, column 3)", "SELECT 1\nFRM")).toBe(12);
    expect(errorPosition("relation does not exist", "SELECT 1")).toBeNull();
  });
});

// RFC 4180 CSV of a query result, so a spreadsheet opens what the grid shows.
function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [columns, ...rows].map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
}

/** Where in the SQL an error message points, as a 1-based character offset, when it says. */
export function errorPosition(message: string, sql: string): number | null {
  const character = /(?:character|position)\s+(\d+)/i.exec(message);
  if (character) return Number(character[1]);
  const lineColumn = /line\s+(\d+),?\s+col(?:umn)?\s+(\d+)/i.exec(message);
  if (!lineColumn) return null;
  const lines = sql.split("\n");
  const line = Math.min(Number(lineColumn[1]), lines.length);
  const before = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
  return before + Number(lineColumn[2]);
}

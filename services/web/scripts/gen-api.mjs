// Generates src/api/<service>.ts from openapi/<service>.json (written by `python -m scis.api_docs openapi`).
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const outDir = process.argv[2] ?? "src/api/schema";
const bin = join("node_modules", ".bin", "openapi-typescript");
for (const file of readdirSync("openapi").filter((name) => name.endsWith(".json")).sort()) {
  const service = file.replace(/\.json$/, "");
  execFileSync(bin, [join("openapi", file), "-o", join(outDir, `${service}.ts`)], { stdio: "inherit" });
}

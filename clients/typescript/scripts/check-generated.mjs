// Regenerates the code from ../../proto into a temporary directory (buf.gen.yaml,
// `buf generate --output`) and fails if the committed src/gen differs from it.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const committed = join(root, "src", "gen");

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}

const out = mkdtempSync(join(tmpdir(), "livescan-gen-"));
let failed = false;
try {
  const run = spawnSync("buf", ["generate", "--output", out], {
    cwd: root,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (run.error || run.status !== 0) {
    console.error(`buf generate failed${run.error ? `: ${run.error.message}` : ` (exit ${run.status})`}`);
    process.exit(2);
  }
  const fresh = join(out, "src", "gen");
  const before = files(committed);
  const after = files(fresh);
  for (const file of after.filter((f) => !before.includes(f))) {
    console.error(`missing from src/gen: ${file}`);
    failed = true;
  }
  for (const file of before.filter((f) => !after.includes(f))) {
    console.error(`not generated any more: src/gen/${file}`);
    failed = true;
  }
  for (const file of after.filter((f) => before.includes(f))) {
    if (!readFileSync(join(fresh, file)).equals(readFileSync(join(committed, file)))) {
      console.error(`differs from a fresh generation: src/gen/${file}`);
      failed = true;
    }
  }
  if (after.length === 0) {
    console.error("buf generate produced no files");
    failed = true;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
if (failed) {
  console.error("src/gen is out of date: run `npm run generate` and commit the result.");
  process.exit(1);
}
console.log("src/gen matches the protos.");

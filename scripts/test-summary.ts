// Prints one "N passed, N failed" line for all vitest JSON reports in .test-results/.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
}

const dir = ".test-results";
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".json"))) {
  const report = JSON.parse(await readFile(path.join(dir, file), "utf8")) as Report;
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests;
}
console.log(
  `${String(passed)} passed, ${String(failed)} failed${skipped > 0 ? `, ${String(skipped)} skipped` : ""}`,
);

// docs/safety.md names, for every promise, the test that proves it: each named test must exist,
// so the contract cannot point at a test that was renamed or removed.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";

const root = join(import.meta.dirname, "..");

test("every test docs/safety.md names exists in the file it names", () => {
  const rows = readFileSync(join(root, "docs", "safety.md"), "utf8")
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| promise") && !line.startsWith("| ---"));
  expect(rows.length).toBeGreaterThan(15);
  for (const row of rows) {
    const proof = row.split(" | ").at(-1)?.replace(/ \|$/, "") ?? "";
    const match = /^`([\w.-]+\.test\.ts)`: (.+)$/.exec(proof);
    expect(match, `no test named in: ${row}`).not.toBeNull();
    const [, file, names] = match as RegExpExecArray;
    const source = readFileSync(join(root, "test", file as string), "utf8");
    for (const name of (names as string).split(" · ")) expect(source, `${file}: ${name}`).toContain(name);
  }
});

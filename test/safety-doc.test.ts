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
    // "`file`: name · name · `other file`: name": a name belongs to the last file named.
    let file: string | undefined;
    for (const part of proof.split(" · ")) {
      const named = /^`([\w.-]+\.test\.ts)`: (.+)$/.exec(part);
      if (named) file = named[1];
      expect(file, `no test file named in: ${row}`).toBeDefined();
      const source = readFileSync(join(root, "test", file as string), "utf8").replaceAll('\\"', '"');
      const name = named ? (named[2] as string) : part;
      expect(source, `${file}: ${name}`).toContain(name);
    }
  }
});

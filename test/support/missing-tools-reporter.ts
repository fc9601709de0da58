// Beside the default reporter: at the end of a run, one line naming every group skipped for a
// missing system tool (requires.ts) and the command that installs them all, the apt-get line
// of .ci/run (so the two never disagree).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Reporter, TestCase, TestModule, TestSuite, Vitest } from "vitest/node";
import { REQUIRE_TOOLS_ENV, type Tool } from "./requires.ts";

export const ciScript = join(import.meta.dirname, "..", "..", ".ci", "run");

/** The `apt-get install …` line of .ci/run. */
export function aptInstallLine(script = readFileSync(ciScript, "utf8")): string {
  const line = /^apt-get install .*$/m.exec(script)?.[0];
  if (!line) throw new Error(`${ciScript} has no apt-get install line`);
  return line;
}

export interface SkippedGroup {
  readonly module: string;
  /** The group's name with its enclosing describes, "outer > inner". */
  readonly name: string;
  readonly missingTools: readonly Tool[];
}

/** The groups a missing tool skipped: the outermost task that carries the skip (its tests inherit it). */
export function skippedGroups(modules: readonly TestModule[]): SkippedGroup[] {
  const isGroup = (task: TestSuite | TestCase) => {
    const skipped = task.type === "suite" ? task.state() === "skipped" : task.result().state === "skipped";
    return skipped && task.meta().missingTools !== undefined && (task.parent.type === "module" || task.parent.meta().missingTools === undefined);
  };
  return modules.flatMap((module) =>
    [...module.children.allSuites(), ...module.children.allTests()]
      .filter(isGroup)
      .map((task) => ({ module: module.relativeModuleId, name: task.fullName, missingTools: task.meta().missingTools ?? [] })),
  );
}

/** One line: each missing tool with the groups it skipped, then how to install the tools. */
export function missingToolsLine(groups: readonly SkippedGroup[], installLine: string): string {
  const byTools = Map.groupBy(groups, (group) => group.missingTools.join(" + "));
  const skipped = [...byTools].map(([tools, list]) => `${tools} (${list.map((group) => `${group.module} > ${group.name}`).join("; ")})`);
  return `Skipped for missing tools: ${skipped.join("; ")}. Install them with: sudo apt-get update && sudo ${installLine} (${REQUIRE_TOOLS_ENV}=1 fails instead of skipping)`;
}

export class MissingToolsReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const groups = skippedGroups(modules);
    if (groups.length > 0) this.vitest?.logger.log(missingToolsLine(groups, aptInstallLine()));
  }
}

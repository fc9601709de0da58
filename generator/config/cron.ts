import { CronExpressionParser } from "cron-parser";

/** A standard five-field cron expression, as Longhorn's RecurringJob and CronJobs read it. */
export function isCron(expression: string): boolean {
  if (expression.trim().split(/\s+/).length !== 5) return false;
  try {
    CronExpressionParser.parse(expression);
    return true;
  } catch {
    return false;
  }
}

import { CronExpressionParser } from "cron-parser";

/** A standard five-field cron expression, as Longhorn's RecurringJob and CronJobs read it. */
export function isCron(expression: string): boolean {
  // Fields apart by spaces only: a newline or tab would reach the CronJobs as it is.
  if (!/^\S+( +\S+){4}$/.test(expression)) return false;
  try {
    CronExpressionParser.parse(expression);
    return true;
  } catch {
    return false;
  }
}

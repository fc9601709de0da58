// Writing a named pipe from a test without ever blocking it: the reader is the command under
// test, and a command that never opens the pipe must fail the test, not hang it.
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Writes the FIFO once its reader has opened it (bounded: the reader is the command under test). */
export async function writeToFifo(path: string, text: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      // Non-blocking: ENXIO while no reader has it open yet, rather than waiting forever.
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENXIO" || attempt > 3000) throw error;
      await sleep(10);
      continue;
    }
    writeSync(fd, text);
    closeSync(fd);
    return;
  }
}

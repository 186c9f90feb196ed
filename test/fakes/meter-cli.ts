import { spawn } from 'node:child_process';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `meter <args> --data-dir <dataDir>` as an operator runs it, against the stack whose stack.json is there, with
 * `METER_ACTOR` for the audit. Asynchronous: the stack runs in the test's process, and a blocked event loop would
 * let its HTTP server's kept-alive sockets expire under the next request.
 */
export function meterCli(dataDir: string, actor: string): (...args: string[]) => Promise<CliRun> {
  return (...args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['bin/meter.mjs', ...args, '--data-dir', dataDir], {
        env: { ...process.env, METER_ACTOR: actor },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
}

import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/** JSON logs on stdout; one logger per process, children carry controller, key and reconcile id. */
export function createLogger(level: LevelWithSilent = "info", name = "idc"): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

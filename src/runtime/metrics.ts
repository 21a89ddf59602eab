import type { Registry } from "prom-client";

// The runtime reports through these shapes and knows no metrics type of the operator's: any
// prom-client Counter, Gauge or Histogram with the right labels fits.
type Labels = Record<string, string>;

interface Counter {
  inc(labels: Labels): void;
}

/** What a controller reports about its queue and its reconciles. */
export interface ControllerMetrics {
  queueDepth: { set(labels: Labels, value: number): void };
  queueAdds: Counter;
  queueRetries: Counter;
  reconciles: Counter;
  reconcileErrors: Counter;
  reconcileDuration: { startTimer(labels: Labels): () => unknown };
}

/** What the manager serves on /metrics and reports about leadership. */
export interface ManagerMetrics {
  registry: Registry;
  isLeader: { set(value: number): void };
}

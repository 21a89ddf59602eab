import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The operator's Prometheus metrics, on a registry of its own (no global state). */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly queueDepth = new Gauge({
    name: "idc_workqueue_depth",
    help: "Keys waiting in a controller's work queue.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly queueAdds = new Counter({
    name: "idc_workqueue_adds_total",
    help: "Keys added to a controller's work queue.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: "idc_workqueue_retries_total",
    help: "Keys re-added after a failed reconcile.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: "idc_reconcile_total",
    help: "Reconciles by controller and result (success, requeue, error, terminal).",
    labelNames: ["controller", "result"],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "idc_reconcile_errors_total",
    help: "Reconciles that failed, retryable or terminal.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "idc_reconcile_duration_seconds",
    help: "Time spent in one reconcile.",
    labelNames: ["controller"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: "idc_leader_election_is_leader",
    help: "1 while this process holds the leader lease.",
    registers: [this.registry],
  });
  readonly awsCalls = new Counter({
    name: "idc_aws_calls_total",
    help: "AWS API calls by service, operation and outcome.",
    labelNames: ["service", "operation", "outcome"],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: "idc_" });
  }
}

/** The portal's Prometheus metrics, served on its own port (never through the Ingress). */
export class PortalMetrics {
  readonly registry = new Registry();
  readonly signIns = new Counter({
    name: "idc_portal_sign_ins_total",
    help: "Sign-in steps by step (password, otp, setup) and result.",
    labelNames: ["step", "result"],
    registers: [this.registry],
  });
  readonly passwordHashes = new Counter({
    name: "idc_portal_password_hashes_total",
    help: "Password hashes checked at sign-in, against a stored or a dummy hash: the same work for every name.",
    registers: [this.registry],
  });
  readonly samlResponses = new Counter({
    name: "idc_portal_saml_responses_total",
    help: "Signed SAML responses by target (aws_console, aws_credentials, application).",
    labelNames: ["target"],
    registers: [this.registry],
  });
  readonly requests = new Histogram({
    name: "idc_portal_http_request_duration_seconds",
    help: "HTTP requests by route pattern, method and status code.",
    labelNames: ["route", "method", "status"],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly hashRefusals = new Counter({
    name: "idc_portal_password_hash_refusals_total",
    help: "Sign-ins answered 503 because every password-hash slot and the queue were full.",
    registers: [this.registry],
  });
  readonly sessionChecks = new Counter({
    name: "idc_portal_session_checks_total",
    help: "Session checks of signed-in requests by source: cache (answered from the watched credential records) or read (a read of the record: the cache not synced yet, or a refusal confirmed).",
    labelNames: ["source"],
    registers: [this.registry],
  });
  readonly hashesInFlight = new Gauge({
    name: "idc_portal_password_hashes_in_flight",
    help: "Password hashes or verifications running now (each holds the Argon2 memory cost).",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

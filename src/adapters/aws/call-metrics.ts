import type { MiddlewareStack } from "@smithy/types";
import { classifyAwsError } from "./errors.ts";

/** Counts AWS calls by service, operation and outcome (the operator's metrics fit). */
export interface AwsCallMetrics {
  awsCalls: { inc(labels: { service: string; operation: string; outcome: string }): void };
}

/** Counts every call of an SDK client by operation and outcome in idc_aws_calls_total. */
export function countCalls<I extends object, O extends object>(
  client: { middlewareStack: MiddlewareStack<I, O> },
  service: string,
  metrics: AwsCallMetrics,
  onSuccess?: (operation: string) => void,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? "unknown").replace(/Command$/, "");
      try {
        const result = await next(args);
        metrics.awsCalls.inc({ service, operation, outcome: "success" });
        onSuccess?.(operation);
        return result;
      } catch (err) {
        metrics.awsCalls.inc({ service, operation, outcome: classifyAwsError(err) });
        throw err;
      }
    },
    { step: "initialize", name: "idcCallMetrics" },
  );
}

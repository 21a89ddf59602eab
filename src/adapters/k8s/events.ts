import { EventsV1Api, type KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { microTime } from "../../runtime/micro-time.ts";
import type { AnyResource } from "./custom-resources.ts";

export interface EventRecorder {
  record(
    obj: AnyResource,
    event: { type: "Normal" | "Warning"; reason: string; note: string; action: string },
  ): void;
}

/**
 * Records events.k8s.io/v1 Events about our cluster-scoped objects. The API server requires
 * such events to live in the `default` namespace; `kubectl describe` finds them there. Best
 * effort: a failed event is logged, never fails a reconcile.
 */
const CLUSTER_SCOPED_EVENT_NAMESPACE = "default";

export class KubeEventRecorder implements EventRecorder {
  private readonly api: EventsV1Api;
  private readonly options: {
    controller: string;
    instance: string;
    log: Logger;
  };

  constructor(
    kubeConfig: KubeConfig,
    options: { controller: string; instance: string; log: Logger },
  ) {
    this.api = kubeConfig.makeApiClient(EventsV1Api);
    this.options = options;
  }

  record(
    obj: AnyResource,
    event: { type: "Normal" | "Warning"; reason: string; note: string; action: string },
  ): void {
    const { controller, instance, log } = this.options;
    const namespace = CLUSTER_SCOPED_EVENT_NAMESPACE;
    const name = `${obj.metadata.name}.${randomBytes(8).toString("hex")}`;
    this.api
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { name, namespace },
          eventTime: microTime(new Date()),
          reportingController: controller,
          reportingInstance: instance,
          action: event.action,
          reason: event.reason,
          note: event.note.slice(0, 1024),
          type: event.type,
          regarding: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: obj.metadata.name,
            ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
            ...(obj.metadata.resourceVersion
              ? { resourceVersion: obj.metadata.resourceVersion }
              : {}),
          },
        },
      })
      .catch((err: unknown) => {
        log.warn(
          { err: err instanceof Error ? err.message : String(err), reason: event.reason },
          "could not record event",
        );
      });
  }
}

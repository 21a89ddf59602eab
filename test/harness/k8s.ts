import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { defaultCredentialsNamespace } from "../../src/plan/naming.ts";

const GROUP = "identitycenter.dev";
const VERSION = "v1alpha1";

/** Small helpers for tests that drive our custom objects through the real API server. */
export function customObjects(kc: KubeConfig) {
  const api = kc.makeApiClient(CustomObjectsApi);
  const ref = (plural: string) => ({ group: GROUP, version: VERSION, plural });
  return {
    create: (plural: string, kind: string, name: string, spec: unknown) =>
      api.createClusterCustomObject({
        ...ref(plural),
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind,
          metadata: { name },
          spec,
        },
      }),
    /** Creates an object with labels from the start (a later label write races the controllers). */
    createLabelled: (
      plural: string,
      kind: string,
      metadata: { name: string; labels: Record<string, string> },
      spec: unknown,
    ) =>
      api.createClusterCustomObject({
        ...ref(plural),
        body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata, spec },
      }),
    get: async <
      T = {
        spec: Record<string, unknown>;
        status?: Record<string, unknown> & {
          conditions?: {
            type: string;
            status: string;
            reason: string;
            message: string;
            observedGeneration?: number;
          }[];
        };
      },
    >(
      plural: string,
      name: string,
    ) => (await api.getClusterCustomObject({ ...ref(plural), name })) as T,
    /** Read-modify-write, retried when a controller's status write got in between (409). */
    patchSpec: async (
      plural: string,
      name: string,
      spec: Record<string, unknown>,
    ): Promise<unknown> => {
      for (let attempt = 0; ; attempt++) {
        const obj = (await api.getClusterCustomObject({ ...ref(plural), name })) as {
          spec: Record<string, unknown>;
        };
        try {
          return (await api.replaceClusterCustomObject({
            ...ref(plural),
            name,
            body: { ...obj, spec: { ...obj.spec, ...spec } },
          })) as unknown;
        } catch (err) {
          const conflict =
            typeof err === "object" && err !== null && "code" in err && err.code === 409;
          if (!conflict || attempt >= 5) throw err;
        }
      }
    },
    setLabels: (plural: string, name: string, labels: Record<string, string>) =>
      api
        .getClusterCustomObject({ ...ref(plural), name })
        .then((obj: { metadata: Record<string, unknown> }) =>
          api.replaceClusterCustomObject({
            ...ref(plural),
            name,
            body: { ...obj, metadata: { ...obj.metadata, labels } },
          }),
        ),
    /** Every object of a kind: names and resourceVersions, for tests that count writes. */
    list: async (plural: string) =>
      (
        (await api.listClusterCustomObject(ref(plural))) as {
          items: { metadata: { name: string; resourceVersion: string } }[];
        }
      ).items,
    delete: (plural: string, name: string) =>
      api.deleteClusterCustomObject({ ...ref(plural), name }),
  };
}

export async function createNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
}

/**
 * The operator namespace and, next to it, the namespace of the users' credential records
 * (`<namespace>-credentials`), as the chart creates them.
 */
export async function createOperatorNamespaces(kc: KubeConfig, namespace: string): Promise<void> {
  await createNamespace(kc, namespace);
  await createNamespace(kc, defaultCredentialsNamespace(namespace));
}

/** The Ready condition of an object's status, or undefined. */
export function readyOf(obj: {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}) {
  return obj.status?.conditions?.find((c) => c.type === "Ready");
}

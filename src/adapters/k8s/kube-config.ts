import { createHash } from "node:crypto";
import { KubeConfig, type Cluster } from "@kubernetes/client-node";

type DispatcherFactory = (cluster: Cluster | null, options: object) => unknown;

/**
 * client-node builds a new undici Agent, and so a new TLS connection pool, for every request.
 * Under load (thousands of status writes) the idle pools pile up: hundreds of MiB and a TLS
 * handshake per call. This keeps one pool per distinct TLS configuration instead.
 */
export function shareConnections(kubeConfig: KubeConfig): KubeConfig {
  const target = kubeConfig as unknown as { createDispatcher: DispatcherFactory };
  const create = target.createDispatcher.bind(kubeConfig);
  const pools = new Map<string, unknown>();
  target.createDispatcher = (cluster, options) => {
    const key = createHash("sha256")
      .update(JSON.stringify(kubeConfig.createDispatcherOptions(cluster, options)))
      .digest("hex");
    if (!pools.has(key)) pools.set(key, create(cluster, options));
    return pools.get(key);
  };
  return kubeConfig;
}

/** The kubeconfig of --kubeconfig, $KUBECONFIG, ~/.kube/config or the in-cluster account. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromDefault();
  return shareConnections(kubeConfig);
}

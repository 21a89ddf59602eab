// Shared by the SSO benchmarks: the organisation's IdentityCenter and user alice on a real
// control plane with moto, the compiled controller (it makes the portal's ServiceAccount, Role,
// signing and session Secrets), the compiled `idc portal` as its own process with the portal's
// ServiceAccount, and an SSO access token for alice obtained as the CLI gets one: a device
// authorization approved by alice signed in to the portal.
import { createPrivateKey, type KeyObject } from "node:crypto";
import path from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { CredentialStore } from "../src/adapters/k8s/credential-store.ts";
import { loadKubeConfig } from "../src/adapters/k8s/kube-config.ts";
import { defaultCredentialsNamespace } from "../src/plan/naming.ts";
import { hashPassword } from "../src/portal/password.ts";
import { certificateBase64 } from "../src/saml/signing-identity.ts";
import { chartControllerKubeconfig, PORTAL_SERVICE_ACCOUNT } from "../test/harness/chart.ts";
import {
  motoControllerEnv,
  startControllerProcess,
  type ControllerProcess,
} from "../test/harness/controller-process.ts";
import type { TestEnvironment } from "../test/harness/environment.ts";
import { createOperatorNamespaces, customObjects } from "../test/harness/k8s.ts";
import { repoRoot } from "../test/harness/paths.ts";
import { startPortalProcess, type PortalProcess } from "../test/harness/portal-process.ts";
import { freePort } from "../test/harness/ports.ts";
import { deviceFlowTokens, PortalBrowser } from "../test/harness/sso-device-login.ts";
import { waitFor } from "../test/harness/wait.ts";
import { startBenchEnvironment } from "./support.ts";

export const NAMESPACE = "identity-center-operator";
export const USER = "alice";
const PASSWORD = "a long enough passphrase for the bench";
/** The compiled CLI, as the image runs it. */
const ENTRY = path.join(repoRoot, "dist/cli.js");

export type Objects = ReturnType<typeof customObjects>;

export interface SsoStand {
  env: TestEnvironment;
  objects: Objects;
  portal: PortalProcess;
  /** The controller, when the stand keeps it running. */
  controller: ControllerProcess | undefined;
  /** Alice's SSO access token (what `aws sso login` caches). */
  accessToken: string;
  /** The instance's signing key and the uid of alice, to build assertions as the portal does. */
  signing: { privateKey: KeyObject; certificateBase64: string };
  aliceUid: string;
  stop(): Promise<void>;
}

export async function startSsoStand(options: {
  /** Objects and AWS accounts made before the controller starts. */
  beforeController?: (env: TestEnvironment, objects: Objects) => Promise<void>;
  /** Polled while the controller runs, until it has done what the bench needs. */
  controllerDone?: (objects: Objects) => Promise<boolean>;
  /**
   * Stop the controller before the portal starts (then made after it): the portal only reads,
   * so a bench of the portal alone can write Account status as the controller would.
   */
  stopController?: boolean;
  afterController?: (env: TestEnvironment, objects: Objects) => Promise<void>;
}): Promise<SsoStand> {
  const env = await startBenchEnvironment({ moto: true });
  let controller: ControllerProcess | undefined;
  let portal: PortalProcess | undefined;
  const stop = async () => {
    if (portal) await portal.stop();
    if (controller) await controller.stop("SIGTERM");
    await env.stop();
  };
  try {
    const kc = env.kubeConfig();
    await createOperatorNamespaces(kc, NAMESPACE);
    const objects = customObjects(kc);
    const port = await freePort();
    const portalUrl = `http://127.0.0.1:${String(port)}`;
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com", externalUrl: portalUrl },
      aws: { signInUrl: "https://signin.aws.amazon.com/saml", stsEndpoint: env.moto.endpoint },
      // One password check for the one sign-in: the bench measures the SSO APIs after it.
      signIn: { mfa: "disabled" },
    });
    await objects.create("users", "User", USER, {
      userName: USER,
      email: `${USER}@example.com`,
    });
    await options.beforeController?.(env, objects);
    controller = await startControllerProcess({
      kubeconfig: await chartControllerKubeconfig(env),
      workDir: env.workDir,
      identity: "bench",
      namespace: NAMESPACE,
      entry: ENTRY,
      // An image makes the controller create the portal's ServiceAccount, Role and Secrets.
      args: ["--leader-elect=false", "--portal-image=identity-center-operator:bench"],
      env: motoControllerEnv(env.moto.managementCredentials, env.moto.endpoint),
    });
    const portalKubeconfig = await env.kubeconfigFor(PORTAL_SERVICE_ACCOUNT);
    const asPortal = loadKubeConfig(portalKubeconfig).makeApiClient(CoreV1Api);
    let signingSecret;
    await waitFor(
      "the portal's ServiceAccount to read the signing and session Secrets",
      async () => {
        signingSecret = await asPortal.readNamespacedSecret({
          name: "identitycenter-default-signing",
          namespace: NAMESPACE,
        });
        await asPortal.readNamespacedSecret({
          name: "identitycenter-default-session",
          namespace: NAMESPACE,
        });
        return true;
      },
      120_000,
    );
    if (options.controllerDone) {
      const done = options.controllerDone;
      await waitFor("the controller to provision the bench's roles", () => done(objects), 300_000);
    }
    if (options.stopController) {
      await controller.stop("SIGTERM");
      controller = undefined;
    }
    await options.afterController?.(env, objects);

    const alice = await objects.get<{ metadata: { uid: string } }>("users", USER);
    const credentials = new CredentialStore(kc, defaultCredentialsNamespace(NAMESPACE), (name) =>
      name === USER ? { name, uid: alice.metadata.uid } : undefined,
    );
    const passwordHash = await hashPassword(PASSWORD);
    await credentials.update(USER, (r) => ({ ...r, passwordHash }));

    portal = startPortalProcess({
      kubeconfig: portalKubeconfig,
      workDir: env.workDir,
      namespace: NAMESPACE,
      port,
      entry: ENTRY,
    });
    const started = portal;
    await waitFor("the portal to be ready", () => started.ready(), 120_000);
    const browser = new PortalBrowser(portalUrl);
    await browser.signIn(USER, PASSWORD);
    const tokens = await deviceFlowTokens(browser, "bench");
    const data = (signingSecret as { data?: Record<string, string> } | undefined)?.data ?? {};
    const certificatePem = Buffer.from(data["tls.crt"] ?? "", "base64").toString();
    return {
      env,
      objects,
      portal,
      controller,
      accessToken: tokens.accessToken,
      signing: {
        privateKey: createPrivateKey(Buffer.from(data["tls.key"] ?? "", "base64").toString()),
        certificateBase64: certificateBase64(certificatePem),
      },
      aliceUid: alice.metadata.uid,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

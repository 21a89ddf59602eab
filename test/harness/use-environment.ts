import { afterAll, beforeAll, inject } from "vitest";
import { TestEnvironment, type TestEnvironmentOptions } from "./environment.ts";

/**
 * Starts a TestEnvironment before the file's tests and stops it after them. Returns a getter,
 * because the environment exists only once beforeAll has run.
 */
export function useTestEnvironment(
  options: Omit<TestEnvironmentOptions, "binaries"> = {},
): () => TestEnvironment {
  let env: TestEnvironment | undefined;
  beforeAll(async () => {
    env = await TestEnvironment.start({ ...options, binaries: inject("binaries") });
  });
  afterAll(async () => {
    await env?.stop();
  });
  return () => {
    if (!env) throw new Error("the test environment did not start");
    return env;
  };
}

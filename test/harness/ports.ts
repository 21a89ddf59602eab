import { createServer } from "node:net";

/**
 * Asks the kernel for a free loopback port. Another process could take it before the server
 * binds, so callers that start servers retry on "address in use" (see startWithPortRetry).
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("no port assigned"));
        return;
      }
      server.close(() => {
        resolve(address.port);
      });
    });
  });
}

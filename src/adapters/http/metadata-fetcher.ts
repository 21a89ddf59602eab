import { get } from "node:https";

/** Reads an upstream IdP's metadata document from its URL. */
export type MetadataFetcher = (url: string) => Promise<string>;

export class MetadataFetchError extends Error {}

const TIMEOUT_MS = 10_000;
/** As saml/upstream-metadata.ts accepts: an IdP's metadata, not a federation aggregate. */
const MAX_METADATA_BYTES = 1024 * 1024;

/**
 * GET over https only, of exactly the configured URL: no redirects are followed (the admin
 * names the final URL), the body is cut off past 1 MiB and the whole read past 10 s. The
 * controller, not the internet-facing portal, does this, so no visitor can make it fetch.
 * `ca` adds trusted roots (tests); Node's NODE_EXTRA_CA_CERTS does the same for a process.
 */
export function httpsMetadataFetcher(options: { ca?: string } = {}): MetadataFetcher {
  return (url) =>
    new Promise<string>((resolve, reject) => {
      if (!url.startsWith("https://")) {
        reject(new MetadataFetchError("the metadata URL must be https"));
        return;
      }
      const fail = (message: string) => {
        clearTimeout(timer);
        request.destroy();
        reject(new MetadataFetchError(message));
      };
      const request = get(
        url,
        {
          headers: { accept: "application/samlmetadata+xml, application/xml, text/xml" },
          ...(options.ca ? { ca: options.ca } : {}),
        },
        (response) => {
          const status = response.statusCode ?? 0;
          if (status !== 200) {
            response.resume();
            const where = response.headers.location;
            fail(
              status >= 300 && status < 400 && where
                ? `the metadata URL answered ${String(status)}, a redirect to ${where}; set metadataUrl to the final URL`
                : `the metadata URL answered HTTP ${String(status)}`,
            );
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          response.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_METADATA_BYTES) fail("the metadata is larger than 1 MiB");
            else chunks.push(chunk);
          });
          response.on("end", () => {
            clearTimeout(timer);
            resolve(Buffer.concat(chunks).toString("utf8"));
          });
          response.on("error", (err) => fail(err.message));
        },
      );
      const timer = setTimeout(
        () => fail("reading the metadata took longer than 10 s"),
        TIMEOUT_MS,
      );
      request.on("error", (err) => fail(`reading the metadata failed: ${err.message}`));
    });
}

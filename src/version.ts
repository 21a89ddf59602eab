import { readFileSync } from "node:fs";

interface PackageJson {
  version: string;
}

/** The operator's version, from package.json (one level above both src/ and dist/). */
export function operatorVersion(): string {
  const url = new URL("../package.json", import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as PackageJson).version;
}

import jsQRModule from "jsqr";
import { chromium, type Browser } from "playwright-core";
import { PNG } from "pngjs";

/** Debian's Chromium, driven by playwright-core; IDC_CHROMIUM points at another build. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.IDC_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Decodes the QR code in a PNG screenshot, as a phone's authenticator would. */
export function readQrCode(png: Buffer): string {
  const image = PNG.sync.read(png);
  // A CommonJS module whose types describe `exports.default`.
  const code = jsQRModule.default(new Uint8ClampedArray(image.data), image.width, image.height);
  if (!code) throw new Error("no QR code found in the screenshot");
  return code.data;
}

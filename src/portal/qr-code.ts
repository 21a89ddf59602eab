import qrcode from "qrcode-generator";

/**
 * An `otpauth://` URI as an inline SVG QR code (error correction M, a 4-module quiet zone).
 * Inline SVG needs no image source in the CSP and never leaves the page, as the secret must not.
 */
export function qrCodeSvg(text: string): string {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  return qr.createSvgTag({ cellSize: 4, margin: 16, scalable: true });
}

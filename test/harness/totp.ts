import { Secret, TOTP } from "otpauth";

/** The code an authenticator app shows for this secret at this moment. */
export function totpCode(secretBase32: string, at: Date): string {
  return new TOTP({ secret: Secret.fromBase32(secretBase32) }).generate({
    timestamp: at.getTime(),
  });
}

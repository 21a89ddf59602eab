import { timingSafeEqual } from "node:crypto";
import { httpError, MESSAGES } from "../errors.ts";
import type { Session } from "../session-cookie.ts";

/**
 * Every state-changing form carries the session's CSRF token: a form another site makes cannot
 * know it (the session cookie is sealed and HttpOnly). ADR 0018 says why this is not
 * @fastify/csrf-protection. Compared in constant time, so the answer's timing tells nothing of
 * how much of a guess was right.
 */
export function checkCsrf(
  session: Session | undefined,
  form: Record<string, string | undefined>,
): void {
  const sent = Buffer.from(form.csrf ?? "");
  const expected = Buffer.from(session?.csrf ?? "");
  if (!session || sent.length === 0 || sent.length !== expected.length)
    throw httpError(403, MESSAGES.csrf);
  if (!timingSafeEqual(sent, expected)) throw httpError(403, MESSAGES.csrf);
}

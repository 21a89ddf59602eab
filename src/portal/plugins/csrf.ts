import { httpError, MESSAGES } from "../errors.ts";
import type { Session } from "../session-cookie.ts";

/**
 * Every state-changing form carries the session's CSRF token: a form another site makes cannot
 * know it (the session cookie is sealed and HttpOnly).
 */
export function checkCsrf(
  session: Session | undefined,
  form: Record<string, string | undefined>,
): void {
  if (!session || !form.csrf || form.csrf !== session.csrf) throw httpError(403, MESSAGES.csrf);
}

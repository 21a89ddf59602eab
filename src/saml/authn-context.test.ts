import { describe, expect, it } from "vitest";
import { AUTHN_CONTEXT as AC, chooseAuthnContext } from "./authn-context.ts";

const smartcard = "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard";

describe("chooseAuthnContext", () => {
  it.each([
    { method: "password", request: undefined, answer: AC.passwordProtectedTransport },
    { method: "password+totp", request: undefined, answer: AC.multiFactor },
    {
      method: "password+totp",
      request: { comparison: "exact", classRefs: [AC.passwordProtectedTransport] },
      answer: AC.passwordProtectedTransport,
    },
    {
      method: "password+totp",
      request: { comparison: "exact", classRefs: [smartcard, AC.timeSyncToken] },
      answer: AC.timeSyncToken,
    },
    {
      method: "password",
      request: { comparison: "exact", classRefs: [AC.multiFactor] },
      answer: undefined,
    },
    {
      method: "password+totp",
      request: { comparison: "exact", classRefs: [smartcard] },
      answer: undefined,
    },
    {
      method: "password+totp",
      request: { comparison: "minimum", classRefs: [AC.multiFactor] },
      answer: AC.multiFactor,
    },
    {
      method: "password",
      request: { comparison: "minimum", classRefs: [AC.multiFactor] },
      answer: undefined,
    },
    {
      method: "password+totp",
      request: { comparison: "better", classRefs: [AC.passwordProtectedTransport] },
      answer: AC.multiFactor,
    },
    {
      method: "password+totp",
      request: { comparison: "better", classRefs: [AC.passwordProtectedTransport, smartcard] },
      answer: undefined,
    },
    {
      method: "password+totp",
      request: { comparison: "maximum", classRefs: [AC.passwordProtectedTransport] },
      answer: AC.passwordProtectedTransport,
    },
    {
      method: "password",
      request: { comparison: "maximum", classRefs: [AC.multiFactor] },
      answer: AC.passwordProtectedTransport,
    },
  ] as const)(
    "$method, $request.comparison $request.classRefs -> $answer",
    ({ method, request, answer }) => {
      expect(
        chooseAuthnContext(method, request && { ...request, classRefs: [...request.classRefs] }),
      ).toBe(answer);
    },
  );
});

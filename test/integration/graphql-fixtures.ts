/** Shared by the GraphQL suites: a client for /graphql and a CA certificate agents can report. */

/** A self-signed P-256 CA (openssl req -x509 -newkey ec ... -subj /CN=test-ca), valid until 2036; no key kept. */
export const TEST_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBeDCCAR+gAwIBAgIUHNT7YkRJYurUGTc34Wi2TwT4TTEwCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHdGVzdC1jYTAeFw0yNjExMjIxNDM5MjRaFw0zNjExMTkxNDM5
MjRaMBIxEDAOBgNVBAMMB3Rlc3QtY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AASfXFB0jKR4iFH8MGCedSr94kJ4ULUkoyAny8WXbtVnpx204Dd7XKZGFYOn1wzR
DMHngk6uQSoI2OarDES4RIdCo1MwUTAdBgNVHQ4EFgQU0KXoqjpGQEDNNS+19jyi
+uaAxbswHwYDVR0jBBgwFoAU0KXoqjpGQEDNNS+19jyi+uaAxbswDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBhBddoj2pzsUmR1RR6DfbGMnZLIIfi
Rw9tBYbLMqo2nwIgB6aAJ6WyHIR+yWB1JnP73YRvosJBuV3d+RkHHcE9414=
-----END CERTIFICATE-----
`;

export interface GqlError {
  message: string;
  locations?: { line: number; column: number }[];
  path?: (string | number)[];
  extensions?: { code?: string; field?: string; reason?: string; requestId?: string; [key: string]: unknown };
}

export interface GqlResult {
  status: number;
  headers: Headers;
  // Tests index into arbitrary response shapes.
  data: any;
  errors: GqlError[];
  text: string;
}

/** POSTs an operation as JSON, as every real client does. */
export async function gql(baseUrl: string, token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<GqlResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  const body = JSON.parse(text) as { data?: unknown; errors?: GqlError[] };
  return { status: res.status, headers: res.headers, data: body.data ?? null, errors: body.errors ?? [], text };
}

export function codes(result: GqlResult): (string | undefined)[] {
  return result.errors.map((e) => e.extensions?.code);
}

/**
 * Fixtures for the REST suites. The CA certificates were generated once with
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=test-ca -keyout /dev/null`
 * (the second with /CN=test-ca-2); their keys were discarded.
 */
export const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBejCCAR+gAwIBAgIUL+f/EsyBVwbTEohCH7Rb+vH2Q7owCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHdGVzdC1jYTAeFw0yNjExMjIxNDM5NTdaFw0zNjExMTkxNDM5
NTdaMBIxEDAOBgNVBAMMB3Rlc3QtY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AASrJ9v5LT+s9MzD8G4YGbpwEgdZzcX8IgSPGiWzRffb3rgUPuKc5iwRWKyT6lN+
ZndsuH11vcggeb82UTMMVmMio1MwUTAdBgNVHQ4EFgQUWDYpwcxFaxzLc0mfLcR+
Wlt4CjIwHwYDVR0jBBgwFoAUWDYpwcxFaxzLc0mfLcR+Wlt4CjIwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAkpuB+CeMJyBHe+FpoRQ86wPh9or5
jJvVgYcUHEAe/1kCIQDKcEEXfuyWiWVS7ehHOSSlt2RLwF76yeYPYOB1FaLGhw==
-----END CERTIFICATE-----
`;

export const OTHER_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUZtR0ZQREjmLGz4lP6lc37JpNfQIwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJdGVzdC1jYS0yMB4XDTI2MTEyMjE0Mzk1N1oXDTM2MTExOTE0
Mzk1N1owFDESMBAGA1UEAwwJdGVzdC1jYS0yMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAE4nKwj47NK1iWSdDgTN4N5jlRNnCm++FC88wzWaKTkQVSh0psmJM1UA4F
88DHDVt627TJELN00hRAbEm0SzbimKNTMFEwHQYDVR0OBBYEFAIVcyaKftIVj9w1
7HA9WgU9v3pYMB8GA1UdIwQYMBaAFAIVcyaKftIVj9w17HA9WgU9v3pYMA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgTO/3WnDP37cOCedS6ELbfW/j
Rx/S73KCSU31V4kKZOwCIQCbvrvmvalALDQts4oVaCjDw+HAscl5Ido7rY8TO/iR
FQ==
-----END CERTIFICATE-----
`;

/** The base64 body of a PEM certificate, joined: what must never appear in a raw table dump. */
export function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/** A service-account token shaped like a real one (a JWT). */
export const SA_TOKEN =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50Omt1YmUtc3lzdGVtOmJjcy1rdWJlLWFnZW50In0.c2lnbmF0dXJlLW5vdC1jaGVja2VkLWluLXRlc3Rz';

export const OTHER_SA_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhdHRhY2tlciJ9.Zm9yZ2Vk';

export interface CallOptions {
  /** Bearer token. */
  token?: string;
  /** HTTP Basic credentials `[user, password]`. */
  basic?: [string, string];
  /** JSON body (serialised with Content-Type: application/json). */
  json?: unknown;
  /** A raw body sent as is. */
  raw?: string;
  contentType?: string;
}

export interface Reply {
  status: number;
  text: string;
  body: any;
  headers: Headers;
}

/** One HTTP call against the running gateway, with the body parsed when it is JSON. */
export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.basic) headers['authorization'] = `Basic ${Buffer.from(`${opts.basic[0]}:${opts.basic[1]}`).toString('base64')}`;
  let body: string | undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = 'application/json';
  }
  if (opts.raw !== undefined) body = opts.raw;
  if (opts.contentType) headers['content-type'] = opts.contentType;
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, text, body: parsed, headers: res.headers };
}

/** Go's time.RFC3339Nano as the original emits it. */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The body bcs-kube-agent (2020) PUTs to /rest/clusters/{id}/credentials. */
export function agentReport(registerToken: string, ca = CA_PEM, saToken = SA_TOKEN): Record<string, string> {
  return { register_token: registerToken, server_addresses: 'https://10.0.0.1:6443;https://10.0.0.2:6443', cacert_data: ca, user_token: saToken };
}

/**
 * A self-signed certificate and key for the gateway's own TLS listener in tests only (generated once with
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=bcs-api-test
 * -addext subjectAltName=IP:127.0.0.1`). Not a secret: it protects nothing outside this suite.
 */
export const GATEWAY_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBlDCCATqgAwIBAgIUNVXEzFrRAXwcJIUtJXeGE99HTY0wCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMYmNzLWFwaS10ZXN0MB4XDTI2MTEyMjE0NDU1OVoXDTM2MTEx
OTE0NDU1OVowFzEVMBMGA1UEAwwMYmNzLWFwaS10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEtsm2lkQ28mY8gg3HgvIhKQ9zGqbvWvoNsTMHu+aEjYaPpXhr
Sn239kS3k1vc5E1DgFiDsimxohoodHGMKWDqSKNkMGIwHQYDVR0OBBYEFLThIIkE
A6GMbyDnT3LxYUqdR45wMB8GA1UdIwQYMBaAFLThIIkEA6GMbyDnT3LxYUqdR45w
MA8GA1UdEwEB/wQFMAMBAf8wDwYDVR0RBAgwBocEfwAAATAKBggqhkjOPQQDAgNI
ADBFAiAk+mfsfIThZxsJyYXln0qFFqj9lNCRhmIDx0FeCuYLKwIhAP4qakLXkp4v
8LnJk5L+wgHTVTPiY1udGViQSmW8v1Nb
-----END CERTIFICATE-----
`;

export const GATEWAY_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgK9CpPHMtMyCkqFMz
nzYxjX18tlnSdEusOGI/vxRPwuChRANCAAS2ybaWRDbyZjyCDceC8iEpD3Mapu9a
+g2xMwe75oSNho+leGtKfbf2RLeTW9zkTUOAWIOyKbGiGih0cYwpYOpI
-----END PRIVATE KEY-----
`;

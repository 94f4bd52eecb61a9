import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigTarget {
  url: string;
  caPem: string;
  token: string;
}

export interface KubeconfigOptions {
  /** Where to write; a new temp file by default. */
  file?: string;
  /** Adds `as:` so kubectl impersonates this user with the token's identity. */
  as?: string;
  asGroups?: string[];
  namespace?: string;
  /** Defaults to `kubernetes`, the name bcs-api always verified apiserver certificates against. */
  tlsServerName?: string;
}

/** A kubeconfig that points kubectl or client-node straight at a server (the fake, or the gateway). */
export function writeKubeconfig(target: KubeconfigTarget, opts: KubeconfigOptions = {}): string {
  const file = opts.file ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-kubeconfig-')), 'config');
  const user: Record<string, unknown> = { token: target.token };
  if (opts.as) user.as = opts.as;
  if (opts.asGroups?.length) user['as-groups'] = opts.asGroups;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'fake',
        cluster: {
          server: target.url,
          'certificate-authority-data': Buffer.from(target.caPem).toString('base64'),
          'tls-server-name': opts.tlsServerName ?? 'kubernetes',
        },
      },
    ],
    users: [{ name: 'fake-user', user }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake-user', namespace: opts.namespace ?? 'default' } }],
    'current-context': 'fake',
    preferences: {},
  };
  fs.writeFileSync(file, stringify(doc), { mode: 0o600 });
  return file;
}

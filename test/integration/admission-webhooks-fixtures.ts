/** Shared by the admission webhook suites: principals, CA bundles and fake webhook servers. */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { authenticate } from '../../src/domain/auth';
import type { Principal } from '../../src/domain/context';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import type { Runtime } from '../../src/runtime';
import type { FakeKubeCerts } from '../helpers/fake-kube/certs';

/** A user (super or not) with a token, authenticated as the edges would. */
export async function principal(rt: Runtime, name: string, isSuperUser: boolean): Promise<Principal> {
  const ctx = rt.context();
  const user = await createUser(ctx, undefined, { name, isSuperUser });
  const issued = await issueToken(ctx, undefined, user, { name: 'test' });
  return authenticate(rt.context().em, issued.secret, new Date());
}

export const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

/** A Mesos application as a client would POST it. */
export function application(namespace = 'prod', name = 'web'): Record<string, unknown> {
  return {
    apiVersion: 'v4',
    kind: 'application',
    restartPolicy: { policy: 'Always' },
    metadata: { name, namespace, labels: { app: name } },
    spec: { instance: 2, template: { spec: { containers: [{ name: 'main', image: 'nginx:1.27' }] } } },
  };
}

export type WebhookHandler = (doc: any, raw: string) => { status?: number; body?: string; delayMs?: number } | undefined;

export interface FakeWebhook {
  url: string;
  /** Parsed bodies received, in order. */
  received: any[];
  /** Content types received, in order. */
  contentTypes: (string | undefined)[];
  close(): Promise<void>;
}

/** An https webhook server on 127.0.0.1 with the given serving certificate; the handler decides each answer. */
export async function startWebhook(certs: FakeKubeCerts, handler: WebhookHandler, path = '/mutate'): Promise<FakeWebhook> {
  const received: any[] = [];
  const contentTypes: (string | undefined)[] = [];
  const server = https.createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let doc: unknown;
      try {
        doc = JSON.parse(raw);
      } catch {
        doc = undefined;
      }
      // A copy: handlers change the document they get.
      received.push(doc === undefined ? undefined : JSON.parse(raw));
      contentTypes.push(req.headers['content-type']);
      const answer = handler(doc, raw) ?? {};
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
        res.end(answer.body ?? JSON.stringify(doc));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}${path}`,
    received,
    contentTypes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

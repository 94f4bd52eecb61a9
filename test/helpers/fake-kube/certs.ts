import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface FakeKubeCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('fake-kube needs the openssl command to make its certificates: apt-get install -y openssl');
    }
    throw new Error(`openssl ${args[0]} failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
}

/**
 * A fresh CA and a serving certificate per fake, so a test that trusts the wrong CA fails.
 * The SANs follow what bcs-api expects of an apiserver: it always verifies the name `kubernetes`,
 * whatever address it dialled. EC keys keep generation fast.
 */
export function generateCerts(): FakeKubeCerts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-certs-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fake-kube-ca'], dir);
    openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver'], dir);
    fs.writeFileSync(
      path.join(dir, 'ext.cnf'),
      'subjectAltName=DNS:kubernetes,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n',
    );
    openssl(
      ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf'],
      dir,
    );
    const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
    return { caPem: read('ca.crt'), certPem: read('server.crt'), keyPem: read('server.key') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

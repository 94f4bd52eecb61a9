import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ModuleCerts {
  /** Directory holding ca.crt, server.crt/key (IP 127.0.0.1) and client.crt/key (clientAuth). */
  dir: string;
  file(name: string): string;
  read(name: string): string;
}

/**
 * One CA signing a module's serving certificate (127.0.0.1) and the gateway's client certificate, as an
 * operator of the original set up `ca_file`, `client_cert_file` and `client_key_file`. Needs openssl.
 */
export function generateModuleCerts(): ModuleCerts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-module-certs-'));
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bcs-module-ca']);
  const issue = (name: string, cn: string, ext: string): void => {
    run(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    fs.writeFileSync(path.join(dir, `${name}.cnf`), ext);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.cnf`]);
  };
  issue('server', 'bcs-netservice', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('client', 'bcs-api-client', 'extendedKeyUsage=clientAuth\n');
  return { dir, file: (name) => path.join(dir, name), read: (name) => fs.readFileSync(path.join(dir, name), 'utf8') };
}

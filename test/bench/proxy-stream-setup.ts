/**
 * The contenders of the streaming table, each in its own process and all in front of one apiserver of
 * the benchmark's own (proxy-stream-fake.ts): `kubectl proxy`, nginx (if installed) and the gateway.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { children, freePort, registerBenchCluster, sleep, start } from './bench-common';

const DIST = path.resolve(__dirname, '../..');

export interface StreamFake {
  url: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  token: string;
  pid: number;
}

/** One way to a log: plain HTTP/1.1 (`base`) and, where the contender offers it, TLS with h2 over ALPN (`tlsBase`). */
export interface StreamContender {
  name: string;
  base: string;
  tlsBase?: string;
  /** Path prefix before `/api/...` (the gateway's tunnel route). */
  prefix: string;
  token?: string;
  pid?: number;
  /** Query added to every log request (`follow=true` sends the gateway's request over HTTP/2 upstream). */
  query?: string;
}

export async function startStreamFake(work: string): Promise<StreamFake> {
  const p = await start(process.execPath, [path.join(DIST, 'test/bench/proxy-stream-fake.js')], /^\{.*\}$/m);
  const fake = JSON.parse(p.match[0]) as Omit<StreamFake, 'pid'>;
  for (const [f, v] of [['ca.pem', fake.caPem], ['cert.pem', fake.certPem], ['key.pem', fake.keyPem]] as const) fs.writeFileSync(path.join(work, f), v);
  return { ...fake, pid: p.child.pid! };
}

export async function startKubectlProxy(work: string, fake: StreamFake): Promise<StreamContender> {
  const kubeconfig = path.join(work, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${fake.url}\n    tls-server-name: kubernetes\n    certificate-authority: ${work}/ca.pem\nusers:\n- name: sa\n  user:\n    token: ${fake.token}\ncontexts:\n- name: fake\n  context: {cluster: fake, user: sa}\ncurrent-context: fake\n`,
  );
  const k = await start('kubectl', ['proxy', '--port=0', `--kubeconfig=${kubeconfig}`], /Starting to serve on 127\.0\.0\.1:(\d+)/);
  return { name: 'kubectl proxy', base: `http://127.0.0.1:${k.match[1]}`, prefix: '', pid: k.child.pid };
}

/**
 * nginx as the issue measured it: proxy_buffering off, keep-alive upstream over HTTP/1.1 (nginx's only
 * upstream protocol), the CA verified; a plain listener and a TLS one with h2.
 */
export async function startNginx(work: string, fake: StreamFake): Promise<StreamContender | undefined> {
  if (!fs.existsSync('/usr/sbin/nginx') && process.getuid?.() === 0) {
    spawnSync('apt-get', ['install', '-y', 'nginx-light'], { stdio: 'ignore' });
  }
  if (!fs.existsSync('/usr/sbin/nginx')) return undefined;
  const [port, tlsPort] = [await freePort(), await freePort()];
  const u = new URL(fake.url);
  fs.writeFileSync(
    path.join(work, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx.err; events { worker_connections 4096; }
http { access_log off; upstream api { server ${u.host}; keepalive 64; }
 server { listen 127.0.0.1:${port}; listen 127.0.0.1:${tlsPort} ssl http2; ssl_certificate ${work}/cert.pem; ssl_certificate_key ${work}/key.pem;
  location / { proxy_pass https://api; proxy_http_version 1.1; proxy_set_header Connection "";
  proxy_set_header Authorization "Bearer ${fake.token}"; proxy_ssl_verify on; proxy_ssl_trusted_certificate ${work}/ca.pem;
  proxy_ssl_name kubernetes; proxy_ssl_server_name on; proxy_ssl_session_reuse on; proxy_buffering off; } } }\n`,
  );
  const nginx = spawn('/usr/sbin/nginx', ['-c', path.join(work, 'nginx.conf'), '-p', work], { stdio: 'ignore' });
  children.push(nginx);
  await sleep(500);
  return { name: 'nginx (nginx-light, 1 worker, proxy_buffering off)', base: `http://127.0.0.1:${port}`, tlsBase: `https://127.0.0.1:${tlsPort}`, prefix: '', pid: nginx.pid };
}

/** The gateway (SQLite store, audit log on, to a file), with the fake registered as an agent would. */
export async function startStreamGateway(work: string, fake: StreamFake): Promise<StreamContender> {
  const plainPort = await freePort();
  const cfg = path.join(work, 'gw-stream.yaml');
  fs.writeFileSync(cfg, `data_dir: ${work}/data-stream\naddress: 127.0.0.1\nport: 0\nserver_cert_file: ${work}/cert.pem\nserver_key_file: ${work}/key.pem\ninsecure_port: ${plainPort}\nlog_level: warn\n`);
  const args = [...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(DIST, 'src/cli/main.js'), 'serve', '-f', cfg];
  const gw = await start(process.execPath, args, /(https:\/\/127\.0\.0\.1:\d+)\/graphql/, { BCS_API_LOG_LEVEL: 'info' }, path.join(work, 'gw-stream.log'));
  const base = `http://127.0.0.1:${plainPort}`;
  const admin = /(bcs_[A-Za-z0-9]{32})/.exec(gw.output())![1]!;
  const prefix = await registerBenchCluster(base, admin, fake);
  return { name: 'bcs-api gateway', base, tlsBase: gw.match[1]!, prefix, token: admin, pid: gw.child.pid };
}

/**
 * A real ZooKeeper server for the discovery tests: Debian's `zookeeper` package (3.8), run as
 * `java -cp /usr/share/java/zookeeper.jar org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg` with a
 * generated config (temp dataDir, free loopback port, short ticks so 2-4 s sessions are allowed, admin
 * server off, `ruok`/`srvr` whitelisted). `stop()` + `start()` restarts it on the same dataDir and port.
 * Also: a TCP proxy that can blackhole traffic (partitions), and fake drivers that register as the real
 * mesos-driver does, written directly against the `zookeeper` package rather than the code under test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const JAVA = '/usr/bin/java';

export interface ZkServerOptions {
  tickTime?: number;
  minSessionTimeout?: number;
  maxSessionTimeout?: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends a four-letter word; resolves with the answer, or undefined when nothing answers. */
export function fourLetterWord(port: number, word: string, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const done = (v: string | undefined): void => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(undefined));
    sock.on('connect', () => sock.write(word));
    sock.on('data', (d) => (out += d.toString()));
    sock.on('end', () => done(out));
    sock.on('error', () => done(undefined));
  });
}

export class ZooKeeperServer {
  readonly dir: string;
  readonly dataDir: string;
  private proc?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(
    readonly port: number,
    opts: Required<ZkServerOptions>,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-api-zk-'));
    this.dataDir = path.join(this.dir, 'data');
    fs.mkdirSync(this.dataDir);
    fs.writeFileSync(
      path.join(this.dir, 'zoo.cfg'),
      [
        `tickTime=${opts.tickTime}`,
        `dataDir=${this.dataDir}`,
        `clientPort=${port}`,
        'clientPortAddress=127.0.0.1',
        `minSessionTimeout=${opts.minSessionTimeout}`,
        `maxSessionTimeout=${opts.maxSessionTimeout}`,
        'admin.enableServer=false',
        '4lw.commands.whitelist=ruok,srvr,cons',
        'maxClientCnxns=0',
        'forceSync=no',
        '',
      ].join('\n'),
    );
  }

  /** Starts a server (fails with the install command when Debian's zookeeper is missing; never skips). */
  static async start(opts: ZkServerOptions = {}): Promise<ZooKeeperServer> {
    if (!fs.existsSync(ZOOKEEPER_JAR) || !fs.existsSync(JAVA)) {
      throw new Error(`ZooKeeper is not installed (${ZOOKEEPER_JAR} or ${JAVA} missing): apt-get install -y zookeeper`);
    }
    const server = new ZooKeeperServer(await freePort(), { tickTime: 200, minSessionTimeout: 1000, maxSessionTimeout: 20000, ...opts });
    await server.start();
    return server;
  }

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return Boolean(this.proc);
  }

  /** (Re)starts the JVM on this dataDir and port; resolves once it serves requests (`srvr` shows a Mode). */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.proc) return;
    const log = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    // Through a shell that closes every inherited descriptor above stderr before it becomes the JVM. The
    // C client's sockets are not close-on-exec (the package builds it without SOCK_CLOEXEC), so a server
    // started while a test's client is reconnecting would hold that socket open; its stale epoll
    // registration then woke every later client on the same descriptor number with nothing to read, and
    // the binding closed each one as "expired" after ten empty wake-ups. The gateway itself starts no
    // processes, so only this test server meets it.
    const proc = spawn(
      '/bin/bash',
      [
        '-c',
        'for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done; exec "$0" "$@"',
        JAVA,
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-cp',
        ZOOKEEPER_JAR,
        'org.apache.zookeeper.server.ZooKeeperServerMain',
        path.join(this.dir, 'zoo.cfg'),
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    this.proc = proc;
    let exitCode: number | null | undefined;
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code) => {
        exitCode = code;
        resolve();
      }),
    );
    killOnExit.add(proc);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exitCode !== undefined) {
        this.proc = undefined;
        throw new Error(`ZooKeeper exited (${exitCode}) while starting:\n${this.logTail()}`);
      }
      // `ruok` says imok as soon as the port listens; `srvr` reports a Mode only once requests are served
      // (a client that connects earlier is dropped and waits a third of its session timeout to retry).
      if ((await fourLetterWord(this.port, 'srvr', 500))?.includes('Mode:')) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`ZooKeeper did not answer on port ${this.port} within ${timeoutMs} ms:\n${this.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills the server (SIGKILL: a crash, as far as clients can tell) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    proc.kill('SIGKILL');
    await this.exited;
    killOnExit.delete(proc);
  }

  /** Stops the server and removes its files. */
  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  logTail(lines = 30): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'server.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

const killOnExit = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of killOnExit) p.kill('SIGKILL');
});

/**
 * A TCP proxy in front of ZooKeeper. `blackhole()` keeps every connection open but drops all bytes
 * both ways (new connections too), as a network partition does; `heal()` lets traffic through again
 * (every connection is reset then, as after a real partition; clients reconnect).
 */
export class BlackholeProxy {
  private readonly sockets = new Set<net.Socket>();
  /** The accepted side of each connection (the other side is this proxy's own link to the server). */
  private readonly clients = new Set<net.Socket>();
  private readonly server: net.Server;
  private dropping = false;
  port = 0;

  private constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(targetPort: number): Promise<BlackholeProxy> {
    const proxy = new BlackholeProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  private accept(client: net.Socket): void {
    const deadOnArrival = this.dropping;
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    this.clients.add(client);
    client.once('close', () => this.clients.delete(client));
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const pipe = (from: net.Socket, to: net.Socket): void => {
      from.on('data', (chunk) => {
        if (!this.dropping && !deadOnArrival) to.write(chunk);
      });
    };
    pipe(client, upstream);
    pipe(upstream, client);
  }

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  blackhole(): void {
    this.dropping = true;
  }

  /**
   * Resets every connection to its client (TCP RST) and holds this thread until the reset has landed,
   * so the client's next call finds its socket dead before its event loop has read the news. New
   * connections are accepted as before.
   */
  resetClients(): void {
    for (const s of this.clients) s.resetAndDestroy();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }

  /** Lets traffic through again; connections that lost bytes are reset (their streams are corrupt). */
  heal(): void {
    this.dropping = false;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/* ---- fake drivers: raw `zookeeper` package calls, independent of src/discovery -------------------- */

/* eslint-disable @typescript-eslint/no-explicit-any */
type RawZk = any;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RawZooKeeper: any = require('zookeeper');
const EPHEMERAL_SEQUENTIAL = 3;

function rawCall(fn: (cb: (rc: number, err: string, ...rest: any[]) => void) => number): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const rc = fn((code, err, ...rest) => (code === 0 ? resolve(rest) : reject(Object.assign(new Error(`${err} (${code})`), { rc: code }))));
    if (typeof rc === 'number' && rc !== 0) reject(Object.assign(new Error(`rejected (${rc})`), { rc }));
  });
}

/** A connected raw client (for fake drivers and inspecting the tree). */
export async function rawClient(connect: string, opts: { sessionTimeoutMs?: number; auth?: { user: string; password: string } } = {}): Promise<RawClient> {
  const zk: RawZk = new RawZooKeeper({ connect, timeout: opts.sessionTimeoutMs ?? 20000, debug_level: 0, data_as_buffer: false });
  const connected = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      zk.close(); // an unconnected handle would keep retrying (and the process alive) forever
      reject(new Error(`raw zookeeper client could not connect to ${connect}`));
    }, 10_000);
    zk.once('connect', () => {
      clearTimeout(t);
      resolve();
    });
  });
  zk.init({});
  await connected;
  const c = new RawClient(zk);
  if (opts.auth) await c.addAuth(opts.auth.user, opts.auth.password);
  return c;
}

export class RawClient {
  closed = false;
  constructor(readonly zk: RawZk) {
    zk.on('close', () => (this.closed = true));
  }

  get sessionId(): string {
    return String(this.zk.client_id);
  }

  addAuth(user: string, password: string): Promise<unknown> {
    return rawCall((cb) => this.zk.add_auth('digest', `${user}:${password}`, cb));
  }

  async mkdirp(p: string): Promise<void> {
    let cur = '';
    for (const part of p.split('/').filter(Boolean)) {
      cur += `/${part}`;
      await rawCall((cb) => this.zk.a_create(cur, '', 0, cb)).catch((err) => {
        if (err.rc !== -110) throw err;
      });
    }
  }

  async create(p: string, data: string, flags: number): Promise<string> {
    return String((await rawCall((cb) => this.zk.a_create(p, data, flags, cb)))[0]);
  }

  async children(p: string): Promise<string[]> {
    try {
      return (await rawCall((cb) => this.zk.a_get_children(p, false, cb)))[0] as string[];
    } catch (err: any) {
      if (err.rc === -101) return [];
      throw err;
    }
  }

  async get(p: string): Promise<string | undefined> {
    try {
      return String((await rawCall((cb) => this.zk.a_get(p, false, cb)))[1]);
    } catch (err: any) {
      if (err.rc === -101) return undefined;
      throw err;
    }
  }

  async set(p: string, data: string): Promise<void> {
    await rawCall((cb) => this.zk.a_set(p, data, -1, cb));
  }

  async acl(p: string): Promise<{ perms: number; scheme: string; auth: string }[]> {
    return (await rawCall((cb) => this.zk.a_get_acl(p, cb)))[0];
  }

  async setDigestAcl(p: string, user: string, password: string): Promise<void> {
    const id = `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
    await rawCall((cb) => this.zk.a_set_acl(p, -1, [{ perms: 31, scheme: 'digest', auth: id }], cb));
  }

  async delete(p: string): Promise<void> {
    await rawCall((cb) => this.zk.a_delete_(p, -1, cb));
  }

  /** Deletes a subtree (children first). */
  async deleteTree(p: string): Promise<void> {
    for (const c of await this.children(p)) await this.deleteTree(`${p}/${c}`);
    await this.delete(p).catch((err) => {
      if (err.rc !== -101) throw err;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.zk.close();
  }
}

export interface FakeDriverInfo {
  cluster: string;
  ip: string;
  port: number;
  external_ip?: string;
  external_port?: number;
  metric_port?: number;
  hostname?: string;
  scheme?: string;
  pid?: number;
  version?: string;
}

/**
 * A mesos-driver as `MD/mesosdriver/mesosdriver.go` registers: its own session, digest auth, then
 * `CreateProtectedEphemeralSequential("<base>/mesosdriver/<cluster>/<ip>")` → `_c_<32 hex>-<ip><seq>`,
 * parents created as needed, node ACL = digest(user, password).
 */
export class FakeDriver {
  private constructor(
    readonly client: RawClient,
    readonly path: string,
    readonly info: FakeDriverInfo,
  ) {}

  static async register(
    connect: string,
    info: Partial<FakeDriverInfo> & { cluster: string; ip: string; port: number },
    opts: { module?: 'mesosdriver' | 'kubernetedriver'; auth?: { user: string; password: string }; sessionTimeoutMs?: number } = {},
  ): Promise<FakeDriver> {
    const client = await rawClient(connect, { sessionTimeoutMs: opts.sessionTimeoutMs, auth: opts.auth });
    const dir = `/bcs/services/endpoints/${opts.module ?? 'mesosdriver'}/${info.cluster}`;
    await client.mkdirp(dir);
    const guid = randomBytes(16).toString('hex');
    const full: FakeDriverInfo = { scheme: 'http', hostname: `driver-${info.ip}`, pid: 4242, version: 'fake', metric_port: 9090, ...info };
    const created = await client.create(`${dir}/_c_${guid}-${info.ip}`, JSON.stringify(full), EPHEMERAL_SEQUENTIAL);
    if (opts.auth) await client.setDigestAcl(created, opts.auth.user, opts.auth.password);
    return new FakeDriver(client, created, full);
  }

  get node(): string {
    return this.path.slice(this.path.lastIndexOf('/') + 1);
  }

  /** Ends the driver's session: ZooKeeper deletes its ephemeral node. */
  close(): void {
    this.client.close();
  }
}

export { waitFor } from './wait';

import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { createProxy, type ProxySurfaces } from '../../proxy';
import { authenticate } from '../../src/domain/auth';
import { createCluster } from '../../src/domain/clusters';
import { createGrant, deleteGrant } from '../../src/domain/rbac-grants';
import { issueToken } from '../../src/domain/tokens';
import { createUser, findUserByName, setUserDisabled } from '../../src/domain/users';
import { requestListener } from '../../src/http/server';
import { createRegistry } from '../../src/metrics';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { recordingDriver, StaticDiscovery, type SeenRequest } from '../helpers/fake-driver';

const CLUSTER = 'BCS-MESOS-20001';
const OTHER = 'BCS-MESOS-20002';
const keyPair = (): { publicKey: KeyObject; privateKey: KeyObject } => generateKeyPairSync('rsa', { modulusLength: 2048 });

function jwtFor(privateKey: KeyObject, username: string, opts: { alg?: string; expiresIn?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ app: { app_code: 'bk_bcs', verified: true }, user: { username, verified: true } })
    .setProtectedHeader({ alg: opts.alg ?? 'RS256', typ: 'JWT' })
    .setIssuer('APIGW')
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (opts.expiresIn ?? 300))
    .sign(privateKey);
}

for (const dialect of DIALECTS) {
  describe(`/bcsapi caller identities on the driver passthrough (${dialect})`, () => {
    const gatewayKey = keyPair();
    const strangerKey = keyPair();
    let t: TestRuntime;
    let surfaces: ProxySurfaces;
    let gateway: http.Server;
    let url: string;
    let admin: string;
    let alice: string;
    let driver: http.Server;
    const discovery = new StaticDiscovery();
    const seen: SeenRequest[] = [];

    before(async () => {
      const pem = gatewayKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      t = await startTestRuntime(dialect, { apigwJwtKey: { file: 'apigw.pub', pem } });
      const ctx = t.rt.context();
      admin = (await issueToken(ctx, undefined, await createUser(ctx, undefined, { name: 'root', isSuperUser: true }), {})).secret;
      alice = (await issueToken(ctx, undefined, await createUser(ctx, undefined, { name: 'alice' }), {})).secret;
      await createUser(ctx, undefined, { name: 'bob' });
      const actor = await authenticate(t.rt.context().em, admin, new Date());
      for (const id of [CLUSTER, OTHER]) await createCluster(t.rt.context(), undefined, { id, clusterType: 'mesos' });
      await createGrant(t.rt.context(), actor, { subjectKind: 'User', subjectName: 'alice', clusterId: CLUSTER, scope: 'cluster', template: 'cluster-readonly' });
      surfaces = await createProxy(t.rt, createRegistry(), { discovery, webhookRoutes: async () => undefined });
      gateway = http.createServer(requestListener(surfaces.mounts, t.rt.logger, false));
      await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
      const d = await recordingDriver(seen, CLUSTER);
      driver = d.server;
      discovery.servers.set(`mesosdriver/${CLUSTER}`, [d.info]);
      discovery.servers.set(`mesosdriver/${OTHER}`, [d.info]);
    });
    after(async () => {
      gateway?.close();
      driver?.close();
      await surfaces?.stop();
      await t?.stop();
    });
    beforeEach(() => {
      seen.length = 0;
    });

    const get = (headers: Record<string, string>, cluster = CLUSTER, path = 'cluster/resources') => fetch(`${url}/bcsapi/v4/scheduler/mesos/${path}`, { headers: { 'BCS-ClusterID': cluster, ...headers } });
    const refused = async (res: Response, status: number, code: number, message?: RegExp): Promise<void> => {
      assert.equal(res.status, status);
      const body = (await res.json()) as { result: boolean; code: number; message: string; data: unknown };
      assert.deepEqual([body.result, body.code, body.data], [false, code, null]);
      assert.match(body.message, /^\(bcs-api\):/);
      if (message) assert.match(body.message, message);
      assert.equal(seen.length, 0, 'nothing reached the driver');
    };

    it('accepts a gateway token as Authorization: Bearer and as X-Bcs-User-Token', async () => {
      assert.equal((await get({ authorization: `Bearer ${alice}` })).status, 200);
      assert.equal((await get({ 'X-Bcs-User-Token': alice })).status, 200);
      assert.equal(seen.length, 2);
      seen.length = 0;
      await refused(await get({ 'X-Bcs-User-Token': 'bcs_not-a-token' }), 401, 1405059);
    });

    it('accepts the API gateway JWT signed with the configured key, RS256 or RS512', async () => {
      assert.equal((await get({ 'X-Bkapi-JWT': await jwtFor(gatewayKey.privateKey, 'alice') })).status, 200);
      assert.equal((await get({ 'X-Bkapi-JWT': await jwtFor(gatewayKey.privateKey, 'alice', { alg: 'RS512' }) })).status, 200);
      assert.equal(seen.length, 2);
      // The JWT user is alice with her grants: cluster-readonly on CLUSTER only.
      seen.length = 0;
      await refused(await get({ 'X-Bkapi-JWT': await jwtFor(gatewayKey.privateKey, 'alice') }, OTHER), 403, 1405058, /alice needs a grant on cluster BCS-MESOS-20002/);
    });

    it('refuses a JWT with a bad signature, an expired one, one for an unknown user, and none at all', async () => {
      await refused(await get({ 'X-Bkapi-JWT': await jwtFor(strangerKey.privateKey, 'alice') }), 401, 1405059, /signature/);
      await refused(await get({ 'X-Bkapi-JWT': await jwtFor(gatewayKey.privateKey, 'alice', { expiresIn: -120 }) }), 401, 1405059, /expired/);
      await refused(await get({ 'X-Bkapi-JWT': await jwtFor(gatewayKey.privateKey, 'mallory') }), 401, 1405059, /"mallory" is not a user of this gateway/);
      await refused(await get({ 'X-Bkapi-JWT': await jwtFor(gatewayKey.privateKey, 'ALICE') }), 401, 1405059, /not a user/);
      const [, payload] = (await jwtFor(gatewayKey.privateKey, 'alice')).split('.');
      await refused(await get({ 'X-Bkapi-JWT': `eyJhbGciOiJub25lIn0.${payload}.` }), 401, 1405059);
      await refused(await get({}), 401, 1405059, /send a gateway token/);
    });

    it('reads credentials in order and never falls through past a bad one', async () => {
      const jwt = await jwtFor(gatewayKey.privateKey, 'alice');
      await refused(await get({ authorization: 'Bearer bcs_wrong', 'X-Bcs-User-Token': alice, 'X-Bkapi-JWT': jwt }), 401, 1405059);
      await refused(await get({ authorization: `Basic ${Buffer.from(`x:${alice}`).toString('base64')}`, 'X-Bcs-User-Token': alice }), 401, 1405059, /Bearer/);
      await refused(await get({ 'X-Bcs-User-Token': 'bcs_wrong', 'X-Bkapi-JWT': jwt }), 401, 1405059);
      // A good first credential decides, whatever follows it.
      assert.equal((await get({ authorization: `Bearer ${alice}`, 'X-Bkapi-JWT': 'garbage' })).status, 200);
    });

    it("ends a disabled user's JWT access as it ends their tokens'", async () => {
      const jwt = await jwtFor(gatewayKey.privateKey, 'bob');
      await refused(await get({ 'X-Bkapi-JWT': jwt }), 403, 1405058);
      const actor = await authenticate(t.rt.context().em, admin, new Date());
      const bob = await findUserByName(t.rt.context(), 'bob');
      await setUserDisabled(t.rt.context(), actor, bob!.id, true);
      await refused(await get({ 'X-Bkapi-JWT': jwt }), 401, 1405059, /bob is disabled/);
    });

    it('never forwards credentials or claimed identities to the driver', async () => {
      const smuggled = {
        'Impersonate-User': 'system:admin',
        'Impersonate-Group': 'system:masters',
        'Impersonate-Extra-Scopes': 'all',
        'Impersonate-Uid': '0',
        'X-Remote-User': 'root',
        'X-Bkapi-JWT': await jwtFor(gatewayKey.privateKey, 'alice'),
        'Proxy-Authorization': 'Basic eDp5',
      };
      const credentials: Record<string, string>[] = [{ authorization: `Bearer ${alice}` }, { 'X-Bcs-User-Token': alice }, { authorization: `Bearer ${admin}` }];
      for (const credential of credentials) {
        assert.equal((await get({ ...smuggled, ...credential })).status, 200);
      }
      assert.equal((await get({ 'X-Bkapi-JWT': smuggled['X-Bkapi-JWT'], 'Impersonate-User': 'root' })).status, 200);
      assert.equal(seen.length, 4);
      for (const s of seen) {
        const names = s.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        for (const n of names) assert.ok(!/^(authorization|proxy-authorization|x-bcs-user-token|x-bkapi-jwt|impersonate-|x-remote-)/.test(n), `${n} reached the driver`);
        assert.equal(s.headers['bcs-clusterid'], CLUSTER);
      }
    });

    it('lets a namespace grant act in that namespace only, and a cluster-wide read grant read only', async () => {
      const actor = await authenticate(t.rt.context().em, admin, new Date());
      const post = (ns: string) =>
        fetch(`${url}/bcsapi/v4/scheduler/mesos/namespaces/${ns}/applications`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${alice}`, 'BCS-ClusterID': CLUSTER, 'content-type': 'application/json' } });
      await refused(await post('team-a'), 403, 1405058, /needs a grant whose template allows writes on cluster BCS-MESOS-20001 \(cluster-wide or namespace team-a\)/);
      const grant = await createGrant(t.rt.context(), actor, { subjectKind: 'User', subjectName: 'alice', clusterId: CLUSTER, scope: 'namespace', namespace: 'team-a', template: 'workloads-manage' });
      try {
        assert.equal((await post('team-a')).status, 200);
        assert.equal(seen.length, 1);
        seen.length = 0;
        await refused(await post('team-b'), 403, 1405058);
        await refused(await get({ authorization: `Bearer ${alice}` }, OTHER), 403, 1405058);
      } finally {
        await deleteGrant(t.rt.context(), actor, grant.id);
      }
      await refused(await post('team-a'), 403, 1405058);
    });
  });
}

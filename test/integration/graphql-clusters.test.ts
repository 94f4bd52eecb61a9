import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { reportCredentials } from '../../src/domain/credentials';
import { startTestApp, type TestApp } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { codes, gql, TEST_CA_PEM } from './graphql-fixtures';

const STATUS = 'query($id: ID!) { cluster(id: $id) { id registerTokenStatus { active createdAt expiresAt } credentialStatus { serverAddresses reportedAt caFingerprint reporterAddress } } }';

for (const dialect of DIALECTS) {
  describe(`GraphQL clusters and register tokens on ${dialect}`, () => {
    let t: TestApp;
    let aliceToken: string;

    before(async () => {
      t = await startTestApp(dialect);
      const alice = await gql(t.url, t.adminToken, 'mutation { createUser(input: { name: "alice" }) { id } }');
      const issued = await gql(t.url, t.adminToken, 'mutation($id: Int) { issueToken(input: { userId: $id }) { secret } }', { id: alice.data.createUser.id });
      aliceToken = issued.data.issueToken.secret;
    });
    after(async () => t?.stop());

    it('creates clusters, with CONFLICT on a duplicate id and the bad field named on bad input', async () => {
      const created = await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "BCS-K8S-001", projectId: "p1" }) { id identifier clusterType provider projectId creator { name } } }');
      assert.deepEqual(created.errors, []);
      const c = created.data.createCluster;
      assert.equal(c.id, 'BCS-K8S-001');
      assert.match(c.identifier, /^bcs-k8s-001-[a-z0-9]{16}$/);
      assert.deepEqual([c.clusterType, c.provider, c.projectId, c.creator], ['K8S', 'BCS', 'p1', { name: 'admin' }]);

      assert.deepEqual(codes(await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "BCS-K8S-001" }) { id } }')), ['CONFLICT']);
      const badId = await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "bad id/../x" }) { id } }');
      assert.deepEqual(codes(badId), ['BAD_USER_INPUT']);
      assert.equal(badId.errors[0]!.extensions!.field, 'id');
      const tke = await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "TKE-1", clusterType: TKE }) { id } }');
      assert.deepEqual(codes(tke), ['BAD_USER_INPUT']);
      assert.equal(tke.errors[0]!.extensions!.field, 'tkeClusterId');
      assert.deepEqual(codes(await gql(t.url, aliceToken, 'mutation { createCluster(input: { id: "ALICE-1" }) { id } }')), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, t.adminToken, '{ cluster(id: "NOPE") { id } }')), ['NOT_FOUND']);
    });

    it('creates, reads, rotates and revokes a register token', async () => {
      await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "RT-1" }) { id } }');
      const noStatus = await gql(t.url, t.adminToken, STATUS, { id: 'RT-1' });
      assert.equal(noStatus.data.cluster.registerTokenStatus, null);

      const created = await gql(t.url, t.adminToken, 'mutation { createRegisterToken(clusterId: "RT-1", ttl: 3600) { clusterId secret expiresAt } }');
      assert.deepEqual(created.errors, []);
      const first = created.data.createRegisterToken;
      assert.equal(first.clusterId, 'RT-1');
      assert.ok(first.secret.length >= 32);
      assert.deepEqual(codes(await gql(t.url, t.adminToken, 'mutation { createRegisterToken(clusterId: "RT-1") { secret } }')), ['CONFLICT']);
      const read = await gql(t.url, t.adminToken, '{ registerToken(clusterId: "RT-1") { secret } }');
      assert.equal(read.data.registerToken.secret, first.secret);
      const status = (await gql(t.url, t.adminToken, STATUS, { id: 'RT-1' })).data.cluster.registerTokenStatus;
      assert.equal(status.active, true);
      assert.equal(status.expiresAt, first.expiresAt);

      const rotated = await gql(t.url, t.adminToken, 'mutation { rotateRegisterToken(clusterId: "RT-1") { secret expiresAt } }');
      assert.notEqual(rotated.data.rotateRegisterToken.secret, first.secret);
      assert.equal(rotated.data.rotateRegisterToken.expiresAt, null);
      assert.equal((await gql(t.url, t.adminToken, '{ registerToken(clusterId: "RT-1") { secret } }')).data.registerToken.secret, rotated.data.rotateRegisterToken.secret);

      const revoked = await gql(t.url, t.adminToken, 'mutation { revokeRegisterToken(clusterId: "RT-1") { id registerTokenStatus { active } } }');
      assert.deepEqual(revoked.data.revokeRegisterToken, { id: 'RT-1', registerTokenStatus: null });
      assert.deepEqual(codes(await gql(t.url, t.adminToken, 'mutation { revokeRegisterToken(clusterId: "RT-1") { id } }')), ['NOT_FOUND']);
      assert.deepEqual(codes(await gql(t.url, t.adminToken, '{ registerToken(clusterId: "RT-1") { secret } }')), ['NOT_FOUND']);
      const badTtl = await gql(t.url, t.adminToken, 'mutation { createRegisterToken(clusterId: "RT-1", ttl: 0) { secret } }');
      assert.deepEqual(codes(badTtl), ['BAD_USER_INPUT']);
      assert.equal(badTtl.errors[0]!.extensions!.field, 'ttl');
      assert.deepEqual(codes(await gql(t.url, t.adminToken, 'mutation { createRegisterToken(clusterId: "NOPE") { secret } }')), ['NOT_FOUND']);
    });

    it('shows credential status to super users only, never the CA or token', async () => {
      await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "CRED-1" }) { id } }');
      const secret = (await gql(t.url, t.adminToken, 'mutation { createRegisterToken(clusterId: "CRED-1") { secret } }')).data.createRegisterToken.secret;
      await reportCredentials(t.app.runtime.context(), 'CRED-1', {
        registerToken: secret,
        serverAddresses: 'https://10.0.0.1:6443;https://10.0.0.2:6443',
        caCertData: TEST_CA_PEM,
        userToken: 'sa-token-never-shown',
        reporterAddress: '10.0.0.9',
      });
      const admin = await gql(t.url, t.adminToken, STATUS, { id: 'CRED-1' });
      assert.deepEqual(admin.errors, []);
      const cred = admin.data.cluster.credentialStatus;
      assert.deepEqual(cred.serverAddresses, ['https://10.0.0.1:6443', 'https://10.0.0.2:6443']);
      assert.equal(cred.caFingerprint, new crypto.X509Certificate(TEST_CA_PEM).fingerprint256);
      assert.equal(cred.reporterAddress, '10.0.0.9');
      assert.ok(!admin.text.includes('sa-token-never-shown') && !admin.text.includes('BEGIN CERTIFICATE'));

      const alice = await gql(t.url, aliceToken, STATUS, { id: 'CRED-1' });
      assert.equal(alice.data.cluster.id, 'CRED-1', 'the cluster itself is visible');
      assert.equal(alice.data.cluster.credentialStatus, null);
      assert.equal(alice.data.cluster.registerTokenStatus, null);
      assert.deepEqual(alice.errors.map((e) => [e.extensions?.code, e.path?.at(-1)]).sort(), [
        ['FORBIDDEN', 'credentialStatus'],
        ['FORBIDDEN', 'registerTokenStatus'],
      ]);
      assert.deepEqual(codes(await gql(t.url, aliceToken, '{ registerToken(clusterId: "CRED-1") { secret } }')), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, aliceToken, '{ cluster(id: "CRED-1") { creator { name } } }')), ['FORBIDDEN']);
    });

    it('pages through clusters with first/after and counts them lazily', async () => {
      for (const n of [1, 2, 3, 4, 5]) await gql(t.url, t.adminToken, `mutation { createCluster(input: { id: "PAGE-${n}", clusterType: MESOS }) { id } }`);
      const q = 'query($after: String) { clusters(first: 2, after: $after, filter: { idContains: "PAGE-" }) { totalCount edges { cursor node { id clusterType } } pageInfo { hasNextPage endCursor } } }';
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      for (;;) {
        const page = await gql(t.url, aliceToken, q, { after: cursor });
        assert.deepEqual(page.errors, []);
        const conn = page.data.clusters;
        assert.equal(conn.totalCount, 5);
        seen.push(...conn.edges.map((e: { node: { id: string } }) => e.node.id));
        assert.ok(conn.edges.every((e: { node: { clusterType: string } }) => e.node.clusterType === 'MESOS'));
        pages += 1;
        if (!conn.pageInfo.hasNextPage) break;
        assert.equal(conn.pageInfo.endCursor, conn.edges.at(-1).cursor);
        cursor = conn.pageInfo.endCursor;
      }
      assert.equal(pages, 3);
      assert.deepEqual(seen, ['PAGE-1', 'PAGE-2', 'PAGE-3', 'PAGE-4', 'PAGE-5']);
      const bad = await gql(t.url, aliceToken, '{ clusters(after: "not-a-cursor") { totalCount } }');
      assert.deepEqual(codes(bad), ['BAD_USER_INPUT']);
      assert.equal(bad.errors[0]!.extensions!.field, 'after');
      const byType = await gql(t.url, aliceToken, '{ clusters(filter: { clusterType: K8S }) { edges { node { clusterType } } } }');
      assert.ok(byType.data.clusters.edges.length > 0 && byType.data.clusters.edges.every((e: { node: { clusterType: string } }) => e.node.clusterType === 'K8S'));
    });

    it('issues a kubeconfig whose token authenticates as the caller', async () => {
      await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "KUBE-1" }) { id } }');
      const identifier = (await gql(t.url, aliceToken, '{ cluster(id: "KUBE-1") { identifier } }')).data.cluster.identifier;
      const res = await gql(t.url, aliceToken, 'mutation { kubeconfig(clusterId: "KUBE-1", ttl: 3600) { kubeconfig server expiresAt tokenId } }');
      assert.deepEqual(res.errors, []);
      const { kubeconfig, server, tokenId } = res.data.kubeconfig;
      assert.equal(server, `${t.url}/tunnels/clusters/${identifier}`);
      const doc = parseYaml(kubeconfig) as {
        clusters: { cluster: { server: string } }[];
        users: { user: { token: string } }[];
        'current-context': string;
      };
      assert.equal(doc.clusters[0]!.cluster.server, server);
      assert.ok(doc.clusters[0]!.cluster.server.endsWith(`/tunnels/clusters/${identifier}`));
      assert.equal(doc['current-context'], 'KUBE-1');
      const token = doc.users[0]!.user.token;
      assert.equal((await gql(t.url, token, '{ viewer { name } }')).data.viewer.name, 'alice');
      const listed = await gql(t.url, aliceToken, '{ tokens { edges { node { id type name } } } }');
      assert.ok(listed.data.tokens.edges.some((e: { node: { id: number; type: string } }) => e.node.id === tokenId && e.node.type === 'KUBECONFIG'));
      const bad = await gql(t.url, aliceToken, 'mutation { kubeconfig(clusterId: "KUBE-1", ttl: -1) { server } }');
      assert.deepEqual(codes(bad), ['BAD_USER_INPUT']);
      assert.equal(bad.errors[0]!.extensions!.field, 'ttl');
      assert.deepEqual(codes(await gql(t.url, aliceToken, 'mutation { kubeconfig(clusterId: "NOPE") { server } }')), ['NOT_FOUND']);
    });

    it('deletes a cluster with its register token', async () => {
      await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "DEL-1" }) { id } }');
      await gql(t.url, t.adminToken, 'mutation { createRegisterToken(clusterId: "DEL-1") { secret } }');
      assert.deepEqual(codes(await gql(t.url, aliceToken, 'mutation { deleteCluster(id: "DEL-1") { id } }')), ['FORBIDDEN']);
      const deleted = await gql(t.url, t.adminToken, 'mutation { deleteCluster(id: "DEL-1") { id } }');
      assert.deepEqual(deleted.data.deleteCluster, { id: 'DEL-1' });
      assert.deepEqual(codes(await gql(t.url, t.adminToken, '{ cluster(id: "DEL-1") { id } }')), ['NOT_FOUND']);
    });
  });
}

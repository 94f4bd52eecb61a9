import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accessNeeded, type AccessNeed } from '../../proxy/shared/bcsapi-rules';

const need = (module: string, method: string, uri: string, clusterId?: string): Extract<AccessNeed, { ok: true }> => {
  const n = accessNeeded({ module, method, uri, clusterId });
  assert.ok(n.ok, `expected a decision for ${method} ${uri}`);
  return n;
};

describe("the original's /bcsapi rule table", () => {
  it('treats a storage POST query as a read, with the cluster from the path', () => {
    const n = need('storage', 'POST', 'query/k8s/dynamic/clusters/BCS-K8S-001/Pod');
    assert.equal(n.access, 'read');
    assert.deepEqual(n.clusters, ['BCS-K8S-001']);
    assert.equal(n.namespace, undefined);
    assert.match(n.rule!, /^storage: query\//);
    assert.equal(need('storage', 'POST', 'query/mesos/dynamic/clusters/BCS-MESOS-1/application?x=1').access, 'read');
    // Same path on another route is not covered: the default makes a POST a write.
    assert.equal(need('clusterkeeper', 'POST', 'query/k8s/dynamic/clusters/BCS-K8S-001/Pod').access, 'manage');
  });

  it('captures the namespace where the rule names it', () => {
    const ns = need('storage', 'GET', 'k8s/dynamic/namespace_resources/clusters/C1/namespaces/team-a/Deployment/web');
    assert.deepEqual([ns.access, ns.clusters, ns.namespace], ['read', ['C1'], 'team-a']);
    const metric = need('storage', 'PUT', 'metric/clusters/C1/namespaces/team-a/svc/m1');
    assert.deepEqual([metric.access, metric.namespace], ['manage', 'team-a']);
    const def = need('mesos', 'GET', 'definition/application/team-b/web', 'C2');
    assert.deepEqual([def.access, def.clusters, def.namespace], ['read', ['C2'], 'team-b']);
    const scale = need('mesos', 'PUT', 'namespaces/team-b/deployments/web/scale/3', 'C2');
    assert.deepEqual([scale.access, scale.namespace], ['manage', 'team-b']);
    const task = need('metric', 'DELETE', 'tasks/clusters/C3/namespaces/ns/name/t1');
    assert.deepEqual([task.access, task.clusters, task.namespace], ['manage', ['C3'], 'ns']);
  });

  it('covers the Mesos reads and writes as the original listed them', () => {
    assert.equal(need('mesos', 'GET', 'cluster/resources', 'C').access, 'read');
    assert.equal(need('mesos', 'GET', 'namespaces/n/applications/a/taskgroups', 'C').access, 'read');
    assert.equal(need('mesos', 'POST', 'namespaces/n/applications/a/taskgroups/t/restart', 'C').access, 'manage');
    assert.equal(need('mesos', 'POST', 'agentsettings/disable', 'C').access, 'manage');
    assert.equal(need('mesos', 'POST', 'image/commit/tg', 'C').access, 'manage');
  });

  it('defaults uncovered paths: GET and HEAD read, anything else manages; one namespaces/{ns} pair names the namespace', () => {
    assert.equal(need('k8s', 'GET', 'namespaces/n1/pods', 'C').access, 'read');
    assert.equal(need('k8s', 'HEAD', 'nodes', 'C').access, 'read');
    const post = need('netservice', 'POST', 'pools', 'C');
    assert.deepEqual([post.access, post.rule], ['manage', undefined]);
    assert.equal(need('mesos', 'PATCH', 'cluster/resources', 'C').access, 'manage', 'a rule for GET says nothing about PATCH');
    assert.equal(need('k8s', 'DELETE', 'namespaces/n1/pods/p', 'C').namespace, 'n1');
    assert.equal(need('k8s', 'DELETE', 'namespaces/n1/x/namespaces/n2', 'C').namespace, undefined, 'two namespaces: none counts');
  });

  it('collects every cluster named: the header and each clusters/{id} of the path', () => {
    assert.deepEqual(need('storage', 'GET', 'query/k8s/dynamic/clusters/B/Pod', 'A').clusters, ['A', 'B']);
    assert.deepEqual(need('storage', 'GET', 'query/k8s/dynamic/clusters/A/Pod', 'A').clusters, ['A']);
    assert.deepEqual(need('detection', 'GET', 'x/clusters/%42').clusters, ['B'], 'decoded as the upstream will');
    assert.deepEqual(need('netservice', 'GET', 'pools').clusters, []);
  });

  it('refuses paths an upstream would resolve differently', () => {
    for (const uri of ['query/../clusters/B/Pod', 'a/%2e%2e/b', 'clusters/A%2FB/x', 'bad/%zz', 'a/%00']) {
      assert.equal(accessNeeded({ module: 'storage', method: 'GET', uri }).ok, false, uri);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RbacAuthorizer, forbidden, type UserInfo } from '../helpers/fake-kube/rbac';
import { requestInfo } from '../helpers/fake-kube/request-info';
import { findDef, Store } from '../helpers/fake-kube/resources';
import { matchesSelector } from '../helpers/fake-kube/selectors';

const info = (method: string, path: string) => requestInfo(method, new URL(path, 'https://x'));
const alice: UserInfo = { username: 'alice', groups: ['dev', 'system:authenticated'], extra: {} };

describe('fake-kube request attributes', () => {
  it('derives verbs and scopes like the apiserver', () => {
    assert.deepEqual(
      { ...info('GET', '/api/v1/namespaces/ns1/pods?watch=true') },
      { isResourceRequest: true, path: '/api/v1/namespaces/ns1/pods', verb: 'watch', apiGroup: '', apiVersion: 'v1', namespace: 'ns1', resource: 'pods', subresource: '', name: '' },
    );
    assert.equal(info('GET', '/api/v1/namespaces/ns1/pods/p/exec?command=ls').verb, 'create');
    assert.equal(info('GET', '/api/v1/namespaces/ns1/pods/p/log').verb, 'get');
    assert.equal(info('DELETE', '/apis/rbac.authorization.k8s.io/v1/clusterroles').verb, 'deletecollection');
    const ns = info('GET', '/api/v1/namespaces/ns1');
    assert.deepEqual([ns.resource, ns.name, ns.namespace], ['namespaces', 'ns1', 'ns1']);
    assert.equal(info('GET', '/apis/rbac.authorization.k8s.io/v1').isResourceRequest, false);
  });
});

describe('fake-kube selectors', () => {
  const labels: Record<string, string> = { app: 'web', tier: 'front' };
  const get = (k: string) => labels[k];
  it('supports equality, sets and existence', () => {
    assert.ok(matchesSelector('app=web,tier!=back', get));
    assert.ok(matchesSelector('app in (web, api),!missing', get));
    assert.ok(!matchesSelector('app notin (web)', get));
    assert.ok(!matchesSelector('missing', get));
  });
});

describe('fake-kube RBAC authorizer', () => {
  function store() {
    const s = new Store();
    s.create(findDef('', 'namespaces')!, { metadata: { name: 'ns1' } });
    return s;
  }
  const g = 'rbac.authorization.k8s.io';

  it('combines ClusterRoles bound per namespace with resourceNames and subresources', () => {
    const s = store();
    s.create(findDef(g, 'clusterroles')!, {
      metadata: { name: 'r' },
      rules: [
        { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['p1'] },
        { verbs: ['create'], apiGroups: [''], resources: ['pods/exec'] },
      ],
    });
    s.create(findDef(g, 'rolebindings')!, { metadata: { name: 'b', namespace: 'ns1' }, roleRef: { kind: 'ClusterRole', name: 'r' }, subjects: [{ kind: 'Group', name: 'dev' }] }, 'ns1');
    const rbac = new RbacAuthorizer(s);
    assert.ok(rbac.allowed(alice, info('GET', '/api/v1/namespaces/ns1/pods/p1')));
    assert.ok(!rbac.allowed(alice, info('GET', '/api/v1/namespaces/ns1/pods/p2')));
    assert.ok(!rbac.allowed(alice, info('GET', '/api/v1/namespaces/ns1/pods')));
    assert.ok(rbac.allowed(alice, info('GET', '/api/v1/namespaces/ns1/pods/p2/exec')));
    assert.ok(!rbac.allowed(alice, info('GET', '/api/v1/namespaces/default/pods/p2/exec')));
    assert.ok(!rbac.allowed(alice, info('GET', '/api/v1/namespaces/ns1/pods/p1/log')));
  });

  it('matches ServiceAccount subjects and nonResourceURL prefixes; super users bypass', () => {
    const s = store();
    s.create(findDef(g, 'clusterroles')!, { metadata: { name: 'h' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz/*'] }] });
    s.create(findDef(g, 'clusterrolebindings')!, { metadata: { name: 'h' }, roleRef: { kind: 'ClusterRole', name: 'h' }, subjects: [{ kind: 'ServiceAccount', name: 'mon', namespace: 'ns1' }] });
    const rbac = new RbacAuthorizer(s);
    const sa: UserInfo = { username: 'system:serviceaccount:ns1:mon', groups: [], extra: {} };
    assert.ok(rbac.allowed(sa, info('GET', '/healthz/etcd')));
    assert.ok(!rbac.allowed(alice, info('GET', '/healthz/etcd')));
    rbac.superUsers.add('alice');
    assert.ok(rbac.allowed(alice, info('DELETE', '/api/v1/namespaces/ns1')));
  });

  it('words Forbidden messages as kube-apiserver does', () => {
    assert.equal(forbidden(alice, info('GET', '/api/v1/namespaces/ns1/pods')).message, 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "ns1"');
    assert.equal(
      forbidden(alice, info('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/admin')).message,
      'clusterroles.rbac.authorization.k8s.io "admin" is forbidden: User "alice" cannot get resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope',
    );
    assert.equal(forbidden(alice, info('GET', '/metrics')).message, 'forbidden: User "alice" cannot get path "/metrics"');
  });
});

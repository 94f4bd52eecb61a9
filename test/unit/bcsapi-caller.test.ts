import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BcsapiCallers, isIdentityHeader } from '../../proxy/shared/bcsapi-caller';
import type { AuthOutcome, PrincipalCache } from '../../proxy/shared/principal-cache';
import type { Runtime } from '../../src/runtime';

/** Gateway tokens as the principal cache would answer them: only `good` authenticates. */
const principals = {
  authenticate: (token: string | undefined): AuthOutcome =>
    token === 'good' ? { ok: true, principal: { userId: 1, userName: 'alice', isSuperUser: false, groups: [], tokenId: 7, tokenDigest: 'd' } } : { ok: false, message: 'Unauthorized' },
} as unknown as PrincipalCache;
const withoutJwt = new BcsapiCallers({ config: {} } as Runtime, principals);

const identify = async (headers: Record<string, string | string[]>) => withoutJwt.identify(headers);

describe('/bcsapi caller credentials', () => {
  it('reads Authorization first, then X-Bcs-User-Token, and names where the credential came from', async () => {
    assert.deepEqual(await identify({ authorization: 'Bearer good' }), { ok: true, principal: (await identify({ 'x-bcs-user-token': 'good' }) as { principal: unknown }).principal, via: 'bearer', token: 'good' });
    assert.equal(((await identify({ 'x-bcs-user-token': ' good ' })) as { via: string }).via, 'x-bcs-user-token');
    assert.equal((await identify({ authorization: 'Bearer bad', 'x-bcs-user-token': 'good' })).ok, false, 'no fall-through past a bad credential');
    assert.equal((await identify({ authorization: 'Basic Z29vZA==', 'x-bcs-user-token': 'good' })).ok, false);
    assert.equal((await identify({ 'x-bcs-user-token': 'good bad' })).ok, false);
    assert.equal((await identify({ 'x-bcs-user-token': '' })).ok, false);
  });

  it('refuses no credential, and X-Bkapi-JWT when no key is configured', async () => {
    assert.match(((await identify({})) as { message: string }).message, /send a gateway token/);
    assert.match(((await identify({ 'x-bkapi-jwt': 'a.b.c' })) as { message: string }).message, /bkiam_auth\.apigw_rsa_file is not configured/);
  });

  it('marks every credential and claimed identity header as never forwarded', () => {
    for (const h of ['authorization', 'proxy-authorization', 'x-bcs-user-token', 'x-bkapi-jwt', 'impersonate-user', 'impersonate-extra-scopes', 'x-remote-user']) assert.ok(isIdentityHeader(h), h);
    for (const h of ['bcs-clusterid', 'content-type', 'cookie', 'x-request-id']) assert.ok(!isIdentityHeader(h), h);
  });
});

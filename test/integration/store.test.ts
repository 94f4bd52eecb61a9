import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrationNeeded, openStore } from '../../src/store/orm';
import { createUser } from '../../src/domain/users';
import { issueToken } from '../../src/domain/tokens';
import { authenticate } from '../../src/domain/auth';
import { DIALECTS } from '../helpers/db';
import { startTestRuntime, type TestRuntime } from '../helpers/app';

for (const dialect of DIALECTS) {
  describe(`store on ${dialect}`, () => {
    let t: TestRuntime;
    before(async () => {
      t = await startTestRuntime(dialect);
    });
    after(async () => t?.stop());

    it('has committed migrations that match the entities', async () => {
      const checker = await openStore(t.rt.config.database, { snapshot: true });
      try {
        assert.equal(await migrationNeeded(checker), false, 'entities changed: run `npm run migration:create` for both dialects');
      } finally {
        await checker.close();
      }
    });

    it('stores API tokens only as digests and finds them by digest', async () => {
      const ctx = t.rt.context();
      const user = await createUser(ctx, undefined, { name: `u-${dialect}` });
      const issued = await issueToken(ctx, undefined, user, { name: 'x' });
      assert.match(issued.secret, /^bcs_[A-Za-z0-9]{32}$/);
      const principal = await authenticate(t.rt.context().em, issued.secret, new Date());
      assert.equal(principal.user.name, `u-${dialect}`);
      const rows = await t.rt.context().em.getConnection().execute('select * from api_tokens');
      assert.ok(!JSON.stringify(rows).includes(issued.secret));
    });
  });
}

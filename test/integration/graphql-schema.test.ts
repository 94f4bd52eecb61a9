import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { buildGraphqlSchema, printSortedSchema, SCHEMA_FILE } from '../../src/graphql/schema';

describe('GraphQL schema file', () => {
  it('matches the schema built from the code', async () => {
    const fresh = printSortedSchema(await buildGraphqlSchema());
    const committed = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
    assert.ok(committed === fresh, 'schema.graphql is stale: run `npm run schema:emit` and commit schema.graphql');
  });

  it('exposes no field that could carry a cluster secret', async () => {
    const sdl = printSortedSchema(await buildGraphqlSchema());
    assert.doesNotMatch(sdl, /caCert|userToken|tokenSealed|digest|clusterDomain/i);
  });
});

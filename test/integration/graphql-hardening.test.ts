import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app';
import { gql, type GqlError } from './graphql-fixtures';

/** Client mistakes through HTTP: 400 with Apollo's codes, limits named, error responses bounded. */

interface Raw {
  status: number;
  requestBytes: number;
  responseBytes: number;
  errors: GqlError[];
  data: unknown;
  extensions?: Record<string, unknown>;
  text: string;
}

const codesOf = (r: Raw) => r.errors.map((e) => e.extensions?.code);

const CREATE_USER = 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }';

/** The bound every error response keeps: at most 4 KiB, or the size of the request that drew it. */
function assertBounded(r: Raw, label: string): void {
  assert.ok(r.responseBytes <= Math.max(4096, r.requestBytes), `${label}: ${r.responseBytes} response bytes for a ${r.requestBytes}-byte request`);
  assert.ok(r.errors.length >= 1 && r.errors.length <= 10, `${label}: ${r.errors.length} errors`);
  for (const e of r.errors) assert.ok(e.message.length <= 300, `${label}: a ${e.message.length}-character message`);
}

describe('GraphQL hardening on sqlite', () => {
  let t: TestApp;

  async function post(body: string | Buffer, headers: Record<string, string> = {}): Promise<Raw> {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}`, ...headers },
      body,
    });
    const text = await res.text();
    const parsed = JSON.parse(text) as { data?: unknown; errors?: GqlError[]; extensions?: Record<string, unknown> };
    return {
      status: res.status,
      requestBytes: Buffer.byteLength(body),
      responseBytes: Buffer.byteLength(text),
      errors: parsed.errors ?? [],
      data: parsed.data ?? null,
      extensions: parsed.extensions,
      text,
    };
  }
  const op = (query: unknown, variables?: unknown) => post(JSON.stringify({ query, variables }));

  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.stop());

  it('answers syntax errors with 400 GRAPHQL_PARSE_FAILED and where the fault is', async () => {
    const documents: [string, string, RegExp][] = [
      ['unclosed brace', '{ viewer { name }', /^Syntax Error: Expected Name, found <EOF>\.$/],
      ['stray brace', '{ viewer { name } } }', /^Syntax Error: Unexpected "}"\.$/],
      ['escaped lone surrogate', '{ user(name: "\\ud800") { id } }', /^Syntax Error: Invalid Unicode escape sequence/],
      ['raw lone surrogate', '{ user(name: "\ud800") { id } }', /^Syntax Error: Invalid character within String: U\+D800\.$/],
      ['only a comment', '# nothing here', /^Syntax Error: Unexpected <EOF>\.$/],
      ['unterminated string', '{ user(name: "abc) { id } }', /^Syntax Error: Unterminated string\.$/],
    ];
    for (const [label, query, message] of documents) {
      const r = await op(query);
      assert.equal(r.status, 400, label);
      assert.deepEqual(codesOf(r), ['GRAPHQL_PARSE_FAILED'], label);
      assert.match(r.errors[0]!.message, message, label);
      assert.equal(r.errors[0]!.locations?.length, 1, label);
      assert.equal(r.data, null, label);
    }
  });

  it('answers requests that are not GraphQL requests with 400 BAD_REQUEST', async () => {
    const bodies: [string, string | Buffer, RegExp][] = [
      ['empty query', JSON.stringify({ query: '' }), /non-empty `query`/],
      ['no query', JSON.stringify({ variables: {} }), /non-empty `query`/],
      ['non-string query', JSON.stringify({ query: 42 }), /must be strings/],
      ['query as an object', JSON.stringify({ query: { kind: 'Document' } }), /must be strings/],
      ['variables as a string', JSON.stringify({ query: '{ viewer { name } }', variables: '{}' }), /variables/],
      ['a JSON string', JSON.stringify('{ viewer { name } }'), /POST body/],
      ['invalid UTF-8', Buffer.concat([Buffer.from('{"query":"{ viewer { name '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(' } }"}')]), /not valid UTF-8/],
      ['invalid JSON', '{"query": ', /not valid JSON/],
    ];
    for (const [label, body, message] of bodies) {
      const r = await post(body);
      assert.equal(r.status, 400, label);
      assert.deepEqual(codesOf(r), ['BAD_REQUEST'], label);
      assert.match(r.errors[0]!.message, message, label);
    }
  });

  it('answers other invalid operations with 400 and a client code, never an internal error', async () => {
    const cases: [string, unknown, string][] = [
      ['a subscription (the schema has none)', { query: 'subscription { viewer { name } }' }, 'GRAPHQL_VALIDATION_FAILED'],
      ['an unknown field', { query: '{ viewer { nope } }' }, 'GRAPHQL_VALIDATION_FAILED'],
      ['two operations, no name', { query: 'query A { viewer { name } } query B { viewer { id } }' }, 'OPERATION_RESOLUTION_FAILURE'],
      ['an unknown operation name', { query: 'query A { viewer { name } }', operationName: 'B' }, 'OPERATION_RESOLUTION_FAILURE'],
      ['a missing required variable', { query: 'query($n: Int!) { users(first: $n) { totalCount } }' }, 'BAD_USER_INPUT'],
    ];
    for (const [label, body, code] of cases) {
      const r = await post(JSON.stringify(body));
      assert.equal(r.status, 400, `${label}: ${r.text}`);
      assert.deepEqual(codesOf(r), [code], label);
    }
  });

  it('refuses more than 1,000 tokens with 400 naming the limit and the count, however large the document', async () => {
    // 110 fragments (nine tokens each with its spread) and a few plain fields: 6 + 990 + n tokens.
    // Fragments rather than 994 equal fields, whose pairwise merge check graphql-js itself cuts short.
    const ids = Array.from({ length: 110 }, (_, i) => i);
    const document = (n: number) =>
      `{ viewer { name } ${'__typename '.repeat(n)}${ids.map((i) => `...F${i} `).join('')}} ${ids.map((i) => `fragment F${i} on Query { __typename }`).join(' ')}`;
    const at = await op(document(4));
    assert.equal(at.status, 200, `exactly 1,000 tokens is allowed: ${at.text.slice(0, 300)}`);
    assert.deepEqual(at.errors, []);
    const over = await op(document(5));
    assert.equal(over.status, 400);
    assert.deepEqual(over.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'tokens', max: 1000, found: 1001 });
    assert.equal(over.errors[0]!.message, 'tokens limit exceeded: the document has 1001 tokens, 1 over the limit of 1000');

    const aliases = await op(`{ ${Array.from({ length: 5000 }, (_, i) => `a${i}: viewer { name }`).join(' ')} }`);
    assert.equal(aliases.status, 400);
    assert.deepEqual(aliases.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'tokens', max: 1000, found: 30002 });
    const directives = await op(`{ viewer { name ${'@include(if: true) '.repeat(10000)}} }`);
    assert.equal(directives.status, 400);
    assert.deepEqual(directives.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'tokens', max: 1000, found: 70006 });
    for (const r of [over, aliases, directives]) assert.equal(r.errors.length, 1);
  });

  it('names the limit when graphql-js gives up validating hundreds of fields of one name', async () => {
    const r = await op(`{ ${'__typename '.repeat(900)}}`);
    assert.equal(r.status, 400);
    assert.deepEqual(r.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'validation' });
    assert.match(r.errors[0]!.message, /^validation limit exceeded: /);
    assert.equal((await op(`{ ${'__typename '.repeat(300)}}`)).status, 200);
  });

  it('refuses more than 50 directives with 400 naming the limit', async () => {
    const withDirectives = (n: number) => `{ viewer { name } ${'__typename @include(if: true) '.repeat(n)}}`;
    const at = await op(withDirectives(50));
    assert.equal(at.status, 200);
    assert.deepEqual(at.errors, []);
    const over = await op(withDirectives(51));
    assert.equal(over.status, 400);
    assert.deepEqual(codesOf(over), ['GRAPHQL_VALIDATION_FAILED']);
    assert.deepEqual(over.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'directives', max: 50, found: 51 });
    assert.equal(over.errors[0]!.message, 'directives limit exceeded: the operation has 51 directives, 1 over the limit of 50');
  });

  it('refuses literal page sizes over graphql.max_cost before executing, and accepts one documented page', async () => {
    const usersPage = (alias: string) => `${alias}: users(first: 500) { edges { node { id name groups } } }`;
    assert.deepEqual((await op(`{ ${usersPage('a')} }`)).errors, []);
    const r = await op(`{ ${['a', 'b', 'c', 'd', 'e', 'f'].map(usersPage).join(' ')} }`);
    assert.equal(r.status, 400);
    assert.equal(r.errors.length, 1);
    const ext = r.errors[0]!.extensions!;
    assert.deepEqual([ext.code, ext.limit, ext.max, ext.found], ['GRAPHQL_VALIDATION_FAILED', 'cost', 5000, 6006]);
    assert.equal(
      r.errors[0]!.message,
      'cost limit exceeded: the operation costs 6006, 1006 over the limit of 5000; ask for smaller pages (first), following pageInfo.endCursor with after, or fewer nested lists',
    );
    assert.equal(r.data, null);
  });

  it('refuses variables over their limits before execution, naming the limit', async () => {
    const userCount = async () => (await gql(t.url, t.adminToken, '{ users { totalCount } }')).data.users.totalCount as number;
    const before = await userCount();
    const keys = await op(CREATE_USER, { input: Object.fromEntries(Array.from({ length: 20000 }, (_, i) => [`k${i}`, 1])) });
    assert.equal(keys.status, 400);
    assert.deepEqual(keys.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'variables-keys', max: 1000, found: 20001 });
    assert.equal(keys.errors[0]!.message, 'variables-keys limit exceeded: the variables hold 20001 object keys, 19001 over the limit of 1000');
    assertBounded(keys, 'keys');

    // The variables object is level 1, `input` level 2, so n wrappers reach level 2 + n.
    const nestedIn = (n: number) => {
      let nested: unknown = 1;
      for (let i = 0; i < n; i++) nested = { a: nested };
      return { input: { name: 'plain:deep', nested } };
    };
    const deep = await op(CREATE_USER, nestedIn(9));
    assert.equal(deep.status, 400);
    assert.deepEqual(deep.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'variables-depth', max: 10, found: 11 });
    const atLimit = await op(CREATE_USER, nestedIn(8));
    assert.deepEqual(codesOf(atLimit), ['BAD_USER_INPUT'], 'ten levels reach coercion, which refuses the unknown field');

    const long = { input: { name: 'n'.repeat(128 * 1024) } };
    const bytes = await op(CREATE_USER, long);
    assert.equal(bytes.status, 400);
    const found = Buffer.byteLength(JSON.stringify(long));
    assert.deepEqual(bytes.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'variables-bytes', max: 131072, found });
    assert.doesNotMatch(bytes.text, /nnnn/);

    // A GET's variables are measured as sent, in the query string.
    const variables = JSON.stringify({ f: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [i, 1])) });
    const url = `${t.url}/graphql?query=${encodeURIComponent('{ viewer { name } }')}&variables=${encodeURIComponent(variables)}`;
    const get = await fetch(url, { headers: { authorization: `Bearer ${t.adminToken}`, 'apollo-require-preflight': 'true' } });
    assert.equal(get.status, 400);
    const payload = (await get.json()) as { errors: GqlError[] };
    assert.equal(payload.errors[0]!.extensions!.limit, 'variables-keys');

    assert.equal(await userCount(), before, 'no refused mutation ran');
  });

  it('keeps every error response within max(4 KiB, the request size) whatever the variables hold', async () => {
    const unknownKeys = (n: number) => ({ input: { name: 'plain:x', ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`unknown${i}`, 'v'.repeat(20)])) } });
    let nested: unknown = 'v';
    const cases: [string, string, unknown][] = [];
    for (const n of [1, 10, 100, 999]) cases.push([`${n} unknown keys`, CREATE_USER, unknownKeys(n)]);
    for (let depth = 2; depth <= 9; depth++) {
      nested = { deeper: nested, [`wide${depth}`]: 'w'.repeat(500) };
      cases.push([`nested ${depth}`, CREATE_USER, { input: nested }]);
    }
    for (const n of [100, 10_000, 120_000]) {
      cases.push([`a ${n}-character string for an Int`, 'query($n: Int) { users(first: $n) { totalCount } }', { n: 's'.repeat(n) }]);
      cases.push([`a ${n}-character key`, CREATE_USER, { input: { name: 'plain:x', ['k'.repeat(n)]: 1 } }]);
    }
    for (const n of [10, 1000, 60_000]) {
      cases.push([`${n} numbers for [String!]`, CREATE_USER, { input: { name: 'plain:x', groups: Array.from({ length: n }, () => 7) } }]);
      cases.push([`${n} objects for [String!]`, CREATE_USER, { input: { name: 'plain:x', groups: Array.from({ length: Math.min(n, 990) }, (_, i) => ({ [`g${i}`]: 'x'.repeat(40) })) } }]);
    }
    for (const n of [10, 100, 999]) {
      const vars = Object.fromEntries(Array.from({ length: n }, (_, i) => [`v${i}`, 'x'.repeat(100)]));
      const decls = Array.from({ length: Math.min(n, 60) }, (_, i) => `$v${i}: Int`).join(' ');
      cases.push([`${n} variables`, `query(${decls}) { viewer { name } }`, vars]);
    }
    for (const [label, query, variables] of cases) {
      const r = await op(query, variables);
      assert.equal(r.status, 400, `${label}: ${r.text.slice(0, 200)}`);
      assertBounded(r, label);
      assert.doesNotMatch(r.text, /(.)\1{299}/, `${label}: a long run of one character is echoed`);
    }
  });

  it('names where a variable is wrong without repeating its value', async () => {
    const input = { name: 'plain:x', groups: ['ok', 5], [`secret${'z'.repeat(50)}`]: 'value-not-to-echo' };
    const r = await op(CREATE_USER, { input });
    assert.equal(r.status, 400);
    assert.deepEqual(
      r.errors.map((e) => [e.extensions?.code, e.message]),
      [
        ['BAD_USER_INPUT', 'Variable "$input" got invalid value at "input.groups[1]"; String cannot represent a non string value: 5'],
        ['BAD_USER_INPUT', `Variable "$input" got invalid value; Field "secret${'z'.repeat(50)}" is not defined by type "CreateUserInput".`],
      ],
    );
    assert.doesNotMatch(r.text, /value-not-to-echo/);
  });

  it('sends at most ten errors and says how many it left out', async () => {
    const r = await op(`{ ${Array.from({ length: 40 }, (_, i) => `unknown${i}`).join(' ')} }`);
    assert.equal(r.status, 400);
    assert.equal(r.errors.length, 10);
    assert.ok(r.errors.every((e) => e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED'));
    assert.deepEqual(r.extensions, { omittedErrors: 1 }, 'graphql-js stops after ten and adds one error saying so');
    assertBounded(r, 'many validation errors');
    const few = await op('{ unknown1 unknown2 }');
    assert.equal(few.errors.length, 2);
    assert.equal(few.extensions, undefined);
  });

  it('still answers ordinary operations, with variables', async () => {
    const viewer = await op('query($n: Int) { viewer { name } users(first: $n) { totalCount edges { node { name } } } }', { n: 5 });
    assert.equal(viewer.status, 200);
    assert.deepEqual(viewer.data, { viewer: { name: 'admin' }, users: { totalCount: 1, edges: [{ node: { name: 'admin' } }] } });
    const created = await gql(t.url, t.adminToken, CREATE_USER, { input: { name: 'plain:hardening', groups: ['dev'] } });
    assert.deepEqual(created.errors, []);
    assert.ok(created.data.createUser.id);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GraphQLError, parse } from 'graphql';
import { MAX_TOKENS, tokenLimitError } from '../../src/graphql/limits';
import { RESPONSE_BOUNDS, stringifyBounded, truncateMessage, withoutEchoedValue } from '../../src/graphql/response-bounds';
import { checkVariables, VARIABLE_LIMITS } from '../../src/graphql/variable-limits';

function parseError(source: string): GraphQLError {
  try {
    parse(source, { maxTokens: MAX_TOKENS });
  } catch (err) {
    assert.ok(err instanceof GraphQLError);
    return err;
  }
  assert.fail('expected a syntax error');
}

describe('GraphQL limits and response bounds', () => {
  it("recognises graphql-js's token-limit error and counts the whole document", () => {
    const over = parseError(`{ ${'a '.repeat(1500)}}`);
    assert.deepEqual(tokenLimitError(over)?.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'tokens', max: 1000, found: 1502 });
    // A lexical error past the limit ends the count there; the document is still over.
    const broken = parseError(`{ ${'a '.repeat(1500)} " }`);
    assert.equal(tokenLimitError(broken)?.extensions.found, 1501);
    assert.equal(tokenLimitError(parseError('{ a ')), undefined, 'an ordinary syntax error is not a limit');
  });

  it('truncates long messages without splitting a surrogate pair', () => {
    assert.equal(truncateMessage('short'), 'short');
    const long = truncateMessage('x'.repeat(1000));
    assert.equal(long.length, RESPONSE_BOUNDS.messageChars);
    assert.ok(long.endsWith('…'));
    const emoji = truncateMessage(`${'x'.repeat(RESPONSE_BOUNDS.messageChars - 4)}${'😀'.repeat(10)}`);
    assert.ok(emoji.length <= RESPONSE_BOUNDS.messageChars);
    assert.equal(Buffer.from(emoji, 'utf8').toString('utf8'), emoji, 'no lone surrogate left behind');
  });

  it('drops the value a coercion error quotes, keeping the variable, the path and the reason', () => {
    const reason = 'Field "k1" is not defined by type "CreateUserInput".';
    assert.equal(withoutEchoedValue(`Variable "$input" got invalid value { k1: 1, k2: 2 }; ${reason}`, [reason]), `Variable "$input" got invalid value; ${reason}`);
    const nested = 'String cannot represent a non string value: 5';
    assert.equal(
      withoutEchoedValue(`Variable "$input" got invalid value 5 at "input.groups[1]"; ${nested}`, ['outer', nested]),
      `Variable "$input" got invalid value at "input.groups[1]"; ${nested}`,
    );
    // The value itself may look like a path; the last one is the real path.
    assert.equal(
      withoutEchoedValue(`Variable "$v" got invalid value " at "v.fake"; x" at "v.real"; ${nested}`, [nested]),
      `Variable "$v" got invalid value at "v.real"; ${nested}`,
    );
    assert.equal(withoutEchoedValue('Cannot query field "x" on type "Query".', ['x']), 'Cannot query field "x" on type "Query".');
    assert.equal(withoutEchoedValue('Variable "$v" got invalid value 1; other', ['unrelated']), 'Variable "$v" got invalid value 1; other');
  });

  it('keeps at most ten errors within the byte budget, the first always, and counts the rest', () => {
    const error = (i: number, size = 20) => ({ message: `e${i} ${'m'.repeat(size)}`, extensions: { code: 'BAD_USER_INPUT' } });
    const many = JSON.parse(stringifyBounded({ errors: Array.from({ length: 40 }, (_, i) => error(i)) }));
    assert.equal(many.errors.length, RESPONSE_BOUNDS.errors);
    assert.deepEqual(many.extensions, { omittedErrors: 30 });
    const big = JSON.parse(stringifyBounded({ errors: Array.from({ length: 5 }, (_, i) => error(i, 1400)) }));
    assert.equal(big.errors.length, 2, 'two 1.4 KB errors fit in 3 KiB, a third does not');
    assert.deepEqual(big.extensions, { omittedErrors: 3 });
    const huge = JSON.parse(stringifyBounded({ errors: [error(0, 10_000), error(1)] }));
    assert.equal(huge.errors.length, 1);
    const data = { data: { viewer: { name: 'x'.repeat(10_000) } } };
    assert.equal(stringifyBounded(data), `${JSON.stringify(data)}\n`, 'data is never cut');
    const two = { data: null, errors: [error(0), error(1)], extensions: { other: 1 } };
    assert.equal(stringifyBounded(two), `${JSON.stringify(two)}\n`);
  });

  it('measures variables without recursion and counts object keys, not list items', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    assert.deepEqual(checkVariables({ v: deep }), { limit: 'variables-depth', max: VARIABLE_LIMITS.depth, found: 200_001 });
    assert.equal(checkVariables({ values: Array.from({ length: 5000 }, () => 'ns') }), null, 'list items are bounded by bytes only');
    const keys = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, { a: 1 }]));
    assert.deepEqual(checkVariables({ keys }), { limit: 'variables-keys', max: VARIABLE_LIMITS.keys, found: 2001 });
    assert.equal(checkVariables({ s: 'x'.repeat(VARIABLE_LIMITS.bytes - 10) }), null);
    assert.equal(checkVariables({ s: 'x'.repeat(VARIABLE_LIMITS.bytes) })?.limit, 'variables-bytes');
    assert.equal(checkVariables({}, VARIABLE_LIMITS.bytes + 1)?.found, VARIABLE_LIMITS.bytes + 1, 'the size as sent when known');
    assert.equal(checkVariables(undefined), null);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { operationCost } from '../../src/graphql/page-cost';

function cost(query: string, variables: Record<string, unknown> = {}): number {
  const doc = parse(query);
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const def of doc.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  return operationCost(op, fragments, variables);
}

const STATUSES = 'creator { id name groups } registerTokenStatus { active createdAt expiresAt } credentialStatus { serverAddresses caFingerprint } tunnel { connectedAt }';

describe('GraphQL operation cost (rows an operation can load)', () => {
  it('prices the largest documented cluster page with every status at 3,002, as the README says', () => {
    assert.equal(cost(`{ clusters(first: 500) { edges { cursor node { id identifier ${STATUSES} reachedVia } } pageInfo { hasNextPage endCursor } } }`), 3002);
  });

  it('charges nothing for scalars, so selecting more columns of a row costs the same', () => {
    const narrow = cost('{ users(first: 200) { edges { node { id } } } }');
    assert.equal(narrow, 401);
    assert.equal(cost('{ users(first: 200) { edges { node { id name groups isSuperUser createdAt updatedAt disabledAt userType } } totalCount } }'), narrow);
  });

  it('counts pageInfo once per page, an omitted first as 50 and a variable as its value', () => {
    assert.equal(cost('{ users { edges { node { id } } pageInfo { endCursor } } }'), 1 + 2 * 50 + 1);
    assert.equal(cost('query($n: Int) { users(first: $n) { nodes { id } } }', { n: 300 }), 1 + 300);
    assert.equal(cost('query($n: Int) { users(first: $n) { nodes { id } } }', { n: 10_000 }), 1 + 500, 'a page is priced at most at the largest page');
  });

  it('multiplies lists nested in lists, through fragments too', () => {
    const nested = cost('{ users(first: 100) { edges { node { ...U } } } } fragment U on User { tokens(first: 100) { edges { node { id user { id } } } } }');
    assert.equal(nested, 1 + 100 * (1 + 1 + (1 + 100 * (1 + 1 + 1))));
  });
});

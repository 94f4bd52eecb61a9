import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors';

/** The problems a configuration error lists; fails the test when `fn` does not throw one. */
export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

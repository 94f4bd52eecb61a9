import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, Lexer, TokenKind, type Source, type ValidationContext, type ValidationRule } from 'graphql';

/**
 * Every limit a request can hit, by the name clients see in `extensions.limit`. Each refusal is a
 * client's mistake: HTTP 400 (413 for the body), `GRAPHQL_VALIDATION_FAILED`, nothing executed.
 */
export type LimitName =
  | 'tokens'
  | 'depth'
  | 'aliases'
  | 'directives'
  | 'cost'
  | 'validation'
  | 'variables-bytes'
  | 'variables-keys'
  | 'variables-depth'
  | 'body-bytes';

/** The introspection query GraphiQL sends is under 200 tokens; the largest operation in the README about 40. */
export const MAX_TOKENS = 1000;
/** Armor's default; real operations carry a handful of @include/@skip. */
export const MAX_DIRECTIVES = 50;

/** Limits with a maximum a client can be told; graphql-js does not publish its validation budget. */
type CountedLimit = Exclude<LimitName, 'validation'>;

const WHAT: Record<CountedLimit, (found: number) => string> = {
  tokens: (n) => `the document has ${n} tokens`,
  depth: (n) => `the operation is ${n} levels deep`,
  aliases: (n) => `the operation has ${n} aliases`,
  directives: (n) => `the operation has ${n} directives`,
  cost: (n) => `the operation costs ${n}`,
  'variables-bytes': (n) => `the variables are ${n} bytes of JSON`,
  'variables-keys': (n) => `the variables hold ${n} object keys`,
  'variables-depth': (n) => `the variables nest ${n} levels deep`,
  'body-bytes': (n) => `the request body is ${n} bytes`,
};

/** The message and extensions of a refusal: which limit, its maximum, what was found and how far over. */
export function describeLimit(limit: CountedLimit, max: number, found?: number, hint?: string): { message: string; extensions: Record<string, unknown> } {
  const what = found === undefined ? `over the limit of ${max}` : `${WHAT[limit](found)}, ${found - max} over the limit of ${max}`;
  return {
    message: `${limit} limit exceeded: ${what}${hint ? `; ${hint}` : ''}`,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit, max, ...(found === undefined ? {} : { found }) },
  };
}

/** A refusal raised before execution; Apollo answers it with HTTP 400. */
export function limitExceeded(limit: CountedLimit, max: number, found?: number, hint?: string): GraphQLError {
  const { message, extensions } = describeLimit(limit, max, found, hint);
  return new GraphQLError(message, { extensions: { ...extensions, http: { status: 400 } } });
}

/**
 * graphql-armor reports a limit as a message (`… limit of 10 exceeded, found 12.`); this re-reports it
 * through the validation context, so Apollo answers 400 like any validation error, in our words.
 */
function report(limit: CountedLimit, max: number): { onReject: ((ctx: ValidationContext | null, err: GraphQLError) => void)[]; propagateOnRejection: false } {
  return {
    propagateOnRejection: false,
    onReject: [
      (ctx, err) => {
        // Armor's cost is a float and may be written 1.5e+24.
        const found = Math.ceil(Number(/found (\S+)\.$/.exec(err.message)?.[1]));
        ctx?.reportError(limitExceeded(limit, max, Number.isFinite(found) && found > max ? found : undefined));
      },
    ],
  };
}

export interface DocumentLimits {
  maxDepth: number;
  maxAliases: number;
}

/**
 * Depth, aliases and directives as validation rules (the cost is page-cost.ts's). Armor's token limit stays
 * off: it parses the document a second time in a plugin hook and throws from there, which Apollo turns
 * into a 500 for every syntax error; graphql-js counts tokens itself (`parseOptions.maxTokens`).
 */
export function documentLimits(limits: DocumentLimits): { validationRules: ValidationRule[]; plugins: ApolloServerPlugin[] } {
  const armor = new ApolloArmor({
    maxTokens: { enabled: false },
    maxDepth: { n: limits.maxDepth, ...report('depth', limits.maxDepth) },
    // Off: it counts every scalar and only literal page sizes, so it refused documented pages the
    // rows-based cost in page-cost.ts (the one cost limit) accepts.
    costLimit: { enabled: false },
    maxAliases: { n: limits.maxAliases, ...report('aliases', limits.maxAliases) },
    maxDirectives: { n: MAX_DIRECTIVES, ...report('directives', MAX_DIRECTIVES) },
    blockFieldSuggestion: { enabled: true },
  }).protect();
  return { validationRules: armor.validationRules, plugins: armor.plugins };
}

/** graphql-js stops at the first token over `maxTokens`; the refusal says how many there are in all. */
export function tokenLimitError(cause: GraphQLError): { message: string; extensions: Record<string, unknown> } | undefined {
  if (!/^Syntax Error: Document contains more th(?:at|an) \d+ tokens/.test(cause.message)) return undefined;
  return describeLimit('tokens', MAX_TOKENS, cause.source ? countTokens(cause.source) : undefined);
}

/**
 * graphql-js gives up, with a bare `Validation aborted.`, on a document whose field-merge checks outrun
 * its own work budget (hundreds of fields of one name, fragments spread over and over).
 */
export function validationBudgetError(cause: GraphQLError): { message: string; extensions: Record<string, unknown> } | undefined {
  if (cause.message !== 'Validation aborted.') return undefined;
  return {
    message: 'validation limit exceeded: checking that the fields merge takes more work than graphql-js allows; use fewer fields of the same name or fewer fragment spreads',
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'validation' },
  };
}

/** The body is at most 1 MiB, so this is a bounded scan; a lexical error further on ends the count there. */
function countTokens(source: Source): number | undefined {
  const lexer = new Lexer(source);
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) count++;
  } catch {
    return count > MAX_TOKENS ? count : undefined;
  }
  return count;
}

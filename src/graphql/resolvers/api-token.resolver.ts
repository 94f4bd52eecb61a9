import { Arg, Args, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireSelfOrSuperUser } from '../../domain/authorize';
import { issueToken, listTokens, revokeToken } from '../../domain/tokens';
import { getUser } from '../../domain/users';
import { NotFoundError } from '../../errors';
import type { GraphqlContext } from '../context';
import { TokenFilter } from '../inputs/filters.input';
import { IssueTokenInput } from '../inputs/mutations.input';
import { PageArgs } from '../inputs/page.args';
import { ApiTokenConnection, ApiTokenObject, IssuedTokenObject } from '../types/api-token.type';
import { UserObject } from '../types/user.type';

@Resolver(() => ApiTokenObject)
export class ApiTokenResolver {
  @Query(() => ApiTokenConnection, { description: "The caller's tokens; super users may list anyone's (all when filter.userId is omitted)." })
  async tokens(@Args() page: PageArgs, @Arg('filter', () => TokenFilter, { nullable: true }) filter: TokenFilter | null, @Ctx() { domain, actor }: GraphqlContext): Promise<ApiTokenConnection> {
    return ApiTokenConnection.from(await listTokens(domain, actor, filter ?? {}, page), ApiTokenObject.from);
  }

  @Mutation(() => IssuedTokenObject)
  async issueToken(@Arg('input', () => IssueTokenInput) input: IssueTokenInput, @Ctx() { domain, actor }: GraphqlContext): Promise<IssuedTokenObject> {
    const userId = input.userId ?? actor.user.id;
    // Checked before the lookup, so a normal user cannot probe which user ids exist.
    requireSelfOrSuperUser(actor, userId, 'issue tokens');
    const user = userId === actor.user.id ? actor.user : await getUser(domain, userId);
    const issued = await issueToken(domain, actor, user, { name: input.name ?? undefined, ttlSeconds: input.ttl });
    return Object.assign(new IssuedTokenObject(), { token: ApiTokenObject.from(issued.token), secret: issued.secret });
  }

  @Mutation(() => ApiTokenObject, { description: 'The token stops working at once. Revoking twice is harmless.' })
  async revokeToken(@Arg('id', () => Int) id: number, @Ctx() { domain, actor }: GraphqlContext): Promise<ApiTokenObject> {
    return ApiTokenObject.from(await revokeToken(domain, actor, id));
  }

  @FieldResolver(() => UserObject)
  async user(@Root() token: ApiTokenObject, @Ctx() { actor, loaders }: GraphqlContext): Promise<UserObject> {
    requireSelfOrSuperUser(actor, token.userId, 'read token owners');
    const user = await loaders.user.load(token.userId);
    if (!user) throw new NotFoundError('user', String(token.userId));
    return UserObject.from(user);
  }
}

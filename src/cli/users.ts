import type { Config } from '../config/config';
import { issueToken } from '../domain/tokens';
import { createUser, findUserByName } from '../domain/users';
import { NotFoundError } from '../errors';
import { withRuntime } from './runtime';
import { ttlFlag, type Flags } from './usage';

/** `user create <name> [--super] [--group g]...` */
export async function userCreate(config: Config, name: string, flags: Flags): Promise<number> {
  return withRuntime(config, async (rt) => {
    const user = await createUser(rt.context(), undefined, { name, isSuperUser: flags.super, groups: flags.group });
    process.stdout.write(`created user ${user.name} (id ${user.id}${user.isSuperUser ? ', super user' : ''})\n`);
    return 0;
  });
}

/** `token issue <user> [--ttl s] [--name n]`: the secret alone on stdout, the rest on stderr. */
export async function tokenIssue(config: Config, userName: string, flags: Flags): Promise<number> {
  const ttl = ttlFlag(flags.ttl);
  return withRuntime(config, async (rt) => {
    const ctx = rt.context();
    const user = await findUserByName(ctx, userName);
    if (!user) throw new NotFoundError('user', userName);
    const issued = await issueToken(ctx, undefined, user, { name: flags.name ?? 'cli', type: 'session', ttlSeconds: ttl });
    process.stdout.write(`${issued.secret}\n`);
    process.stderr.write(`token ${issued.token.id} for ${user.name}, expires ${issued.token.expiresAt?.toISOString() ?? 'never'}\n`);
    return 0;
  });
}

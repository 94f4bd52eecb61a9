import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { BootstrapUser, Config } from './config';
import { bool, nonEmpty, positiveInt, type SettingReader } from './settings';

// A blank entry (the original's docs ship `tokens: [""]`) stands for no token rather than a bad one.
const tokenList = z.array(z.string().nullable()).transform((list) => list.flatMap((t) => (t?.trim() ? [t.trim()] : [])));
const bootstrapUser = z.object({
  name: nonEmpty,
  is_super_user: z.boolean().default(false),
  groups: z.array(nonEmpty).default([]),
  tokens: tokenList.default([]),
});
const rbacItem = z.object({ user_name: nonEmpty, cluster_id: nonEmpty, roles: z.array(nonEmpty) });

export function readBootstrapUsers(s: SettingReader): BootstrapUser[] {
  return s.get('bootstrapUsers', z.array(bootstrapUser), []).map((u) => ({ name: u.name, isSuperUser: u.is_super_user, groups: u.groups, tokens: u.tokens }));
}

/**
 * The RBAC switches and sources. The permission subscription is read from our `rbac.subscription.*` or the
 * original's `bkiam_auth.bkiam_auth_sub_server` / `bkiam_auth_app_code` / `bkiam_auth_app_secret`.
 */
export function readRbac(s: SettingReader, cwd: string): Config['rbac'] {
  const rbacData = s.get('rbacData', z.array(rbacItem), []).map((r) => ({ userName: r.user_name, clusterId: r.cluster_id, roles: r.roles }));
  const turnOnAuth = s.get('turnOnAuth', bool, false);
  const url = s.get('subServer', nonEmpty);
  const appCode = s.get('subAppCode', nonEmpty);
  const appSecret = s.get('subAppSecret', nonEmpty);
  const caFile = s.get('subCaFile', nonEmpty);
  if (caFile && !fs.existsSync(path.resolve(cwd, caFile))) s.problems.push(`rbac.subscription.ca_file: file ${caFile} does not exist`);
  if (turnOnAuth) {
    const missing = [
      ...(url ? [] : ['rbac.subscription.url (or bkiam_auth.bkiam_auth_sub_server)']),
      ...(appCode ? [] : ['rbac.subscription.app_code (or bkiam_auth.bkiam_auth_app_code)']),
      ...(appSecret ? [] : ['rbac.subscription.app_secret (or bkiam_auth.bkiam_auth_app_secret)']),
    ];
    if (missing.length) s.problems.push(`${s.keyOf('turnOnAuth')}: the permission subscription needs ${missing.join(', ')}`);
  }
  return {
    turnOnRbac: s.get('turnOnRbac', bool, true),
    turnOnAuth,
    turnOnConf: s.get('turnOnConf', bool, false),
    rbacData,
    reconcileIntervalSeconds: s.get('reconcileInterval', positiveInt, 300),
    syncEnabled: s.get('syncEnabled', bool, true),
    subscription: url && appCode && appSecret ? { url, appCode, appSecret, caFile: caFile && path.resolve(cwd, caFile) } : undefined,
  };
}

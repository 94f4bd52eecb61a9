export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  dbName: string;
}

/**
 * Parses the two DSN spellings operators already have: the Go driver's
 * `user:pass@tcp(host:port)/db?params` (what the original's `bke.mysql_dsn` holds) and a
 * `mysql://user:pass@host:port/db` URL. Go-only parameters such as `parseTime` are ignored.
 * Returns a message naming the problem instead of throwing, so config validation can list it.
 */
export function parseMysqlDsn(dsn: string): MysqlTarget | string {
  const text = dsn.trim();
  if (/^(mysql|mariadb):\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return 'is not a valid mysql:// URL';
    }
    const dbName = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (!dbName) return 'names no database (expected mysql://user:pass@host:3306/dbname)';
    return {
      host: url.hostname || '127.0.0.1',
      port: url.port ? Number(url.port) : 3306,
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      dbName,
    };
  }
  // The password may itself contain '@' or ':', so split on the last '@' before the protocol part.
  const m = /^(?:(?<cred>.*)@)?(?<proto>tcp|unix)?(?:\((?<addr>[^)]*)\))?\/(?<db>[^?]*)(?:\?.*)?$/.exec(text);
  if (!m?.groups) return 'is neither user:pass@tcp(host:port)/dbname nor mysql://user:pass@host:port/dbname';
  const { cred = '', proto = 'tcp', addr = '127.0.0.1:3306', db = '' } = m.groups;
  if (proto !== 'tcp') return `uses protocol ${proto}; only tcp(host:port) is supported`;
  if (!db) return 'names no database after the "/"';
  const colon = cred.indexOf(':');
  const user = colon < 0 ? cred : cred.slice(0, colon);
  const password = colon < 0 ? '' : cred.slice(colon + 1);
  const portSep = addr.lastIndexOf(':');
  const host = portSep < 0 ? addr : addr.slice(0, portSep).replace(/^\[|\]$/g, '');
  const port = portSep < 0 ? 3306 : Number(addr.slice(portSep + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return `has an invalid port in "${addr}"`;
  return { host: host || '127.0.0.1', port, user, password, dbName: db };
}

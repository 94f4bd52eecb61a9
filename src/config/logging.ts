import { z } from 'zod';
import type { Config } from './config';
import type { SettingReader } from './settings';

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const verbosity = z.coerce.number().int().min(0);

/**
 * glog's `-v` adds detail below info: 0 is the normal log; Kubernetes-style components use 1-4 for
 * increasingly chatty operational and debug output and 5+ for tracing. pino has two levels below info.
 */
export function levelFromVerbosity(v: number): Config['logLevel'] {
  if (v <= 0) return 'info';
  return v < 5 ? 'debug' : 'trace';
}

/**
 * `log_level` (ours) wins; else the original's `v`. Every line goes to stdout whatever logtostderr,
 * alsologtostderr and stderrthreshold said: the process manager keeps what glog wrote into log_dir.
 */
export function readLogLevel(s: SettingReader): Config['logLevel'] {
  const level = s.get('logLevel', logLevel);
  if (level) return level;
  const v = s.get('logVerbosity', verbosity);
  return v === undefined ? 'info' : levelFromVerbosity(v);
}

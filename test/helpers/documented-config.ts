/**
 * The `bcs-api.yaml` printed by the original's deployment docs (docs/features/bcs-api/bcs-api.md), key for
 * key and in its order, `bkiam_auth_sub_server` written twice included. Its blanks are filled from `fill`;
 * comments are left out.
 */
export interface DocumentedFill {
  address: string;
  port: number;
  insecureAddress: string;
  insecurePort: number;
  metricPort: number;
  zookeeper: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  v: number;
  localIp: string;
  subServerFirst: string;
  subServer: string;
  appCode: string;
  appSecret: string;
  dsn: string;
  adminToken: string;
  consoleProxyPort: number;
}

const q = (s: string): string => JSON.stringify(s);

export function documentedConfig(f: DocumentedFill): string {
  return `edition: ee
service_config:
  address: ${f.address}
  port: ${f.port}
  insecure_address: ${f.insecureAddress}
  insecure_port: ${f.insecurePort}
metric_config:
  metric_port: ${f.metricPort}
zk_config:
  bcs_zookeeper: ${f.zookeeper}
cert_config:
  ca_file: ${q(f.caFile)}
  server_cert_file: ${q(f.serverCertFile)}
  server_key_file: ${q(f.serverKeyFile)}
  client_cert_file: ${q(f.clientCertFile)}
  client_key_file: ${q(f.clientKeyFile)}
license_server_config:
  ls_address: ls.example:8443
  ls_ca_file: /etc/ls/ca.crt
  ls_client_cert_file: /etc/ls/client.crt
  ls_client_key_file: /etc/ls/client.key
log_config:
  log_dir: ./logs
  log_max_size: 500
  log_max_num: 10
  logtostderr: true
  alsologtostderr: true
  v: ${f.v}
  stderrthreshold: "2"
  vmodule: rest=2
  log_backtrace_at: main.go:10
process_config:
  pid_dir: ./pid
local_config:
  local_ip: ${q(f.localIp)}

bkiam_auth:
  auth: false
  apigw_rsa_file: /etc/bkiam/apigw.pub
  auth_token_sync_time: 10
  bkiam_auth_host: http://iam.example
  bkiam_auth_app_code: ${f.appCode}
  bkiam_auth_app_secret: ${f.appSecret}
  bkiam_auth_system_id: bk_bcs
  bkiam_auth_scope_id: bk_bcs
  bkiam_auth_zookeeper: 127.0.0.1:2181
  bkiam_auth_sub_server: ${f.subServerFirst}
  bkiam_auth_sub_server: ${f.subServer}
  bkiam_auth_token_whitelist:
    - token: d2hpdGVsaXN0

core_database:
  dsn: ${q(f.dsn)}

bootstrap_users:
  - name: "admin"
    is_super_user: true
    tokens:
      - ${q(f.adminToken)}

rbac:
  turn_on_rbac: false
  turn_on_auth: false
  turn_on_conf: false

consoleproxy_port:
  ${f.consoleProxyPort}
`;
}

/** Line (1-based) of the n-th occurrence of `text` in the documented file. */
export function lineOf(content: string, text: string, nth = 1): number {
  let seen = 0;
  const lines = content.split('\n');
  for (const [i, line] of lines.entries()) if (line.includes(text) && ++seen === nth) return i + 1;
  throw new Error(`"${text}" not found ${nth} times`);
}

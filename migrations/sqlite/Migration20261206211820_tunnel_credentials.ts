import { Migration } from '@mikro-orm/migrations';

export class Migration20261206211820_tunnel_credentials extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`tunnel_credentials\` (\`id\` integer not null primary key autoincrement, \`cluster_id\` text not null, \`server_address\` text not null, \`ca_cert_sealed\` text not null, \`ca_fingerprint\` text not null, \`user_token_sealed\` text not null, \`agent_address\` text null, \`connected_at\` datetime not null, constraint \`tunnel_credentials_cluster_id_foreign\` foreign key(\`cluster_id\`) references \`clusters\`(\`id\`) on delete cascade on update cascade);`);
    this.addSql(`create unique index \`tunnel_credentials_cluster_id_unique\` on \`tunnel_credentials\` (\`cluster_id\`);`);
  }

}

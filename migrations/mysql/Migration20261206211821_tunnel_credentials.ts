import { Migration } from '@mikro-orm/migrations';

export class Migration20261206211821_tunnel_credentials extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`tunnel_credentials\` (\`id\` int unsigned not null auto_increment primary key, \`cluster_id\` varchar(100) not null, \`server_address\` varchar(255) not null, \`ca_cert_sealed\` text not null, \`ca_fingerprint\` varchar(95) not null, \`user_token_sealed\` text not null, \`agent_address\` varchar(64) null, \`connected_at\` datetime(3) not null) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`tunnel_credentials\` add unique \`tunnel_credentials_cluster_id_unique\`(\`cluster_id\`);`);

    this.addSql(`alter table \`tunnel_credentials\` add constraint \`tunnel_credentials_cluster_id_foreign\` foreign key (\`cluster_id\`) references \`clusters\` (\`id\`) on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists \`tunnel_credentials\`;`);
  }

}

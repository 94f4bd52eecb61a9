import { Migration } from '@mikro-orm/migrations';

export class Migration20261122143815_initial extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`users\` (\`id\` integer not null primary key autoincrement, \`name\` text not null, \`is_super_user\` integer not null default false, \`user_type\` text not null default 'plain', \`groups\` text not null, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`disabled_at\` datetime null);`);
    this.addSql(`create unique index \`users_name_unique\` on \`users\` (\`name\`);`);
    this.addSql(`create index \`users_created_at_index\` on \`users\` (\`created_at\`);`);

    this.addSql(`create table \`clusters\` (\`id\` text not null, \`identifier\` text not null, \`provider\` text not null, \`cluster_type\` text not null, \`project_id\` text null, \`tke_cluster_id\` text null, \`tke_cluster_region\` text null, \`creator_id\` integer null, \`created_at\` datetime not null, constraint \`clusters_creator_id_foreign\` foreign key(\`creator_id\`) references \`users\`(\`id\`) on delete set null on update cascade, primary key (\`id\`));`);
    this.addSql(`create unique index \`clusters_identifier_unique\` on \`clusters\` (\`identifier\`);`);
    this.addSql(`create index \`clusters_creator_id_index\` on \`clusters\` (\`creator_id\`);`);
    this.addSql(`create index \`clusters_created_at_index\` on \`clusters\` (\`created_at\`);`);

    this.addSql(`create table \`register_tokens\` (\`id\` integer not null primary key autoincrement, \`cluster_id\` text not null, \`active_for\` text null, \`token_sealed\` text not null, \`digest\` text not null, \`created_by_id\` integer null, \`created_at\` datetime not null, \`expires_at\` datetime null, \`revoked_at\` datetime null, constraint \`register_tokens_cluster_id_foreign\` foreign key(\`cluster_id\`) references \`clusters\`(\`id\`) on delete cascade on update cascade, constraint \`register_tokens_created_by_id_foreign\` foreign key(\`created_by_id\`) references \`users\`(\`id\`) on delete set null on update cascade);`);
    this.addSql(`create index \`register_tokens_cluster_id_index\` on \`register_tokens\` (\`cluster_id\`);`);
    this.addSql(`create unique index \`register_tokens_active_for_unique\` on \`register_tokens\` (\`active_for\`);`);
    this.addSql(`create index \`register_tokens_created_by_id_index\` on \`register_tokens\` (\`created_by_id\`);`);

    this.addSql(`create table \`cluster_credentials\` (\`id\` integer not null primary key autoincrement, \`cluster_id\` text not null, \`server_addresses\` text not null, \`ca_cert_sealed\` text not null, \`ca_fingerprint\` text not null, \`user_token_sealed\` text not null, \`cluster_domain\` text null, \`reporter_address\` text null, \`reported_at\` datetime not null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`cluster_credentials_cluster_id_foreign\` foreign key(\`cluster_id\`) references \`clusters\`(\`id\`) on delete cascade on update cascade);`);
    this.addSql(`create unique index \`cluster_credentials_cluster_id_unique\` on \`cluster_credentials\` (\`cluster_id\`);`);

    this.addSql(`create table \`api_tokens\` (\`id\` integer not null primary key autoincrement, \`user_id\` integer not null, \`name\` text not null, \`type\` text not null, \`digest\` text not null, \`hint\` text not null, \`created_at\` datetime not null, \`expires_at\` datetime null, \`last_used_at\` datetime null, \`revoked_at\` datetime null, constraint \`api_tokens_user_id_foreign\` foreign key(\`user_id\`) references \`users\`(\`id\`) on delete cascade on update cascade);`);
    this.addSql(`create index \`api_tokens_user_id_index\` on \`api_tokens\` (\`user_id\`);`);
    this.addSql(`create unique index \`api_tokens_digest_unique\` on \`api_tokens\` (\`digest\`);`);
    this.addSql(`create index \`api_tokens_created_at_index\` on \`api_tokens\` (\`created_at\`);`);
  }

}

import { Migration } from '@mikro-orm/migrations';

export class Migration20261122143816_initial extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`users\` (\`id\` int unsigned not null auto_increment primary key, \`name\` varchar(255) not null, \`is_super_user\` tinyint(1) not null default false, \`user_type\` varchar(16) not null default 'plain', \`groups\` text not null, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null, \`disabled_at\` datetime(3) null) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`users\` add unique \`users_name_unique\`(\`name\`);`);
    this.addSql(`alter table \`users\` add index \`users_created_at_index\`(\`created_at\`);`);

    this.addSql(`create table \`clusters\` (\`id\` varchar(100) not null, \`identifier\` varchar(128) not null, \`provider\` varchar(16) not null, \`cluster_type\` varchar(16) not null, \`project_id\` varchar(64) null, \`tke_cluster_id\` varchar(100) null, \`tke_cluster_region\` varchar(100) null, \`creator_id\` int unsigned null, \`created_at\` datetime(3) not null, primary key (\`id\`)) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`clusters\` add unique \`clusters_identifier_unique\`(\`identifier\`);`);
    this.addSql(`alter table \`clusters\` add index \`clusters_creator_id_index\`(\`creator_id\`);`);
    this.addSql(`alter table \`clusters\` add index \`clusters_created_at_index\`(\`created_at\`);`);

    this.addSql(`create table \`register_tokens\` (\`id\` int unsigned not null auto_increment primary key, \`cluster_id\` varchar(100) not null, \`active_for\` varchar(100) null, \`token_sealed\` text not null, \`digest\` varchar(64) not null, \`created_by_id\` int unsigned null, \`created_at\` datetime(3) not null, \`expires_at\` datetime(3) null, \`revoked_at\` datetime(3) null) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`register_tokens\` add index \`register_tokens_cluster_id_index\`(\`cluster_id\`);`);
    this.addSql(`alter table \`register_tokens\` add unique \`register_tokens_active_for_unique\`(\`active_for\`);`);
    this.addSql(`alter table \`register_tokens\` add index \`register_tokens_created_by_id_index\`(\`created_by_id\`);`);

    this.addSql(`create table \`cluster_credentials\` (\`id\` int unsigned not null auto_increment primary key, \`cluster_id\` varchar(100) not null, \`server_addresses\` text not null, \`ca_cert_sealed\` text not null, \`ca_fingerprint\` varchar(95) not null, \`user_token_sealed\` text not null, \`cluster_domain\` varchar(255) null, \`reporter_address\` varchar(64) null, \`reported_at\` datetime(3) not null, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`cluster_credentials\` add unique \`cluster_credentials_cluster_id_unique\`(\`cluster_id\`);`);

    this.addSql(`create table \`api_tokens\` (\`id\` int unsigned not null auto_increment primary key, \`user_id\` int unsigned not null, \`name\` varchar(128) not null, \`type\` varchar(16) not null, \`digest\` varchar(64) not null, \`hint\` varchar(16) not null, \`created_at\` datetime(3) not null, \`expires_at\` datetime(3) null, \`last_used_at\` datetime(3) null, \`revoked_at\` datetime(3) null) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`api_tokens\` add index \`api_tokens_user_id_index\`(\`user_id\`);`);
    this.addSql(`alter table \`api_tokens\` add unique \`api_tokens_digest_unique\`(\`digest\`);`);
    this.addSql(`alter table \`api_tokens\` add index \`api_tokens_created_at_index\`(\`created_at\`);`);

    this.addSql(`alter table \`clusters\` add constraint \`clusters_creator_id_foreign\` foreign key (\`creator_id\`) references \`users\` (\`id\`) on update cascade on delete set null;`);

    this.addSql(`alter table \`register_tokens\` add constraint \`register_tokens_cluster_id_foreign\` foreign key (\`cluster_id\`) references \`clusters\` (\`id\`) on update cascade on delete cascade;`);
    this.addSql(`alter table \`register_tokens\` add constraint \`register_tokens_created_by_id_foreign\` foreign key (\`created_by_id\`) references \`users\` (\`id\`) on update cascade on delete set null;`);

    this.addSql(`alter table \`cluster_credentials\` add constraint \`cluster_credentials_cluster_id_foreign\` foreign key (\`cluster_id\`) references \`clusters\` (\`id\`) on update cascade on delete cascade;`);

    this.addSql(`alter table \`api_tokens\` add constraint \`api_tokens_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table \`clusters\` drop foreign key \`clusters_creator_id_foreign\`;`);

    this.addSql(`alter table \`register_tokens\` drop foreign key \`register_tokens_created_by_id_foreign\`;`);

    this.addSql(`alter table \`api_tokens\` drop foreign key \`api_tokens_user_id_foreign\`;`);

    this.addSql(`alter table \`register_tokens\` drop foreign key \`register_tokens_cluster_id_foreign\`;`);

    this.addSql(`alter table \`cluster_credentials\` drop foreign key \`cluster_credentials_cluster_id_foreign\`;`);

    this.addSql(`drop table if exists \`users\`;`);

    this.addSql(`drop table if exists \`clusters\`;`);

    this.addSql(`drop table if exists \`register_tokens\`;`);

    this.addSql(`drop table if exists \`cluster_credentials\`;`);

    this.addSql(`drop table if exists \`api_tokens\`;`);
  }

}

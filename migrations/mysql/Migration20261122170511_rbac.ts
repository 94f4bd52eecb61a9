import { Migration } from '@mikro-orm/migrations';

export class Migration20261122170511_rbac extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`rbac_grants\` (\`id\` int unsigned not null auto_increment primary key, \`identity\` varchar(64) not null, \`subject_kind\` varchar(8) not null, \`subject_name\` varchar(128) not null, \`cluster_id\` varchar(100) null, \`scope\` varchar(16) not null, \`namespace\` varchar(63) null, \`template\` varchar(63) not null, \`source\` varchar(16) not null, \`from_label\` varchar(32) not null default '', \`granted_by\` varchar(255) null, \`created_at\` datetime(3) not null) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`rbac_grants\` add unique \`rbac_grants_identity_unique\`(\`identity\`);`);
    this.addSql(`alter table \`rbac_grants\` add index \`rbac_grants_cluster_id_index\`(\`cluster_id\`);`);

    this.addSql(`create table \`rbac_sync_status\` (\`cluster_id\` varchar(100) not null, \`result\` varchar(16) null, \`trigger\` varchar(32) null, \`last_attempt_at\` datetime(3) null, \`last_success_at\` datetime(3) null, \`server\` varchar(255) null, \`last_error\` text null, \`last_failures\` text null, \`consecutive_failures\` int not null default 0, \`next_retry_at\` datetime(3) null, \`last_changed_at\` datetime(3) null, \`last_changes\` text null, \`lease_owner\` varchar(64) null, \`lease_until\` datetime(3) null, primary key (\`cluster_id\`)) default character set utf8mb4 engine = InnoDB;`);

    this.addSql(`create table \`rbac_templates\` (\`name\` varchar(58) not null, \`rules\` text not null, \`created_by\` varchar(128) null, \`version\` int not null default 1, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null, primary key (\`name\`)) default character set utf8mb4 engine = InnoDB;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists \`rbac_grants\`;`);

    this.addSql(`drop table if exists \`rbac_sync_status\`;`);

    this.addSql(`drop table if exists \`rbac_templates\`;`);
  }

}

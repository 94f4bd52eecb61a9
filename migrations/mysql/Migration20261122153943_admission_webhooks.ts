import { Migration } from '@mikro-orm/migrations';

export class Migration20261122153943_admission_webhooks extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`admission_webhook_configurations\` (\`id\` int unsigned not null auto_increment primary key, \`name\` varchar(128) not null, \`namespace\` varchar(128) not null default 'bkbcs', \`operation\` varchar(16) not null, \`resource_kind\` varchar(16) not null, \`webhooks\` text not null, \`labels\` text null, \`annotations\` text null, \`api_version\` varchar(64) null, \`version\` int not null default 1, \`created_at\` datetime(3) not null, \`updated_at\` datetime(3) not null) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`admission_webhook_configurations\` add unique \`admission_webhook_configurations_name_unique\`(\`name\`);`);
    this.addSql(`alter table \`admission_webhook_configurations\` add unique \`admission_webhook_configurations_operation_resource_kind_unique\`(\`operation\`, \`resource_kind\`);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists \`admission_webhook_configurations\`;`);
  }

}

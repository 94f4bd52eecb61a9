import { Migration } from '@mikro-orm/migrations';

export class Migration20261122144127_change_events extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`change_events\` (\`id\` int unsigned not null auto_increment primary key, \`kind\` varchar(16) not null, \`key\` varchar(128) not null, \`created_at\` datetime(3) not null) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`change_events\` add index \`change_events_created_at_index\`(\`created_at\`);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists \`change_events\`;`);
  }

}

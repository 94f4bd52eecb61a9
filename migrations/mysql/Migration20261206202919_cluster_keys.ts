import { Migration } from '@mikro-orm/migrations';

export class Migration20261206202919_cluster_keys extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`cluster_keys\` (\`key\` varchar(128) not null, \`cluster_id\` varchar(100) not null, primary key (\`key\`)) default character set utf8mb4 engine = InnoDB;`);
    this.addSql(`alter table \`cluster_keys\` add index \`cluster_keys_cluster_id_index\`(\`cluster_id\`);`);

    this.addSql(`alter table \`cluster_keys\` add constraint \`cluster_keys_cluster_id_foreign\` foreign key (\`cluster_id\`) references \`clusters\` (\`id\`) on update cascade on delete cascade;`);

    // Backfill: every existing id and identifier, lower-cased. Databases written before this table may
    // already hold colliding rows; the first owner keeps the key and start-up reports the collision,
    // so the upgrade never fails on them.
    this.addSql(`insert ignore into \`cluster_keys\` (\`key\`, \`cluster_id\`) select lower(\`id\`), \`id\` from \`clusters\` order by \`created_at\`, \`id\`;`);
    this.addSql(`insert ignore into \`cluster_keys\` (\`key\`, \`cluster_id\`) select lower(\`identifier\`), \`id\` from \`clusters\` order by \`created_at\`, \`id\`;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists \`cluster_keys\`;`);
  }

}

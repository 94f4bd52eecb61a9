import { Migration } from '@mikro-orm/migrations';

export class Migration20261206214717_tunnel_heartbeats extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`tunnel_credentials\` add \`owner_id\` varchar(32) null, add \`heartbeat_at\` datetime(3) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table \`tunnel_credentials\` drop column \`owner_id\`, drop column \`heartbeat_at\`;`);
  }

}

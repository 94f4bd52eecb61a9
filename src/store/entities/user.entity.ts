import { ArrayType, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/** The original user-manager's user kinds; `admin` users are super users. */
export type UserType = 'admin' | 'saas' | 'plain';

@Entity({ tableName: 'users' })
export class User {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string', length: 255, unique: true })
  name!: string;

  @Property({ type: 'boolean', default: false })
  isSuperUser: boolean = false;

  @Property({ type: 'string', length: 16, default: 'plain' })
  userType: UserType = 'plain';

  /** Comma-joined text rather than JSON: MariaDB has no native JSON type and returns it as a string. */
  @Property({ type: ArrayType, columnType: 'text' })
  groups: string[] = [];

  @Index()
  @Property({ type: 'datetime', length: 3 })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', length: 3, onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Property({ type: 'datetime', length: 3, nullable: true })
  disabledAt?: Date | null;
}

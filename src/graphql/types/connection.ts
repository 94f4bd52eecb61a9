import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import type { Page } from '../../domain/pagination';

@ObjectType({ simpleResolvers: true, description: 'Where a page ends and whether another follows (Relay cursor connections).' })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` to fetch the next page; null on an empty page.' })
  endCursor!: string | null;
}

/**
 * Builds `<Name>Edge` and an abstract connection over `nodeClass`; a concrete `<Name>Connection`
 * class extends the result so each list gets its own named types in the schema.
 */
export function ConnectionType<TNode extends object>(nodeClass: ClassType<TNode>, name: string) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  class Edge {
    @Field()
    cursor!: string;

    @Field(() => nodeClass)
    node!: TNode;
  }

  // Never referenced itself, so type-graphql 2 does not emit it; only the named subclasses appear.
  @ObjectType()
  abstract class Connection {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    count!: () => Promise<number>;

    /** A method, so the count query runs only when a client selects the field. */
    @Field(() => Int, { description: 'Matches across all pages (an extra query; select it only when needed).' })
    totalCount(): Promise<number> {
      return this.count();
    }

    static from<TItem, TConn extends Connection>(this: new () => TConn, page: Page<TItem>, toNode: (item: TItem) => TNode): TConn {
      const conn = new this();
      conn.edges = page.items.map((item, i) => Object.assign(new Edge(), { cursor: page.cursors[i]!, node: toNode(item) }));
      conn.pageInfo = Object.assign(new PageInfo(), { hasNextPage: page.hasNextPage, endCursor: page.cursors.at(-1) ?? null });
      conn.count = page.totalCount;
      return conn;
    }
  }
  return Connection;
}

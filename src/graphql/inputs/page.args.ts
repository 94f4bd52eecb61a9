import { Max, MaxLength, Min } from 'class-validator';
import { ArgsType, Field, Int } from 'type-graphql';
import { MAX_PAGE } from '../../domain/pagination';

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: `Page size, 0 to ${MAX_PAGE}; 50 when omitted.` })
  @Min(0)
  @Max(MAX_PAGE)
  first?: number | null;

  @Field(() => String, { nullable: true, description: "A previous page's pageInfo.endCursor." })
  @MaxLength(512)
  after?: string | null;
}

/**
 * Just enough of Kubernetes' protobuf encoding to read the review requests kubectl's typed clients send
 * as `application/vnd.kubernetes.protobuf` (`kubectl auth can-i`); answers still go out as JSON, which
 * those clients also accept.
 */
type Fields = Map<number, Buffer[]>;

function varint(buf: Buffer, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated protobuf');
    result += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [result, pos];
    shift += 7;
  }
}

/** Length-delimited fields by number; scalars are skipped (review requests only carry strings and messages). */
function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p] = varint(buf, pos);
    pos = p;
    const wire = tag & 7;
    if (wire === 0) pos = varint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, start] = varint(buf, pos);
      const list = out.get(Math.floor(tag / 8)) ?? [];
      list.push(buf.subarray(start, start + len));
      out.set(Math.floor(tag / 8), list);
      pos = start + len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const str = (f: Fields, n: number) => f.get(n)?.[0]?.toString('utf8');
const msg = (f: Fields, n: number) => (f.has(n) ? fields(f.get(n)![0]) : undefined);

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** The object inside the `k8s\0` + runtime.Unknown envelope, with its kind. */
function unwrap(body: Buffer): { kind?: string; raw: Fields } {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new Error('not a Kubernetes protobuf body');
  const unknown = fields(body.subarray(4));
  const typeMeta = msg(unknown, 1);
  return { kind: typeMeta && str(typeMeta, 2), raw: fields(unknown.get(2)?.[0] ?? Buffer.alloc(0)) };
}

/** SelfSubjectAccessReview / SelfSubjectRulesReview `spec` as the JSON form would have it. */
export function decodeReviewSpec(body: Buffer): { spec: Record<string, unknown> } {
  const { kind, raw } = unwrap(body);
  const spec = msg(raw, 2);
  if (!spec) return { spec: {} };
  if (kind === 'SelfSubjectRulesReview') return { spec: { namespace: str(spec, 1) ?? '' } };
  const ra = msg(spec, 1);
  const nra = msg(spec, 2);
  const out: Record<string, unknown> = {};
  if (ra) {
    const names = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'];
    out.resourceAttributes = Object.fromEntries(names.map((k, i) => [k, str(ra, i + 1)]).filter(([, v]) => v !== undefined));
  }
  if (nra) out.nonResourceAttributes = { path: str(nra, 1), verb: str(nra, 2) };
  return { spec: out };
}

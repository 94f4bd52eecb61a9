/**
 * Enough of the Dockerfile grammar to check a file with no container engine at hand: comments and
 * parser directives dropped, `\` continuations joined, each instruction split into keyword, flags
 * (`--from=build`) and arguments, JSON (exec) forms decoded, instructions grouped by build stage.
 */

export interface Instruction {
  keyword: string;
  flags: Record<string, string>;
  /** The text after the keyword and its flags. */
  args: string;
  /** The decoded list when `args` is an exec form (`["node", "x.js"]`). */
  exec?: string[];
  line: number;
}

export interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARG lines before the first FROM, with their defaults. */
  globalArgs: Record<string, string | undefined>;
  stages: Stage[];
}

const KEYWORDS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

function execForm(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) throw new Error(`not a list of strings: ${text}`);
  return parsed as string[];
}

function instruction(text: string, line: number): Instruction {
  const m = /^(\S+)\s*(.*)$/s.exec(text)!;
  const keyword = m[1]!.toUpperCase();
  if (!KEYWORDS.has(keyword)) throw new Error(`line ${line}: unknown instruction ${m[1]}`);
  let rest = m[2]!;
  const flags: Record<string, string> = {};
  for (let f = /^--([\w-]+)(?:=(\S+))?\s+/.exec(rest); f; f = /^--([\w-]+)(?:=(\S+))?\s+/.exec(rest)) {
    flags[f[1]!] = f[2] ?? 'true';
    rest = rest.slice(f[0].length);
  }
  const args = rest.trim();
  // HEALTHCHECK's own flags precede `CMD [...]`, whose exec form is the check.
  const execText = keyword === 'HEALTHCHECK' ? args.replace(/^CMD\s+/, '') : args;
  return { keyword, flags, args, exec: execForm(execText), line };
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split('\n');
  const result: Dockerfile = { globalArgs: {}, stages: [] };
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let current = lines[i]!.trim();
    if (!current || current.startsWith('#')) continue;
    while (current.endsWith('\\')) {
      current = current.slice(0, -1);
      // Comment lines inside a continued instruction are dropped, as BuildKit does.
      do i++;
      while (i < lines.length && lines[i]!.trim().startsWith('#'));
      if (i >= lines.length) throw new Error(`line ${start}: continuation at the end of the file`);
      current += ` ${lines[i]!.trim()}`;
    }
    const ins = instruction(current.replace(/\s+/g, ' '), start);
    if (ins.keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!from) throw new Error(`line ${start}: FROM ${ins.args}`);
      result.stages.push({ base: from[1]!, name: from[2], instructions: [] });
    } else if (!result.stages.length) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${start}: ${ins.keyword} before the first FROM`);
      const [name, value] = ins.args.split('=', 2);
      result.globalArgs[name!] = value;
    } else {
      result.stages.at(-1)!.instructions.push(ins);
    }
  }
  return result;
}

/** `${NAME}` and `$NAME` replaced by the global ARG defaults, as FROM lines see them. */
export function expandArgs(text: string, args: Record<string, string | undefined>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args[(a ?? b)!] ?? '');
}

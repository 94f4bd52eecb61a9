import fs from 'node:fs';
import path from 'node:path';
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import type { Manifest } from './files';

/**
 * The files a container of a pod would see, laid out in a temp directory: each volume is a directory
 * (shared by every container that mounts it, as emptyDirs are), filled with the keys of its ConfigMap or
 * Secret. Paths inside the container translate to paths in the temp directory through the mounts.
 */
export class PodFiles {
  constructor(
    private readonly root: string,
    private readonly pod: V1PodSpec,
    private readonly objects: Manifest[],
    /** Secret values to use instead of the manifests' own (placeholders), by `secret/key`. */
    private readonly overrides: Record<string, string> = {},
  ) {
    for (const volume of pod.volumes ?? []) this.fill(volume.name);
  }

  private volumeDir = (name: string): string => path.join(this.root, 'volumes', name);

  private object(kind: string, name: string): Manifest {
    const found = this.objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name} among the manifests`);
    return found;
  }

  private fill(name: string): void {
    const volume = this.pod.volumes!.find((v) => v.name === name)!;
    const dir = this.volumeDir(name);
    fs.mkdirSync(dir, { recursive: true });
    const source = volume.configMap
      ? { kind: 'ConfigMap', name: volume.configMap.name!, items: volume.configMap.items, field: 'data' }
      : volume.secret
        ? { kind: 'Secret', name: volume.secret.secretName!, items: volume.secret.items, field: 'stringData' }
        : undefined;
    if (!source) return;
    const data = (this.object(source.kind, source.name)[source.field] ?? {}) as Record<string, string>;
    const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const { key, path: file } of items) {
      if (!(key in data)) throw new Error(`${source.kind} ${source.name} has no key ${key}`);
      fs.writeFileSync(path.join(dir, file), this.overrides[`${source.name}/${key}`] ?? data[key]!, { mode: 0o440 });
    }
  }

  /** Where a path inside `container` lives in the temp directory (the longest mount path wins). */
  resolve(container: V1Container, inside: string): string {
    const mount = (container.volumeMounts ?? [])
      .filter((m) => inside === m.mountPath || inside.startsWith(`${m.mountPath}/`))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    if (!mount) throw new Error(`${inside} is on ${container.name}'s image filesystem, not in a volume`);
    return path.join(this.volumeDir(mount.name), inside.slice(mount.mountPath.length));
  }

  /** A text (a config file) with every path under the container's mounts rewritten to the temp directory. */
  rewrite(container: V1Container, text: string): string {
    const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
    return text.replace(/(?<=[\s:"'])\/[\w./-]+/g, (p) => (mounts.some((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`)) ? this.resolve(container, p) : p));
  }
}

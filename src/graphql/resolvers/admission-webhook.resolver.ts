import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import {
  createAdmissionWebhookConfiguration,
  deleteAdmissionWebhookConfiguration,
  getAdmissionWebhookConfiguration,
  listAdmissionWebhookConfigurations,
  updateAdmissionWebhookConfiguration,
  type WebhookInput,
} from '../../domain/admission-webhooks';
import { ValidationError } from '../../errors';
import { Role } from '../auth-checker';
import type { GraphqlContext } from '../context';
import {
  CreateAdmissionWebhookConfigurationInput,
  UpdateAdmissionWebhookConfigurationInput,
  type AdmissionMetadataEntryInput,
  type AdmissionWebhookInput,
} from '../inputs/admission-webhook.input';
import { AdmissionWebhookConfigurationObject } from '../types/admission-webhook.type';

function toMap(field: string, list: AdmissionMetadataEntryInput[] | null | undefined): Record<string, string> | null | undefined {
  if (list === undefined) return undefined;
  if (list === null) return null;
  const map: Record<string, string> = {};
  for (const { key, value } of list) {
    if (key in map) throw new ValidationError(field, `field '${field}' repeats key '${key}'`);
    map[key] = value;
  }
  return map;
}

function toWebhooks(list: AdmissionWebhookInput[] | null | undefined): WebhookInput[] | undefined {
  return list?.map((w) => ({
    name: w.name,
    failurePolicy: w.failurePolicy,
    clientConfig: { url: w.clientConfig.url, service: w.clientConfig.service, caBundle: w.clientConfig.caBundle },
    namespaceSelector: w.namespaceSelector,
    timeoutSeconds: w.timeoutSeconds,
  }));
}

/** The domain names fields as the original's JSON spells them; here they are named as in the GraphQL input. */
const FIELD_NAMES: [RegExp, string][] = [
  [/^admissionWebhooks/, 'input.webhooks'],
  [/^metadata\.name/, 'input.name'],
  [/^metadata\.namespace/, 'input.namespace'],
  [/^metadata\.labels/, 'input.labels'],
  [/^metadata\.annotations/, 'input.annotations'],
  [/^resourcesRef\.operation/, 'input.operation'],
  [/^resourcesRef\.kind/, 'input.kind'],
];

async function renamingFields<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const hit = FIELD_NAMES.find(([re]) => re.test(err.field));
    if (!hit) throw err;
    const field = err.field.replace(hit[0], hit[1]);
    throw new ValidationError(field, err.message.split(`'${err.field}`).join(`'${field}`));
  }
}

/** Mesos admission webhook configurations: super users only, for reading as well as writing. */
@Authorized(Role.SuperUser)
@Resolver()
export class AdmissionWebhookResolver {
  @Query(() => [AdmissionWebhookConfigurationObject], { description: 'Every configuration, by name (at most one per operation and kind).' })
  async admissionWebhookConfigurations(@Ctx() { domain, actor }: GraphqlContext): Promise<AdmissionWebhookConfigurationObject[]> {
    return (await listAdmissionWebhookConfigurations(domain, actor)).map((v) => AdmissionWebhookConfigurationObject.from(v));
  }

  @Query(() => AdmissionWebhookConfigurationObject, { description: 'NOT_FOUND when there is no configuration of that name.' })
  async admissionWebhookConfiguration(@Arg('name') name: string, @Ctx() { domain, actor }: GraphqlContext): Promise<AdmissionWebhookConfigurationObject> {
    return AdmissionWebhookConfigurationObject.from(await getAdmissionWebhookConfiguration(domain, actor, name));
  }

  @Mutation(() => AdmissionWebhookConfigurationObject, {
    description: 'CONFLICT when the name is taken or a configuration for the same operation and kind exists; BAD_USER_INPUT names the invalid field.',
  })
  async createAdmissionWebhookConfiguration(
    @Arg('input', () => CreateAdmissionWebhookConfigurationInput) input: CreateAdmissionWebhookConfigurationInput,
    @Ctx() { domain, actor }: GraphqlContext,
  ): Promise<AdmissionWebhookConfigurationObject> {
    const view = await renamingFields(() =>
      createAdmissionWebhookConfiguration(domain, actor, {
        name: input.name,
        namespace: input.namespace,
        operation: input.operation,
        kind: input.kind,
        webhooks: toWebhooks(input.webhooks),
        labels: toMap('input.labels', input.labels),
        annotations: toMap('input.annotations', input.annotations),
      }),
    );
    return AdmissionWebhookConfigurationObject.from(view);
  }

  @Mutation(() => AdmissionWebhookConfigurationObject, {
    description: 'Changes the given fields. CONFLICT when the stored version is not expectedVersion (someone else changed it: read it again and retry).',
  })
  async updateAdmissionWebhookConfiguration(
    @Arg('name') name: string,
    @Arg('expectedVersion', () => Int, { description: 'The version this change was based on.' }) expectedVersion: number,
    @Arg('input', () => UpdateAdmissionWebhookConfigurationInput) input: UpdateAdmissionWebhookConfigurationInput,
    @Ctx() { domain, actor }: GraphqlContext,
  ): Promise<AdmissionWebhookConfigurationObject> {
    const view = await renamingFields(() =>
      updateAdmissionWebhookConfiguration(
        domain,
        actor,
        name,
        {
          ...(input.namespace !== undefined ? { namespace: input.namespace } : {}),
          ...(input.operation ? { operation: input.operation } : {}),
          ...(input.kind ? { kind: input.kind } : {}),
          ...(input.webhooks ? { webhooks: toWebhooks(input.webhooks) } : {}),
          ...(input.labels !== undefined ? { labels: toMap('input.labels', input.labels) } : {}),
          ...(input.annotations !== undefined ? { annotations: toMap('input.annotations', input.annotations) } : {}),
        },
        expectedVersion,
      ),
    );
    return AdmissionWebhookConfigurationObject.from(view);
  }

  @Mutation(() => AdmissionWebhookConfigurationObject, { description: 'Returns the configuration as it was.' })
  async deleteAdmissionWebhookConfiguration(@Arg('name') name: string, @Ctx() { domain, actor }: GraphqlContext): Promise<AdmissionWebhookConfigurationObject> {
    return AdmissionWebhookConfigurationObject.from(await deleteAdmissionWebhookConfiguration(domain, actor, name));
  }
}

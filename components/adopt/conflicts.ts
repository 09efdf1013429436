/**
 * What stops a `pulumi up` before it changes anything: a hostname the stack
 * would create a record for already has one that the stack neither created
 * nor adopts. Cloudflare would refuse the create ("record already exists",
 * codes 81053 and 81057) halfway through the up; the preview refuses first.
 */
import type { DnsRecordPlan } from "../render/edge";

/** A DNS record as the zone lists it (the fields of Cloudflare's record object the check reads). */
export interface LiveDnsRecord {
  id: string;
  name: string;
  type: string;
  content: string;
  comment?: string | null;
}

/**
 * The refusal for `record` (declared as `resourceName`), or undefined when
 * every live record of its name is the adopted one or one this stack made
 * (they carry the stack's comment).
 *
 * @param adoptedImportId the entry of `homelab:adopt` for the resource, `<zone>/<record id>`
 */
export function dnsConflict(
  stack: string,
  resourceName: string,
  record: DnsRecordPlan,
  adoptedImportId: string | undefined,
  live: readonly LiveDnsRecord[],
): string | undefined {
  const adopted = adoptedImportId?.split("/")[1];
  const others = live.filter(
    (r) => r.name === record.name && r.id !== adopted && (adopted !== undefined || r.comment !== record.comment),
  );
  if (others.length === 0) return undefined;
  const what = others.map((r) => `${r.type} ${r.name} → ${r.content} (id ${r.id})`).join(", ");
  const why =
    adopted === undefined
      ? `homelab:adopt does not name it for ${resourceName}`
      : `homelab:adopt names another record (${adopted}) for ${resourceName}`;
  return (
    `the zone already has ${what}, and ${why}, so creating ${resourceName} would fail with Cloudflare's "record already exists". ` +
    `Run npm run adopt -- --stack ${stack} to take it over, or delete or rename it in the Cloudflare dashboard; nothing was changed`
  );
}

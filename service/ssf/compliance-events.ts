// Device compliance pushed to identity providers: on a change of what the receivers were last
// told of a device, a CAEP 1.0 device-compliance-change event for every stream that asked for
// it, written into the outbox in the caller's transaction (the attestation's, or IT's action).
//
// Tiers map to compliance this way: `full` is compliant; `limited` and `none` are not. An IdP
// applies "compliant device" to every app it gates, and we do not know which of them hold
// patient data: a device that fails a check the `full` tier needs must not pass there (fail
// closed). Apps that accept `limited` devices verify our device token themselves.
import type { Transaction } from 'kysely';
import type { Tier } from '../../common/attestation.js';
import type { CheckId, Verdict } from '../../common/posture.js';
import type { Database } from '../db/schema.js';
import type { ComplianceCause } from './compliance-reasons.js';
import { complianceReasons } from './compliance-reasons.js';
import { enqueue, streamsTaking } from './outbox.js';
import type { ComplianceStatus } from './ssf-constants.js';
import { DEVICE_COMPLIANCE_CHANGE } from './ssf-constants.js';
import type { StreamPresence } from './stream-presence.js';

export const complianceOfTier = (tier: Tier): ComplianceStatus => (tier === 'full' ? 'compliant' : 'not-compliant');

export type ComplianceChange =
  | { readonly kind: 'posture'; readonly deviceId: string; readonly tier: Tier; readonly policyVersion: number; readonly failing: readonly CheckId[]; readonly checks: Partial<Record<CheckId, Verdict>>; readonly attestationId: string; readonly at: number }
  | { readonly kind: 'admin'; readonly deviceId: string; readonly action: 'disabled' | 'revoked'; readonly at: number };

export interface ComplianceEvents {
  /** Writes the events this change owes, in `trx`; true when the device's compliance changed. */
  record(trx: Transaction<Database>, change: ComplianceChange): Promise<boolean>;
  /** The transaction that recorded events committed (or ended): deliver now rather than at the next tick. */
  committed(): void;
}

export function createComplianceEvents(options: { readonly issuer: string; readonly onCommitted: () => void; readonly presence: StreamPresence }): ComplianceEvents {
  // Whether events were written since the last nudge: most attestations change nothing, and
  // they must not each cost the delivery worker a look at the outbox.
  let owed = false;
  return {
    async record(trx, change) {
      // With no stream to tell, nothing is written: not even what receivers were told, since
      // there are none (a receiver added later starts from "never told": not compliant).
      if (!options.presence.mayHaveStreams()) return false;
      const generation = options.presence.generation();
      const streams = await streamsTaking(trx, DEVICE_COMPLIANCE_CHANGE);
      if (streams.length === 0) {
        options.presence.sawNone(generation);
        return false;
      }
      const current: ComplianceStatus = change.kind === 'admin' ? 'not-compliant' : complianceOfTier(change.tier);
      if (!(await changeToldState(trx, change.deviceId, current, change.at))) return false;
      const previous: ComplianceStatus = current === 'compliant' ? 'not-compliant' : 'compliant';
      const cause: ComplianceCause = change.kind === 'admin'
        ? { kind: 'admin', action: change.action }
        : { kind: 'posture', tier: change.tier, policyVersion: change.policyVersion, failing: change.failing.map((id) => ({ id, verdict: change.checks[id] ?? 'unknown' })) };
      const event = {
        previous_status: previous,
        current_status: current,
        // CAEP 1.0 section 2: seconds since the epoch, when the change happened.
        event_timestamp: Math.floor(change.at / 1000),
        initiating_entity: change.kind === 'admin' ? 'admin' : 'policy',
        ...complianceReasons(current, cause),
      };
      for (const stream of streams) {
        owed = true;
        await enqueue(trx, stream, {
          deviceId: change.deviceId,
          at: change.at,
          claims: {
            iss: options.issuer,
            iat: Math.floor(change.at / 1000),
            ...(change.kind === 'posture' ? { txn: change.attestationId } : {}),
            // SSF 1.0 section 3: a complex subject naming the device by its opaque id. The agent
            // attests the machine, not a person (one agent serves everyone signed in), so no
            // `user` member is sent: the service does not know one.
            sub_id: { format: 'complex', device: { format: 'opaque', id: change.deviceId } },
            events: { [DEVICE_COMPLIANCE_CHANGE]: event },
          },
        });
      }
      return true;
    },
    committed() {
      if (!owed) return;
      owed = false;
      options.onCommitted();
    },
  };
}

/**
 * Sets what receivers were told of the device to `current`; true when that changed it. One
 * statement each, so two attestations of one device racing on two instances cannot both emit:
 * the row's lock orders them and the second finds nothing to change. A device never told
 * anything counts as not compliant (an IdP does not trust a device it never heard of).
 */
async function changeToldState(trx: Transaction<Database>, deviceId: string, current: ComplianceStatus, at: number): Promise<boolean> {
  if (current === 'not-compliant') {
    const r = await trx.updateTable('ssf_device_compliance').set({ status: current, changed_at: at }).where('device_id', '=', deviceId).where('status', '=', 'compliant').executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
  const row = await trx
    .insertInto('ssf_device_compliance')
    .values({ device_id: deviceId, status: current, changed_at: at })
    .onConflict((oc) => oc.column('device_id').doUpdateSet({ status: current, changed_at: at }).where('ssf_device_compliance.status', '<>', current))
    .returning('device_id')
    .executeTakeFirst();
  return row !== undefined;
}

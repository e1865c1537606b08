// IT's console's data, in one object the console's pages and the JSON admin routes share: each
// operation lives in a module of its own (fleet-overview, device-search, device-detail,
// audit-search, policy-history, policy-validation, policy-what-if) over the service's database.
// Every input is checked here too (a page may pass a form's text as it came): bad input is a
// ServiceError BAD_REQUEST (POLICY_INVALID for a draft that does not parse), never a crash.
// A what-if while another runs on this instance is RATE_LIMITED.
import type { Db } from '../../db/connect.js';
import { ServiceError } from '../../errors.js';
import type { PolicyStore } from '../../policy/load-policy.js';
import { exportAuditLines, searchAudit } from './audit-search.js';
import type { AuditExportFormat, AuditFilter, AuditPage, DeviceDetail, DeviceSearchPage, DeviceSearchQuery, FleetOverview, FleetQuery, PolicyHistory, PolicyValidation, WhatIfQuery, WhatIfResult } from './console-data-types.js';
import { readDeviceDetail } from './device-detail.js';
import { searchDevices } from './device-search.js';
import { readFleetOverview, recordFleetDay } from './fleet-overview.js';
import { readPolicyHistory } from './policy-history.js';
import { validatePolicyDraft } from './policy-validation.js';
import { runWhatIf } from './policy-what-if.js';

export interface ConsoleData {
  fleet(query?: FleetQuery): Promise<FleetOverview>;
  searchDevices(query: DeviceSearchQuery): Promise<DeviceSearchPage>;
  /** NOT_FOUND when no device has this id; BAD_REQUEST when it is not a device id. */
  deviceDetail(deviceId: string): Promise<DeviceDetail>;
  /** Newest first; `before`: the `next` of the page before. */
  searchAudit(filter: AuditFilter, page?: { readonly before?: number; readonly limit?: number }): Promise<AuditPage>;
  /** Every record the filter selects, oldest first, as lines of JSON Lines or CSV (the header first), read in bounded batches. */
  exportAudit(filter: AuditFilter, format: AuditExportFormat): AsyncIterable<string>;
  policyHistory(): Promise<PolicyHistory>;
  validatePolicy(text: string): PolicyValidation;
  whatIf(query: WhatIfQuery): Promise<WhatIfResult>;
  /** Writes today's row of the fleet trend (the service calls it hourly; the fleet read calls it too). */
  recordFleetDay(): Promise<void>;
}

export interface ConsoleDataDeps {
  readonly db: Db;
  readonly policy: PolicyStore;
  readonly now: () => Date;
}

export function createConsoleData(deps: ConsoleDataDeps): ConsoleData {
  const { db, policy, now } = deps;
  // A what-if reads and evaluates the whole fleet (about 2 s for 10,000 devices): one at a
  // time per instance, so repeated clicks or a script cannot hold the service's CPU.
  let whatIfRunning = false;
  const whatIf = async (query: WhatIfQuery): Promise<WhatIfResult> => {
    if (whatIfRunning) throw new ServiceError('RATE_LIMITED', 'A policy what-if is already running; try again when it ends.', { retryAfterSeconds: 5 });
    whatIfRunning = true;
    try {
      return await runWhatIf(db, policy.current(), query, now().getTime());
    } finally {
      whatIfRunning = false;
    }
  };
  return {
    fleet: (query = {}) => readFleetOverview(db, query, now().getTime()),
    searchDevices: (query) => searchDevices(db, query),
    deviceDetail: (deviceId) => readDeviceDetail(db, deviceId, now().getTime()),
    searchAudit: (filter, page = {}) => searchAudit(db, filter, page),
    exportAudit: (filter, format) => exportAuditLines(db, filter, format),
    policyHistory: () => readPolicyHistory(db, policy.applied()),
    validatePolicy: (text) => validatePolicyDraft(text),
    whatIf,
    recordFleetDay: () => recordFleetDay(db, now().getTime()),
  };
}

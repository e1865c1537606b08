// The console's roles and what each may do. A viewer reads; the help desk also approves
// enrolments and re-keys and enables devices; an admin may do everything, including the
// actions that cut devices off or change what every relying party trusts.
export const CONSOLE_ROLES = ['viewer', 'helpdesk', 'admin'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

export const DEVICE_ACTIONS = ['approve', 'approve-rekey', 'reject-rekey', 'enable', 'disable', 'revoke'] as const;
export type DeviceAction = (typeof DEVICE_ACTIONS)[number];
export type ConsoleAction = DeviceAction | 'rotate-signing-key';

const RANK: ReadonlyMap<ConsoleRole, number> = new Map([
  ['viewer', 0],
  ['helpdesk', 1],
  ['admin', 2],
]);

const LEAST_ROLE: ReadonlyMap<ConsoleAction, ConsoleRole> = new Map<ConsoleAction, ConsoleRole>([
  ['approve', 'helpdesk'],
  ['approve-rekey', 'helpdesk'],
  ['reject-rekey', 'helpdesk'],
  ['enable', 'helpdesk'],
  ['disable', 'admin'],
  ['revoke', 'admin'],
  ['rotate-signing-key', 'admin'],
]);

export function mayAct(role: ConsoleRole, action: ConsoleAction): boolean {
  const least = LEAST_ROLE.get(action);
  return least !== undefined && (RANK.get(role) ?? -1) >= (RANK.get(least) ?? Infinity);
}

export function isDeviceAction(value: string): value is DeviceAction {
  return (DEVICE_ACTIONS as readonly string[]).includes(value);
}

/** The strongest role any of the person's groups maps to; null when none is mapped. */
export function roleForGroups(groups: readonly string[], mapping: ReadonlyMap<string, ConsoleRole>): ConsoleRole | null {
  let best: ConsoleRole | null = null;
  for (const group of groups) {
    const role = mapping.get(group);
    if (role !== undefined && (best === null || (RANK.get(role) ?? 0) > (RANK.get(best) ?? 0))) best = role;
  }
  return best;
}

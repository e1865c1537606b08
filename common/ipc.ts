// The contract between the tray window (renderer), its preload and the main process:
// every channel carries the `dta:` prefix and every payload has a schema, validated in
// main with the sender checked. The preload exposes exactly `AgentApi` as `window.agent`.
import { Type, type Static } from '@sinclair/typebox';
import { AgentProblemsSchema } from './agent-problems.js';
import { AgentStateSchema } from './agent-state.js';
import { PlatformSchema } from './posture.js';

export const IPC_CHANNELS = {
  getView: 'dta:get-view',
  checkNow: 'dta:check-now',
  runRemediation: 'dta:run-remediation',
  saveBundle: 'dta:save-bundle',
  viewChanged: 'dta:view-changed',
} as const;
export type IpcChannel = (typeof IPC_CHANNELS)[keyof typeof IPC_CHANNELS];

export const LOCALES = ['en', 'de'] as const;
export const LocaleSchema = Type.Union(LOCALES.map((l) => Type.Literal(l)));
export type Locale = (typeof LOCALES)[number];

/** Steps the agent can start for the user (opening the right settings pane). */
export const REMEDIATION_ACTIONS = ['open-firewall-settings', 'open-update-settings', 'open-encryption-settings', 'open-screenlock-settings', 'open-security-settings'] as const;
export const RemediationActionSchema = Type.Union(REMEDIATION_ACTIONS.map((a) => Type.Literal(a)));
export type RemediationAction = (typeof REMEDIATION_ACTIONS)[number];
export const RemediationRequestSchema = Type.Object({ action: RemediationActionSchema }, { additionalProperties: false });

/**
 * IT's help desk from managed configuration (helpDeskName, helpDeskPhone, helpDeskUrl), shown
 * wherever the window says to call the help desk. Each part is null when IT did not set it;
 * the URL is https only and the phone number digits with an optional leading +.
 */
export const HelpDeskSchema = Type.Object(
  {
    name: Type.Union([Type.String({ minLength: 1, maxLength: 80 }), Type.Null()]),
    phone: Type.Union([Type.String({ pattern: '^\\+?[0-9][0-9 ()./-]{2,30}$' }), Type.Null()]),
    url: Type.Union([Type.String({ pattern: '^https://\\S+$', maxLength: 2000 }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type HelpDesk = Static<typeof HelpDeskSchema>;

/** What the status window shows. */
export const StatusViewSchema = Type.Object(
  {
    agent: AgentStateSchema,
    platform: PlatformSchema,
    locale: LocaleSchema,
    version: Type.String(),
    serviceUrl: Type.String(),
    /** Settings IT locked through managed configuration ("managed by your organization"). */
    managedSettings: Type.Array(Type.String()),
    /** Absent or null when IT named no help desk. */
    helpDesk: Type.Optional(Type.Union([HelpDeskSchema, Type.Null()])),
    /** What the agent cannot do beside the state (its loopback port taken, IT's PAC file passed over); absent when none. */
    problems: Type.Optional(AgentProblemsSchema),
  },
  { additionalProperties: false },
);
export type StatusView = Static<typeof StatusViewSchema>;

export const IpcResultSchema = Type.Union([
  Type.Object({ ok: Type.Literal(true), detail: Type.Optional(Type.String()) }, { additionalProperties: false }),
  Type.Object({ ok: Type.Literal(false), error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false }) }, { additionalProperties: false }),
]);
export type IpcResult = Static<typeof IpcResultSchema>;

/** The preload's API, frozen on `window.agent`. */
export interface AgentApi {
  getView(): Promise<StatusView>;
  checkNow(): Promise<IpcResult>;
  runRemediation(action: RemediationAction): Promise<IpcResult>;
  saveBundle(): Promise<IpcResult>;
  onViewChanged(listener: (view: StatusView) => void): () => void;
}

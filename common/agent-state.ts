// The agent's one explicit state, published to the tray and the CLI.
import { Type, type Static } from '@sinclair/typebox';
import { TierSchema } from './attestation.js';
import { CheckIdSchema, PostureReportSchema } from './posture.js';

export const AGENT_STATES = ['starting', 'enrolling', 'compliant', 'warning', 'blocked', 'offline', 'error'] as const;
export const AgentStateNameSchema = Type.Union(AGENT_STATES.map((s) => Type.Literal(s)));
export type AgentStateName = (typeof AGENT_STATES)[number];

const DateTime = Type.String({ format: 'date-time' });

/**
 * While the device trust service cannot be reached: what the clinician is told about it.
 * Access services in outage mode accept the last token for a while after it expires, as long
 * as each request carries a fresh proof from this device; the agent makes such proofs only
 * while the device still passes what its token was judged on.
 */
export const OutageSchema = Type.Object(
  {
    since: DateTime,
    /** The last token's expiry plus the outage grace IT set; null when there is no token to use. */
    accessUntil: Type.Union([DateTime, Type.Null()]),
    /** The grace IT allows access services after a token's expiry (managed setting outageGraceMinutes); null when not set. */
    graceMinutes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    /** Checks worse now than when access was granted: while any is listed, the agent makes no proof. */
    blockedBy: Type.Array(CheckIdSchema, { maxItems: 10 }),
  },
  { additionalProperties: false },
);
export type Outage = Static<typeof OutageSchema>;

export const AgentStateSchema = Type.Object(
  {
    state: AgentStateNameSchema,
    /** Plain words for the clinician: why the device is in this state. */
    reason: Type.String(),
    /** What happens next, or what to do. */
    nextAction: Type.String(),
    since: Type.String({ format: 'date-time' }),
    tier: Type.Union([TierSchema, Type.Null()]),
    tokenExpiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    graceUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    lastCheckAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    deviceId: Type.Union([Type.String(), Type.Null()]),
    errorCode: Type.Union([Type.String(), Type.Null()]),
    report: Type.Union([PostureReportSchema, Type.Null()]),
    /** Present only while the service cannot be reached (optional: an older agent never sends it). */
    outage: Type.Optional(OutageSchema),
  },
  { additionalProperties: false },
);
export type AgentState = Static<typeof AgentStateSchema>;

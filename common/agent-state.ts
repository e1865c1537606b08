// The agent's one explicit state, published to the tray and the CLI.
import { Type, type Static } from '@sinclair/typebox';
import { TierSchema } from './attestation.js';
import { PostureReportSchema } from './posture.js';

export const AGENT_STATES = ['starting', 'enrolling', 'compliant', 'warning', 'blocked', 'offline', 'error'] as const;
export const AgentStateNameSchema = Type.Union(AGENT_STATES.map((s) => Type.Literal(s)));
export type AgentStateName = (typeof AGENT_STATES)[number];

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
  },
  { additionalProperties: false },
);
export type AgentState = Static<typeof AgentStateSchema>;

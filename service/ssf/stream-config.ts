// A stream's configuration as receivers and IT send it (SSF 1.0 "Stream Configuration"), as it
// is stored, and as it is shown. Every field is bounded; unknown members are refused, so a key
// such as `toString` or `hasOwnProperty` never reaches the code (the JSON parser already drops
// `__proto__` and `constructor`).
import { Type, type Static } from '@sinclair/typebox';
import { ServiceError } from '../errors.js';
import { MAX_ENDPOINT_URL_LENGTH } from './push-endpoint.js';
import { EVENTS_SUPPORTED, POLL_METHOD, PUSH_METHOD } from './ssf-constants.js';
import type { DeliveryMethod } from './ssf-constants.js';

export const STREAM_ID_PATTERN = '^[0-9a-f]{32}$';
const StreamId = Type.String({ pattern: STREAM_ID_PATTERN });
const Audience = Type.Union([Type.String({ minLength: 1, maxLength: 512 }), Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { minItems: 1, maxItems: 8 })]);
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 32 });

const Delivery = Type.Object(
  {
    method: Type.Union([Type.Literal(PUSH_METHOD), Type.Literal(POLL_METHOD)]),
    endpoint_url: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_ENDPOINT_URL_LENGTH })),
    // Sent as the Authorization header of each push (RFC 8935 section 2): printable ASCII, no CR or LF.
    authorization_header: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^[\\x21-\\x7e][\\x20-\\x7e]*$' })),
  },
  { additionalProperties: false },
);

const configMembers = {
  delivery: Delivery,
  events_requested: Type.Optional(EventTypes),
  description: Type.Optional(Type.String({ maxLength: 256 })),
  aud: Type.Optional(Audience),
  // Members the transmitter supplies: a receiver may echo them back (SSF asks that they match; they are not taken from it).
  iss: Type.Optional(Type.String({ maxLength: 2048 })),
  events_supported: Type.Optional(EventTypes),
  events_delivered: Type.Optional(EventTypes),
  min_verification_interval: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
};

export const CreateStreamSchema = Type.Object(configMembers, { additionalProperties: false });
export type CreateStreamRequest = Static<typeof CreateStreamSchema>;
export const ReplaceStreamSchema = Type.Object({ stream_id: StreamId, ...configMembers }, { additionalProperties: false });
export type ReplaceStreamRequest = Static<typeof ReplaceStreamSchema>;
export const UpdateStreamSchema = Type.Object({ stream_id: StreamId, ...configMembers, delivery: Type.Optional(Delivery) }, { additionalProperties: false });
export type UpdateStreamRequest = Static<typeof UpdateStreamSchema>;

export const StreamIdQuery = Type.Object({ stream_id: Type.Optional(StreamId) }, { additionalProperties: false });
export const RequiredStreamIdQuery = Type.Object({ stream_id: StreamId }, { additionalProperties: false });

export const StatusUpdateSchema = Type.Object(
  { stream_id: StreamId, status: Type.Union([Type.Literal('enabled'), Type.Literal('paused'), Type.Literal('disabled')]), reason: Type.Optional(Type.String({ maxLength: 256 })) },
  { additionalProperties: false },
);
export type StatusUpdate = Static<typeof StatusUpdateSchema>;

export const VerificationRequestSchema = Type.Object({ stream_id: StreamId, state: Type.Optional(Type.String({ maxLength: 256 })) }, { additionalProperties: false });
export type VerificationRequest = Static<typeof VerificationRequestSchema>;

/** RFC 8936 section 2.1: the poll request. */
const Jti = Type.String({ minLength: 1, maxLength: 64 });
export const PollRequestSchema = Type.Object(
  {
    maxEvents: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    returnImmediately: Type.Optional(Type.Boolean()),
    ack: Type.Optional(Type.Array(Jti, { maxItems: 1000 })),
    setErrs: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Object({ err: Type.String({ maxLength: 64 }), description: Type.Optional(Type.String({ maxLength: 512 })) }, { additionalProperties: false }), { maxProperties: 1000 })),
  },
  { additionalProperties: false },
);
export type PollRequest = Static<typeof PollRequestSchema>;

/** What the database keeps of a configuration (the push authorization is sealed apart). */
export interface StoredStreamConfig {
  method: DeliveryMethod;
  endpoint_url: string | null;
  aud: string | string[];
  events_requested: string[];
  events_delivered: string[];
  description: string | null;
  min_verification_interval: number | null;
}

export function parseStoredConfig(json: string): StoredStreamConfig {
  const value = JSON.parse(json) as StoredStreamConfig;
  if (typeof value !== 'object' || value === null || !Array.isArray(value.events_delivered)) throw new ServiceError('INTERNAL', 'A stored stream configuration is damaged.');
  return value;
}

/** events_delivered: what was asked for and is supported, each once (absent: everything supported). */
export function deliveredEvents(requested: readonly string[] | undefined): string[] {
  const asked = requested ?? EVENTS_SUPPORTED;
  return EVENTS_SUPPORTED.filter((e) => asked.includes(e));
}

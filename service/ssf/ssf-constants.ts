// The names Shared Signals fixes: delivery method URNs, event types, the SET's media type.
// The service is an OpenID Shared Signals Framework 1.0 transmitter (docs/shared-signals.md).

/** RFC 8935 (push): the transmitter POSTs each SET to the receiver's endpoint. */
export const PUSH_METHOD = 'urn:ietf:rfc:8935';
/** RFC 8936 (poll): the receiver POSTs to the transmitter's endpoint and takes SETs from the answer. */
export const POLL_METHOD = 'urn:ietf:rfc:8936';
export type DeliveryMethod = typeof PUSH_METHOD | typeof POLL_METHOD;

/** CAEP 1.0 "Device Compliance Change". */
export const DEVICE_COMPLIANCE_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/device-compliance-change';
/** SSF 1.0 "Verification": sent whatever the stream asked for, when the receiver asks for it. */
export const VERIFICATION_EVENT = 'https://schemas.openid.net/secevent/ssf/event-type/verification';

/** What this transmitter can send (the stream configuration's events_supported). */
export const EVENTS_SUPPORTED: readonly string[] = [DEVICE_COMPLIANCE_CHANGE];

/** RFC 8417 section 2.3: SETs are explicitly typed, so no other JWT of ours passes for one. */
export const SET_TYP = 'secevent+jwt';
export const SET_MEDIA_TYPE = 'application/secevent+jwt';

/** The receiver's bearer tokens start with this, so a token is never taken for IT's admin token. */
export const RECEIVER_TOKEN_PREFIX = 'dta_ssf_';

export type ComplianceStatus = 'compliant' | 'not-compliant';
export type StreamStatus = 'enabled' | 'paused' | 'disabled';

// The agent's name and version as sent in evidence (swname / swversion; signEvidence writes
// the version in RFC 9711's array form with its semver scheme).
import { RELEASE_VERSION } from '../../common/release.js';

export const AGENT_NAME = 'device-trust-agent';
export const AGENT_VERSION = RELEASE_VERSION;

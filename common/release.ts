// The release of the agent and the service, as they name themselves in evidence (swversion)
// and in device tokens (ear.verifier-id). The two ship from one tree, so one number serves both.
export const RELEASE_VERSION = '0.1.0';

// The agent's name and version as sent in evidence (swname / swversion).
export const AGENT_NAME = 'device-trust-agent';
export const AGENT_VERSION = '0.1.0';

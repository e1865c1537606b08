// Answers probes from a support bundle's recorded outputs: no command runs.
import type { ProbeRecord } from '../../common/posture.js';
import type { ProbeSource } from './probe.js';
import { failedRecord } from './probe.js';

export function createReplayProbeSource(records: readonly ProbeRecord[]): ProbeSource {
  const byId = new Map(records.map((r) => [r.id, r]));
  return {
    start(specs) {
      const answered = specs.map((spec) => byId.get(spec.id) ?? failedRecord(spec, 'NOT_RECORDED', 'The bundle holds no output for this probe'));
      const map = new Map(answered.map((r) => [r.id, r]));
      return {
        get: (id) => Promise.resolve(map.get(id) ?? failedRecord({ kind: 'command', id, argv: [] }, 'NOT_RECORDED', 'Not in the bundle')),
        settled: () => [...map.values()],
      };
    },
  };
}

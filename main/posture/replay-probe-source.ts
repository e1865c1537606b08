// Answers probes from a support bundle's recorded outputs: no command runs. A derived
// probe derives its ids again from the recorded records it reads (derive is pure), so a
// bundle answers exactly the probes the live run made, and a missing one says so.
import type { ProbeRecord } from '../../common/posture.js';
import type { ProbeSource, ProbeSpec } from './probe.js';
import { derivationFailed, deriveProbes, failedRecord, isDerived } from './probe.js';

export function createReplayProbeSource(records: readonly ProbeRecord[]): ProbeSource {
  const byId = new Map(records.map((r) => [r.id, r]));
  const answer = (spec: ProbeSpec): ProbeRecord => byId.get(spec.id) ?? failedRecord(spec, 'NOT_RECORDED', 'The bundle holds no output for this probe');
  return {
    start(specs) {
      // Every probe's records by its id, as the live run has them: a plain probe's one record, a derived probe's family.
      const outputs = new Map<string, ProbeRecord[]>();
      for (const spec of specs) {
        if (outputs.has(spec.id)) continue;
        if (!isDerived(spec)) {
          outputs.set(spec.id, [answer(spec)]);
          continue;
        }
        const inputs = spec.derive.after.flatMap((id) => outputs.get(id) ?? []);
        try {
          outputs.set(spec.id, deriveProbes(spec, new Map(inputs.map((r) => [r.id, r]))).map(answer));
        } catch (e) {
          outputs.set(spec.id, [byId.get(spec.id) ?? derivationFailed(spec, e)]);
        }
      }
      const answered = new Map([...outputs.values()].flat().map((r) => [r.id, r]));
      const notRecorded = (id: string): ProbeRecord => failedRecord({ kind: 'command', id, argv: [] }, 'NOT_RECORDED', 'Not in the bundle');
      return {
        get: (id) => Promise.resolve(answered.get(id) ?? notRecorded(id)),
        family: (id) => Promise.resolve(outputs.get(id) ?? [notRecorded(id)]),
        settled: () => [...answered.values()],
      };
    },
  };
}

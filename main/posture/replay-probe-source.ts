// Answers probes from a support bundle's recorded outputs: no command runs. A derived
// probe derives its ids again from the recorded records it reads (derive is pure), so a
// bundle answers exactly the probes the live run made, and a missing one says so.
import type { ProbeRecord } from '../../common/posture.js';
import type { CommandProbeSpec, FileProbeSpec, PowerShellProbeSpec, ProbeSource } from './probe.js';
import { deriveProbes, failedRecord, isDerived } from './probe.js';

export function createReplayProbeSource(records: readonly ProbeRecord[]): ProbeSource {
  const byId = new Map(records.map((r) => [r.id, r]));
  const answer = (spec: CommandProbeSpec | FileProbeSpec | PowerShellProbeSpec): ProbeRecord =>
    byId.get(spec.id) ?? failedRecord(spec, 'NOT_RECORDED', 'The bundle holds no output for this probe');
  return {
    start(specs) {
      const map = new Map<string, ProbeRecord>();
      const families = new Map<string, ProbeRecord[]>();
      for (const spec of specs) {
        if (map.has(spec.id) || families.has(spec.id)) continue;
        if (!isDerived(spec)) {
          map.set(spec.id, answer(spec));
          continue;
        }
        const inputs = spec.derive.after.flatMap((id) => families.get(id) ?? (map.has(id) ? [map.get(id) as ProbeRecord] : []));
        let answered: ProbeRecord[];
        try {
          answered = deriveProbes(spec, new Map(inputs.map((r) => [r.id, r]))).map(answer);
        } catch (e) {
          answered = [byId.get(spec.id) ?? failedRecord(spec, 'DERIVE_FAILED', (e instanceof Error ? e.message : String(e)).slice(0, 500))];
        }
        families.set(spec.id, answered);
        for (const r of answered) map.set(r.id, r);
      }
      const notRecorded = (id: string): ProbeRecord => failedRecord({ kind: 'command', id, argv: [] }, 'NOT_RECORDED', 'Not in the bundle');
      return {
        get: (id) => Promise.resolve(map.get(id) ?? notRecorded(id)),
        family: (id) => Promise.resolve(families.get(id) ?? (map.has(id) ? [map.get(id) as ProbeRecord] : [notRecorded(id)])),
        settled: () => [...map.values()],
      };
    },
  };
}

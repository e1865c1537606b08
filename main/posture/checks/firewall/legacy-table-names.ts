// Whether legacy iptables (x_tables) holds any table, read from /proc/net/ip_tables_names and
// /proc/net/ip6_tables_names instead of starting iptables-legacy-save to find out. Each lists the
// tables registered in the reader's network namespace, one name a line (Linux
// net/netfilter/x_tables.c, xt_table_seq_show: seq_printf(seq, "%s\n", table->name)), and
// iptables-legacy-save dumps exactly the tables that file lists: its for_each_table reads it line
// by line, and when the file does not exist (x_tables not loaded) it prints nothing and exits 0
// (netfilter iptables, iptables/iptables-save.c). So an absent or empty file is the answer the
// save would have given; anything else (a table listed, or a file the agent could not read) runs
// the save, so that doubt always brings more evidence and never a pass.
import type { ProbeRecord } from '../../../../common/posture.js';
import { probeProblem } from '../../probe-outcome.js';

/** false: no legacy table (the file is absent or empty); true: it names one; null: not read (refused, or not in a support bundle). */
export function listsLegacyTables(names: ProbeRecord | undefined): boolean | null {
  const problem = probeProblem(names);
  if (problem?.code === 'FILE_MISSING') return false;
  if (problem || names === undefined) return null;
  return names.stdout.trim() !== '';
}

/**
 * The legacy save's record as the judge reads it: its own when it ran; when it was not run because
 * the table names show no legacy table, the record of a save that printed nothing, which is what
 * it would have printed; undefined when neither is known.
 */
export function legacySaveRecord(records: ReadonlyMap<string, ProbeRecord>, saveId: string, namesId: string, program: string): ProbeRecord | undefined {
  const ran = records.get(saveId);
  if (ran !== undefined) return ran;
  if (listsLegacyTables(records.get(namesId)) !== false) return undefined;
  return { id: saveId, kind: 'command', command: program, stdout: '', stderr: '', exitCode: 0, durationMs: 0, timedOut: false, truncated: false };
}

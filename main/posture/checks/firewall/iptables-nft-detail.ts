// iptables-nft writes its rules into nftables tables (`ip filter`, `ip6 filter` …) with `xt`
// expressions whose options `nft --json` does not print. iptables-save (nf_tables) prints the
// same tables in full, so where both describe the same chains with the same number of rules,
// iptables-save's rules stand in for nft's in the model.
import type { Chain, RulesetModel } from './packet-path-model.js';
import type { IptablesSave } from './iptables-save-reader.js';
import type { NftRuleset } from './nft-ruleset-reader.js';

export interface DetailedModel {
  readonly model: RulesetModel;
  /** Tables read from iptables-save instead of nft's JSON. */
  readonly fromIptablesSave: readonly string[];
  /** Tables with `xt` expressions that iptables-save could not stand in for. */
  readonly unresolved: readonly string[];
}

export function withIptablesDetail(nft: NftRuleset, saves: { readonly ip?: IptablesSave | undefined; readonly ip6?: IptablesSave | undefined }): DetailedModel {
  const tables = new Map<string, ReadonlyMap<string, Chain>>(nft.tables);
  const interfaces = new Set(nft.interfaces);
  const fromIptablesSave: string[] = [];
  const unresolved: string[] = [];
  for (const key of [...nft.xtTables].sort()) {
    const family = key.split(' ')[0];
    const save = family === 'ip' ? saves.ip : family === 'ip6' ? saves.ip6 : undefined;
    const theirs = save?.backend === 'nf_tables' ? save.tables.get(key) : undefined;
    const ours = nft.tables.get(key);
    if (theirs && ours && sameShape(ours, theirs)) {
      tables.set(key, theirs);
      for (const name of save?.interfaces ?? []) interfaces.add(name);
      fromIptablesSave.push(key);
    } else {
      unresolved.push(key);
    }
  }
  return { model: { tables, baseChains: nft.baseChains, interfaces }, fromIptablesSave, unresolved };
}

function sameShape(a: ReadonlyMap<string, Chain>, b: ReadonlyMap<string, Chain>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, chain] of a) {
    if (b.get(name)?.rules.length !== chain.rules.length) return false;
  }
  return true;
}

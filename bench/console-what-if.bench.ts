// The console's policy what-if over a fleet of BENCH_DEVICES (default 10,000) devices' last
// postures, against a baseline measured in the same run: one pass that reads the same rows and
// evaluates only the policy in force (what the service itself does per attestation). The
// what-if evaluates the policy in force and the draft, and keeps the devices it lists. The
// database is a real SQLite file (BENCH_DB=postgres: a fresh database on DTA_TEST_PG_URL's
// server), filled directly, as attestations would have left it.
import { join } from 'node:path';
import type { CheckId, Verdict } from '../common/posture.js';
import type { Db } from '../service/db/connect.js';
import { connectDatabase } from '../service/db/connect.js';
import { migrate } from '../service/db/migrate.js';
import { storedPostures, runWhatIf } from '../service/console/data/policy-what-if.js';
import { evaluatePosture } from '../service/policy/evaluate.js';
import { parsePolicy } from '../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../service/policy/policy-schema.js';
import { postureReport } from '../tests/kit/fake-device.js';
import { createPgDatabase } from '../tests/kit/service.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const KIND = process.env.BENCH_DB === 'postgres' ? 'postgres' : 'sqlite';
const STRICT_DRAFT = DEFAULT_POLICY_YAML.replace('version: 1', 'version: 2').replace('screen-lock: [pass, warn]', 'screen-lock: [pass]').replace('hardwareKeyRequiredFor: []', 'hardwareKeyRequiredFor: [full]');

const pg = KIND === 'postgres' ? await createPgDatabase() : null;
const db: Db = connectDatabase(pg !== null ? { kind: 'postgres', url: pg.url } : { kind: 'sqlite', path: join(tempFolderPath('dta-bench-'), 'service.db') });
try {
  await migrate(db, { now: () => new Date() });
  await fill(db, DEVICES);
  const current = parsePolicy(DEFAULT_POLICY_YAML);

  const baseline = async (): Promise<number> => {
    const now = Date.now();
    let evaluated = 0;
    for await (const batch of storedPostures(db)) {
      for (const d of batch) {
        evaluatePosture(d.report, d.platform, current, d.firstFailedAt, now, d.keyProtection);
        evaluated++;
      }
    }
    return evaluated;
  };
  const whatIf = async (): Promise<number> => (await runWhatIf(db, current, { draftText: STRICT_DRAFT }, Date.now())).totals.devices;

  // One warm-up of each, then the rounds alternate so both see the same machine.
  await baseline();
  await whatIf();
  const times = { baseline: [] as number[], whatIf: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of [['baseline', baseline], ['whatIf', whatIf]] as const) {
      const t0 = performance.now();
      const evaluated = await run();
      times[name].push(performance.now() - t0);
      if (evaluated !== DEVICES) throw new Error(`${name} evaluated ${evaluated} of ${DEVICES} devices`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const base = median(times.baseline);
  const what = median(times.whatIf);
  console.log(`devices: ${DEVICES}, ${KIND}, ${ROUNDS} rounds (medians)`);
  console.log(`baseline (read every last posture, evaluate the policy in force): ${base.toFixed(0)} ms`);
  console.log(`what-if (both policies, every device listed): ${what.toFixed(0)} ms`);
  console.log(`ratio what-if/baseline: ${(what / base).toFixed(2)}`);
  console.log(`heap used after: ${(process.memoryUsage().heapUsed / 1_048_576).toFixed(0)} MiB`);
} finally {
  await db.close();
  await pg?.drop();
}

/** `count` active devices, each with a last posture (a mix of verdicts, some hardware keys) and, for some, a running grace clock. */
async function fill(target: Db, count: number): Promise<void> {
  const now = Date.now();
  const verdicts: Verdict[] = ['pass', 'pass', 'pass', 'warn', 'fail'];
  const pick = (i: number, salt: number): Verdict => verdicts[(i * 7 + salt * 13) % verdicts.length] ?? 'pass';
  for (let start = 0; start < count; start += 500) {
    const ids = Array.from({ length: Math.min(500, count - start) }, (_, j) => (start + j).toString(16).padStart(32, '0'));
    await target.kysely.transaction().execute(async (trx) => {
      await trx.insertInto('devices').values(ids.map((id, j) => ({ id, status: 'active' as const, platform: 'linux', hostname: `ws-${start + j}`, created_at: now, updated_at: now, csr_pem: null, key_jkt: null, public_jwk: null, cert_pem: null, cert_serial: null, cert_sha256: null, cert_not_before: null, cert_not_after: null, last_attested_at: now, last_tier: 'full', rekey_csr_pem: null, rekey_jkt: null, key_protection: (start + j) % 4 === 0 ? 'hardware' : 'software', key_attested_jkt: null }))).execute();
      await trx
        .insertInto('device_posture')
        .values(
          ids.map((id, j) => {
            const i = start + j;
            const checks: Partial<Record<CheckId, Verdict>> = { 'os-patch': pick(i, 1), 'disk-encryption': pick(i, 2), firewall: pick(i, 3), 'screen-lock': pick(i, 4) };
            return { device_id: id, reported_at: now, platform: 'linux', key_protection: i % 4 === 0 ? 'hardware' : 'software', posture: JSON.stringify(postureReport('linux', checks)) };
          }),
        )
        .execute();
      await trx.insertInto('check_failures').values(ids.filter((_, j) => (start + j) % 5 === 0).map((id) => ({ device_id: id, check_id: 'screen-lock', first_failed_at: now - 3_600_000 }))).execute();
    });
  }
}

// What one attestation sends to PostgreSQL: its statements and round trips, counted by
// pg_stat_statements on a cluster of the bench's own (the shared test server is not restarted
// to load it). Deterministic, unlike time: the figure to compare before and after a change to
// the attestation path. One instance, devices enrolled and evidence signed before counting;
// every statement any connection of the instance sends while the attestations run is counted
// (one statement is one round trip: node-postgres sends parse, bind and execute together).
// BENCH_ATTESTATIONS (default 200), BENCH_CONCURRENCY (default 1: 16 would add nothing the count
// depends on).
import pg from 'pg';
import { benchSetup, prepareEvidence, runAttestations, startInstance } from './service-bench-kit.js';
import { startPrivatePostgres } from '../tests/kit/private-postgres.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const ATTESTATIONS = Number(process.env.BENCH_ATTESTATIONS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1);
const DEVICES = Math.ceil(ATTESTATIONS / 8);

interface StatementRow {
  query: string;
  calls: string;
  total_exec_time: number;
}

const server = await startPrivatePostgres();
try {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    // Its default track_utility = on counts BEGIN, COMMIT and SAVEPOINT too: round trips as well.
    await admin.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  } finally {
    await admin.end();
  }
  await server.restart();
  const stats = new pg.Client({ connectionString: server.url });
  await stats.connect();
  try {
    await stats.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const setup = await benchSetup(tempFolderPath('dta-bench-statements-'), server.url);
    const instance = await startInstance(setup);
    try {
      const prepared = await prepareEvidence([instance.url], setup.enrolmentSecret, DEVICES, ATTESTATIONS);
      await stats.query('SELECT pg_stat_statements_reset()');
      const run = await runAttestations(prepared, CONCURRENCY);
      if (run.failed > 0) throw new Error(`${run.failed} of ${ATTESTATIONS} attestations failed (${[...run.failures].map(([code, n]) => `${code} ${n}`).join(', ')})`);
      // Only the service's own statements: this connection's reset and read are left out.
      const rows = (
        await stats.query<StatementRow>(
          `SELECT query, calls::text AS calls, total_exec_time FROM pg_stat_statements
           WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
           ORDER BY calls DESC, query`,
        )
      ).rows;
      let total = 0;
      console.log(`attestations: ${ATTESTATIONS} from ${DEVICES} devices, concurrency ${CONCURRENCY}, one instance, PostgreSQL`);
      console.log('calls per attestation, mean ms per call, statement:');
      for (const row of rows) {
        const calls = Number(row.calls);
        total += calls;
        console.log(`${(calls / ATTESTATIONS).toFixed(2).padStart(6)}  ${(row.total_exec_time / calls).toFixed(3).padStart(7)}  ${row.query.replace(/\s+/g, ' ').slice(0, 230)}`);
      }
      console.log(`statements (= round trips) per attestation: ${(total / ATTESTATIONS).toFixed(2)}`);
    } finally {
      await instance.stop();
    }
  } finally {
    await stats.end();
  }
} finally {
  server.stop();
}

// The same-run baseline for bench/agent.bench.ts: a fresh Node process (with tsx, as the
// agent runs) that does only the raw protocol with a P-256 key: enrol, sign evidence, attest
// over HTTP, and print "token" once it has one. The agent's start-to-first-token time is
// printed as a ratio to this, so a slower machine does not read as a slower agent.
// Run by the bench: node --import tsx bench/raw-first-token.ts SERVICE_URL ENROLMENT_SECRET
import { FakeDevice } from '../tests/kit/fake-device.js';

const [url, secret] = process.argv.slice(2);
if (url === undefined || secret === undefined) throw new Error('usage: raw-first-token.ts SERVICE_URL ENROLMENT_SECRET');
const device = await FakeDevice.create();
const enrolled = await device.enrol(url, secret);
if (enrolled.status !== 201) throw new Error(`enrolment answered ${enrolled.status}`);
const attested = await device.attest(url);
if (attested.status !== 200) throw new Error(`attestation answered ${attested.status}`);
console.log('token');

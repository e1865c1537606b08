// The HTTP floor for bench/service.bench.ts: the service's own web framework (Fastify, as
// service/http/app.ts configures it) answering POST /v1/attest with an answer the size of a
// real one, and doing nothing else: no signature, no database, no policy. What the service
// costs above this is what an attestation adds to an HTTP exchange on this machine.
//   node --import tsx bench/http-floor-server.ts PORT ANSWER_BYTES
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const answerBytes = Number(process.argv[3]);
if (!Number.isInteger(port) || !Number.isInteger(answerBytes)) throw new Error('usage: http-floor-server.ts PORT ANSWER_BYTES');
const answer = { token: 'x'.repeat(Math.max(0, answerBytes - 200)), expiresAt: new Date().toISOString(), tier: 'full', attestationId: 'att_floor', reasons: [] };
const app = Fastify({ logger: false, bodyLimit: 512 * 1024, return503OnClosing: true });
app.post('/v1/attest', (req, reply) => {
  // Read the field the service reads, so the body is parsed and used, not skipped.
  const body = req.body as { evidence?: unknown };
  if (typeof body.evidence !== 'string') return reply.code(400).send({ error: 'no evidence' });
  return reply.send(answer);
});
app.get('/readyz', (_req, reply) => reply.send({ ready: true }));
await app.listen({ host: '127.0.0.1', port });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));

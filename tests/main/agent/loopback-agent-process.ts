// A real agent (its key in a private key folder, a scripted healthy posture) against the real
// service on loopback, serving the real loopback token endpoint, in a process of its own: a
// test can then see whether a request ends the process, as it would end `dta agent`.
// Run directly it prints one JSON line {"port": N} and serves until its stdin closes.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessServicesFrom } from '../../../common/agent-config.js';
import type { BucketPolicy } from '../../../main/agent/request-budget.js';
import { startTokenEndpoint } from '../../../main/agent/token-endpoint.js';
import { healthyAgent } from '../../kit/healthy-agent.js';
import { startTestService } from '../../kit/service.js';

/** What the endpoint allows, as [key, values] pairs (they cross a process boundary as JSON). */
export interface EndpointSpec {
  readonly origins: [string, string[]][];
  readonly accessServices: [string, string[]][];
  readonly limits?: { perOrigin: BucketPolicy; global: BucketPolicy };
}

export interface AgentProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** The exit code once the process has ended, else null. */
  exitCode(): number | null;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startAgentProcess(spec: EndpointSpec): Promise<AgentProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = /^(\{.*\})\n/m.exec(out)?.[1];
      if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`the agent process ended (${code}) before it listened: ${stderr.slice(-2000)}`)));
  });
  return {
    port,
    child,
    exitCode: () => child.exitCode ?? (child.signalCode !== null ? -1 : null),
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin?.end();
      await ended;
    },
  };
}

async function serve(spec: EndpointSpec): Promise<void> {
  const svc = await startTestService();
  const agent = healthyAgent(svc);
  await agent.start();
  const endpoint = await startTokenEndpoint({ agent, allowedOrigins: new Map(spec.origins), accessServices: accessServicesFrom(spec.accessServices), port: 0, ...(spec.limits ? { limits: spec.limits } : {}) });
  process.stdout.write(`${JSON.stringify({ port: endpoint.port })}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => {
    agent.stop();
    void endpoint
      .close()
      .then(() => svc.close())
      .finally(() => process.exit(0));
  });
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await serve(JSON.parse(process.argv[2] ?? '{}') as EndpointSpec);
}

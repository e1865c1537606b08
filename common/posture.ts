// Contracts of the posture engine: check results, the report, the policy the
// checks judge against, probe records and the support bundle.
import { Type, type Static } from '@sinclair/typebox';

export const VerdictSchema = Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail'), Type.Literal('unknown')]);
export type Verdict = Static<typeof VerdictSchema>;

export const CHECK_IDS = ['os-patch', 'disk-encryption', 'firewall', 'screen-lock', 'antivirus'] as const;
export const CheckIdSchema = Type.Union(CHECK_IDS.map((id) => Type.Literal(id)));
export type CheckId = (typeof CHECK_IDS)[number];

export const PLATFORMS = ['win32', 'darwin', 'linux'] as const;
export const PlatformSchema = Type.Union(PLATFORMS.map((p) => Type.Literal(p)));
export type Platform = (typeof PLATFORMS)[number];

/** Raw facts a check judged: JSON values only, so they travel in evidence and bundles. */
export const FactsSchema = Type.Record(Type.String({ maxLength: 64 }), Type.Unknown());
export type Facts = Record<string, unknown>;

export const CheckResultSchema = Type.Object(
  {
    id: CheckIdSchema,
    verdict: VerdictSchema,
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    remediation: Type.String({ pattern: '^[a-z0-9-]+(\\.[a-z0-9-]+)*$', maxLength: 64 }),
    facts: FactsSchema,
    durationMs: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type CheckResult = Static<typeof CheckResultSchema>;

export const PostureReportSchema = Type.Object(
  {
    schema: Type.Literal('dta-posture-report/1'),
    collectedAt: Type.String({ format: 'date-time' }),
    platform: PlatformSchema,
    verdict: VerdictSchema,
    checks: Type.Array(CheckResultSchema, { maxItems: 32 }),
    durationMs: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type PostureReport = Static<typeof PostureReportSchema>;

const DateSchema = Type.String({ format: 'date' });

/**
 * IT's additions to the agent's support data (the Windows cumulative update table and the support
 * calendars), for releases and updates newer than the agent's own data, and how old that data may
 * grow before IT is told. An entry for a release the agent knows replaces the agent's dates.
 */
export const SupportDataSchema = Type.Object(
  {
    /** Days after the data was last reviewed before IT is told it is stale (a fact for IT, not a verdict for the clinician). */
    maxAgeDays: Type.Integer({ minimum: 7, maximum: 730 }),
    /** The day IT reviewed its additions against the vendors' pages; null when it added none. */
    reviewedOn: Type.Union([DateSchema, Type.Null()]),
    windowsUpdates: Type.Array(
      Type.Object(
        {
          build: Type.Integer({ minimum: 10240 }),
          channel: Type.Union([Type.Literal('client'), Type.Literal('server')]),
          /** The update build revision (UBR) this security update brings. */
          ubr: Type.Integer({ minimum: 0 }),
          releasedOn: DateSchema,
          kb: Type.Optional(Type.String({ pattern: '^KB[0-9]{6,8}$' })),
        },
        { additionalProperties: false },
      ),
      { maxItems: 1000 },
    ),
    windowsReleases: Type.Array(
      Type.Object(
        {
          build: Type.Integer({ minimum: 10240 }),
          edition: Type.Union([Type.Literal('consumer'), Type.Literal('enterprise'), Type.Literal('ltsc'), Type.Literal('iot-ltsc'), Type.Literal('server')]),
          name: Type.String({ minLength: 1, maxLength: 80 }),
          /** The last day of security updates. */
          endsOn: DateSchema,
        },
        { additionalProperties: false },
      ),
      { maxItems: 200 },
    ),
    linuxReleases: Type.Array(
      Type.Object(
        {
          /** os-release ID, e.g. debian, ubuntu, rhel, fedora, sles. */
          id: Type.String({ pattern: '^[a-z0-9._-]{1,40}$' }),
          /** os-release VERSION_ID, e.g. 12, 24.04, 9, 15.7. */
          versionId: Type.String({ pattern: '^[0-9A-Za-z._-]{1,20}$' }),
          endsOn: DateSchema,
          /** A free extended phase (Debian LTS) or, with `extendedNeeds`, a paid one. */
          extendedEndsOn: Type.Optional(DateSchema),
          extendedNeeds: Type.Optional(Type.Union([Type.Literal('nothing'), Type.Literal('ubuntu-pro')])),
        },
        { additionalProperties: false },
      ),
      { maxItems: 200 },
    ),
    macosReleases: Type.Array(
      Type.Object({ major: Type.Integer({ minimum: 10, maximum: 99 }), name: Type.String({ minLength: 1, maxLength: 60 }), releasedOn: DateSchema }, { additionalProperties: false }),
      { maxItems: 40 },
    ),
  },
  { additionalProperties: false },
);
export type SupportData = Static<typeof SupportDataSchema>;

export function defaultSupportData(): SupportData {
  return { maxAgeDays: 45, reviewedOn: null, windowsUpdates: [], windowsReleases: [], linuxReleases: [], macosReleases: [] };
}

export const PosturePolicySchema = Type.Object(
  {
    updates: Type.Object(
      {
        /** Days since the last installed security or quality update before a warning. */
        warnAfterDays: Type.Integer({ minimum: 1, maximum: 365 }),
        /** Days since the last update before the check fails. */
        failAfterDays: Type.Integer({ minimum: 1, maximum: 730 }),
      },
      { additionalProperties: false },
    ),
    windows: Type.Object(
      {
        /** Minimum build of the general availability channel (Home, Pro, Enterprise, Education); LTSC and Server follow their own calendar. */
        minimumBuild: Type.Integer({ minimum: 10240 }),
        /** Minimum update build revision (UBR) per build, e.g. { "26100": 4349 }. */
        minimumUbr: Type.Record(Type.String({ pattern: '^[0-9]+$' }), Type.Integer({ minimum: 0 })),
        /** The date the organisation's Windows 10 Extended Security Updates run to; null when it has none. */
        windows10EsuUntil: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    macos: Type.Object(
      {
        minimumVersion: Type.String({ pattern: '^[0-9]+(\\.[0-9]+){0,2}$' }),
        /** How many of the newest macOS majors count as supported (Apple patches about three); absent: 3. */
        supportedMajors: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
      },
      { additionalProperties: false },
    ),
    linux: Type.Object(
      {
        /** Count a release in its vendor's extended / LTS phase (Debian LTS; Ubuntu ESM where Ubuntu Pro is attached) as supported. */
        allowExtendedSupport: Type.Boolean(),
        minimumKernel: Type.Union([Type.String({ pattern: '^[0-9]+(\\.[0-9]+){0,2}$' }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    screenLock: Type.Object({ maxIdleSeconds: Type.Integer({ minimum: 30, maximum: 7200 }) }, { additionalProperties: false }),
    /** Deadline of one check, probes included. */
    checkDeadlineMs: Type.Integer({ minimum: 100, maximum: 60000 }),
    /** IT's additions to the support calendars and the Windows update table; absent (older bundles): none. */
    supportData: Type.Optional(SupportDataSchema),
  },
  { additionalProperties: false },
);
export type PosturePolicy = Static<typeof PosturePolicySchema>;

export function defaultPosturePolicy(): PosturePolicy {
  return {
    updates: { warnAfterDays: 35, failAfterDays: 60 },
    windows: { minimumBuild: 19044, minimumUbr: {}, windows10EsuUntil: null },
    macos: { minimumVersion: '14.0', supportedMajors: 3 },
    linux: { allowExtendedSupport: true, minimumKernel: null },
    screenLock: { maxIdleSeconds: 900 },
    checkDeadlineMs: 5000,
    supportData: defaultSupportData(),
  };
}

export const ProbeKindSchema = Type.Union([Type.Literal('command'), Type.Literal('file'), Type.Literal('powershell')]);
export type ProbeKind = Static<typeof ProbeKindSchema>;

export const ProbeRecordSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9]+(\\.[a-z0-9-]+)+$', maxLength: 64 }),
    kind: ProbeKindSchema,
    /** What ran: the argv joined with spaces, a file path, or the PowerShell script. */
    command: Type.String({ maxLength: 8192 }),
    stdout: Type.String(),
    stderr: Type.String(),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    durationMs: Type.Number({ minimum: 0 }),
    timedOut: Type.Boolean(),
    truncated: Type.Boolean(),
    /** Set when the probe could not run: the tool is missing, access was denied, and so on. */
    error: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 2000 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type ProbeRecord = Static<typeof ProbeRecordSchema>;

export const SupportBundleSchema = Type.Object(
  {
    schema: Type.Literal('dta-support-bundle/1'),
    createdAt: Type.String({ format: 'date-time' }),
    agent: Type.Object({ name: Type.String({ maxLength: 100 }), version: Type.String({ maxLength: 50 }) }, { additionalProperties: false }),
    platform: PlatformSchema,
    arch: Type.String({ maxLength: 32 }),
    policy: PosturePolicySchema,
    probes: Type.Array(ProbeRecordSchema, { maxItems: 200 }),
    report: PostureReportSchema,
  },
  { additionalProperties: false },
);
export type SupportBundle = Static<typeof SupportBundleSchema>;

const VERDICT_RANK: Record<Verdict, number> = { pass: 0, warn: 1, unknown: 2, fail: 3 };

/** The worst verdict: a failure outranks an unknown, which outranks a warning. */
export function worstVerdict(verdicts: readonly Verdict[]): Verdict {
  let worst: Verdict = 'pass';
  for (const v of verdicts) if (VERDICT_RANK[v] > VERDICT_RANK[worst]) worst = v;
  return worst;
}

// When each Windows release stops getting security updates, per servicing channel. The last
// day is the last Patch Tuesday of the release. Sources (Microsoft Learn, checked through the
// copies collected by altrhombus/DataForGeeks on 2026-07-22 and 2026-08-06, and the Windows 11
// release information page as quoted by Atliso-Dev/win11-eos-audit v1.1.0 / v1.1.1, checked by
// them 2026-10-23 and 2026-11-04):
// - General availability channel: learn.microsoft.com/lifecycle/products/windows-11-home-and-pro,
//   .../windows-11-enterprise-and-education, .../windows-10-home-and-pro,
//   .../windows-10-enterprise-and-education; 24 months for Home/Pro, 36 for Enterprise/Education.
// - LTSC/LTSB: learn.microsoft.com/windows/release-health/release-information and
//   .../windows11-release-information ("Enterprise and IoT Enterprise LTSB/LTSC editions").
// - Server: learn.microsoft.com/lifecycle/products/windows-server-2016 … -2025 (extended end), and
//   .../windows-server-annual-channel (23H2: end of servicing 2025-10-24).
// - Windows 10 22H2 Extended Security Updates for organisations: three paid years, to 2028-10-10
//   (learn.microsoft.com/windows/whats-new/extended-security-updates); a device has them only
//   where the organisation bought them, which policy says (windows.windows10EsuUntil).

export type WindowsChannel = 'client' | 'server';
/** Home/Pro; Enterprise/Education (and IoT Enterprise GA); LTSC/LTSB; IoT Enterprise LTSC; Server. */
export type WindowsEditionClass = 'consumer' | 'enterprise' | 'ltsc' | 'iot-ltsc' | 'server';
export const WINDOWS_EDITION_CLASSES: readonly WindowsEditionClass[] = ['consumer', 'enterprise', 'ltsc', 'iot-ltsc', 'server'];

export interface WindowsRelease {
  readonly build: number;
  /** Names per channel, for reasons: "Windows 11 24H2", "Windows 10 Enterprise LTSC 2021", "Windows Server 2022". */
  readonly names: Partial<Record<WindowsEditionClass, string>>;
  /** Last day of security updates per edition class; absent: that edition was never released on this build. */
  readonly endsOn: Partial<Record<WindowsEditionClass, string>>;
}

export const WINDOWS_RELEASES_REVIEWED_ON = '2026-11-04';

export const WINDOWS_RELEASES: readonly WindowsRelease[] = [
  { build: 28000, names: { consumer: 'Windows 11 26H1', enterprise: 'Windows 11 26H1' }, endsOn: { consumer: '2028-03-14', enterprise: '2029-03-13' } },
  { build: 26300, names: { consumer: 'Windows 11 26H2', enterprise: 'Windows 11 26H2' }, endsOn: { consumer: '2028-10-10', enterprise: '2029-10-09' } },
  { build: 26200, names: { consumer: 'Windows 11 25H2', enterprise: 'Windows 11 25H2' }, endsOn: { consumer: '2027-10-12', enterprise: '2028-10-10' } },
  {
    build: 26100,
    names: { consumer: 'Windows 11 24H2', enterprise: 'Windows 11 24H2', ltsc: 'Windows 11 Enterprise LTSC 2024', 'iot-ltsc': 'Windows 11 IoT Enterprise LTSC 2024', server: 'Windows Server 2025' },
    endsOn: { consumer: '2026-10-13', enterprise: '2027-10-12', ltsc: '2029-10-09', 'iot-ltsc': '2034-10-10', server: '2034-11-14' },
  },
  { build: 25398, names: { server: 'Windows Server 23H2' }, endsOn: { server: '2025-10-24' } },
  { build: 22631, names: { consumer: 'Windows 11 23H2', enterprise: 'Windows 11 23H2' }, endsOn: { consumer: '2025-11-11', enterprise: '2026-11-10' } },
  { build: 22621, names: { consumer: 'Windows 11 22H2', enterprise: 'Windows 11 22H2' }, endsOn: { consumer: '2024-10-08', enterprise: '2025-10-14' } },
  { build: 22000, names: { consumer: 'Windows 11 21H2', enterprise: 'Windows 11 21H2' }, endsOn: { consumer: '2023-10-10', enterprise: '2024-10-08' } },
  { build: 20348, names: { server: 'Windows Server 2022' }, endsOn: { server: '2031-10-14' } },
  { build: 19045, names: { consumer: 'Windows 10 22H2', enterprise: 'Windows 10 22H2' }, endsOn: { consumer: '2025-10-14', enterprise: '2025-10-14' } },
  {
    build: 19044,
    names: { consumer: 'Windows 10 21H2', enterprise: 'Windows 10 21H2', ltsc: 'Windows 10 Enterprise LTSC 2021', 'iot-ltsc': 'Windows 10 IoT Enterprise LTSC 2021' },
    endsOn: { consumer: '2023-06-13', enterprise: '2024-06-11', ltsc: '2027-01-12', 'iot-ltsc': '2032-01-13' },
  },
  {
    build: 17763,
    names: { consumer: 'Windows 10 1809', enterprise: 'Windows 10 1809', ltsc: 'Windows 10 Enterprise LTSC 2019', 'iot-ltsc': 'Windows 10 IoT Enterprise LTSC 2019', server: 'Windows Server 2019' },
    endsOn: { consumer: '2020-11-10', enterprise: '2021-05-11', ltsc: '2029-01-09', 'iot-ltsc': '2029-01-09', server: '2029-01-09' },
  },
  {
    build: 14393,
    names: { consumer: 'Windows 10 1607', enterprise: 'Windows 10 1607', ltsc: 'Windows 10 Enterprise LTSB 2016', 'iot-ltsc': 'Windows 10 IoT Enterprise LTSB 2016', server: 'Windows Server 2016' },
    endsOn: { consumer: '2018-04-10', enterprise: '2019-04-09', ltsc: '2026-10-13', 'iot-ltsc': '2026-10-13', server: '2027-01-12' },
  },
  {
    build: 10240,
    names: { consumer: 'Windows 10 1507', enterprise: 'Windows 10 1507', ltsc: 'Windows 10 Enterprise LTSB 2015', 'iot-ltsc': 'Windows 10 IoT Enterprise LTSB 2015' },
    endsOn: { consumer: '2017-05-09', enterprise: '2017-05-09', ltsc: '2025-10-14', 'iot-ltsc': '2025-10-14' },
  },
];

/** Windows 10 22H2 commercial Extended Security Updates run to this day at most. */
export const WINDOWS10_ESU_LAST_DAY = '2028-10-10';

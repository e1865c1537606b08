// Generates every tray icon from one SVG source per state, at 16, 32 and 64 px (PNG,
// rendered by Debian's Chromium), into build/icons/. Each icon is a shape with a dark
// outline and a light fill, so it reads at 16 px on light and dark menu bars alike; the
// states differ by shape as well as colour. Run: node --import tsx scripts/generate-icons.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { TRAY_ICONS, type TrayIcon } from '../main/ui/tray-model.js';

const GLYPH: Record<TrayIcon, { fill: string; path: string }> = {
  // shield with a check mark
  compliant: { fill: '#2e9e55', path: 'M5 9l3 3 5-6' },
  // shield with an exclamation mark
  warning: { fill: '#f0a020', path: 'M9 4.5v5.5M9 13v.5' },
  // shield with a cross
  blocked: { fill: '#d93a30', path: 'M6 6l6 6M12 6l-6 6' },
  // shield with a gap (no link)
  offline: { fill: '#8a96a3', path: 'M5 9h2.5M10.5 9H13' },
  // shield with three dots
  checking: { fill: '#3b78d8', path: 'M5.5 9h.01M9 9h.01M12.5 9h.01' },
};

export function iconSvg(state: TrayIcon): string {
  const g = GLYPH[state];
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 18 18"><path d="M9 1.2l6.6 2.6v4.6c0 4-2.8 7.2-6.6 8.4C5.2 15.6 2.4 12.4 2.4 8.4V3.8z" fill="${g.fill}" stroke="#1b1f24" stroke-width="1.2" stroke-linejoin="round"/><path d="${g.path}" fill="none" stroke="#ffffff" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/></svg>`;
}

export const ICON_SIZES = [16, 32, 64] as const;

export async function generateIcons(outDir: string): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const written: string[] = [];
  try {
    for (const size of ICON_SIZES) {
      const page = await browser.newPage({ viewport: { width: size, height: size }, deviceScaleFactor: 1 });
      for (const state of TRAY_ICONS) {
        await page.setContent(`<html><body style="margin:0;background:transparent">${iconSvg(state).replace('<svg ', `<svg width="${size}" height="${size}" `)}</body></html>`);
        const png = await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } });
        const name = size === 16 ? `tray-${state}.png` : size === 32 ? `tray-${state}@2x.png` : `tray-${state}@4x.png`;
        writeFileSync(join(outDir, name), png);
        written.push(name);
      }
      await page.close();
    }
    // The application icon (installers, About): the same shield, large, in the brand colour.
    for (const [size, name] of [[512, 'icon.png'], [256, 'icon-256.png']] as const) {
      const page = await browser.newPage({ viewport: { width: size, height: size }, deviceScaleFactor: 1 });
      await page.setContent(`<html><body style="margin:0;background:transparent">${iconSvg('checking').replace('<svg ', `<svg width="${size}" height="${size}" `)}</body></html>`);
      writeFileSync(join(outDir, '..', name), await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } }));
      written.push(name);
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return written;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const written = await generateIcons(join(import.meta.dirname, '..', 'build', 'icons'));
  process.stdout.write(`wrote ${written.length} icons to build/icons\n`);
}

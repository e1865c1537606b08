// CSV as RFC 4180 writes it, safe to open in a spreadsheet: a cell that a spreadsheet would run
// as a formula (starting with =, +, -, @, or a tab or carriage return that some strip first;
// OWASP "CSV Injection") is prefixed with a single quote, so it shows as text. Audit records
// carry text that devices and people chose (hostnames, actors, messages), so every cell is.

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One record as a CSV line ending in CRLF (RFC 4180). */
export function csvRow(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export function csvHeader(columns: readonly string[]): string {
  return csvRow(columns);
}

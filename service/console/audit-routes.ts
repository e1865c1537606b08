// The console's audit page and its export: GET /console/audit (the filter form, a page of
// records, one record by its number) and GET /console/audit/export (exactly what the filter
// selects, as CSV or JSON Lines, streamed in the data layer's batches). Every reader may use
// both; a filter the console does not accept is BAD_INPUT before any record is read.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ConsolePageDeps } from './console-page-deps.js';
import { ConsoleError } from './console-errors.js';
import type { AuditPage } from './data/console-data-types.js';
import { renderAuditPage, AUDIT_PAGE_SIZE } from './pages/audit-page.js';
import { AUDIT_EXPORT_QUERY, AUDIT_PAGE_QUERY, auditFilterFrom, auditFormFrom, recordIdFrom } from './pages/audit-query.js';
import { queryFields } from './request-input.js';

export function registerAuditRoutes(scope: FastifyInstance, deps: ConsolePageDeps): void {
  const { data, readOrRefuse } = deps;

  scope.get('/audit', async (request, reply) => {
    const session = await deps.requireSession(request);
    const query = queryFields(request, AUDIT_PAGE_QUERY);
    const form = auditFormFrom(query);
    const filter = auditFilterFrom(form);
    const record = recordIdFrom('record', query.get('record'));
    const before = recordIdFrom('page start', query.get('before'));
    if (record !== undefined && before !== undefined) throw new ConsoleError('BAD_INPUT', 'Ask for one record or for a page, not both.');
    let result: AuditPage;
    if (record !== undefined) {
      // The newest record at or below the number that also passes the filter: it is the one asked for, or there is none.
      const found = await readOrRefuse(() => data.searchAudit(filter, { before: record + 1, limit: 1 }));
      result = { records: found.records.filter((r) => r.id === record), next: null };
    } else {
      result = await readOrRefuse(() => data.searchAudit(filter, { ...(before !== undefined ? { before } : {}), limit: AUDIT_PAGE_SIZE }));
    }
    return deps.page(reply, renderAuditPage(deps.context(request, session), { form, result, record: record ?? null, paged: before !== undefined }));
  });

  scope.get('/audit/export', async (request, reply) => {
    await deps.requireSession(request);
    const query = queryFields(request, AUDIT_EXPORT_QUERY);
    const format = query.get('format');
    if (format !== 'csv' && format !== 'jsonl') throw new ConsoleError('BAD_INPUT', 'The export format is csv or jsonl.');
    const filter = auditFilterFrom(auditFormFrom(query));
    // The data layer checks the filter before it returns the lines: a bad one is refused here, not mid-download.
    const lines = await readOrRefuse(() => Promise.resolve(data.exportAudit(filter, format)));
    return reply
      .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit.${format}"`)
      .send(Readable.from(lines));
  });
}

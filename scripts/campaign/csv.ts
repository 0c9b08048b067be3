import { placeCallRequestSchema, type PlaceCallRequest } from '../../shared/outbound-call.js';

/**
 * A campaign CSV: a header row, then one call per row. Columns `to` (required), `from`, `profile`, `notBefore` and
 * `idempotencyKey` are the request's fields; every other column goes into `context` for the agent. Each row is
 * checked with the API's own schema; a file with any bad row is refused whole (nothing is sent).
 */
export interface CampaignRow {
  rowNumber: number;
  request: PlaceCallRequest;
}

export interface CampaignProblem {
  rowNumber: number;
  field: string;
  message: string;
}

const REQUEST_COLUMNS = new Set(['to', 'from', 'profile', 'notBefore', 'idempotencyKey']);
export const MAX_CAMPAIGN_ROWS = 10_000;

/** RFC 4180 fields: commas, double quotes, "" inside quotes, CRLF or LF line ends. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0]!.trim() === ''));
}

export function readCampaign(text: string, options: { profile?: string; campaign: string }): { rows: CampaignRow[]; problems: CampaignProblem[] } {
  let table: string[][];
  try {
    table = parseCsv(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    return { rows: [], problems: [{ rowNumber: 0, field: 'file', message: (error as Error).message }] };
  }
  const [header, ...body] = table;
  if (!header) return { rows: [], problems: [{ rowNumber: 0, field: 'file', message: 'empty: expected a header row with a "to" column' }] };
  const columns = header.map((h) => h.trim());
  if (!columns.includes('to')) return { rows: [], problems: [{ rowNumber: 1, field: 'header', message: 'no "to" column' }] };
  if (body.length > MAX_CAMPAIGN_ROWS) return { rows: [], problems: [{ rowNumber: 0, field: 'file', message: `more than ${MAX_CAMPAIGN_ROWS} rows` }] };
  const rows: CampaignRow[] = [];
  const problems: CampaignProblem[] = [];
  body.forEach((cells, index) => {
    const rowNumber = index + 2;
    if (cells.length !== columns.length) {
      problems.push({ rowNumber, field: 'row', message: `${cells.length} fields, the header has ${columns.length}` });
      return;
    }
    const request: Record<string, unknown> = {};
    const context: Record<string, string> = {};
    columns.forEach((column, i) => {
      const value = cells[i]!.trim();
      if (value === '') return;
      if (REQUEST_COLUMNS.has(column)) request[column] = value;
      else context[column] = value;
    });
    if (options.profile && !request.profile) request.profile = options.profile;
    if (Object.keys(context).length > 0) request.context = context;
    request.idempotencyKey ??= `${options.campaign}:${rowNumber}`.slice(0, 128);
    const parsed = placeCallRequestSchema.safeParse(request);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push({ rowNumber, field: issue.path.join('.') || 'row', message: issue.message });
      return;
    }
    rows.push({ rowNumber, request: parsed.data });
  });
  return { rows, problems };
}

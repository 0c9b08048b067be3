import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';

/**
 * The ACS Phone Numbers REST operations `npm run number` needs, for the real `PhoneNumbersClient`
 * (@azure/communication-phone-numbers) through a connection string: search available numbers (a long-running
 * operation whose result is read from its Location), get the search result, purchase (long-running), list purchased
 * numbers, release (long-running) and the operation status the SDK polls. Requests are signed with the resource's
 * access key (HMAC-SHA256, as Call Automation's); bodies and enum values are checked as the REST reference states
 * them. Mounted into the ACS emulator's REST server (`emulator.ts`); tests script refusals through `refuseNext`.
 * Where the service's behaviour is not documented (which offerings exist, how an ineligible subscription is refused)
 * the lab makes a choice, listed in docs/fidelity/acs.md.
 */

/** The api-version @azure/communication-phone-numbers 1.5.0 sends; the REST reference documents the same. */
export const PHONE_NUMBERS_API_VERSIONS = ['2025-06-01'] as const;

export type PhoneNumberType = 'geographic' | 'tollFree' | 'mobile';

export interface PurchasedNumber {
  id: string;
  phoneNumber: string;
  countryCode: string;
  phoneNumberType: PhoneNumberType;
  capabilities: { calling: string; sms: string };
  assignmentType: string;
  purchaseDate: string;
  cost: { amount: number; currencyCode: string; billingFrequency: 'monthly' };
}

interface SearchRecord {
  searchId: string;
  countryCode: string;
  phoneNumbers: string[];
  phoneNumberType: PhoneNumberType;
  assignmentType: string;
  capabilities: { calling: string; sms: string };
  cost: PurchasedNumber['cost'];
  searchExpiresBy: Date;
  purchased: boolean;
}

interface OperationRecord {
  id: string;
  operationType: 'search' | 'purchase' | 'releasePhoneNumber';
  status: 'succeeded' | 'failed';
  createdDateTime: string;
  resourceLocation?: string;
  error?: { code: string; message: string };
}

/** What one refused request answers: an HTTP status and the ACS error body. */
export interface PhoneNumbersRefusal {
  status: number;
  code: string;
  message: string;
}

export type PhoneNumbersOperationName = 'search' | 'purchase' | 'release' | 'list';

export interface PhoneNumbersPeer {
  /** Whether a request path is one of the phone numbers routes this module serves. */
  handles(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, rawBody: Buffer): void;
  /** Numbers bought and not released, by E.164 number. */
  readonly purchased: ReadonlyMap<string, PurchasedNumber>;
  /** Every request, in order: operation, whether its signature checked out, the status answered. */
  readonly requests: readonly { method: string; path: string; apiVersion: string | null; authenticated: boolean; status: number }[];
  /** The next request of `operation` is refused with this status and error (e.g. how an ineligible subscription is). */
  refuseNext(operation: PhoneNumbersOperationName, refusal: PhoneNumbersRefusal): void;
  /** A number already owned, as if bought earlier (in the portal). */
  addPurchased(number: string, type?: PhoneNumberType): void;
}

/** The offerings the lab sells: the monthly cost each reports (lab figures, see docs/fidelity/acs.md). */
const OFFERINGS: Record<string, Partial<Record<PhoneNumberType, { prefix: string; monthly: number; currencyCode: string }>>> = {
  US: { tollFree: { prefix: '+1833555', monthly: 2, currencyCode: 'USD' }, geographic: { prefix: '+1425555', monthly: 1, currencyCode: 'USD' } },
  CA: { tollFree: { prefix: '+1844555', monthly: 2, currencyCode: 'USD' }, geographic: { prefix: '+1604555', monthly: 1, currencyCode: 'USD' } },
};
const SEARCH_LIFETIME_MS = 15 * 60_000;
const capability = z.enum(['none', 'inbound', 'outbound', 'inbound+outbound']);
const searchBody = z.object({
  phoneNumberType: z.enum(['geographic', 'tollFree', 'mobile']),
  assignmentType: z.enum(['person', 'application']),
  capabilities: z.object({ calling: capability, sms: capability }),
  areaCode: z.string().regex(/^\d{3}$/, 'must be 3 digits').optional(),
  quantity: z.number().int().min(1).max(10).optional(),
});
const purchaseBody = z.object({ searchId: z.string().min(1), agreeToNotResell: z.boolean().optional() });

const SEARCH_PATH = /^\/availablePhoneNumbers\/countries\/([A-Za-z]{2})\/:search$/;
const SEARCH_RESULT_PATH = /^\/availablePhoneNumbers\/searchResults\/([^/]+)$/;
const OPERATION_PATH = /^\/phoneNumbers\/operations\/([^/]+)$/;
const NUMBER_PATH = /^\/phoneNumbers\/([^/]+)$/;

export function createPhoneNumbersPeer(options: { accessKey: string; maxClockSkewMs?: number }): PhoneNumbersPeer {
  const key = Buffer.from(options.accessKey, 'base64');
  const maxSkewMs = options.maxClockSkewMs ?? 15 * 60_000;
  const purchased = new Map<string, PurchasedNumber>();
  const searches = new Map<string, SearchRecord>();
  const operations = new Map<string, OperationRecord>();
  const refusals = new Map<PhoneNumbersOperationName, PhoneNumbersRefusal[]>();
  const requests: { method: string; path: string; apiVersion: string | null; authenticated: boolean; status: number }[] = [];

  const error = (status: number, code: string, message: string) => ({ status, body: { error: { code, message } } });

  function signatureProblem(req: IncomingMessage, rawBody: Buffer): string | undefined {
    const { authorization, host } = req.headers;
    const date = req.headers['x-ms-date'];
    const contentHash = req.headers['x-ms-content-sha256'];
    const match = typeof authorization === 'string' ? /^HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=(.+)$/.exec(authorization) : null;
    if (!match?.[1]) return 'request is not signed with HMAC-SHA256';
    if (typeof date !== 'string' || typeof contentHash !== 'string' || !host) return 'x-ms-date, x-ms-content-sha256 or Host missing';
    const sentAt = Date.parse(date);
    if (Number.isNaN(sentAt) || Math.abs(Date.now() - sentAt) > maxSkewMs) return 'x-ms-date outside the allowed clock skew';
    if (createHash('sha256').update(rawBody).digest('base64') !== contentHash) return 'x-ms-content-sha256 does not match the body';
    const url = new URL(req.url ?? '/', `http://${host}`);
    const query = url.searchParams.toString();
    const stringToSign = `${(req.method ?? 'GET').toUpperCase()}\n${query ? `${url.pathname}?${query}` : url.pathname}\n${date};${host};${contentHash}`;
    const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
    const given = Buffer.from(match[1], 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : 'signature does not match';
  }

  function operation(type: OperationRecord['operationType'], id: string, resourceLocation?: string, failure?: { code: string; message: string }): OperationRecord {
    const record: OperationRecord = {
      id: `${type}_${id}`,
      operationType: type,
      status: failure ? 'failed' : 'succeeded',
      createdDateTime: new Date().toISOString(),
      ...(resourceLocation ? { resourceLocation } : {}),
      ...(failure ? { error: failure } : {}),
    };
    operations.set(record.id, record);
    return record;
  }

  /** 202 with the headers the SDK's poller follows (names and shapes of the REST reference's examples). */
  const accepted = (record: OperationRecord, extra: Record<string, string> = {}) => ({
    status: 202,
    headers: { 'operation-location': `/phoneNumbers/operations/${record.id}`, 'operation-id': record.id, ...extra },
  });

  function search(countryCode: string, raw: Buffer) {
    const parsed = parseBody(searchBody, raw);
    if ('status' in parsed) return parsed;
    const body = parsed.value;
    const offering = OFFERINGS[countryCode.toUpperCase()]?.[body.phoneNumberType];
    const searchId = randomUUID();
    if (!offering) {
      const record = operation('search', searchId, undefined, { code: 'NoOfferingsFound', message: `No ${body.phoneNumberType} numbers are offered in ${countryCode.toUpperCase()} for this subscription.` });
      return accepted(record, { location: `/availablePhoneNumbers/searchResults/${searchId}`, 'search-id': searchId });
    }
    const quantity = body.quantity ?? 1;
    const prefix = body.areaCode && body.phoneNumberType === 'geographic' ? `+1${body.areaCode}555` : offering.prefix;
    const taken = new Set([...purchased.keys(), ...[...searches.values()].filter((s) => !s.purchased && s.searchExpiresBy.getTime() > Date.now()).flatMap((s) => s.phoneNumbers)]);
    const numbers: string[] = [];
    for (let i = 0; i < 10_000 && numbers.length < quantity; i++) {
      const candidate = `${prefix}${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
      if (!taken.has(candidate) && !numbers.includes(candidate)) numbers.push(candidate);
    }
    searches.set(searchId, {
      searchId,
      countryCode: countryCode.toUpperCase(),
      phoneNumbers: numbers,
      phoneNumberType: body.phoneNumberType,
      assignmentType: body.assignmentType,
      capabilities: body.capabilities,
      cost: { amount: offering.monthly, currencyCode: offering.currencyCode, billingFrequency: 'monthly' },
      searchExpiresBy: new Date(Date.now() + SEARCH_LIFETIME_MS),
      purchased: false,
    });
    const location = `/availablePhoneNumbers/searchResults/${searchId}`;
    return accepted(operation('search', searchId, location), { location, 'search-id': searchId });
  }

  function purchase(raw: Buffer) {
    const parsed = parseBody(purchaseBody, raw);
    if ('status' in parsed) return parsed;
    const found = searches.get(parsed.value.searchId);
    if (!found) return error(404, 'NotFound', `Search ${parsed.value.searchId} was not found.`);
    if (found.purchased) return error(400, 'BadRequest', 'The numbers of this search were already purchased.');
    if (found.searchExpiresBy.getTime() <= Date.now()) return error(400, 'ReservationExpired', 'The search expired; search again.');
    found.purchased = true;
    for (const number of found.phoneNumbers) {
      purchased.set(number, {
        id: number.replace('+', ''),
        phoneNumber: number,
        countryCode: found.countryCode,
        phoneNumberType: found.phoneNumberType,
        capabilities: found.capabilities,
        assignmentType: found.assignmentType,
        purchaseDate: new Date().toISOString(),
        cost: found.cost,
      });
    }
    return accepted(operation('purchase', found.searchId), { 'purchase-id': found.searchId });
  }

  function route(method: string, path: string, raw: Buffer): { status: number; body?: unknown; headers?: Record<string, string> } {
    let match: RegExpExecArray | null;
    if (method === 'POST' && (match = SEARCH_PATH.exec(path))) return refused('search') ?? search(match[1]!, raw);
    if (method === 'POST' && path === '/availablePhoneNumbers/:purchase') return refused('purchase') ?? purchase(raw);
    if (method === 'GET' && (match = SEARCH_RESULT_PATH.exec(path))) {
      const found = searches.get(decodeURIComponent(match[1]!));
      if (!found) return error(404, 'NotFound', 'Search result not found.');
      const { purchased: _purchased, countryCode: _country, searchExpiresBy, ...result } = found;
      return { status: 200, body: { ...result, searchExpiresBy: searchExpiresBy.toISOString(), isAgreementToNotResellRequired: false } };
    }
    if (method === 'GET' && (match = OPERATION_PATH.exec(path))) {
      const found = operations.get(decodeURIComponent(match[1]!));
      if (!found) return error(404, 'NotFound', 'Operation not found.');
      return { status: 200, body: { ...found, lastActionDateTime: found.createdDateTime } };
    }
    if (method === 'GET' && path === '/phoneNumbers') return refused('list') ?? { status: 200, body: { phoneNumbers: [...purchased.values()] } };
    if (method === 'DELETE' && (match = NUMBER_PATH.exec(path))) {
      const refusal = refused('release');
      if (refusal) return refusal;
      const number = decodeURIComponent(match[1]!);
      if (!purchased.has(number)) return error(404, 'PhoneNumberNotFound', 'The phone number is not owned by this resource.');
      purchased.delete(number);
      return accepted(operation('releasePhoneNumber', randomUUID()), { 'release-id': number.replace('+', '') });
    }
    return error(404, 'NotFound', `no such phone numbers endpoint: ${method} ${path}`);
  }

  function refused(name: PhoneNumbersOperationName) {
    const refusal = refusals.get(name)?.shift();
    return refusal ? error(refusal.status, refusal.code, refusal.message) : undefined;
  }

  return {
    purchased,
    requests,
    handles: (path) => /^\/(availablePhoneNumbers|phoneNumbers)(\/|$)/.test(path),
    serve(req, res, raw) {
      const url = new URL(req.url ?? '/', 'http://lab');
      const method = req.method ?? 'GET';
      const apiVersion = url.searchParams.get('api-version');
      const problem = signatureProblem(req, raw);
      const reply = problem
        ? error(401, 'Unauthorized', `Denied: ${problem}`)
        : !apiVersion || !(PHONE_NUMBERS_API_VERSIONS as readonly string[]).includes(apiVersion)
          ? error(400, 'InvalidApiVersion', `api-version must be one of ${PHONE_NUMBERS_API_VERSIONS.join(', ')} (got ${apiVersion ?? 'none'})`)
          : route(method, url.pathname, raw);
      requests.push({ method, path: url.pathname, apiVersion, authenticated: !problem, status: reply.status });
      const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
      res.writeHead(reply.status, { ...('headers' in reply ? reply.headers : {}), ...(text ? { 'content-type': 'application/json' } : {}) });
      res.end(text);
    },
    refuseNext(name, refusal) {
      refusals.set(name, [...(refusals.get(name) ?? []), refusal]);
    },
    addPurchased(number, type = 'tollFree') {
      purchased.set(number, {
        id: number.replace('+', ''),
        phoneNumber: number,
        countryCode: 'US',
        phoneNumberType: type,
        capabilities: { calling: 'inbound+outbound', sms: 'none' },
        assignmentType: 'application',
        purchaseDate: new Date().toISOString(),
        cost: { amount: type === 'tollFree' ? 2 : 1, currencyCode: 'USD', billingFrequency: 'monthly' },
      });
    },
  };

  function parseBody<T>(schema: z.ZodType<T>, raw: Buffer): { value: T } | ReturnType<typeof error> {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8') || 'null');
    } catch {
      return error(400, 'BadRequest', 'body is not valid JSON');
    }
    const result = schema.safeParse(json);
    if (result.success) return { value: result.data };
    return error(400, 'BadRequest', result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
}

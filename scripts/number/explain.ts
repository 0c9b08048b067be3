/**
 * Turns what the Phone Numbers service answers into a message a user can act on. The codes and messages for a
 * subscription that may not buy numbers are not documented as a list: the patterns below are the ones the SDK's
 * types name (PhoneNumberSearchResultError) and the portal's wording ("isn't eligible to acquire phone numbers");
 * docs/phone-number.md says which are confirmed.
 */

export const PRICING_URL = 'https://azure.microsoft.com/pricing/details/communication-services/';
export const ELIGIBILITY_URL = 'https://learn.microsoft.com/azure/communication-services/concepts/numbers/sub-eligibility-number-capability';

const INELIGIBLE = /eligib|trial|free credit|NoWallet|NotEnoughCredit|BillingUnavailable|InvalidOfferModel|NotEnoughLicenses|AuthorizationDenied|offer type|billing (address|country)/i;

export const NOT_ELIGIBLE_EXPLANATION = [
  'This subscription cannot buy phone numbers. Azure sells numbers only to paid subscriptions (not free trials, Azure',
  'free credits or some offer types such as MSDN/Visual Studio) whose billing address is in a country that offers them:',
  `  ${ELIGIBILITY_URL}`,
  'What you can do instead:',
  '  - try the agent without a number: npm start (a softphone in the browser) or npm run call, all local;',
  '  - upgrade the subscription to pay-as-you-go (or use another paid subscription) and run this command again;',
  '  - on a trial: get a free trial phone number in the Azure portal (ACS resource > Phone numbers > Get trial number,',
  '    US only, preview, it calls verified numbers only) and add it with: azd env set CALLED_NUMBERS_ALLOWED <number>;',
  '  - bring your own carrier through ACS Direct Routing, or connect a Teams phone number.',
].join('\n');

interface ServiceError {
  statusCode?: number;
  code?: string;
  message: string;
}

function asServiceError(error: unknown): ServiceError {
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown; details?: { error?: { code?: unknown; message?: unknown } } };
  const inner = e.details?.error;
  return {
    ...(typeof e.statusCode === 'number' ? { statusCode: e.statusCode } : {}),
    ...(typeof inner?.code === 'string' ? { code: inner.code } : typeof e.code === 'string' ? { code: e.code } : {}),
    message: typeof inner?.message === 'string' ? inner.message : typeof e.message === 'string' ? e.message : String(error),
  };
}

/** One explanation for a failed phone numbers request or operation; `what` names the step ("search", "purchase"). */
export function explainPhoneNumbersError(error: unknown, what: string): string {
  const e = asServiceError(error);
  const said = `${e.statusCode ? `${e.statusCode} ` : ''}${e.code ? `${e.code}: ` : ''}${e.message}`.trim();
  if (INELIGIBLE.test(`${e.code ?? ''} ${e.message}`)) return `The ${what} was refused (${said}).\n${NOT_ELIGIBLE_EXPLANATION}`;
  if (e.statusCode === 401 || e.statusCode === 403) {
    return (
      `ACS refused the ${what} (${said}). With ACS_ENDPOINT your Azure login (az login / azd auth login) needs a role that ` +
      'may manage phone numbers on the ACS resource (Contributor or Owner); or set ACS_CONNECTION_STRING (the resource\'s keys).'
    );
  }
  if (/OutOfStock|NoOfferings|not available|no numbers/i.test(said)) {
    return `No number could be found (${said}). Try another type (--type geographic or toll-free), another --area-code, or another --country.`;
  }
  if (e.code === 'ENOTFOUND' || e.code === 'ECONNREFUSED' || e.code === 'REQUEST_SEND_ERROR') {
    return `Could not reach ACS for the ${what} (${said}): check ACS_ENDPOINT and your network.`;
  }
  return `The ${what} failed: ${said}`;
}

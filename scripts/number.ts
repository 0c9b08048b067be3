/**
 * `npm run number`: buys a phone number for the agent and wires it in, or releases one (docs/phone-number.md).
 * Search (calling inbound+outbound, assigned to an application), show the cost the API reports, confirm, purchase,
 * then add the number to the azd environment's CALLED_NUMBERS_ALLOWED (the IncomingCall filter and the Functions
 * app's allow list) for the next `azd provision` / `azd up`.
 */
import { createInterface } from 'node:readline';
import { DefaultAzureCredential } from '@azure/identity';
import { PhoneNumbersClient, type PhoneNumberSearchResult } from '@azure/communication-phone-numbers';
import { flagsToEnv, UsageError } from '../lab/config.js';
import { AzdError, azdEnvironment, listEntries, type AzdEnvironment } from './number/azd-env.js';
import { explainPhoneNumbersError, PRICING_URL } from './number/explain.js';

const USAGE = `usage: npm run number -- [--country US] [--type toll-free|geographic] [--area-code 425] [--yes] [--agree-to-not-resell]
       npm run number -- --release +18335550123 [--yes]
Buys one phone number that can take and make calls, after showing its cost and asking you, and adds it to the azd
environment's CALLED_NUMBERS_ALLOWED (run azd up, or azd provision and azd hooks run postdeploy, to apply it).
--release gives a number back and removes it from CALLED_NUMBERS_ALLOWED. The ACS resource: ACS_CONNECTION_STRING,
or ACS_ENDPOINT with your Azure login, from the environment or else the azd environment (--environment <name>).
--no-azd buys or releases without touching the azd environment. Buying costs money every month: docs/phone-number.md.`;

const FLAGS = {
  '--country': 'country',
  '--type': 'type',
  '--area-code': 'areaCode',
  '--release': 'release',
  '--environment': 'environment',
} as const;
const SWITCHES = ['--yes', '--agree-to-not-resell', '--no-azd', '--help', '-h'] as const;

const TYPES = { 'toll-free': 'tollFree', geographic: 'geographic' } as const;
const ALLOWED_SETTING = 'CALLED_NUMBERS_ALLOWED';
const E164 = /^\+[1-9]\d{6,14}$/;

interface Options {
  country: string;
  type: keyof typeof TYPES;
  areaCode?: string;
  release?: string;
  environment?: string;
  yes: boolean;
  agreeToNotResell: boolean;
  azd: boolean;
}

/** The user asked for something this command cannot do: one line, exit code 2. */
class CommandError extends Error {}

function parseOptions(argv: readonly string[]): Options | 'help' {
  const switches = new Set(argv.filter((a) => (SWITCHES as readonly string[]).includes(a)));
  if (switches.has('--help') || switches.has('-h')) return 'help';
  const flags = flagsToEnv(
    argv.filter((a) => !(SWITCHES as readonly string[]).includes(a)),
    FLAGS,
  );
  const type = (flags.type ?? 'toll-free').toLowerCase();
  if (!(type in TYPES)) throw new UsageError(`--type must be toll-free or geographic (got ${flags.type})`);
  const country = (flags.country ?? 'US').toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw new UsageError(`--country must be a two-letter country code such as US (got ${flags.country})`);
  if (flags.areaCode !== undefined && !/^\d{3}$/.test(flags.areaCode)) throw new UsageError(`--area-code must be 3 digits such as 425 (got ${flags.areaCode})`);
  if (flags.release !== undefined && !E164.test(flags.release)) throw new UsageError(`--release needs the number in E.164 form such as +18335550123 (got ${flags.release})`);
  return {
    country,
    type: type as keyof typeof TYPES,
    ...(flags.areaCode ? { areaCode: flags.areaCode } : {}),
    ...(flags.release ? { release: flags.release } : {}),
    ...(flags.environment ? { environment: flags.environment } : {}),
    yes: switches.has('--yes'),
    agreeToNotResell: switches.has('--agree-to-not-resell'),
    azd: !switches.has('--no-azd'),
  };
}

/** The ACS client: a connection string, or an endpoint with DefaultAzureCredential; from the environment, else azd's. */
function phoneNumbersClient(azdValues: Record<string, string> | undefined): PhoneNumbersClient {
  const connectionString = process.env.ACS_CONNECTION_STRING?.trim() || azdValues?.ACS_CONNECTION_STRING?.trim();
  const endpoint = process.env.ACS_ENDPOINT?.trim() || azdValues?.ACS_ENDPOINT?.trim();
  const target = connectionString ? /endpoint=([^;]+)/i.exec(connectionString)?.[1] : endpoint;
  if (!target) {
    throw new CommandError('no ACS resource: deploy with azd up first (its environment names ACS_ENDPOINT), or set ACS_ENDPOINT (or ACS_CONNECTION_STRING)');
  }
  // Plain http is the local lab's emulator only.
  const options = /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(target) ? { allowInsecureConnection: true } : {};
  if (connectionString) return new PhoneNumbersClient(connectionString, options);
  return new PhoneNumbersClient(endpoint!, new DefaultAzureCredential(), options);
}

async function confirm(question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  process.stdout.write(`${question} [y/N] `);
  const lines = createInterface({ input: process.stdin });
  const answer = await new Promise<string | undefined>((resolve) => {
    lines.once('line', resolve);
    lines.once('close', () => resolve(undefined));
  });
  lines.close();
  if (answer === undefined) process.stdout.write('\n');
  return /^y(es)?$/i.test(answer?.trim() ?? '');
}

const money = (cost: { amount: number; currencyCode: string }) => `${cost.amount.toFixed(2)} ${cost.currencyCode}`;

async function buy(options: Options, client: PhoneNumbersClient, azd: AzdEnvironment | undefined, azdValues: Record<string, string> | undefined): Promise<number> {
  const label = `${options.type} number in ${options.country}${options.areaCode ? ` (area code ${options.areaCode})` : ''}`;
  process.stdout.write(`searching for a ${label} that can take and make calls...\n`);
  let found: PhoneNumberSearchResult;
  try {
    const poller = await client.beginSearchAvailablePhoneNumbers(
      {
        countryCode: options.country,
        phoneNumberType: TYPES[options.type],
        assignmentType: 'application',
        capabilities: { calling: 'inbound+outbound', sms: 'none' },
        quantity: 1,
        ...(options.areaCode ? { areaCode: options.areaCode } : {}),
      },
    );
    found = await poller.pollUntilDone();
  } catch (error) {
    throw new CommandError(explainPhoneNumbersError(error, 'search'));
  }
  if (found.error && found.error !== 'NoError') throw new CommandError(explainPhoneNumbersError({ code: found.error, message: `the search reported ${found.error}` }, 'search'));
  const number = found.phoneNumbers[0];
  if (!number) throw new CommandError(explainPhoneNumbersError({ code: 'OutOfStock', message: `no ${label} is available right now` }, 'search'));

  process.stdout.write(
    [
      `found ${number} (${options.type}, calling inbound+outbound)`,
      `  cost the API reports: ${money(found.cost)} per month (billed ${found.cost.billingFrequency}), from the purchase on`,
      `  per-minute calling charges: not reported by the API; see ${PRICING_URL}`,
      `  held for you until ${found.searchExpiresBy.toISOString()}`,
      '',
    ].join('\n'),
  );
  if (found.isAgreementToNotResellRequired && !options.agreeToNotResell) {
    throw new CommandError(`numbers in ${options.country} are sold only to those who agree not to resell them: run again with --agree-to-not-resell if you do`);
  }
  if (!(await confirm(`Buy ${number} for ${money(found.cost)} a month?`, options.yes))) {
    process.stdout.write('not bought: nothing changed (the held number is released when the search expires)\n');
    return 1;
  }
  try {
    const poller = await client.beginPurchasePhoneNumbers(found.searchId, options.agreeToNotResell ? { agreeToNotResell: true } : {});
    await poller.pollUntilDone();
  } catch (error) {
    throw new CommandError(explainPhoneNumbersError(error, 'purchase'));
  }
  process.stdout.write(`bought ${number}\n`);
  if (!azd || !azdValues) {
    process.stdout.write(`add it to the Functions app's ${ALLOWED_SETTING} yourself (--no-azd)\n`);
    return 0;
  }

  const current = listEntries(azdValues[ALLOWED_SETTING]);
  let next: string[];
  if (current.length === 0) {
    // Empty means "every number of the resource": keep answering the numbers it already has, and now this one.
    const owned: string[] = [];
    try {
      for await (const owns of client.listPurchasedPhoneNumbers()) if (/inbound/.test(owns.capabilities.calling)) owned.push(owns.phoneNumber);
    } catch (error) {
      throw new CommandError(`${number} is bought, but ${explainPhoneNumbersError(error, 'list of the resource\'s numbers')}; set ${ALLOWED_SETTING} yourself (azd env set ${ALLOWED_SETTING} <numbers>)`);
    }
    next = [...new Set([...owned, number])];
    process.stdout.write(`${ALLOWED_SETTING} was empty (every number of the resource answered): it now lists the resource's ${next.length} calling number(s)\n`);
  } else {
    next = current.includes(number) ? current : [...current, number];
  }
  try {
    azd.set(ALLOWED_SETTING, next.join(','));
  } catch (error) {
    throw new CommandError(`${number} is bought, but the azd environment could not be updated: ${(error as Error).message}. Run: azd env set ${ALLOWED_SETTING} ${next.join(',')}`);
  }
  process.stdout.write(
    [
      `azd environment: ${ALLOWED_SETTING}=${next.join(',')}`,
      'next: azd up (or azd provision, then azd hooks run postdeploy) so the Functions app answers it and the IncomingCall',
      `subscription delivers its calls; then call ${number}.`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function release(number: string, options: Options, client: PhoneNumbersClient, azd: AzdEnvironment | undefined, azdValues: Record<string, string> | undefined): Promise<number> {
  if (!(await confirm(`Release ${number}? It goes back to the carrier's pool, calls to it stop, and you may not get it back.`, options.yes))) {
    process.stdout.write('not released: nothing changed\n');
    return 1;
  }
  try {
    const poller = await client.beginReleasePhoneNumber(number);
    await poller.pollUntilDone();
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    throw new CommandError(status === 404 ? `${number} is not a number of this ACS resource: nothing released` : explainPhoneNumbersError(error, 'release'));
  }
  process.stdout.write(`released ${number}\n`);
  if (!azd || !azdValues) return 0;
  const current = listEntries(azdValues[ALLOWED_SETTING]);
  if (current.includes(number)) {
    const next = current.filter((entry) => entry !== number);
    try {
      azd.set(ALLOWED_SETTING, next.join(','));
    } catch (error) {
      throw new CommandError(`${number} is released, but the azd environment could not be updated: ${(error as Error).message}`);
    }
    process.stdout.write(`azd environment: ${ALLOWED_SETTING}=${next.join(',')}\n`);
    if (next.length === 0) process.stdout.write(`note: an empty ${ALLOWED_SETTING} answers every number of the resource\n`);
    process.stdout.write('next: azd provision, then azd hooks run postdeploy (or azd up) to apply it\n');
  }
  if (listEntries(azdValues.AGENT_PROFILE_BY_NUMBER).some((pair) => pair.startsWith(`${number}=`))) {
    process.stdout.write(`note: AGENT_PROFILE_BY_NUMBER still maps ${number}; remove it with azd env set AGENT_PROFILE_BY_NUMBER ...\n`);
  }
  return 0;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const azd = options.azd ? azdEnvironment(options.environment) : undefined;
  const azdValues = azd?.values();
  const client = phoneNumbersClient(azdValues);
  return options.release ? release(options.release, options, client, azd, azdValues) : buy(options, client, azd, azdValues);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`npm run number: ${error.message}\n${USAGE}\n`);
      process.exit(2);
    }
    const known = error instanceof CommandError || error instanceof AzdError;
    process.stderr.write(known ? `npm run number: ${error.message}\n` : `npm run number failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);

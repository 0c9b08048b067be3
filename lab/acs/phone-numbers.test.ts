import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoneNumbersClient } from '@azure/communication-phone-numbers';
import { startAcsEmulator, type AcsEmulator } from './emulator.js';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../acs-token-issuer.js';

describe('ACS emulator: phone numbers operations, judged by the official PhoneNumbersClient', () => {
  let issuer: AcsTokenIssuer;
  let acs: AcsEmulator;
  let client: PhoneNumbersClient;
  beforeAll(async () => {
    issuer = await startAcsTokenIssuer();
    acs = await startAcsEmulator({ eventGridWebhookUrl: 'http://127.0.0.1:9/api/incomingCall', tokenIssuer: issuer });
    client = new PhoneNumbersClient(acs.connectionString, { allowInsecureConnection: true });
  });
  afterAll(async () => {
    await acs.close();
    await issuer.close();
  });

  it('refuses a request that is not signed with the resource key (401), as ACS does', async () => {
    const response = await fetch(`${acs.url}/phoneNumbers?api-version=2025-06-01`);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('Unauthorized');
  });

  it('search, purchase, list and release through the SDK: the number is owned between purchase and release', async () => {
    const search = await (
      await client.beginSearchAvailablePhoneNumbers({ countryCode: 'US', phoneNumberType: 'geographic', assignmentType: 'application', capabilities: { calling: 'inbound+outbound', sms: 'none' }, areaCode: '425' })
    ).pollUntilDone();
    expect(search.phoneNumbers).toHaveLength(1);
    expect(search.phoneNumbers[0]).toMatch(/^\+1425555\d{4}$/);
    expect(search.cost).toEqual({ amount: 1, currencyCode: 'USD', billingFrequency: 'monthly' });
    expect(search.searchExpiresBy.getTime()).toBeGreaterThan(Date.now());
    await (await client.beginPurchasePhoneNumbers(search.searchId)).pollUntilDone();
    const listed: string[] = [];
    for await (const owned of client.listPurchasedPhoneNumbers()) listed.push(owned.phoneNumber);
    expect(listed).toEqual(search.phoneNumbers);
    await expect(client.beginPurchasePhoneNumbers(search.searchId)).rejects.toMatchObject({ statusCode: 400 });
    await (await client.beginReleasePhoneNumber(search.phoneNumbers[0]!)).pollUntilDone();
    expect([...acs.phoneNumbers.purchased.keys()]).toEqual([]);
    await expect(client.beginReleasePhoneNumber(search.phoneNumbers[0]!)).rejects.toMatchObject({ statusCode: 404 });
  }, 30_000);
});

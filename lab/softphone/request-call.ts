/**
 * The softphone's "have the agent call me": POST /api/calls to the lab's Functions app at `placeCallUrl` (which
 * carries the function key, so the page never sees it), answering with the app's status and JSON body.
 */
export async function requestOutboundCall(placeCallUrl: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(placeCallUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, body: { error: text.slice(0, 500) } };
  }
}

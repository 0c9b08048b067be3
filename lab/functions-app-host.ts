/**
 * A built Functions app in its own process, as Azure runs it: `node --import tsx lab/functions-app-host.ts <appRoot>`
 * with the app's settings in the environment. It loads the app from its folder (package.json `main`, the app's
 * own node_modules) through the Functions worker's registration API, serves its HTTP functions like `func start`,
 * and prints one JSON line when ready: `{"url", "functionKey", "functions": [{name, route, methods, authLevel}]}`.
 * LAB_FUNCTIONS_PORT, LAB_FUNCTIONS_HOST and LAB_FUNCTIONS_KEY set where it listens and its function key.
 */
import { loadFunctionsApp } from './functions-app.js';
import { startFunctionsHost } from './functions-host.js';

async function main(): Promise<void> {
  const appRoot = process.argv[2];
  if (!appRoot) throw new Error('usage: functions-app-host <folder of the built app>');
  const app = loadFunctionsApp(appRoot);
  const host = await startFunctionsHost({
    routes: app.routes,
    runtime: app.runtime,
    port: Number(process.env.LAB_FUNCTIONS_PORT ?? 0),
    host: process.env.LAB_FUNCTIONS_HOST ?? '127.0.0.1',
    ...(process.env.LAB_FUNCTIONS_KEY ? { functionKey: process.env.LAB_FUNCTIONS_KEY } : {}),
  });
  const functions = app.routes.map(({ name, route, methods, authLevel }) => ({ name, route, methods, authLevel }));
  process.stdout.write(`${JSON.stringify({ url: host.url, functionKey: host.functionKey, functions })}\n`);
  const stop = () => void host.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`functions-app-host: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

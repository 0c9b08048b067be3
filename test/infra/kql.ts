import { createRequire } from 'node:module';

/**
 * Offline KQL checks with Microsoft's own Kusto.Language parser and binder (npm @kusto/language-service-next, the
 * engine behind the Kusto editors), compiled to JavaScript with Bridge.NET: it defines `globalThis.Kusto` when loaded.
 * Parses a query and resolves every table, column and function against the schema given: syntax errors, unknown
 * columns and wrong function calls are reported as the Kusto service would. It does not run queries.
 */

/**
 * Application Insights' `customMetrics` table as a resource-scoped query sees it (the classic schema that log search
 * alerts on an Application Insights resource query), in Kusto's `(name:type, ...)` schema notation.
 */
export const CUSTOM_METRICS_SCHEMA =
  '(timestamp:datetime, name:string, value:real, valueCount:int, valueSum:real, valueMin:real, valueMax:real, valueStdDev:real, ' +
  'customDimensions:dynamic, operation_Name:string, operation_Id:string, operation_ParentId:string, operation_SyntheticSource:string, ' +
  'session_Id:string, user_Id:string, user_AuthenticatedId:string, user_AccountId:string, application_Version:string, client_Type:string, ' +
  'client_Model:string, client_OS:string, client_IP:string, client_City:string, client_StateOrProvince:string, client_CountryOrRegion:string, ' +
  'client_Browser:string, cloud_RoleName:string, cloud_RoleInstance:string, appId:string, appName:string, iKey:string, sdkVersion:string, ' +
  'itemId:string, itemType:string, itemCount:int)';

interface BridgeList<T> {
  Count: number;
  getItem(index: number): T;
}
interface KustoLanguage {
  KustoCode: {
    ParseAndAnalyze(text: string, globals: unknown): {
      GetDiagnostics(): BridgeList<{ Severity: string; Message: string; Start: number }>;
      ResultType: { Columns?: BridgeList<{ Name: string; Type: { Name: string } }> } | null;
    };
  };
  GlobalState: { Default: { WithDatabase(database: unknown): unknown } };
  Symbols: {
    TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
    DatabaseSymbol: { ctor: new (name: string, members: unknown[]) => unknown };
  };
}

let language: KustoLanguage | undefined;

function kusto(): KustoLanguage {
  if (!language) {
    const load = createRequire(__filename);
    load('@kusto/language-service-next/bridge.js');
    load('@kusto/language-service-next/Kusto.Language.Bridge.js');
    language = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
  }
  return language;
}

export interface KqlAnalysis {
  /** Diagnostics of severity Error, with their offset in the query. */
  errors: string[];
  /** The result's columns, name -> Kusto type. */
  columns: Record<string, string>;
}

/** Parses and binds `query` against tables given as `{ name: '(col:type, ...)' }`. */
export function analyzeKql(query: string, tables: Record<string, string>): KqlAnalysis {
  const K = kusto();
  const symbols = Object.entries(tables).map(([name, schema]) => new K.Symbols.TableSymbol.$ctor7(name, schema, null));
  const globals = K.GlobalState.Default.WithDatabase(new K.Symbols.DatabaseSymbol.ctor('db', symbols));
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const errors: string[] = [];
  const diagnostics = code.GetDiagnostics();
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    if (d.Severity === 'Error') errors.push(`${d.Message} (at ${d.Start})`);
  }
  const columns: Record<string, string> = {};
  const resultColumns = code.ResultType?.Columns;
  for (let i = 0; i < (resultColumns?.Count ?? 0); i++) {
    const column = resultColumns!.getItem(i);
    columns[column.Name] = column.Type.Name;
  }
  return { errors, columns };
}

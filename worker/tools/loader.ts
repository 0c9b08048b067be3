import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ToolError } from './registry.js';
import type { AgentTool } from './types.js';

/**
 * Loads custom tools from module paths (CUSTOM_TOOLS): each module's default export, or its `tool` or `tools`
 * export, is an `AgentTool` or an array of them. Relative paths resolve from `baseDir` (the working directory).
 */
export async function loadCustomTools(paths: readonly string[], baseDir = process.cwd()): Promise<AgentTool[]> {
  const tools: AgentTool[] = [];
  for (const path of paths) {
    const absolute = isAbsolute(path) ? path : resolve(baseDir, path);
    let loaded: Record<string, unknown>;
    try {
      loaded = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
    } catch (error) {
      throw new ToolError('INVALID_TOOL', `CUSTOM_TOOLS: could not load ${path}: ${(error as Error).message}`);
    }
    // A CommonJS module imported from ESM nests its exports under `default`.
    const exports = unwrap(loaded);
    const found = exports.default ?? exports.tool ?? exports.tools;
    const list = Array.isArray(found) ? found : found ? [found] : [];
    if (list.length === 0) throw new ToolError('INVALID_TOOL', `CUSTOM_TOOLS: ${path} exports no tool (default, tool or tools)`);
    tools.push(...(list as AgentTool[]));
  }
  return tools;
}

function unwrap(module: Record<string, unknown>): Record<string, unknown> {
  const inner = module.default;
  if (inner && typeof inner === 'object' && !('handler' in inner) && !Array.isArray(inner)) return inner as Record<string, unknown>;
  return module;
}

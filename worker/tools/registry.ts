import { z } from 'zod';
import type { AgentTool } from './types.js';

export class ToolError extends Error {
  constructor(
    readonly code: 'INVALID_TOOL' | 'DUPLICATE_TOOL',
    message: string,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

const toolShape = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
  description: z.string().min(1, 'must not be empty'),
  parameters: z.record(z.string(), z.unknown()),
  handler: z.custom<AgentTool['handler']>((h) => typeof h === 'function', 'must be a function'),
  timeoutMs: z.number().int().positive().optional(),
  endsConversation: z.custom<NonNullable<AgentTool['endsConversation']>>((f) => typeof f === 'function', 'must be a function').optional(),
  noFiller: z.boolean().optional(),
  failed: z.custom<NonNullable<AgentTool['failed']>>((f) => typeof f === 'function', 'must be a function').optional(),
});

interface RegisteredTool {
  tool: AgentTool;
  validate(args: unknown): { ok: true; args: Record<string, unknown> } | { ok: false; reason: string };
}

/** The tools of one worker: checked once when registered, offered to every call's Voice Live session. */
export class ToolRegistry {
  private readonly tools = new Map<string, RegisteredTool>();

  register(candidate: unknown): void {
    const parsed = toolShape.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const name = (candidate as { name?: unknown } | null)?.name;
      throw new ToolError('INVALID_TOOL', `tool ${typeof name === 'string' ? name : '(unnamed)'}: ${issue?.path.join('.') || 'tool'} ${issue?.message ?? 'is invalid'}`);
    }
    const tool = candidate as AgentTool;
    if (this.tools.has(tool.name)) throw new ToolError('DUPLICATE_TOOL', `a tool named ${tool.name} is already registered`);
    if (tool.parameters.type !== 'object') throw new ToolError('INVALID_TOOL', `tool ${tool.name}: parameters must be a JSON schema of type "object"`);
    let schema: z.ZodType;
    try {
      schema = z.fromJSONSchema(tool.parameters as Parameters<typeof z.fromJSONSchema>[0]);
    } catch (error) {
      throw new ToolError('INVALID_TOOL', `tool ${tool.name}: parameters is not a usable JSON schema: ${(error as Error).message}`);
    }
    this.tools.set(tool.name, {
      tool,
      validate: (args) => {
        const result = schema.safeParse(args);
        if (result.success) return { ok: true, args: result.data as Record<string, unknown> };
        return { ok: false, reason: result.error.issues.map((i) => `${i.path.join('.') || '(arguments)'}: ${i.message}`).join('; ') };
      },
    });
  }

  get(name: string): RegisteredTool | undefined {
    return this.tools.get(name);
  }

  get names(): string[] {
    return [...this.tools.keys()];
  }

  /** The `tools` of `session.update`. */
  definitions(): { type: 'function'; name: string; description: string; parameters: Record<string, unknown> }[] {
    return [...this.tools.values()].map(({ tool }) => ({ type: 'function', name: tool.name, description: tool.description, parameters: tool.parameters }));
  }
}

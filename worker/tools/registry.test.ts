import { describe, expect, it } from 'vitest';
import { endCallTool, transferToHumanTool } from './builtin.js';
import { loadCustomTools } from './loader.js';
import { ToolRegistry } from './registry.js';

const tool = (overrides: Record<string, unknown> = {}) => ({
  name: 'lookup',
  description: 'Looks something up.',
  parameters: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
  handler: () => ({ ok: true }),
  ...overrides,
});

describe('tool registry', () => {
  it('offers registered tools as session.update function definitions', () => {
    const registry = new ToolRegistry();
    registry.register(endCallTool);
    registry.register(transferToHumanTool);
    registry.register(tool());
    expect(registry.definitions().map((d) => [d.type, d.name])).toEqual([
      ['function', 'end_call'],
      ['function', 'transfer_to_human'],
      ['function', 'lookup'],
    ]);
    expect(registry.definitions()[1]!.parameters).toMatchObject({ required: ['reason'] });
  });

  it('validates arguments against the tool’s JSON schema', () => {
    const registry = new ToolRegistry();
    registry.register(tool());
    const lookup = registry.get('lookup')!;
    expect(lookup.validate({ id: 3 })).toEqual({ ok: true, args: { id: 3 } });
    expect(lookup.validate({ id: 0 })).toMatchObject({ ok: false, reason: expect.stringMatching(/^id: /) });
    expect(lookup.validate({})).toMatchObject({ ok: false, reason: expect.stringMatching(/^id: /) });
  });

  it('refuses a malformed tool or a second tool of the same name, saying why', () => {
    const registry = new ToolRegistry();
    expect(() => registry.register(tool({ name: 'has space' }))).toThrow(/name must be 1-64/);
    expect(() => registry.register(tool({ handler: 'nope' }))).toThrow(/handler must be a function/);
    expect(() => registry.register(tool({ parameters: { type: 'string' } }))).toThrow(/type "object"/);
    registry.register(tool());
    expect(() => registry.register(tool())).toThrow(expect.objectContaining({ code: 'DUPLICATE_TOOL' }));
  });
});

describe('custom tool loader', () => {
  it('loads the sample tool module by path', async () => {
    const [loaded] = await loadCustomTools(['worker/tools/examples/order-status.ts']);
    expect(loaded!.name).toBe('get_order_status');
    const registry = new ToolRegistry();
    registry.register(loaded);
  });

  it('names the module it could not load', async () => {
    await expect(loadCustomTools(['worker/tools/examples/missing.js'])).rejects.toThrow(/CUSTOM_TOOLS: could not load worker\/tools\/examples\/missing.js/);
  });
});

import type { AgentTool } from '../types.js';

/**
 * A sample custom tool: load it with CUSTOM_TOOLS=dist/worker/tools/examples/order-status.js. A real one would
 * call an order system with `context.abortSignal`; this one answers from a fixed table.
 */
const orders: Record<string, { status: string; eta?: string }> = {
  '1001': { status: 'shipped', eta: 'tomorrow' },
  '1002': { status: 'being prepared' },
};

const orderStatusTool: AgentTool<{ orderNumber: string }> = {
  name: 'get_order_status',
  description: 'Look up the status of a customer order by its order number.',
  parameters: {
    type: 'object',
    properties: { orderNumber: { type: 'string', pattern: '^[0-9]{4,10}$', description: 'The order number, digits only.' } },
    required: ['orderNumber'],
    additionalProperties: false,
  },
  timeoutMs: 5_000,
  async handler({ orderNumber }, context) {
    context.logger.info({ tool: 'get_order_status' }, 'looking up an order');
    const order = orders[orderNumber];
    return order ? { found: true, orderNumber, ...order } : { found: false, orderNumber };
  },
};

export default orderStatusTool;

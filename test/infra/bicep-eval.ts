import type { Node } from 'web-tree-sitter';
import { descendants, literal, propertyKey } from './bicep.js';

/**
 * Evaluates the small subset of Bicep expressions our templates decide with (conditions, ternaries, union, empty,
 * safe access, string interpolation, items/filter/toObject lambdas) over tree-sitter nodes, with parameters, module
 * outputs and resource properties supplied by the test. Anything outside the subset throws, so a template change
 * the tests cannot follow fails loudly instead of being judged on a guess. Not a Bicep compiler: no types.
 */

export type BicepValue = string | number | boolean | null | BicepValue[] | { [key: string]: BicepValue } | BicepLambda;
export type BicepLambda = (...args: BicepValue[]) => BicepValue;

export class BicepEvalError extends Error {}

const isObject = (v: BicepValue): v is { [key: string]: BicepValue } => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Identifiers a template's expressions can reach: `given` first (parameters, modules, resources), then its variables, then parameter defaults. */
export function templateScope(root: Node, given: Record<string, BicepValue>): (name: string) => BicepValue {
  const cache = new Map<string, BicepValue>();
  const declarations = new Map<string, { kind: string; value: Node | undefined }>();
  for (const type of ['variable_declaration', 'parameter_declaration']) {
    for (const d of descendants(root, type)) {
      const name = d.namedChildren[0]?.text;
      const value = type === 'variable_declaration' ? d.namedChildren[1] : d.namedChildren[2];
      if (name) declarations.set(name, { kind: type, value: value ?? undefined });
    }
  }
  const lookup = (name: string): BicepValue => {
    if (name in given) return given[name]!;
    if (cache.has(name)) return cache.get(name)!;
    const declaration = declarations.get(name);
    if (!declaration?.value) throw new BicepEvalError(`unknown identifier ${name} (not given, no variable or parameter default)`);
    const value = evaluate(declaration.value, lookup);
    cache.set(name, value);
    return value;
  };
  return lookup;
}

function member(value: BicepValue, key: string, safe: boolean, at: Node): BicepValue {
  if (value === null && safe) return null;
  if (!isObject(value)) throw new BicepEvalError(`.${key} on a non-object at "${at.text}"`);
  if (key in value) return value[key]!;
  if (safe) return null;
  throw new BicepEvalError(`property ${key} missing at "${at.text}"`);
}

function truthy(value: BicepValue, at: Node): boolean {
  if (typeof value !== 'boolean') throw new BicepEvalError(`not a bool: ${JSON.stringify(value)} at "${at.text}"`);
  return value;
}

function isEmpty(value: BicepValue): boolean {
  if (value === null) return true;
  if (typeof value === 'string' || Array.isArray(value)) return value.length === 0;
  if (isObject(value)) return Object.keys(value).length === 0;
  throw new BicepEvalError(`empty() of ${typeof value}`);
}

function unionOf(values: BicepValue[]): BicepValue {
  if (values.every(isObject)) return Object.assign({}, ...values) as BicepValue;
  if (values.every(Array.isArray)) return [...new Set(values.flat())];
  throw new BicepEvalError('union() of mixed types');
}

const FUNCTIONS: Record<string, (args: BicepValue[]) => BicepValue> = {
  empty: ([v]) => isEmpty(v!),
  union: (args) => unionOf(args),
  contains: ([container, item]) => (isObject(container!) ? (item as string) in container : Array.isArray(container) || typeof container === 'string' ? (container as string).includes(item as string) : false),
  string: ([v]) => (typeof v === 'string' ? v : JSON.stringify(v)),
  toLower: ([v]) => String(v).toLowerCase(),
  items: ([v]) => {
    if (!isObject(v!)) throw new BicepEvalError('items() of a non-object');
    return Object.keys(v).sort().map((key) => ({ key, value: v[key]! }));
  },
  filter: ([array, predicate]) => (array as BicepValue[]).filter((item) => (predicate as BicepLambda)(item) === true),
  map: ([array, mapper]) => (array as BicepValue[]).map((item) => (mapper as BicepLambda)(item)),
  toObject: ([array, keyOf, valueOf]) =>
    Object.fromEntries((array as BicepValue[]).map((item) => [String((keyOf as BicepLambda)(item)), valueOf ? (valueOf as BicepLambda)(item) : item])),
  concat: (args) => (args.every(Array.isArray) ? args.flat() : args.map(String).join('')),
};

function lambda(node: Node, lookup: (name: string) => BicepValue): BicepLambda {
  const [head, body] = node.namedChildren;
  const names = head?.type === 'parenthesized_expression' ? head.namedChildren.map((n) => n?.text ?? '') : [head?.text ?? ''];
  if (!body) throw new BicepEvalError(`lambda without body: ${node.text}`);
  return (...args) => evaluate(body, (name) => (names.includes(name) ? args[names.indexOf(name)]! : lookup(name)));
}

function operator(node: Node): string {
  return node.children.find((c) => c && !c.isNamed)?.text ?? '';
}

export function evaluate(node: Node, lookup: (name: string) => BicepValue): BicepValue {
  const named = node.namedChildren.filter((c): c is Node => c !== null);
  switch (node.type) {
    case 'string': {
      const plain = literal(node);
      if (plain !== undefined) return plain.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
      return named
        .map((part) => {
          if (part.type === 'interpolation') return String(evaluate(part.namedChildren[0]!, lookup));
          if (part.type === 'escape_sequence') return part.text.slice(1);
          return part.text;
        })
        .join('');
    }
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'identifier':
      return lookup(node.text);
    case 'parenthesized_expression':
      return evaluate(named[0]!, lookup);
    case 'array':
      return named.filter((n) => n.type !== 'comment').map((n) => evaluate(n, lookup));
    case 'object': {
      const result: Record<string, BicepValue> = {};
      for (const property of named) {
        if (property.type === 'comment') continue;
        if (property.type !== 'object_property') throw new BicepEvalError(`unsupported object member ${property.type}`);
        const key = property.namedChildren[0]!;
        // A key may be an interpolated string ('${identityId}': {}); an identifier key is its own name.
        result[key.type === 'string' ? String(evaluate(key, lookup)) : propertyKey(property)] = evaluate(property.namedChildren[1]!, lookup);
      }
      return result;
    }
    case 'lambda_expression':
      return lambda(node, lookup);
    case 'member_expression': {
      const [object, property] = named;
      const key = property!.text;
      // The grammar reads `x => x.key` as `(x => x).key`: apply the member access to the lambda's result.
      if (object!.type === 'lambda_expression') {
        const inner = lambda(object!, lookup);
        return (...args) => member(inner(...args), key, false, node);
      }
      const safe = node.children.some((c) => c?.text === '.?');
      return member(evaluate(object!, lookup), key, safe, node);
    }
    case 'subscript_expression': {
      const target = evaluate(named[0]!, lookup);
      const index = evaluate(named[1]!, lookup);
      if (Array.isArray(target) && typeof index === 'number') return target[index] ?? null;
      if (isObject(target) && typeof index === 'string') return member(target, index, false, node);
      throw new BicepEvalError(`bad subscript at "${node.text}"`);
    }
    case 'unary_expression': {
      const op = operator(node);
      const value = evaluate(named[0]!, lookup);
      if (op === '!') return !truthy(value, node);
      if (op === '-') return -(value as number);
      throw new BicepEvalError(`unsupported unary ${op}`);
    }
    case 'binary_expression': {
      const op = operator(node);
      const left = (): BicepValue => evaluate(named[0]!, lookup);
      const right = (): BicepValue => evaluate(named[1]!, lookup);
      switch (op) {
        case '&&':
          return truthy(left(), node) && truthy(right(), node);
        case '||':
          return truthy(left(), node) || truthy(right(), node);
        case '??': {
          const l = left();
          return l === null ? right() : l;
        }
        case '==':
          return JSON.stringify(left()) === JSON.stringify(right());
        case '!=':
          return JSON.stringify(left()) !== JSON.stringify(right());
        case '=~':
          return String(left()).toLowerCase() === String(right()).toLowerCase();
        case '>':
          return (left() as number) > (right() as number);
        case '>=':
          return (left() as number) >= (right() as number);
        case '<':
          return (left() as number) < (right() as number);
        case '<=':
          return (left() as number) <= (right() as number);
        case '+':
          return (left() as number) + (right() as number);
        case '*':
          return (left() as number) * (right() as number);
        default:
          throw new BicepEvalError(`unsupported operator ${op} at "${node.text}"`);
      }
    }
    case 'ternary_expression': {
      const [condition, consequence, alternative] = named;
      // Like ARM's if(): only the branch taken is evaluated, so a branch may name a module that is not deployed.
      return truthy(evaluate(condition!, lookup), node) ? evaluate(consequence!, lookup) : evaluate(alternative!, lookup);
    }
    case 'call_expression': {
      const name = named[0]!.text;
      const fn = FUNCTIONS[name];
      if (!fn) throw new BicepEvalError(`unsupported function ${name}()`);
      const args = named[1]!.namedChildren.filter((c): c is Node => c !== null).map((a) => evaluate(a, lookup));
      return fn(args);
    }
    default:
      throw new BicepEvalError(`unsupported expression ${node.type}: ${node.text.slice(0, 60)}`);
  }
}

/** The condition of `module x '...' = if (...)` or `resource x '...' = if (...)`; undefined when unconditional. */
export function conditionNode(root: Node, symbol: string): Node | undefined {
  const declaration = [...descendants(root, 'module_declaration'), ...descendants(root, 'resource_declaration')].find(
    (d) => d.namedChildren[0]?.text === symbol,
  );
  if (!declaration) throw new BicepEvalError(`no module or resource ${symbol}`);
  return declaration.namedChildren.find((c) => c?.type === 'if_statement')?.namedChildren[0] ?? undefined;
}

/** The value expression of `output name type = value`. */
export function outputNode(root: Node, name: string): Node {
  const declaration = descendants(root, 'output_declaration').find((d) => d.namedChildren[0]?.text === name);
  const value = declaration?.namedChildren[2];
  if (!value) throw new BicepEvalError(`no output ${name}`);
  return value;
}

// A pickle VM restricted to what torch.save emits (protocols 2-5): dicts, lists, tuples, str, bytes,
// int, float, bool, None, memo, GLOBAL / STACK_GLOBAL + REDUCE / BUILD, and BINPERSID persistent
// ids. Nothing is imported or executed: every global is looked up in the caller's table
// (`globals`), and a global or opcode outside it is an error naming it. Values: dict -> Map,
// list -> array, tuple -> PyTuple (an array), str -> string, int -> number (bigint beyond 2^53),
// float -> number, bytes -> Buffer, None -> null.

export class PickleError extends Error {
  constructor(message: string) { super(message); this.name = 'PickleError'; }
}

/** A tuple (kept apart from lists so that callers can tell them apart). */
export class PyTuple extends Array<unknown> {
  static make(...items: unknown[]): PyTuple { const t = new PyTuple(); t.push(...items); return t; }
}

/** A global of the table: REDUCE calls `call(args)`; BUILD on what it returned calls `build` if any. */
export interface PyCallable { kind: 'callable'; qualname: string; call(args: unknown[]): unknown }

/** What an object made by a global does on BUILD (set its state); objects without one refuse BUILD. */
export const BUILD = Symbol('pickle.build');

export interface PickleOptions {
  /** "module.name" -> the value GLOBAL pushes (a PyCallable for classes and functions) */
  globals: Record<string, unknown>;
  /** BINPERSID: the persistent id -> the object (torch's storages) */
  persistentLoad?: (pid: unknown) => unknown;
  /** names the file in errors */
  where: string;
}

const MARK = Symbol('mark');

const OPNAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT', 0x4b: 'BININT1',
  0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS',
  0x47: 'BINFLOAT', 0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

export const opName = (op: number): string => OPNAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;

function longFrom(bytes: Buffer): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Runs one pickle starting at `offset`; returns the object and the offset just past its STOP (a
 * legacy torch.save file is several pickles in a row).
 */
export function unpickle(b: Buffer, opts: PickleOptions, offset = 0): { value: unknown; end: number } {
  let p = offset;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let op = 0, opAt = 0;
  const fail = (why: string): never => { throw new PickleError(`${opts.where}: ${why} (opcode ${opName(op)} at byte ${opAt})`); };
  const need = (n: number) => { if (p + n > b.length) fail(`truncated: needs ${n} more byte(s), the file ends at ${b.length}`); };
  const u8 = () => { need(1); return b[p++]; };
  const u16 = () => { need(2); const v = b.readUInt16LE(p); p += 2; return v; };
  const u32 = () => { need(4); const v = b.readUInt32LE(p); p += 4; return v; };
  const u64 = () => { need(8); const v = b.readBigUInt64LE(p); p += 8; if (v > BigInt(b.length)) fail(`a length of ${v} bytes in a ${b.length}-byte file`); return Number(v); };
  const bytes = (n: number) => { need(n); const v = b.subarray(p, p + n); p += n; return v; };
  const line = () => { const e = b.indexOf(0x0a, p); if (e < 0) fail('truncated: unterminated line'); const s = b.subarray(p, e).toString('utf8'); p = e + 1; return s; };
  const pop = () => { if (stack.length === 0) fail('stack underflow'); const v = stack.pop(); if (v === MARK) fail('unexpected MARK'); return v; };
  const top = () => { if (stack.length === 0) fail('stack underflow'); return stack[stack.length - 1]; };
  const popMark = () => { if (metastack.length === 0) fail('no MARK'); const items = stack; stack = metastack.pop()!; return items; };
  const global = (module: string, name: string) => {
    const key = `${module}.${name}`;
    if (!Object.hasOwn(opts.globals, key)) fail(`unsupported object ${key} (a pickle that holds more than tensors, dicts, lists and numbers)`);
    return opts.globals[key];
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail(`SETITEM(S) on a ${describe(target)}, not a dict`);
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (k !== null && typeof k === 'object' && !(k instanceof PyTuple)) fail(`an unhashable dict key (${describe(k)})`);
      (target as Map<unknown, unknown>).set(k instanceof PyTuple ? JSON.stringify(k) : k, items[i + 1]);
    }
  };
  for (;;) {
    opAt = p;
    op = u8();
    switch (op) {
      case 0x80: { const v = u8(); if (v > 5) fail(`pickle protocol ${v} (this reader knows 2-5)`); break; } // PROTO
      case 0x95: u64(); break; // FRAME: the frame length; frames are read as one stream
      case 0x7d: stack.push(new Map()); break;
      case 0x5d: stack.push([]); break;
      case 0x29: stack.push(new PyTuple()); break;
      case 0x28: metastack.push(stack); stack = []; break;
      case 0x58: stack.push(bytes(u32()).toString('utf8')); break;
      case 0x8c: stack.push(bytes(u8()).toString('utf8')); break;
      case 0x8d: stack.push(bytes(u64()).toString('utf8')); break;
      case 0x43: stack.push(Buffer.from(bytes(u8()))); break;
      case 0x42: stack.push(Buffer.from(bytes(u32()))); break;
      case 0x8e: stack.push(Buffer.from(bytes(u64()))); break;
      case 0x4a: need(4); stack.push(b.readInt32LE(p)); p += 4; break;
      case 0x4b: stack.push(u8()); break;
      case 0x4d: stack.push(u16()); break;
      case 0x8a: stack.push(longFrom(bytes(u8()))); break;
      case 0x8b: { need(4); const n = b.readInt32LE(p); p += 4; if (n < 0) fail('negative LONG4 length'); stack.push(longFrom(bytes(n))); break; }
      case 0x47: need(8); stack.push(b.readDoubleBE(p)); p += 8; break;
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; }
      case 0x93: {
        const name = pop(), module = pop();
        if (typeof name !== 'string' || typeof module !== 'string') fail('STACK_GLOBAL on non-strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x51: {
        const pid = pop();
        if (!opts.persistentLoad) fail('a persistent id in a pickle that should have none');
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x74: { const items = popMark(); stack.push(PyTuple.make(...items)); break; }
      case 0x85: stack.push(PyTuple.make(pop())); break;
      case 0x86: { const y = pop(), x = pop(); stack.push(PyTuple.make(x, y)); break; }
      case 0x87: { const z = pop(), y = pop(), x = pop(); stack.push(PyTuple.make(x, y, z)); break; }
      case 0x52: case 0x81: { // REDUCE, NEWOBJ (cls.__new__(cls, *args): a namedtuple)
        const args = pop(), fn = pop() as PyCallable;
        if (!(args instanceof PyTuple)) fail(`${opName(op)} with ${describe(args)} arguments, not a tuple`);
        if (!fn || (fn as PyCallable).kind !== 'callable') fail(`${opName(op)} on ${describe(fn)}, not a supported callable`);
        try {
          stack.push(fn.call([...(args as PyTuple)]));
        } catch (err) {
          if (err instanceof PickleError) throw err;
          fail(`${fn.qualname}: ${(err as Error).message}`);
        }
        break;
      }
      case 0x62: {
        const state = pop(), obj = top() as { [BUILD]?: (s: unknown) => void };
        if (obj instanceof Map) break; // an OrderedDict's attributes (state_dict._metadata): not needed
        if (!obj || typeof obj !== 'object' || typeof obj[BUILD] !== 'function') fail(`BUILD on ${describe(obj)}`);
        obj[BUILD]!(state);
        break;
      }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }
      case 0x75: { const items = popMark(); setItems(top(), items); break; }
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l) || l instanceof PyTuple) fail(`APPEND on ${describe(l)}`); (l as unknown[]).push(v); break; }
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l) || l instanceof PyTuple) fail(`APPENDS on ${describe(l)}`); (l as unknown[]).push(...items); break; }
      case 0x71: memo.set(u8(), top()); break;
      case 0x72: memo.set(u32(), top()); break;
      case 0x94: memo.set(memo.size, top()); break;
      case 0x68: case 0x6a: {
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k));
        break;
      }
      case 0x30: pop(); break;
      case 0x31: popMark(); break;
      case 0x32: stack.push(top()); break;
      case 0x2e: {
        if (metastack.length) fail('STOP inside a MARK');
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: p };
      }
      default: fail('unsupported opcode');
    }
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof Map) return 'a dict';
  if (v instanceof PyTuple) return 'a tuple';
  if (Array.isArray(v)) return 'a list';
  if (Buffer.isBuffer(v)) return 'bytes';
  if (typeof v === 'object') return (v as { qualname?: string }).qualname ?? (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

/** A global that REDUCE calls with its positional arguments. */
export function callable(qualname: string, call: (args: unknown[]) => unknown): PyCallable {
  return { kind: 'callable', qualname, call };
}

// Set expressions over audiences for POST /v1/contains: "A & (B | C) & !D", where A..D are
// audience ids. & binds tighter than |; ! negates. Parsed once into a tree, evaluated with each
// audience's membership resolved beforehand (at one version per audience).
import { BitsyncError } from "../errors.js";
import { InputError, parseAudienceId } from "../input.js";

export class BadExpressionError extends BitsyncError {}

export type Expr = { op: "aud"; id: string } | { op: "not"; arg: Expr } | { op: "and" | "or"; args: Expr[] };

const MAX_LENGTH = 2000;
const MAX_AUDIENCES = 64;
const MAX_DEPTH = 32;

export function parseExpression(text: string): { expr: Expr; audiences: string[] } {
  if (typeof text !== "string" || text.trim().length === 0) throw new BadExpressionError("expr is empty");
  if (text.length > MAX_LENGTH) throw new BadExpressionError(`expr is longer than ${MAX_LENGTH} characters`);
  const tokens = text.match(/\d+|[&|!()]|\S/g) ?? [];
  let pos = 0;
  const audiences = new Set<string>();
  const fail = (what: string): never => {
    const at = tokens[pos] === undefined ? "the end" : `"${tokens[pos]}" (token ${pos + 1})`;
    throw new BadExpressionError(`expr ${JSON.stringify(text)}: ${what} at ${at}`);
  };
  const or = (depth: number): Expr => {
    const args = [and(depth)];
    while (tokens[pos] === "|") {
      pos++;
      args.push(and(depth));
    }
    return args.length === 1 ? args[0]! : { op: "or", args };
  };
  const and = (depth: number): Expr => {
    const args = [unary(depth)];
    while (tokens[pos] === "&") {
      pos++;
      args.push(unary(depth));
    }
    return args.length === 1 ? args[0]! : { op: "and", args };
  };
  const unary = (depth: number): Expr => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    const t = tokens[pos];
    if (t === "!") {
      pos++;
      return { op: "not", arg: unary(depth + 1) };
    }
    if (t === "(") {
      pos++;
      const inner = or(depth + 1);
      if (tokens[pos] !== ")") fail('expected ")"');
      pos++;
      return inner;
    }
    if (t !== undefined && /^\d+$/.test(t)) {
      // One rule for ids everywhere: "05001" is refused, not read as a second audience 5001.
      const id = audienceId(t, fail);
      pos++;
      audiences.add(id);
      if (audiences.size > MAX_AUDIENCES) fail(`more than ${MAX_AUDIENCES} audiences`);
      return { op: "aud", id };
    }
    return fail("expected an audience id, ! or (");
  };
  const expr = or(0);
  if (pos !== tokens.length) fail("unexpected token");
  return { expr, audiences: [...audiences] };
}

function audienceId(token: string, fail: (what: string) => never): string {
  try {
    return parseAudienceId(token);
  } catch (err) {
    if (err instanceof InputError) return fail(err.message);
    throw err;
  }
}

export function evaluate(expr: Expr, member: (audience: string) => boolean): boolean {
  switch (expr.op) {
    case "aud":
      return member(expr.id);
    case "not":
      return !evaluate(expr.arg, member);
    case "and":
      return expr.args.every((a) => evaluate(a, member));
    case "or":
      return expr.args.some((a) => evaluate(a, member));
  }
}

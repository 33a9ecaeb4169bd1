/**
 * Helpers for zod refinements shared by the config and drill scenario
 * schemas: a custom issue, and a unit parser whose thrown message becomes one.
 */
import type { z } from 'zod';

/** The part of a zod refinement context the helpers use. */
export type Ctx = Pick<z.core.$RefinementCtx, 'addIssue'>;

export function fail(ctx: Ctx, message: string, input: unknown, path?: (string | number)[]): void {
  ctx.addIssue({ code: 'custom', message, input, ...(path === undefined ? {} : { path }) });
}

/** Runs a unit parser; a thrown message becomes an issue and the result is undefined. */
export function attempt<I, T>(parse: (input: I) => T, input: I, ctx: Ctx): T | undefined {
  try {
    return parse(input);
  } catch (error) {
    fail(ctx, error instanceof Error ? error.message : String(error), input);
    return undefined;
  }
}

/**
 * Waiting in tests: poll observable state until a condition holds, never sleep for a fixed time.
 * A loaded machine makes everything slower; a poll with a generous deadline only waits longer.
 */

/** Polls `probe` every `intervalMs` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 250));
  }
  const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  throw new Error(`timed out after ${opts.timeoutMs ?? 60_000} ms waiting for ${what}${detail}`);
}

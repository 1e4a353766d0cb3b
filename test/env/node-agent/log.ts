// One line per lifecycle event on stdout: `<time> <event> key=value ...`.

/** Writes one log line for `event` with its fields. */
export function log(event: string, fields: Record<string, unknown> = {}): void {
  const parts = [new Date().toISOString(), event];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = value instanceof Error ? value.message : typeof value === "string" ? value : JSON.stringify(value);
    parts.push(`${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`);
  }
  process.stdout.write(parts.join(" ") + "\n");
}

/** Returns the message of an unknown thrown value, including a Kubernetes API error's message. */
export function errorText(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { code?: unknown; body?: unknown; message?: unknown };
    if (typeof e.code === "number" && e.body !== undefined) {
      const body = typeof e.body === "string" ? safeJson(e.body) : e.body;
      const msg = body && typeof body === "object" && "message" in body ? String(body.message) : "";
      return `HTTP ${e.code}${msg ? `: ${msg}` : ""}`;
    }
    if (typeof e.message === "string") return e.message;
  }
  return String(err);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Resolves after `ms` milliseconds, or earlier when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Returns the current time as an RFC 3339 string with whole seconds, as the kubelet writes it. */
export function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

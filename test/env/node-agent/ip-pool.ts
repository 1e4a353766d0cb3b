// Loopback pod IPs: all of 127/8 routes to lo on Linux, so each pod gets its own 127.x.y.z.

/** Allocates pod IPs from a loopback prefix (e.g. "127.1" → 127.1.0.2 … 127.1.255.254), round-robin. */
export class IpPool {
  private readonly candidates: string[];
  private readonly used = new Set<string>();
  /** IPs pods already have in their status (from before an agent restart), kept for them. */
  private readonly reserved = new Set<string>();
  private next = 0;

  /** Builds the pool for a prefix of two or three octets. */
  constructor(prefix: string) {
    const octets = prefix.split(".").filter((o) => o !== "");
    if (octets[0] !== "127" || octets.length < 2 || octets.length > 3 || octets.some((o) => !/^\d+$/.test(o) || Number(o) > 255)) {
      throw new Error(`--ip-prefix must be 127.N or 127.N.M, got ${prefix}`);
    }
    const thirds = octets.length === 3 ? [Number(octets[2])] : Array.from({ length: 256 }, (_, i) => i);
    const base = `${octets[0]}.${octets[1]}`;
    this.candidates = [];
    for (const third of thirds) {
      for (let last = 2; last <= 254; last++) this.candidates.push(`${base}.${third}.${last}`);
    }
  }

  /** True when `ip` belongs to this pool. */
  contains(ip: string): boolean {
    return this.candidates.includes(ip);
  }

  /** Keeps `ip` for the pod that already reports it, so other pods do not take it first. */
  reserve(ip: string | undefined): void {
    if (ip && this.contains(ip) && !this.used.has(ip)) this.reserved.add(ip);
  }

  /** Allocates an IP, taking `preferred` when it is in the pool and free. */
  allocate(preferred?: string): string {
    if (preferred && !this.used.has(preferred) && this.contains(preferred)) {
      this.reserved.delete(preferred);
      this.used.add(preferred);
      return preferred;
    }
    for (let i = 0; i < this.candidates.length; i++) {
      const ip = this.candidates[(this.next + i) % this.candidates.length]!;
      if (!this.used.has(ip) && !this.reserved.has(ip)) {
        this.next = (this.next + i + 1) % this.candidates.length;
        this.used.add(ip);
        return ip;
      }
    }
    throw new Error("pod IP pool exhausted");
  }

  /** Returns an IP to the pool. */
  release(ip: string): void {
    this.used.delete(ip);
    this.reserved.delete(ip);
  }
}

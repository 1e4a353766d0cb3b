// The kubelet's read-only HTTPS API, just enough for `kubectl logs` (with -f, --tail, --previous):
// the apiserver proxies pods/log to https://<node InternalIP>:<kubeletEndpoint>/containerLogs/….
import { execFileSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { errorText, log } from "./log.ts";
import type { PodManager } from "./pods.ts";

/** Starts the log server on 127.0.0.1:`port` with a self-signed certificate kept in the state dir. */
export async function startKubeletServer(stateDir: string, port: number, pods: PodManager): Promise<https.Server> {
  const dir = path.join(stateDir, "kubelet");
  mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, "kubelet.crt");
  const key = path.join(dir, "kubelet.key");
  if (!existsSync(cert) || !existsSync(key)) {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=runnel-node-agent",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdio: "ignore" },
    );
  }
  const server = https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://localhost");
    if (url.pathname === "/healthz") {
      res.end("ok");
      return;
    }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    const worker = m ? pods.find(m[1]!, m[2]!) : undefined;
    if (!m || !worker) {
      res.statusCode = 404;
      res.end("not found");
      return;
    }
    const file = worker.logFile(decodeURIComponent(m[3]!), url.searchParams.get("previous") === "true");
    if (!existsSync(file)) {
      res.statusCode = 404;
      res.end(`no logs for container ${m[3]}`);
      return;
    }
    res.setHeader("Content-Type", "text/plain");
    streamLog(file, res, {
      follow: url.searchParams.get("follow") === "true",
      tailLines: url.searchParams.has("tailLines") ? Number(url.searchParams.get("tailLines")) : undefined,
      done: worker.finished,
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  server.on("error", (err) => log("kubelet-server-error", { error: errorText(err) }));
  log("kubelet-server-listening", { port });
  return server;
}

function streamLog(
  file: string,
  res: NodeJS.WritableStream & { end: () => void; on: (e: "close", cb: () => void) => void },
  opts: { follow: boolean; tailLines: number | undefined; done: Promise<void> },
): void {
  let offset = 0;
  if (opts.tailLines !== undefined && opts.tailLines >= 0) {
    const text = readFileSync(file);
    let pos = text.length;
    if (pos > 0 && text[pos - 1] === 0x0a) pos--;
    for (let n = 0; n < opts.tailLines && pos > 0;) {
      pos--;
      if (text[pos] === 0x0a) n++;
    }
    offset = pos === 0 ? 0 : pos + 1;
    if (opts.tailLines === 0) offset = text.length;
  }
  const pump = (then: () => void): void => {
    const size = safeSize(file);
    if (size < offset) offset = 0; // rotated: a new container instance
    if (size <= offset) return then();
    const stream = createReadStream(file, { start: offset, end: size - 1 });
    offset = size;
    stream.on("end", then);
    stream.on("error", then);
    stream.pipe(res, { end: false });
  };
  if (!opts.follow) return pump(() => res.end());
  let closed = false;
  let finished = false;
  res.on("close", () => (closed = true));
  void opts.done.then(() => (finished = true));
  const loop = (): void => {
    if (closed) return;
    if (finished) return pump(() => res.end());
    pump(() => setTimeout(loop, 250));
  };
  loop();
}

function safeSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

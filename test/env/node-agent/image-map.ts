// Image → entrypoint map: containers without a command run the local build of their image.
import { readFileSync } from "node:fs";

export interface ImageEntry {
  /** Entrypoint argv (the image's ENTRYPOINT). */
  command: string[];
  /** The image's default arguments (CMD), used when the container has no args. */
  args?: string[];
  /** Default working directory. */
  workingDir?: string;
  /** Image environment. */
  env?: Record<string, string>;
  /**
   * The image's own files: container path → host path, bind-mounted read-only into every
   * container of the image (e.g. `/app` → the checkout), so a command that names a path inside
   * the image (`/usr/local/bin/node /app/examples/…`) runs as it would from the built image.
   */
  files?: Record<string, string>;
}

/** Image name (without tag or digest) → entry. */
export type ImageMap = Map<string, ImageEntry>;

/** Reads an image map JSON file: `{ "image": ["argv", ...] }` or `{ "image": { command, args, workingDir, env } }`. */
export function loadImageMap(path: string | undefined): ImageMap {
  const map: ImageMap = new Map();
  if (!path) return map;
  const raw = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  for (const [image, value] of Object.entries(raw)) {
    if (Array.isArray(value)) map.set(imageName(image), { command: value.map(String) });
    else if (value && typeof value === "object") map.set(imageName(image), value as ImageEntry);
    else throw new Error(`image map ${path}: entry ${image} must be an argv array or an object`);
  }
  return map;
}

/** Strips the tag and digest from an image reference: `reg:5000/a/b:1.0@sha256:…` → `reg:5000/a/b`. */
export function imageName(image: string): string {
  const noDigest = image.split("@")[0] ?? image;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Finds the entry for an image, also trying it without a `docker.io/` or `docker.io/library/` prefix. */
export function lookupImage(map: ImageMap, image: string | undefined): ImageEntry | undefined {
  if (!image) return undefined;
  const name = imageName(image);
  return map.get(name) ?? map.get(name.replace(/^docker\.io\/(library\/)?/, ""));
}

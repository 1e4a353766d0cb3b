# The Runnel image: one image for `runnel operator` and `runnel worker` (and the rest of the CLI).
#
# Two stages: `deps` installs the production dependencies with npm (nothing from devDependencies:
# no compiler, test runner or linter reaches the image), the final stage holds only the Node 24
# binary, those dependencies and the application's sources (Node 24 runs TypeScript directly,
# ADR 2). It runs as the unprivileged user 10001 with no shell.
#
# With Docker:   docker build -t runnel/runnel:dev .
# Without a daemon or a base image to pull: scripts/build-image (buildah) builds this same file on
# two base images it assembles from scratch around the Node binary of the `node` npm package.

# The image the dependencies are installed in: Node 24 with npm at its usual place.
ARG BUILD_IMAGE=node:24-bookworm-slim
# The image the final stage starts from: glibc and libstdc++ only (the Node binary needs them).
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Exec form: the build image needs no shell. Install scripts are skipped: the one native module
# (classic-level) ships prebuilt binaries that it finds at run time.
RUN --mount=type=cache,target=/root/.npm ["node", "/usr/local/lib/node_modules/npm/bin/npm-cli.js", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"]

FROM ${RUNTIME_IMAGE}
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY runtime ./runtime
COPY operator ./operator
COPY examples ./examples
ENV NODE_ENV=production \
    PATH=/usr/local/bin:/usr/bin:/bin
# Numeric, so the kubelet can check runAsNonRoot; the operator runs worker pods as the same user.
USER 10001:10001
EXPOSE 8080 9249
ENTRYPOINT ["/usr/local/bin/node", "/app/runtime/cli/main.ts"]
CMD ["--help"]

# syntax=docker/dockerfile:1
# One image for both commands: `idc controller` and `idc portal`.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The node@24 devDependency only pins npm scripts to Node 24 on machines with an older Node;
# the image already has it, so its download is skipped.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The portal's page templates are not TypeScript: tsc leaves them, so they are copied beside.
RUN npx tsc -p tsconfig.build.json && cp -R src/portal/views dist/portal/

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
# A bounded heap keeps the controller's memory flat under churn (docs/benchmarks.md: 10,000
# users and 1,000 groups peak at about 200 MiB RSS with these settings). Override as needed.
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=8"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY crds ./crds
RUN chmod 0755 /app/dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/idc
# A numeric non-root user, so Kubernetes can enforce runAsNonRoot without a name lookup.
USER 65532:65532
ENTRYPOINT ["idc"]
CMD ["help"]

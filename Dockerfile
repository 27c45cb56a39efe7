# One image for both processes of inviteflow: `api` and `worker` (chosen by the command).
# Workflow code is bundled by the worker at start, so the TypeScript sources ship as they are.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY api ./api
COPY lib ./lib
COPY client ./client
COPY services ./services
COPY scripts/setup/temporal.ts ./scripts/setup/temporal.ts
USER node
# Two malloc arenas instead of one per thread: the worker's memory (scripts/ts-process.ts, WORKER_ENV).
ENV MALLOC_ARENA_MAX=2
# Overridden per service in docker-compose.yml. The worker's Node flags: scripts/ts-process.ts.
CMD ["node", "--max-semi-space-size=2", "--import", "tsx", "worker/main.ts"]

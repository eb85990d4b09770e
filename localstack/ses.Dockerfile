# The SES v2 emulator of docker-compose.yml (LocalStack's free edition
# answers 501 for SES v2): aws-ses-v2-local as package-lock.json pins it,
# installed with npm ci on a pinned Node image. It installs the whole lock
# file (the no-Docker emulators too), so that there is one pin of each.
FROM node:20.20.2-bookworm-slim
WORKDIR /emulators
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
USER node
EXPOSE 8005
# Listens on every interface of its container; compose publishes the mail
# viewer on the host's loopback only.
ENTRYPOINT ["node", "/emulators/node_modules/aws-ses-v2-local/dist/cli.js", "--host", "0.0.0.0", "--port", "8005"]

/**
 * Configuration files of the benchmarked programs, built as text from the same
 * inputs so every proxy does the same job: round robin over the same two
 * keep-alive backends, one worker thread, no access log, nothing else.
 * All paths the programs write to live in one temporary folder.
 */

export interface Backend {
  readonly name: string;
  readonly port: number;
}

/** NGINX modules whose temp folders must be redirected away from system paths. */
export const NGINX_TEMP_MODULES = ['fastcgi', 'uwsgi', 'scgi'] as const;
export type NginxTempModule = (typeof NGINX_TEMP_MODULES)[number];

/** Modules compiled into the NGINX binary, read from `nginx -V` output. */
export function nginxTempModules(versionOutput: string): NginxTempModule[] {
  return NGINX_TEMP_MODULES.filter((m) => !versionOutput.includes(`--without-http_${m}_module`));
}

/** The main-context and http-context lines every NGINX config here shares. */
function nginxCommon(dir: string, role: string, modules: readonly NginxTempModule[]): { main: string; http: string } {
  const main = [
    'daemon off;',
    'worker_processes 1;',
    `pid ${dir}/${role}.pid;`,
    `error_log ${dir}/${role}-error.log warn;`,
    'events { worker_connections 4096; multi_accept on; }',
  ].join('\n');
  const temp = ['client_body', 'proxy', ...modules].map((m) => `  ${m}_temp_path ${dir}/${role}-temp/${m};`);
  const http = [
    '  access_log off;',
    '  default_type text/plain;',
    // Benchmark clients keep their connections for the whole run.
    '  keepalive_timeout 120s;',
    '  keepalive_requests 100000000;',
    ...temp,
  ].join('\n');
  return { main, http };
}

/** Two (or more) NGINX `server` blocks, each answering 200 "<name>\n". */
export function nginxBackendConfig(dir: string, backends: readonly Backend[], modules: readonly NginxTempModule[]): string {
  const { main, http } = nginxCommon(dir, 'backend', modules);
  const servers = backends
    .map((b) => `  server {\n    listen 127.0.0.1:${b.port};\n    location / { return 200 "${b.name}\\n"; }\n  }`)
    .join('\n');
  return `${main}\nhttp {\n${http}\n${servers}\n}\n`;
}

/** NGINX as a reverse proxy: an upstream with pooled keep-alive connections. */
export function nginxProxyConfig(
  dir: string,
  listenPort: number,
  backends: readonly Backend[],
  modules: readonly NginxTempModule[],
): string {
  const { main, http } = nginxCommon(dir, 'proxy', modules);
  const servers = backends.map((b) => `    server 127.0.0.1:${b.port};`).join('\n');
  return `${main}
http {
${http}
  upstream app {
${servers}
    keepalive 64;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** HAProxy in HTTP mode, one thread, round robin, idle server connections shared across clients. */
export function haproxyConfig(dir: string, listenPort: number, backends: readonly Backend[]): string {
  const servers = backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port}`).join('\n');
  return `global
  nbthread 1
  maxconn 4096
  pidfile ${dir}/haproxy.pid

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s

frontend bench
  bind 127.0.0.1:${listenPort}
  default_backend app

backend app
  balance roundrobin
${servers}
`;
}

/** Ballast with one HTTP listener and one round-robin pool, logs quiet. */
export function ballastConfig(listenPort: number, backends: readonly Backend[]): string {
  const servers = backends.map((b) => `        - { name: ${b.name}, address: 127.0.0.1:${b.port} }`).join('\n');
  return `log: { level: warn, access: off }
listeners:
  - { name: bench, protocol: http, listen: 127.0.0.1:${listenPort}, routes: [ { pool: app } ] }
pools:
  - name: app
    algorithm: round-robin
    servers:
${servers}
`;
}

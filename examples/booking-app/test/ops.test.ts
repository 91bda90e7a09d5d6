import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call } from './helpers.js';
import { type Selector, selectors, variableSelectors } from './promql.js';
import { killServers, start } from './server-process.js';

// The files of ops/ (Dockerfile, compose, Prometheus, Grafana) are checked here: parsed and
// cross-checked against each other and against the app — its configuration schema (src/config.ts)
// and what the built server really exports on /metrics. No Docker engine runs on these machines,
// so nothing here starts a container.

const appDir = join(import.meta.dirname, '..');
const ops = join(appDir, 'ops');
const read = (path: string) => readFileSync(join(ops, path), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML/JSON, checked field by field below
type Any = any;
const yaml = (path: string): Any => parse(read(path), { merge: true });

const compose = yaml('compose.yaml');
const prometheus = yaml('prometheus/prometheus.yml');
const rules = yaml('prometheus/alerts.yml');
const dashboard: Any = JSON.parse(read('grafana/dashboards/boxoffice-sale.json'));
const datasources = yaml('grafana/provisioning/datasources/prometheus.yaml');
const providers = yaml('grafana/provisioning/dashboards/boxoffice.yaml');

/** Values for the variables compose.yaml requires (`${NAME:?…}`): what an operator sets. */
const OPERATOR_ENV: Record<string, string> = {
  JWT_SECRET: 'j'.repeat(40),
  METRICS_TOKEN: 'm'.repeat(24),
  POSTGRES_PASSWORD: 'pg-password',
  GRAFANA_ADMIN_PASSWORD: 'grafana-password',
};
/** The variables compose.yaml requires (`${NAME:?message}`). */
const required = new Set(
  [...read('compose.yaml').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?/g)].map(
    (m) => m[1] as string,
  ),
);

/** Compose variable interpolation: `${A}`, `${A:-d}`, `${A-d}`, `${A:?e}`, `${A?e}`, `$$`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
      if (whole === '$$') return '$';
      const v = env[name as string];
      const unset = v === undefined || (op?.startsWith(':') && v === '');
      if (op?.endsWith('?') && unset) throw new Error(`compose needs ${name}: ${arg}`);
      return unset ? (op?.endsWith('-') ? (arg as string) : '') : (v as string);
    },
  );
}

const services: Record<string, Any> = compose.services;
const appServices = Object.keys(services).filter((name) => services[name].build);
/** The environment each app container gets, interpolated as compose would. */
const appEnv = (name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(services[name].environment as Record<string, unknown>).map(([k, v]) => [
      k,
      interpolate(String(v), OPERATOR_ENV),
    ]),
  );
/** The shell command of a service, as one string. */
const commandOf = (name: string): string => [services[name].command ?? []].flat().join(' ');
/** `host-path:container-path[:mode]` volume → [resolved host path, container path]. */
const bindMounts = (name: string): [string, string][] =>
  (services[name].volumes as string[])
    .map((v) => v.split(':'))
    .filter(([host]) => host?.startsWith('.'))
    .map(([host, target]) => [resolve(ops, host as string), target as string]);
/** The host path compose mounts at `target` in `service` (a file or anything under a directory). */
function hostPathOf(service: string, target: string): string | undefined {
  for (const [host, mounted] of bindMounts(service)) {
    if (target === mounted) return host;
    if (target.startsWith(`${mounted}/`)) return join(host, posix.relative(mounted, target));
  }
  return undefined;
}

const alertRules = (rules.groups as Any[]).flatMap((g) => g.rules as Any[]);
/** Series made by recording rules: name → the labels they keep (`agg by (labels) (…)`). */
const recorded = new Map<string, string[]>(
  alertRules
    .filter((r) => r.record)
    .map((r) => [
      r.record,
      (/^\s*\w+\s+by\s*\(([^)]*)\)/.exec(r.expr)?.[1] ?? '')
        .split(',')
        .map((s: string) => s.trim())
        .filter(Boolean),
    ]),
);
/** Series Prometheus makes itself for every target. */
const SCRAPE_SERIES = new Set([
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
]);

/** Every PromQL expression of the ops files, with where it comes from. */
const expressions: { where: string; expr: string; variable?: boolean }[] = [
  ...alertRules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: String(r.expr) })),
  ...(dashboard.panels as Any[])
    .filter((p) => p.type !== 'row')
    .flatMap((p) =>
      (p.targets as Any[]).map((t) => ({ where: `panel "${p.title}"`, expr: String(t.expr) })),
    ),
  ...(dashboard.templating?.list ?? [])
    .filter((v: Any) => v.type === 'query')
    .map((v: Any) => ({
      where: `variable $${v.name}`,
      expr: String(v.query?.query ?? v.query),
      variable: true,
    })),
];

describe('PromQL reader', () => {
  const names = (expr: string) => selectors(expr).map((s) => s.name);

  it('finds metric names through functions, aggregations, grouping, strings and ranges', () => {
    expect(
      names(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"/a|b"}[5m])))',
      ),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(
      names(
        'max by (concert) (a_gauge and on (job, instance, concert) (time() - b_seconds < 60)) unless on (concert) c:rec:x == 1',
      ),
    ).toEqual(['a_gauge', 'b_seconds', 'c:rec:x']);
    expect(
      names(
        'sum(rate(x_total{o=~"p|q"}[$__rate_interval])) / sum(x_total offset 1h30m) > bool 0.2',
      ),
    ).toEqual(['x_total', 'x_total']);
    expect(names('count_values("by", y) + topk(3, z) * on () group_left (w) v')).toEqual([
      'y',
      'z',
      'v',
    ]);
    expect(selectors("{__name__=\"n_total\", a='b\\'c'} # a comment with fake_metric")).toEqual([
      { name: 'n_total', matchers: [{ label: 'a', op: '=', value: "b'c" }] },
    ]);
    expect(variableSelectors('label_values(q{k="v"}, concert)')).toEqual([
      { name: 'q', matchers: [{ label: 'k', op: '=', value: 'v' }] },
    ]);
    expect(() => selectors('x{a=b}')).toThrow(SyntaxError);
  });
});

describe('alert rules (ops/prometheus/alerts.yml)', () => {
  it('are groups of well-formed alerting and recording rules', () => {
    expect(Array.isArray(rules.groups) && rules.groups.length).toBeTruthy();
    const groupNames = new Set<string>();
    const alertNames = new Set<string>();
    for (const group of rules.groups as Any[]) {
      expect(Object.keys(group).sort()).toEqual(
        ['name', 'rules', ...(group.interval ? ['interval'] : [])].sort(),
      );
      expect(groupNames.has(group.name), `group ${group.name} twice`).toBe(false);
      groupNames.add(group.name);
      expect(group.rules.length).toBeGreaterThan(0);
      for (const rule of group.rules as Any[]) {
        expect(typeof rule.expr).toBe('string');
        expect(() => selectors(rule.expr)).not.toThrow();
        if (rule.record !== undefined) {
          // level:metric:operations (Prometheus naming practice); no alert fields.
          expect(rule.record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
          expect(Object.keys(rule).sort()).toEqual(['expr', 'record']);
          continue;
        }
        const where = `alert ${rule.alert}`;
        expect(rule.alert, where).toMatch(/^Boxoffice[A-Za-z]+$/);
        expect(alertNames.has(rule.alert), `${where} twice`).toBe(false);
        alertNames.add(rule.alert);
        expect(Object.keys(rule).sort()).toEqual(
          ['alert', 'annotations', 'expr', 'for', 'labels'].sort(),
        );
        expect(rule.for, where).toMatch(/^(\d+(ms|[smhdwy]))+$/);
        expect(['warning', 'critical'], where).toContain(rule.labels.severity);
        expect(rule.annotations.summary, where).toBeTruthy();
        expect(String(rule.annotations.description).length, where).toBeGreaterThan(80);
      }
    }
    // The sale's alerts the issue asks for.
    expect([...alertNames]).toEqual(
      expect.arrayContaining([
        'BoxofficeQueueNotAdmitting',
        'BoxofficePaymentFailureRateHigh',
        'BoxofficeUnavailableRateHigh',
        'BoxofficeOutboxBacklog',
        'BoxofficeHoldExpiryLagging',
      ]),
    );
  });

  it('are each explained in ops/README.md', () => {
    const readme = read('README.md');
    for (const rule of alertRules.filter((r) => r.alert)) expect(readme).toContain(rule.alert);
  });
});

describe('every metric the alerts and the dashboard name', () => {
  /** Family name → type, from the `# TYPE` lines of the built server's /metrics. */
  const families = new Map<string, string>();
  const helped = new Set<string>();

  beforeAll(async () => {
    const { url } = await start({});
    // A little traffic first (a family is listed whether or not it has series yet).
    for (const path of ['/concerts', '/readyz', '/no-such-page']) await call(url, 'GET', path);
    const text = (await call(url, 'GET', '/metrics')).body as string;
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) families.set(type[1] as string, type[2] as string);
      const help = /^# HELP (\S+) /.exec(line);
      if (help) helped.add(help[1] as string);
    }
  }, 30_000);
  afterAll(killServers);

  /** The exported family a series name belongs to, or undefined. */
  function familyOf(name: string): string | undefined {
    if (families.has(name) && families.get(name) !== 'histogram') return name;
    const suffix = /^(.*)_(bucket|sum|count)$/.exec(name);
    if (!suffix) return undefined;
    const type = families.get(suffix[1] as string);
    if (type === 'histogram') return suffix[1];
    if (type === 'summary' && suffix[2] !== 'bucket') return suffix[1];
    return undefined;
  }

  /** Label names of each exported family, from the app's own registry. */
  const labelNames = new Map<string, string[]>(
    new AppMetrics().registry
      .getMetricsAsArray()
      .map((m) => [m.name, (m as unknown as { labelNames?: string[] }).labelNames ?? []]),
  );
  const source = readdirSync(join(appDir, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join(appDir, 'src', f), 'utf8'))
    .join('\n');
  const jobs = new Set((prometheus.scrape_configs as Any[]).map((s) => s.job_name));

  it('the server exports families with HELP and TYPE, including the ones the alerts added', () => {
    expect(families.size).toBeGreaterThan(20);
    for (const name of families.keys()) expect(helped.has(name), name).toBe(true);
    for (const name of [
      'boxoffice_outbox_pending',
      'boxoffice_outbox_oldest_pending_age_seconds',
      'boxoffice_hold_expiry_lag_seconds',
      'boxoffice_queue_last_tick_timestamp_seconds',
      'boxoffice_queue_paused',
    ]) {
      expect(families.get(name), name).toBe('gauge');
    }
  });

  it('is exported by /metrics (or made by a recording rule, or by Prometheus itself), with real labels', () => {
    const problems: string[] = [];
    const check = (where: string, s: Selector) => {
      let labels: string[];
      if (recorded.has(s.name)) {
        labels = recorded.get(s.name) as string[];
      } else if (SCRAPE_SERIES.has(s.name)) {
        labels = [];
      } else {
        const family = familyOf(s.name);
        if (!family) {
          problems.push(`${where}: ${s.name} is not exported by /metrics`);
          return;
        }
        labels = [...(labelNames.get(family) ?? []), ...(s.name.endsWith('_bucket') ? ['le'] : [])];
        // A label value the app's code never writes would silently match nothing.
        if (family.startsWith('boxoffice_')) {
          for (const m of s.matchers) {
            if (m.value.includes('$')) continue; // a Grafana variable
            for (const value of m.op.endsWith('~') ? m.value.split('|') : [m.value]) {
              expect(
                value,
                `${where}: ${m.label}=~"${m.value}" is not a plain alternation`,
              ).toMatch(/^[\w-]+$/);
              if (!new RegExp(`['"\`]${value}['"\`]`).test(source)) {
                problems.push(`${where}: ${s.name}{${m.label}="${value}"}: no such value in src/`);
              }
            }
          }
        }
      }
      for (const m of s.matchers) {
        if (m.label === 'job' && !jobs.has(m.value)) {
          problems.push(`${where}: job="${m.value}" is not a scrape job of prometheus.yml`);
        }
        if (!['job', 'instance', ...labels].includes(m.label)) {
          problems.push(`${where}: ${s.name} has no label ${m.label}`);
        }
      }
    };
    let count = 0;
    for (const { where, expr, variable } of expressions) {
      const found = variable ? variableSelectors(expr) : selectors(expr);
      expect(found.length, `${where} names no metric`).toBeGreaterThan(0);
      for (const s of found) {
        check(where, s);
        count++;
      }
    }
    for (const [name] of recorded) {
      expect(
        expressions.some((e) => e.expr.includes(name)),
        `${name} is recorded but not used`,
      ).toBe(true);
    }
    expect(problems).toEqual([]);
    expect(count).toBeGreaterThan(40);
  });
});

describe('Grafana (ops/grafana)', () => {
  it('has a dashboard of panels, each with PromQL targets on the provisioned datasource', () => {
    const ds = datasources.datasources as Any[];
    expect(ds).toHaveLength(1);
    expect(ds[0].type).toBe('prometheus');
    const panels = (dashboard.panels as Any[]).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    expect(new Set((dashboard.panels as Any[]).map((p) => p.id)).size).toBe(
      dashboard.panels.length,
    );
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    for (const p of panels) {
      expect(p.title, JSON.stringify(p.gridPos)).toBeTruthy();
      expect(p.gridPos.w * p.gridPos.h, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.datasource.uid, p.title).toBe(ds[0].uid);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets as Any[]) {
        expect(t.expr, p.title).toBeTruthy();
        expect(t.datasource?.uid ?? ds[0].uid, p.title).toBe(ds[0].uid);
      }
      expect(new Set((p.targets as Any[]).map((t) => t.refId)).size, p.title).toBe(
        p.targets.length,
      );
    }
  });

  it('is provisioned by compose: the datasource is the Prometheus service, the provider loads the dashboard file', () => {
    const url = new URL((datasources.datasources as Any[])[0].url);
    expect(services[url.hostname], url.hostname).toBeDefined();
    expect(commandOf('prometheus')).not.toMatch(/--web\.listen-address/);
    expect(url.port).toBe('9090');
    // Provisioning files are where Grafana looks for them, and the provider's folder holds the JSON.
    expect(hostPathOf('grafana', '/etc/grafana/provisioning/datasources/prometheus.yaml')).toBe(
      join(ops, 'grafana/provisioning/datasources/prometheus.yaml'),
    );
    expect(hostPathOf('grafana', '/etc/grafana/provisioning/dashboards/boxoffice.yaml')).toBe(
      join(ops, 'grafana/provisioning/dashboards/boxoffice.yaml'),
    );
    const provider = (providers.providers as Any[])[0];
    expect(provider.type).toBe('file');
    const folder = hostPathOf('grafana', provider.options.path);
    expect(folder, provider.options.path).toBeDefined();
    expect(existsSync(join(folder as string, 'boxoffice-sale.json'))).toBe(true);
    // Grafana reaches Prometheus: they share a network.
    const shared = (services.grafana.networks as string[]).filter((n) =>
      (services.prometheus.networks as string[]).includes(n),
    );
    expect(shared.length).toBeGreaterThan(0);
  });
});

describe('Prometheus (ops/prometheus/prometheus.yml)', () => {
  it('loads the rules file compose mounts, and scrapes every app instance on its port with the metrics token', () => {
    const config = commandOf('prometheus').match(/--config\.file=(\S+)/)?.[1] as string;
    expect(hostPathOf('prometheus', config)).toBe(join(ops, 'prometheus/prometheus.yml'));
    expect(prometheus.rule_files.length).toBeGreaterThan(0);
    for (const file of prometheus.rule_files as string[]) {
      expect(hostPathOf('prometheus', file), file).toBe(join(ops, 'prometheus/alerts.yml'));
    }
    const [job, ...others] = prometheus.scrape_configs as Any[];
    expect(others).toEqual([]);
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    const targets = (job.static_configs as Any[]).flatMap((s) => s.targets as string[]).sort();
    expect(targets).toEqual(appServices.map((s) => `${s}:${loadConfig(appEnv(s)).port}`).sort());
    // /metrics needs METRICS_TOKEN: Prometheus reads the same variable, as a compose secret.
    const secretPath = job.authorization.credentials_file as string;
    const secret = /^\/run\/secrets\/(.+)$/.exec(secretPath)?.[1] as string;
    expect(services.prometheus.secrets).toContain(secret);
    expect(compose.secrets[secret]).toEqual({ environment: 'METRICS_TOKEN' });
    for (const s of appServices) {
      expect(services[s].environment.METRICS_TOKEN).toMatch(/^\$\{METRICS_TOKEN[:?}]/);
    }
  });
});

describe('compose (ops/compose.yaml)', () => {
  it('puts two app instances on the public and private networks, everything else on the private one only', () => {
    expect(Object.keys(compose.networks).sort()).toEqual(['private', 'public']);
    expect(appServices.sort()).toEqual(['app-1', 'app-2']);
    for (const name of Object.keys(services)) {
      const networks = (services[name].networks as string[]).sort();
      expect(networks, name).toEqual(
        appServices.includes(name) ? ['private', 'public'] : ['private'],
      );
      // Only the app instances publish a port to every interface; operators' tools the loopback.
      for (const port of (services[name].ports ?? []) as string[]) {
        if (!appServices.includes(name)) expect(port, name).toMatch(/^127\.0\.0\.1:/);
      }
    }
    const images = Object.values(services).map((s: Any) => String(s.image));
    for (const image of ['redis', 'postgres', 'prom/prometheus', 'grafana/grafana']) {
      expect(
        images.some((i) => i.startsWith(`${image}:`)),
        image,
      ).toBe(true);
    }
    for (const [name, s] of Object.entries(services)) {
      const on = s.depends_on ?? [];
      for (const dependency of Array.isArray(on) ? on : Object.keys(on)) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
      }
    }
  });

  it("gives each app instance the environment the app's config needs for a shared deployment", () => {
    const envs = appServices.map(appEnv);
    expect(envs[0]).toEqual(envs[1]); // one secret, one database, one Redis for both
    for (const env of envs) {
      // Every variable is one config.ts reads (no typo goes unnoticed) and the values parse.
      for (const key of Object.keys(env)) expect(CONFIG_VARIABLES, key).toContain(key);
      const config = loadConfig(env);
      // Reachable from the other containers and the published port.
      expect(config.host).toBe('0.0.0.0');
      // A JWT secret shared by the instances (unset: one random secret per process).
      expect(config.auth.jwtSecret).toBe(OPERATOR_ENV.JWT_SECRET);
      // /metrics is on the public network: it needs the token.
      expect(config.auth.metricsToken).toBe(OPERATOR_ENV.METRICS_TOKEN);
      // Redis through Sentinel: every Sentinel named is a service that monitors that master name.
      expect(config.redis.sentinels?.length).toBeGreaterThanOrEqual(3);
      for (const hostPort of config.redis.sentinels ?? []) {
        const [host, port] = hostPort.split(':') as [string, string];
        expect(services[host], hostPort).toBeDefined();
        const command = commandOf(host);
        expect(command).toMatch(new RegExp(`^\\s*port ${port}$`, 'm'));
        const monitor = /^\s*sentinel monitor (\S+) (\S+) (\d+) (\d+)$/m.exec(command);
        expect(monitor?.[1]).toBe(config.redis.sentinelName);
        expect(services[monitor?.[2] as string], 'the monitored master').toBeDefined();
        expect(Number(monitor?.[4])).toBeGreaterThan((config.redis.sentinels?.length ?? 0) / 2);
        expect(command).toMatch(/--sentinel/);
        expect(services[host].networks).toContain('private');
      }
      // One replica follows the master, so a Sentinel has something to fail over to.
      expect(commandOf('redis-replica')).toMatch(/--replicaof redis-primary 6379/);
      // PostgreSQL: the service, with the user, database and password the URL names.
      const db = new URL(config.database.url as string);
      const pg = services[db.hostname];
      expect(pg, db.hostname).toBeDefined();
      const pgEnv = Object.fromEntries(
        Object.entries(pg.environment as Record<string, string>).map(([k, v]) => [
          k,
          interpolate(v, OPERATOR_ENV),
        ]),
      );
      expect(db.port).toBe('5432');
      expect(db.username).toBe(pgEnv.POSTGRES_USER);
      expect(db.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
      expect(decodeURIComponent(db.password)).toBe(pgEnv.POSTGRES_PASSWORD);
      expect(pg.healthcheck.test.join(' ')).toMatch(/pg_isready/);
    }
    // Each instance publishes the port the app listens on.
    for (const name of appServices) {
      const port = loadConfig(appEnv(name)).port;
      expect(services[name].ports).toHaveLength(1);
      expect(services[name].ports[0]).toMatch(new RegExp(`^\\d+:${port}$`));
      expect(services[name].depends_on.postgres.condition).toBe('service_healthy');
    }
  });

  it('says which variables the operator must set (ops/README.md names each one)', () => {
    expect([...required].sort()).toEqual(Object.keys(OPERATOR_ENV).sort());
    const readme = read('README.md');
    for (const name of required) expect(readme).toContain(name);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's syntax, not a template
    expect(() => interpolate('${JWT_SECRET:?x}', {})).toThrow(/compose needs JWT_SECRET/);
  });
});

describe('Dockerfile (ops/Dockerfile)', () => {
  const dockerfile = read('Dockerfile');
  /** The instructions of the last stage (the image compose runs), continuation lines joined. */
  const finalStage = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .join('\n')
    .split(/^FROM /m)
    .at(-1) as string;

  it('runs the built server (dist/server.js), as npm start does, from the app copied out of the build', () => {
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(finalStage)?.[1] as string;
    expect(JSON.parse(entry)).toEqual(['node', 'dist/server.js']);
    expect(finalStage).not.toMatch(/^CMD /m);
    const workdir = /^WORKDIR (\S+)$/m.exec(finalStage)?.[1] as string;
    expect(finalStage).toMatch(new RegExp(`^COPY --from=build \\S* ?/app ${workdir}$`, 'm'));
    expect(dockerfile).toMatch(/deploy --prod \/app/);
    const pkg = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe('node dist/server.js');
    expect(readFileSync(join(appDir, 'tsup.config.ts'), 'utf8')).toMatch(
      /entry: \['src\/server\.ts'\]/,
    );
    // Listens where the health check and compose expect it, not as root.
    expect(finalStage).toMatch(/HOST=0\.0\.0\.0/);
    expect(finalStage).toMatch(/^USER node$/m);
    expect(finalStage).toMatch(/^HEALTHCHECK .*\/readyz/m);
  });

  it('is what compose builds, with the repository root as context', () => {
    for (const name of appServices) {
      const { context, dockerfile: path } = services[name].build;
      const root = resolve(ops, context);
      expect(existsSync(join(root, 'pnpm-workspace.yaml')), root).toBe(true);
      expect(resolve(root, path)).toBe(join(ops, 'Dockerfile'));
    }
    expect(existsSync(join(ops, 'Dockerfile.dockerignore'))).toBe(true);
  });
});

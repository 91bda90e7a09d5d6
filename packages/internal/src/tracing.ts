// OpenTelemetry spans through `@opentelemetry/api`, an optional peer dependency, imported once when
// this module loads (a dynamic import: the one form that resolves from the package's own location
// in both the ESM and the CJS build; `import.meta` cannot appear in a CJS chunk). Until it resolves,
// when it is not installed, or while no tracer provider is registered, `on` is false and the
// callers skip span creation (no closure, no attribute object) on their hot paths.
// Its own entry, `@boxoffice/internal/tracing`, not the index, which another change owns.
import type * as OtelApi from '@opentelemetry/api';

/** Span attributes: keys start with `boxoffice.`. */
export type SpanAttributes = Record<string, string | number | boolean | readonly string[]>;

/** What the caller sets on the span once the traced call resolved (e.g. its outcome). */
export type SpanOutcome<T> = (value: T) => SpanAttributes | undefined;

type Api = typeof OtelApi;

let api: Api | undefined;
/** The API's own no-op provider, what the global proxy delegates to while none is registered. */
let noopProvider: OtelApi.TracerProvider | undefined;

/** Settles once `@opentelemetry/api` is loaded or known to be missing (never rejects). */
export const tracingLoaded: Promise<boolean> = import('@opentelemetry/api').then(
  (loaded) => {
    if (!loaded?.trace || !loaded.ProxyTracerProvider) return false;
    noopProvider = new loaded.ProxyTracerProvider().getDelegate();
    api = loaded;
    return true;
  },
  () => false,
);

/** One instrumentation scope (a package): `on` while a tracer provider is registered. */
export class Tracing {
  /**
   * @param scope - the instrumentation scope's name, e.g. `@boxoffice/seat-lock`.
   * @param version - the package version.
   */
  constructor(
    private readonly scope: string,
    private readonly version?: string,
  ) {}

  /** True when `@opentelemetry/api` is installed and a tracer provider is registered. */
  get on(): boolean {
    if (!api) return false;
    const provider = api.trace.getTracerProvider() as OtelApi.TracerProvider & {
      getDelegate?: () => OtelApi.TracerProvider;
    };
    const delegate = provider.getDelegate ? provider.getDelegate() : provider;
    return delegate !== noopProvider && delegate.constructor?.name !== 'NoopTracerProvider';
  }

  /**
   * Run `fn` inside an active span `name`: `outcome`'s attributes are set when it resolves; a
   * rejection is recorded as an exception with error status. Call it only when `on`.
   */
  async span<T>(
    name: string,
    attributes: SpanAttributes,
    fn: () => Promise<T>,
    outcome?: SpanOutcome<T>,
  ): Promise<T> {
    if (!api) return fn();
    const tracer = api.trace.getTracer(this.scope, this.version);
    return tracer.startActiveSpan(
      name,
      { attributes: attributes as OtelApi.Attributes },
      async (span) => {
        try {
          const value = await fn();
          const extra = outcome?.(value);
          if (extra) span.setAttributes(extra as OtelApi.Attributes);
          return value;
        } catch (error) {
          failed(span, error);
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  /** `span` for a synchronous `fn`. Call it only when `on`. */
  spanSync<T>(name: string, attributes: SpanAttributes, fn: () => T): T {
    if (!api) return fn();
    const tracer = api.trace.getTracer(this.scope, this.version);
    return tracer.startActiveSpan(
      name,
      { attributes: attributes as OtelApi.Attributes },
      (span) => {
        try {
          return fn();
        } catch (error) {
          failed(span, error);
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  /**
   * Record a span for something that already happened (from `startTime`, ms since the epoch, to
   * now), as a child of the active span. A no-op unless `on`.
   */
  event(name: string, attributes: SpanAttributes, startTime?: number): void {
    if (!api || !this.on) return;
    api.trace
      .getTracer(this.scope, this.version)
      .startSpan(name, { attributes: attributes as OtelApi.Attributes, startTime })
      .end();
  }
}

function failed(span: OtelApi.Span, error: unknown): void {
  if (!api) return;
  if (error instanceof Error) span.recordException(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') span.setAttribute('boxoffice.error.code', code);
  span.setStatus({
    code: api.SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

// Setup shared by the packages' tests, which import it by relative path
// (`../../internal/test/package-tests.js`): the span capture of their tracing tests, the bounds
// of their deadline tests (ARCHITECTURE.md, "Bounded calls") and a bounded wait for a condition.

import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, expect } from 'vitest';
import {
  reconnectingClient,
  type SilentRedis,
  silentRedis,
  timedFailure,
} from '../../local-redis/src/testing.js';
import { tracingLoaded } from '../src/tracing.js';

/**
 * Wait until `cond` holds, checking every 20 ms, for at most `timeoutMs`; then fail with the
 * condition's text and what `explain` reports of the state that was still pending.
 */
export async function until(
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 25_000,
  explain?: () => unknown,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) {
      const state = explain ? `; pending: ${JSON.stringify(await explain())}` : '';
      throw new Error(`not met within ${timeoutMs} ms: ${cond.toString()}${state}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The spans finished during the current test. */
export interface CapturedSpans {
  readonly exporter: InMemorySpanExporter;
  /** The finished spans named `name`, in the order they ended. */
  spans(name: string): ReadableSpan[];
}

/**
 * In the enclosing `describe` (or file): before each test, wait for the optional OpenTelemetry API
 * to load (as an app's startup does) and install a global tracer provider that keeps every finished
 * span in memory; after it, turn tracing off and forget the spans.
 */
export function captureSpans(): CapturedSpans {
  const exporter = new InMemorySpanExporter();
  beforeEach(async () => {
    expect(await tracingLoaded).toBe(true);
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
  });
  afterEach(() => {
    trace.disable();
    exporter.reset();
  });
  return {
    exporter,
    spans: (name) => exporter.getFinishedSpans().filter((s) => s.name === name),
  };
}

/** The `commandTimeoutMs` the deadline tests give the objects under test. */
export const TIMEOUT = 300;
/** Slack on every time bound for a loaded machine: the bounds are correctness bounds (no hang). */
export const SLACK = 1500;

/** Named calls: the `operation` each failure must name, and the call. */
export type Calls = readonly (readonly [operation: string, call: () => Promise<unknown>])[];

/**
 * In the enclosing `describe`: what `open` gives, new for each test and closed with `close` after
 * it. Read `.current` inside a test or hook.
 */
export function perTest<T>(
  open: () => Promise<T>,
  close: (value: T) => unknown,
): { readonly current: T } {
  let value: { v: T } | undefined;
  beforeEach(async () => {
    value = { v: await open() };
  });
  afterEach(async () => {
    const opened = value;
    value = undefined;
    if (opened) await close(opened.v);
  });
  return {
    get current(): T {
      if (!value) throw new Error('perTest(...).current is set only while a test runs');
      return value.v;
    },
  };
}

/** {@link perTest}: a Redis that never answers ({@link silentRedis}). */
export function useSilentRedis(): { readonly current: SilentRedis } {
  return perTest(silentRedis, (silent) => silent.close());
}

/** {@link perTest}: a client with ioredis defaults that is reconnecting ({@link reconnectingClient}). */
export function useReconnectingClient(): { readonly current: Redis } {
  return perTest(reconnectingClient, (client) => client.disconnect());
}

/**
 * Run `calls` at once against a Redis that never answers: each must fail with a `Type`, kind
 * `timeout` and its operation, between `TIMEOUT` and `TIMEOUT + SLACK` after it began.
 */
export async function expectTimeouts(
  calls: Calls,
  Type: abstract new (...args: never[]) => Error,
): Promise<void> {
  const results = await Promise.all(calls.map(([, call]) => timedFailure(call)));
  for (const [i, { error, ms }] of results.entries()) {
    const operation = calls[i]?.[0];
    expect(error, operation).toBeInstanceOf(Type);
    expect(error, operation).toMatchObject({ kind: 'timeout', operation });
    expect(ms, operation).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(ms, operation).toBeLessThan(TIMEOUT + SLACK);
  }
}

/**
 * Run `calls` one after the other on a client that is reconnecting: each must fail at once (within
 * `SLACK`) with kind `unavailable` and its operation (and be a `Type`, when given).
 */
export async function expectUnavailable(
  calls: Calls,
  Type?: abstract new (...args: never[]) => Error,
): Promise<void> {
  for (const [operation, call] of calls) {
    const { error, ms } = await timedFailure(call);
    if (Type) expect(error, operation).toBeInstanceOf(Type);
    expect(error, operation).toMatchObject({ kind: 'unavailable', operation });
    expect(ms, operation).toBeLessThan(SLACK);
  }
}

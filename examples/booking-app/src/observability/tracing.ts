// OTEL_TRACES_CONSOLE=true: the packages' OpenTelemetry spans printed to stdout. The two
// @opentelemetry packages are optional dependencies, imported only here and only then, so the
// default path neither loads nor needs them. For a real backend, register an OTLP exporter the
// same way (NodeSDK or a BasicTracerProvider with a BatchSpanProcessor) before the app starts.

/**
 * Register a global tracer provider whose spans go to a ConsoleSpanExporter. Throws, naming the
 * packages, when they are not installed.
 */
export async function startConsoleTracing(): Promise<void> {
  let api: typeof import('@opentelemetry/api');
  let sdk: typeof import('@opentelemetry/sdk-trace-base');
  try {
    api = await import('@opentelemetry/api');
    sdk = await import('@opentelemetry/sdk-trace-base');
  } catch (error) {
    throw new Error(
      'OTEL_TRACES_CONSOLE needs @opentelemetry/api and @opentelemetry/sdk-trace-base installed',
      { cause: error },
    );
  }
  const provider = new sdk.BasicTracerProvider({
    spanProcessors: [new sdk.SimpleSpanProcessor(new sdk.ConsoleSpanExporter())],
  });
  api.trace.setGlobalTracerProvider(provider);
}

/**
 * Run `work` while calling `renew` every `everyMs` (never two renewals at once); renewal errors go
 * to `onError`. Renewal stops as soon as `work` settles, whatever its outcome.
 */
export async function whileRenewing<T>(
  everyMs: number,
  renew: () => Promise<unknown>,
  onError: (error: unknown) => void,
  work: () => Promise<T>,
): Promise<T> {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    renew()
      .catch(onError)
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/**
 * When an SSE stream needs a `: keep-alive` comment (proxies close connections that stay silent):
 * at each periodic check, only if nothing was written since the previous check — and the comment
 * counts as a write, so a silent stream gets one every other check, never quiet for more than two
 * check intervals. (Counting only events, a silent stream got a comment at every check: twice the
 * writes, each a syscall, for nothing.)
 */
export class KeepAlive {
  #wrote = false;

  /** Something was written to the stream. */
  wrote(): void {
    this.#wrote = true;
  }

  /** A periodic check: whether to write a comment now (it counts as a write). */
  due(): boolean {
    const due = !this.#wrote;
    this.#wrote = due;
    return due;
  }
}

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response, Router } from 'express';

/**
 * Where the pages live: `examples/booking-app/public`. This module runs from `src/http/` (tests,
 * tsx) and bundled into `dist/server.js`, so both relative locations are tried.
 */
function findPublicDir(): string {
  const candidates = ['../public', '../../public'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  const found = candidates.find((dir) => existsSync(`${dir}/index.html`));
  if (!found) throw new Error(`web pages not found; looked in ${candidates.join(', ')}`);
  return found;
}

/**
 * Only these paths can be pages or their assets (one optional folder, a file with an extension):
 * no API route has a dot in its path, so the API always wins and API requests never touch the disk.
 */
const ASSET = /^\/(?:[a-z0-9-]+\/)?[a-z0-9-]+\.(?:html|js|css|svg)$/;

/**
 * The pages may only load from this origin: no inline script or style, no third party. The JSON
 * API and the SSE stream are same-origin (`connect-src 'self'`).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/**
 * The web pages (plain HTML, CSS and ES modules from `public/`, no build step) over the JSON API:
 * concert list, waiting room, seat map, payment, confirmation and popular products, and the
 * operator page `/admin` (its API only with `ADMIN_TOKEN`).
 * `GET /` answers the concert list to a browser (`Accept: text/html`) and falls through to the JSON
 * description of the app for API clients (`Accept: application/json` or `*\/*`).
 */
export function staticPages(
  dir: string = findPublicDir(),
  options: { adminEnabled?: boolean } = {},
): Router {
  const router = Router();
  const files = express.static(dir, {
    index: false,
    redirect: false,
    fallthrough: true,
    setHeaders: securityHeaders,
  });

  router.get('/', (req: Request, res: Response, next: NextFunction) => {
    if (req.accepts(['json', 'html']) !== 'html') return next();
    securityHeaders(res);
    res.sendFile('index.html', { root: dir });
  });
  // The operator page: 404 while ADMIN_TOKEN is unset (DESIGN.md), with the page itself as the
  // body, which then says how to turn it on.
  router.get('/admin', (_req: Request, res: Response) => {
    securityHeaders(res);
    res.status(options.adminEnabled ? 200 : 404).sendFile('admin.html', { root: dir });
  });
  router.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !ASSET.test(req.path)) return next();
    files(req, res, next);
  });
  return router;
}

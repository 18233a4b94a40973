// jobrelay browser client: submit a job, wait for it (long poll or Server-Sent
// Events), cancel it. One dependency-free ES module; no build step.
// The contract it follows is docs/API.md.

/**
 * A job document as jobrelay returns it (docs/API.md, "The job document").
 * @typedef {object} JobDocument
 * @property {string} id
 * @property {'queued'|'running'|'succeeded'|'failed'} status
 * @property {string} created_at
 * @property {string} updated_at
 * @property {number} elapsed_seconds
 * @property {number} [progress]     0..1, only when the upstream reports progress
 * @property {number} [eta_seconds]  only with progress
 * @property {*} [result]            only when succeeded
 * @property {{code: string, message: string, upstream?: *}} [error]  only when failed
 * @property {{self: string, events: string}} links
 * @property {boolean} [reused]      only in answers to submit
 */

/** Statuses after which a job never changes. */
export const TERMINAL_STATUSES = Object.freeze(['succeeded', 'failed']);

/**
 * @param {JobDocument} doc
 * @returns {boolean} true when the job will not change any more
 */
export function isTerminal(doc) {
  return TERMINAL_STATUSES.includes(doc?.status);
}

/**
 * Progress for a progress bar.
 * @param {JobDocument} doc
 * @returns {number|null} 0..1, or null when unknown (show an indeterminate bar)
 */
export function progressOf(doc) {
  if (doc?.status === 'succeeded') return 1;
  if (typeof doc?.progress !== 'number' || !Number.isFinite(doc.progress)) return null;
  return Math.min(1, Math.max(0, doc.progress));
}

/**
 * Estimated seconds left.
 * @param {JobDocument} doc
 * @returns {number|null} null when the job is terminal or gives no estimate
 */
export function etaOf(doc) {
  if (isTerminal(doc) || typeof doc?.eta_seconds !== 'number') return null;
  return Math.max(0, doc.eta_seconds);
}

/**
 * A short human text for an ETA: "8 s", "2 min 5 s", "" when unknown.
 * @param {number|null} seconds
 * @returns {string}
 */
export function formatEta(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
}

/**
 * What went wrong talking to jobrelay. A failed *job* is not an error (see
 * {@link JobRelayClient#wait}); this is for refused requests, unknown jobs,
 * exhausted retries and protocol surprises.
 */
export class JobRelayError extends Error {
  /**
   * @param {string} message
   * @param {object} [details]
   * @param {number} [details.status]      HTTP status, when there was an answer
   * @param {object} [details.problem]     the RFC 9457 problem document, when there was one
   * @param {number} [details.retryAfter]  seconds, from Retry-After on 429/503
   * @param {*} [details.cause]
   */
  constructor(message, { status, problem, retryAfter, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'JobRelayError';
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

/**
 * @typedef {object} ClientOptions
 * @property {string} [apiKey]  sent as `Authorization: Bearer`; note that this
 *   header makes every request CORS-preflighted (cached per URL for 10 min)
 * @property {typeof fetch} [fetch]  a fetch implementation (tests, wrappers)
 * @property {number} [retries=5]  how many times in a row a request is retried
 *   after a network error, 429 or 503 before giving up
 * @property {number} [waitSeconds=25]  long-poll length; kept under the usual
 *   30 s idle timeouts of proxies (jobrelay caps it at polling.max_wait_seconds)
 */

/**
 * @typedef {object} WaitOptions
 * @property {(doc: JobDocument) => void} [onProgress]  called with every new
 *   state of the job (status, progress, ETA, ...), the terminal one included
 * @property {AbortSignal} [signal]  aborting rejects the wait with the signal's reason
 * @property {'longpoll'|'events'} [mode='longpoll']
 * @property {(error: Error) => void} [onFallback]  events mode: called when the
 *   stream failed and waiting goes on by long polling
 */

export class JobRelayClient {
  /**
   * @param {string} baseUrl  jobrelay's base URL, e.g. "https://api.example.com"
   * @param {ClientOptions} [options]
   */
  constructor(baseUrl, { apiKey, fetch: fetchImpl, retries = 5, waitSeconds = 25 } = {}) {
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    this.apiKey = apiKey;
    this.retries = retries;
    this.waitSeconds = waitSeconds;
    // Called through a closure: window.fetch throws "Illegal invocation" when
    // called as a method of another object.
    this._fetch = fetchImpl ?? ((...args) => globalThis.fetch(...args));
  }

  /**
   * Submits a job (`POST /analyze`).
   *
   * Every attempt carries the same Idempotency-Key, so retrying after a
   * network error (when we cannot know whether the first POST arrived) or a
   * 429/503 never creates a second job: jobrelay answers a repeated key with
   * the job it already has (`reused: true`).
   *
   * @param {object} body  the analysis request, forwarded to the upstream
   * @param {object} [options]
   * @param {string} [options.idempotencyKey]  default: a fresh random UUID
   * @param {AbortSignal} [options.signal]
   * @returns {Promise<JobDocument>}  usually queued or running; a reused job
   *   may already be terminal
   */
  async submit(body, { idempotencyKey, signal } = {}) {
    const key = idempotencyKey ?? randomUuid();
    const { doc } = await this._request('POST', '/analyze', {
      signal,
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
      body: JSON.stringify(body),
      accept: [200, 202, 500],
    });
    return doc;
  }

  /**
   * The job's current document (`GET /results/{id}`). A failed job is
   * returned like any other (status "failed"); an unknown, expired or deleted
   * one rejects with a JobRelayError whose status is 404.
   * @param {string} id
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<JobDocument>}
   */
  async get(id, { signal } = {}) {
    const { doc } = await this._request('GET', jobPath(id), { signal, accept: [200, 202, 500] });
    return doc;
  }

  /**
   * Cancels the job and makes jobrelay forget it (`DELETE /results/{id}`).
   * @param {string} id
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<boolean>}  true when deleted, false when jobrelay did not
   *   know the job (already deleted or expired)
   */
  async cancel(id, { signal } = {}) {
    const { response } = await this._request('DELETE', jobPath(id), { signal, accept: [204, 404] });
    return response.status === 204;
  }

  /**
   * Waits until the job is terminal and resolves with its final document.
   *
   * A failed job *resolves* (with `status: "failed"` and `error`): the wait
   * did its job, and callers branch on `doc.status` for both outcomes, as
   * they would on the one document shape jobrelay sends for 200, 202 and 500.
   * It rejects only when waiting itself fails: the job is unknown (404),
   * retries are exhausted, or the signal aborts (with the signal's reason).
   *
   * `longpoll` asks `GET /results/{id}?wait=N` again and again. The request
   * carries no custom header (unless an apiKey is set), so a page pays no CORS
   * preflight for it. If the server answers at once with nothing new, it does
   * not hold requests (an older jobrelay, a proxy): the client then polls
   * plainly, as often as Retry-After says.
   *
   * `events` reads `GET /results/{id}/events` with an EventSource, and falls
   * back to long polling if the stream fails (no SSE support, a proxy that
   * buffers, CORS refused).
   *
   * @param {string|JobDocument} job  the id, or a job document (which saves a
   *   request in events mode: its links.events is used as is)
   * @param {WaitOptions} [options]
   * @returns {Promise<JobDocument>}
   */
  async wait(job, { onProgress, signal, mode = 'longpoll', onFallback } = {}) {
    if (mode !== 'longpoll' && mode !== 'events') throw new TypeError(`unknown wait mode: ${mode}`);
    let doc = typeof job === 'string' ? null : job;
    const id = typeof job === 'string' ? job : job.id;
    let seen = null;
    // Reports each state once: long polls in degraded mode and reconnected
    // streams hand back the same document more than once.
    const report = (d) => {
      doc = d;
      const f = fingerprint(d);
      if (f !== seen) {
        seen = f;
        onProgress?.(d);
      }
      return d;
    };
    if (doc) report(doc);
    if (doc && isTerminal(doc)) return doc;
    if (mode === 'events') {
      try {
        if (!doc?.links?.events) report(await this.get(id, { signal }));
        if (isTerminal(doc)) return doc;
        return await this._waitEvents(doc, report, signal);
      } catch (err) {
        if (signal?.aborted || err?.status === 404) throw err;
        onFallback?.(err);
      }
    }
    return this._waitLongPoll(id, doc, report, signal);
  }

  /**
   * The absolute URL of a job link (links.self, links.events). Links are
   * paths; they are appended to baseUrl so that a base with a path prefix
   * (a reverse proxy at /jobrelay) keeps it. A link with a `token` query
   * parameter (auth on) keeps it too.
   * @param {string} link
   * @returns {string}
   */
  resolve(link) {
    if (/^https?:\/\//i.test(link)) return link;
    return this.baseUrl + (link.startsWith('/') ? link : `/${link}`);
  }

  // -- internals ------------------------------------------------------------

  async _waitLongPoll(id, doc, report, signal) {
    const waitMs = this.waitSeconds * 1000;
    const url = `${this.baseUrl}${jobPath(id)}?wait=${this.waitSeconds}`;
    // null: not known yet whether the server holds long polls.
    let serverHolds = null;
    let failures = 0;
    for (;;) {
      signal?.throwIfAborted();
      const before = fingerprint(doc);
      const started = Date.now();
      let response;
      try {
        // Give up on a request that outlives the wait by far: a proxy or a
        // sleeping laptop can leave it hanging for ever.
        response = await this._fetchWithTimeout(url, { headers: this._authHeaders(), cache: 'no-store' },
          signal, waitMs + 15000);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        failures = await this._afterFailure(failures, backoffMs(failures),
          new JobRelayError(`GET ${jobPath(id)}: network error`, { cause: err }), signal);
        continue;
      }
      if (response.status === 429 || response.status === 503) {
        failures = await this._afterFailure(failures, retryAfterMs(response),
          await errorFrom(response), signal);
        continue;
      }
      if (![200, 202, 500].includes(response.status)) throw await errorFrom(response);
      failures = 0;
      doc = report(await readDocument(response));
      if (isTerminal(doc)) return doc;
      const unchanged = fingerprint(doc) === before;
      const elapsed = Date.now() - started;
      // A holding server answers a 202 either with news or after the whole
      // wait; an unchanged answer well before that means it does not hold.
      if (unchanged) serverHolds = elapsed >= waitMs / 2;
      if (serverHolds === false) await sleep(retryAfterMs(response), signal);
    }
  }

  _waitEvents(doc, report, signal) {
    return new Promise((resolve, reject) => {
      const source = new EventSource(this.resolve(doc.links.events));
      const finish = (fn, value) => {
        source.close();
        signal?.removeEventListener('abort', onAbort);
        fn(value);
      };
      const onAbort = () => finish(reject, signal.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      source.onmessage = (event) => {
        let next;
        try {
          next = JSON.parse(event.data);
        } catch (err) {
          finish(reject, new JobRelayError('event stream sent a non-JSON event', { cause: err }));
          return;
        }
        report(next);
        if (isTerminal(next)) finish(resolve, next);
      };
      // EventSource tells nothing about the cause (404, CORS, a dropped
      // connection, a 204 after the end), and would reconnect on its own for
      // some of them. Long polling copes with all of them, and reports a 404
      // properly, so hand over to it.
      source.onerror = () => finish(reject, new JobRelayError('event stream failed'));
    });
  }

  // Waits before the next attempt, or throws `err` when the retries in a row
  // are spent. Returns the new count of failures.
  async _afterFailure(failures, delayMs, err, signal) {
    if (failures >= this.retries) throw err;
    await sleep(delayMs, signal);
    return failures + 1;
  }

  // One request with bounded retries on network errors, 429 and 503. Resolves
  // with the response (and its job document, if any) when its status is in
  // `accept`; rejects with a JobRelayError otherwise.
  async _request(method, path, { signal, headers = {}, body, accept }) {
    let failures = 0;
    for (;;) {
      signal?.throwIfAborted();
      let response;
      try {
        response = await this._fetch(this.baseUrl + path, {
          method, body, signal, cache: 'no-store',
          headers: { ...this._authHeaders(), ...headers },
        });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        failures = await this._afterFailure(failures, backoffMs(failures),
          new JobRelayError(`${method} ${path}: network error`, { cause: err }), signal);
        continue;
      }
      if (response.status === 429 || response.status === 503) {
        failures = await this._afterFailure(failures, retryAfterMs(response),
          await errorFrom(response), signal);
        continue;
      }
      if (!accept.includes(response.status)) throw await errorFrom(response);
      const hasDocument = response.status !== 204 && response.status !== 404;
      return { response, doc: hasDocument ? await readDocument(response) : undefined };
    }
  }

  async _fetchWithTimeout(url, init, signal, timeoutMs) {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new JobRelayError('long poll timed out')), timeoutMs);
    try {
      return await this._fetch(url, { ...init, signal: controller.signal });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  _authHeaders() {
    return this.apiKey ? { Authorization: `Bearer ${this.apiKey}` } : {};
  }
}

// -- helpers ------------------------------------------------------------------

function jobPath(id) {
  return `/results/${encodeURIComponent(id)}`;
}

// What makes a state "new": updated_at moves whenever anything but
// elapsed_seconds changes (API.md), so the elapsed-only ticks are not news.
function fingerprint(doc) {
  return doc ? `${doc.status}|${doc.updated_at}|${doc.progress}` : null;
}

async function readDocument(response) {
  let doc;
  try {
    doc = await response.json();
  } catch (err) {
    throw new JobRelayError(`answer ${response.status} is not JSON`, { status: response.status, cause: err });
  }
  if (!doc || typeof doc.id !== 'string' || typeof doc.status !== 'string') {
    throw new JobRelayError(`answer ${response.status} is not a job document`, { status: response.status });
  }
  return doc;
}

async function errorFrom(response) {
  let problem;
  try {
    problem = await response.json();
  } catch {
    problem = undefined;
  }
  const what = problem?.detail || problem?.title || response.statusText || 'request failed';
  return new JobRelayError(`${response.status}: ${what}`, {
    status: response.status,
    problem,
    retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
  });
}

/**
 * Retry-After as seconds: delay-seconds or an HTTP date; null when absent or
 * unreadable (which needs the header to be CORS-exposed: jobrelay does that).
 * @param {string|null} value
 * @returns {number|null}
 */
export function parseRetryAfter(value) {
  if (value == null || value.trim() === '') return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

// At least 1 s (API.md's floor; also what an unreadable header falls back
// to), at most 5 min, so a wild value cannot freeze the page.
function retryAfterMs(response) {
  const seconds = parseRetryAfter(response.headers.get('Retry-After')) ?? 1;
  return Math.min(300, Math.max(1, seconds)) * 1000;
}

// Exponential backoff with equal jitter (half fixed, half random), from 0.5 s
// to 30 s: clients that lost the network together do not return together.
function backoffMs(failures) {
  const cap = Math.min(30000, 500 * 2 ** failures);
  return cap / 2 + Math.random() * (cap / 2);
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// crypto.randomUUID exists only in secure contexts (https, localhost); a page
// on plain http elsewhere still has getRandomValues.
function randomUuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Agent identity (spec protocol.md §7): first enrolment with a single-use bootstrap token, and
 * renewal keyed on the mTLS identity. Certificates come from the file-backed fleet CA, re-read
 * for every issuance (a rotated CA file needs no restart); each issuance appends one JSONL line
 * to the audit log.
 *
 * Enrolment checks, in the reference's order (§7.2): token version; nonce not used (409); nonce
 * in the signed allow-list, for this hostname, not expired (401); token time window (401); token
 * not minted before the allow-list's `mintedAfter` floor, nor — after the CP lost its database —
 * before the loss unless a list signed since carries `mintedAfter` (401, core's `tokenFloorVerdict`);
 * org-root signature over JCS(received claims) against trust.json re-read now (401; 500 when
 * the trust file or its orgRootKey is unusable); CSR well-formed (400); CSR CN == hostname and
 * key fingerprint == the token's (401); a verified fleet (503) declaring the host with exactly
 * this ed25519 key (401); the nonce recorded through the mutator, which closes the race between
 * two uses of one token (409); then issuance (500 without a CA).
 * Renewal (core's `renewalVerdict`): a revoked certificate is 401 until the host enrols again;
 * one certificate per host per quarter of the lifetime, else 429 with Retry-After.
 * Invariants: the issued CN is always `agent-<host>.<suffix>` built from the checked hostname
 * (enrolment) or the mTLS identity (renewal) — never taken from the CSR; error texts never
 * echo the request; a renewal whose certificate is revoked while it is issued is withheld.
 */
import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import * as v from 'valibot'
import {
  certRevoked,
  issuanceHoldMs,
  renewalVerdict,
  type RenewalVerdict,
  tokenFloorVerdict,
} from '../core/index.ts'
import { canonicalizeValue, type JsonValue } from '../crypto/canonical-json.ts'
import { ed25519Verify } from '../crypto/ed25519.ts'
import { parseOpenSshPublicKey } from '../crypto/keys.ts'
import { sha256Bytes } from '../crypto/sha256.ts'
import { bytesEqual, fromBase64, toBase64, utf8 } from '../lib/bytes.ts'
import { issueClientCert } from '../pki/ca.ts'
import { readCaFiles } from '../pki/cert.ts'
import { parseCsr } from '../pki/csr.ts'
import { agentCommonName } from '../pki/identity.ts'
import { EnrollRequestSchema, RenewRequestSchema, type CertResponse } from '../proto/agent.ts'
import { BOOTSTRAP_TOKEN_VERSION, type BootstrapNonces } from '../proto/bootstrap.ts'
import { HostnameSchema } from '../proto/ids.ts'
import { parseRfc3339Ms, toRfc3339 } from '../proto/common.ts'
import { summarizeIssues } from '../proto/issues.ts'
import { activeKeysAt } from '../proto/trust.ts'
import type { Clock } from '../runtime/clock.ts'
import type { Logger } from '../runtime/log.ts'
import type { Store } from '../db/store.ts'
import type { CpMetrics } from './metrics.ts'
import type { MutatorPort } from './replica/mutator-port.ts'
import type { CpState } from './state.ts'
import { readTrustFile } from './workers/release-poll.ts'
import { type RepeatLog, repeatLog } from '../runtime/repeat-log.ts'

/** The outcome of an enrolment or renewal; `retryAfterSecs` goes with 429 and 503. */
export type IssueResult =
  | { readonly status: 200; readonly body: CertResponse }
  | {
      readonly status: 400 | 401 | 409 | 429 | 500 | 503
      readonly error: string
      readonly retryAfterSecs?: number
    }

/** What the service needs. */
export type EnrollDeps = {
  readonly state: CpState
  readonly store: Store
  readonly mutator: MutatorPort
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: CpMetrics
  readonly trustFile: string
  readonly ca: { readonly certPath: string; readonly keyPath: string } | undefined
  readonly agentCnSuffix: string
  readonly validitySecs: number
  readonly auditLog: string | undefined
  /** When the CP found its database lost (`db-lost.ts`); `null`: never. */
  readonly dbLostAt: number | null
}

// The hostname a request's token names, however wrong the rest of it is.
const NamedTokenSchema = v.object({
  token: v.object({ claims: v.object({ hostname: HostnameSchema }) }),
})

const deny = (status: 400 | 401 | 409 | 500 | 503, error: string): IssueResult => ({
  status,
  error,
})

const retryLater = (status: 429 | 503, error: string, waitMs: number): IssueResult => ({
  status,
  error,
  retryAfterSecs: Math.max(1, Math.ceil(waitMs / 1000)),
})

/** Enrolment and renewal. */
// The same refusal of the same host is logged at most once a minute, with a count.
const REFUSAL_LOG_INTERVAL_MS = 60_000

export class EnrollService {
  /**
   * When each host was last issued a certificate (or one is being issued), in this process: the
   * renewal rate limit counts from it, so parallel renewals with one certificate get one.
   */
  private readonly lastIssuedAt = new Map<string, number>()

  /** Refusals are logged once a minute per host and reason: the enrol route is unauthenticated. */
  private readonly refusals: RepeatLog

  constructor(private readonly deps: EnrollDeps) {
    this.refusals = repeatLog({
      log: deps.log,
      intervalMs: REFUSAL_LOG_INTERVAL_MS,
      now: () => deps.clock.monotonicMs(),
      onSuppressed: () => deps.metrics.logSuppressed.inc(),
    })
  }

  /**
   * `POST /v1/enroll` with the parsed JSON body. Every refusal is logged with its reason, and the
   * outcome is told to the mutator for the hostname the token names (when it names one): the
   * host view shows a refusal's reason.
   */
  async enroll(raw: unknown): Promise<IssueResult> {
    const r = await this.decideEnrolment(raw)
    const named = v.safeParse(NamedTokenSchema, raw)
    if (r.status !== 200) {
      const host = named.success ? named.output.token.claims.hostname.slice(0, 64) : null
      this.refusals('warn', `${host}\u0000${r.error}`, 'enrolment refused', {
        host,
        status: r.status,
        reason: r.error,
      })
    }
    if (named.success && r.status !== 503)
      this.deps.mutator.submit({
        type: 'Enrolment',
        hostname: named.output.token.claims.hostname,
        refusal: r.status === 200 ? null : r.error,
      })
    return r
  }

  private async decideEnrolment(raw: unknown): Promise<IssueResult> {
    const { state, clock } = this.deps
    const parsed = v.safeParse(EnrollRequestSchema, raw)
    if (!parsed.success)
      return deny(400, `invalid enrolment request: ${summarizeIssues(parsed.issues)}`)
    const { token, csrPem } = parsed.output
    if (token.version !== BOOTSTRAP_TOKEN_VERSION)
      return deny(400, `unsupported bootstrap token version ${token.version}`)
    const claims = token.claims
    const host = claims.hostname as string
    if (await this.deps.store.security.nonceUsed(claims.nonce))
      return deny(409, 'bootstrap token already used')

    const now = clock.now()
    const allowed = state.nonces.get(claims.nonce)
    if (allowed === undefined)
      return deny(401, 'token nonce is not in the signed bootstrap-nonces allow-list')
    if (allowed.hostname !== claims.hostname)
      return deny(401, 'token nonce is allow-listed for another host')
    if (parseRfc3339Ms(allowed.expiresAt) < now)
      return deny(401, 'allow-list entry for this nonce has expired')
    if (now < parseRfc3339Ms(claims.issuedAt)) return deny(401, 'bootstrap token is not valid yet')
    if (now >= parseRfc3339Ms(claims.expiresAt)) return deny(401, 'bootstrap token has expired')
    const list = state.noncesAdopted
    const floor = (list?.value as BootstrapNonces | undefined)?.mintedAfter ?? null
    const verdict = tokenFloorVerdict(
      parseRfc3339Ms(claims.issuedAt),
      list === undefined
        ? null
        : { signedAt: list.signedAtMs, mintedAfter: floor === null ? null : parseRfc3339Ms(floor) },
      this.deps.dbLostAt
    )
    if (verdict === 'minted-before-floor')
      return deny(401, "bootstrap token was minted before the allow-list's mintedAfter floor")
    if (verdict === 'database-lost')
      return deny(
        401,
        'bootstrap token was minted before the control plane lost its database; re-sign the bootstrap-nonces list with mintedAfter'
      )
    // A certificate issued in the second the host's revocation was adopted would be revoked.
    const hold = issuanceHoldMs(state.revocations.get(host), now)
    if (hold > 0) return retryLater(503, 'host revocation adopted just now; retry', hold)

    const trust = await readTrustFile(this.deps.trustFile)
    if (!trust.ok) {
      this.deps.log.error('enrolment: trust file unusable', { error: trust.message })
      return deny(500, 'trust file unusable')
    }
    const org = trust.trust.orgRootKey
    if (org === null) return deny(500, 'trust file has no orgRootKey')
    // The signature covers the canonical form of the claims as received (unknown fields too).
    const rawClaims = (raw as { token: { claims: JsonValue } }).token.claims
    const message = utf8(canonicalizeValue(rawClaims))
    const sig = fromBase64(token.signature)
    const signed =
      sig !== undefined &&
      activeKeysAt(org, now).some((k) => {
        if (k.algorithm !== 'ed25519') return false
        const pub = fromBase64(k.public)
        return pub !== undefined && ed25519Verify(sig, message, pub)
      })
    if (!signed)
      return deny(401, 'bootstrap token signature does not verify against the org root key')

    const csr = await parseCsr(csrPem)
    if (!csr.ok) return deny(400, `bad CSR: ${csr.error}`)
    if (csr.algorithm !== 'ed25519') return deny(400, 'CSR key must be ed25519 (the host SSH key)')
    if (csr.commonName !== host)
      return deny(401, 'CSR common name does not match the token hostname')
    if (toBase64(sha256Bytes(csr.publicKeyRaw)) !== claims.expectedPubkeyFingerprint) {
      return deny(401, 'CSR key does not match the token fingerprint')
    }
    const keyCheck = this.declaredKeyMatches(host, csr.publicKeyRaw)
    if (keyCheck !== undefined) return keyCheck

    const fresh = this.deps.mutator.request({
      type: 'UseNonce',
      nonce: claims.nonce,
      hostname: host,
      expiresAt: parseRfc3339Ms(claims.expiresAt),
    })
    if (fresh === undefined) return deny(503, 'control plane busy')
    if (!(await fresh)) return deny(409, 'bootstrap token already used')
    return this.issue(host, csr.spki, '<enroll>', `enroll/nonce:${claims.nonce}`, () => true)
  }

  /** `POST /v1/agent/renew` for the authenticated agent `host`, by its certificate `peer`. */
  async renew(
    host: string,
    peer: { readonly cn: string; readonly serial: string; readonly notBeforeMs: number },
    raw: unknown
  ): Promise<IssueResult> {
    const r = await this.decideRenewal(host, peer, raw)
    if (r.status !== 200)
      this.refusals('warn', `${host}\u0000${r.error}`, 'certificate renewal refused', {
        host,
        status: r.status,
        reason: r.error,
      })
    return r
  }

  private async decideRenewal(
    host: string,
    peer: { readonly cn: string; readonly serial: string; readonly notBeforeMs: number },
    raw: unknown
  ): Promise<IssueResult> {
    const parsed = v.safeParse(RenewRequestSchema, raw)
    if (!parsed.success)
      return deny(400, `invalid renewal request: ${summarizeIssues(parsed.issues)}`)
    const csr = await parseCsr(parsed.output.csrPem)
    if (!csr.ok) return deny(400, `bad CSR: ${csr.error}`)
    if (csr.algorithm !== 'ed25519') return deny(400, 'CSR key must be ed25519 (the host SSH key)')
    const keyCheck = this.declaredKeyMatches(host, csr.publicKeyRaw)
    if (keyCheck !== undefined) return keyCheck
    const verdict = this.renewalVerdict(host, peer.notBeforeMs)
    if (!verdict.ok)
      return verdict.kind === 'Revoked'
        ? deny(401, 'certificate revoked; the host must enrol again with a new bootstrap token')
        : retryLater(429, 'certificate renewed too recently', verdict.retryAfterMs)
    // Policy: the renewed certificate names the mTLS identity, whatever CN the CSR carries.
    // A revocation adopted while the certificate is issued withholds it.
    return this.issue(
      host,
      csr.spki,
      peer.cn,
      `renew/prev:${peer.serial}`,
      () => !certRevoked(peer.notBeforeMs, this.deps.state.revocations.get(host))
    )
  }

  private renewalVerdict(host: string, certNotBeforeMs: number): RenewalVerdict {
    return renewalVerdict({
      certNotBeforeMs,
      lastIssuedAt: this.lastIssuedAt.get(host),
      revocation: this.deps.state.revocations.get(host),
      validityMs: this.deps.validitySecs * 1000,
      now: this.deps.clock.now(),
    })
  }

  private declaredKeyMatches(host: string, key: Uint8Array): IssueResult | undefined {
    const release = this.deps.state.release
    if (release === undefined) return deny(503, 'no verified fleet yet')
    const declared = Object.hasOwn(release.fleet.value.hosts, host)
      ? release.fleet.value.hosts[host as never]
      : undefined
    if (declared === undefined) return deny(401, 'host is not declared in the signed fleet')
    if (declared.pubkey === null)
      return deny(401, 'host has no declared pubkey in the signed fleet')
    const pub = parseOpenSshPublicKey(declared.pubkey)
    if (!pub.ok || !bytesEqual(pub.value, key))
      return deny(401, 'CSR key is not the host key declared in the signed fleet')
    return undefined
  }

  private async issue(
    host: string,
    spki: Uint8Array,
    requester: string,
    context: string,
    stillAllowed: () => boolean
  ): Promise<IssueResult> {
    const { clock } = this.deps
    // Claimed before the first await, so a parallel renewal is counted against it; given back
    // when nothing was issued.
    const prev = this.lastIssuedAt.get(host)
    this.lastIssuedAt.set(host, clock.now())
    const r = await this.issueNow(host, spki, requester, context, stillAllowed)
    if (r.status !== 200) {
      if (prev === undefined) this.lastIssuedAt.delete(host)
      else this.lastIssuedAt.set(host, prev)
    }
    return r
  }

  private async issueNow(
    host: string,
    spki: Uint8Array,
    requester: string,
    context: string,
    stillAllowed: () => boolean
  ): Promise<IssueResult> {
    const { ca, clock, log } = this.deps
    if (ca === undefined)
      return deny(500, 'no fleet CA is configured (--fleet-ca-cert/--fleet-ca-key)')
    const loaded = await readCaFiles(ca)
    if (!loaded.ok) {
      log.error('fleet CA unusable', { error: loaded.error })
      return deny(500, 'fleet CA unusable')
    }
    const cn = agentCommonName(host, this.deps.agentCnSuffix)
    const now = clock.now()
    let certPem: string
    try {
      certPem = await issueClientCert({
        ca: loaded.value,
        subjectPublicKey: spki,
        commonName: cn,
        sanDns: cn,
        now,
        validitySecs: this.deps.validitySecs,
        clientAuth: true,
      })
    } catch (e) {
      log.warn('certificate issuance failed', {
        host,
        error: e instanceof Error ? e.message : String(e),
      })
      return deny(400, 'certificate could not be issued for this request')
    }
    const notAfter = toRfc3339(Math.floor(now / 1000) * 1000 + this.deps.validitySecs * 1000)
    if (!stillAllowed()) return deny(401, 'certificate revoked')
    if (this.deps.auditLog !== undefined) {
      const line = JSON.stringify({
        at: toRfc3339(now),
        requester_cn: requester,
        issued_cn: cn,
        not_after: notAfter,
        context,
      })
      try {
        await mkdir(dirname(this.deps.auditLog), { recursive: true })
        await appendFile(this.deps.auditLog, `${line}\n`, { mode: 0o600 })
      } catch (e) {
        // Policy: no certificate leaves the CP without its audit line.
        log.error('audit log unwritable; certificate withheld', {
          error: (e as { code?: string }).code ?? String(e),
        })
        return deny(500, 'audit log unwritable')
      }
    }
    if (!stillAllowed()) return deny(401, 'certificate revoked')
    this.deps.metrics.enrollments.inc({ context: context.split('/')[0]! })
    log.info('certificate issued', { cn, notAfter, context })
    return { status: 200, body: { certPem, notAfter } }
  }
}

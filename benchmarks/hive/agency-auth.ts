// The gateway plugin that proves Hive to each sandbox agency, as connectors/agency_auth.py does for cardhub:
// an API key header, OAuth2 client credentials (RFC 6749 section 4.4), or an HMAC-SHA256 signed request.
// It reads the same settings the hub reads (sandbox.runner.agency_configs), matched by the call's origin.
import { createHash, createHmac, randomBytes } from 'node:crypto'
import type { GatewayPlugin } from '@graphql-hive/gateway'

export interface AgencyConfig {
  url: string
  auth: 'api_key' | 'oauth2_client_credentials' | 'hmac' | 'none'
  secret?: string
  header?: string
  token_path?: string
  client_id?: string
  app_id?: string
}

type Fetch = (url: string, init: RequestInit) => Promise<Response>
interface Token { value: Promise<string>; expiresAt: number }
const REFRESH_MARGIN_MS = 30_000

export function useAgencyAuth(agencies: AgencyConfig[]): GatewayPlugin {
  const byOrigin = new Map(agencies.map((a) => [new URL(a.url).origin, a]))
  const tokens = new Map<string, Token>()

  function bearer(agency: AgencyConfig, fetchFn: Fetch): Promise<string> {
    const cached = tokens.get(agency.url)
    if (cached && Date.now() < cached.expiresAt) return cached.value
    // One token request at a time per agency, however many calls are waiting for it.
    const token: Token = { value: fetchToken(agency, fetchFn, (ms) => (token.expiresAt = ms)), expiresAt: Infinity }
    token.value.catch(() => tokens.delete(agency.url))
    tokens.set(agency.url, token)
    return token.value
  }

  async function headers(agency: AgencyConfig, method: string, url: URL, body: string, fetchFn: Fetch) {
    switch (agency.auth) {
      case 'api_key':
        return { [agency.header!]: agency.secret! }
      case 'oauth2_client_credentials':
        return { authorization: `Bearer ${await bearer(agency, fetchFn)}` }
      case 'hmac':
        return hmacHeaders(agency, method, url, body)
      default:
        return {}
    }
  }

  return {
    async onFetch({ url, options, setOptions, fetchFn }) {
      const target = new URL(url)
      const agency = byOrigin.get(target.origin)
      if (!agency) return
      const method = (options.method ?? 'GET').toUpperCase()
      const body = typeof options.body === 'string' ? options.body : ''
      const added = await headers(agency, method, target, body, fetchFn as Fetch)
      setOptions({ ...options, headers: { ...(options.headers as Record<string, string>), ...added } })
      return ({ response }) => {
        if (response.status === 401) tokens.delete(agency.url) // the agency forgot our token: fetch a new one next time
      }
    },
  }
}

async function fetchToken(agency: AgencyConfig, fetchFn: Fetch, setExpiry: (ms: number) => void): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: agency.client_id!, client_secret: agency.secret! })
  const response = await fetchFn(new URL(agency.token_path!, agency.url).toString(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  })
  if (!response.ok) throw new Error(`token endpoint of ${agency.url} answered ${response.status}`)
  const { access_token, expires_in } = (await response.json()) as { access_token: string; expires_in: number }
  setExpiry(Date.now() + Math.max(0, expires_in * 1000 - REFRESH_MARGIN_MS))
  return access_token
}

// X-Ca-* headers over METHOD \n path \n sorted query \n timestamp \n nonce \n sha256(body), as the bureau checks them.
function hmacHeaders(agency: AgencyConfig, method: string, url: URL, body: string): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000))
  const nonce = randomBytes(16).toString('hex')
  const query = [...url.searchParams]
    .sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`)
    .join('&')
  const bodyHash = createHash('sha256').update(body).digest('hex')
  const toSign = [method, url.pathname, query, timestamp, nonce, bodyHash].join('\n')
  const signature = createHmac('sha256', agency.secret!).update(toSign).digest('base64')
  return { 'X-Ca-Key': agency.app_id!, 'X-Ca-Timestamp': timestamp, 'X-Ca-Nonce': nonce, 'X-Ca-Signature': signature }
}

// Python's urllib.parse.quote_plus: only letters, digits and _.-~ stay as they are, a space is '+'.
function quotePlus(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

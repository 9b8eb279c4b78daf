// Hive Gateway for benchmarks/peer.py, which passes the composed supergraph's path: the agency auth plugin,
// and the response cache when PEER_RESPONSE_CACHE=1 (one shared entry per query and variables, 60 s).
import { defineConfig } from '@graphql-hive/gateway'
import { useAgencyAuth, type AgencyConfig } from './agency-auth'

const agencies: AgencyConfig[] = JSON.parse(process.env.PEER_AGENCY_AUTH ?? '[]')

export const gatewayConfig = defineConfig({
  responseCaching: process.env.PEER_RESPONSE_CACHE === '1' ? { session: () => null, ttl: 60_000 } : undefined,
  plugins: () => [useAgencyAuth(agencies)],
})

// The five sandbox agencies as one supergraph, from each agency's own /openapi.json.
// benchmarks/peer.py sets PEER_AGENCIES (agency id -> base URL) and runs `mesh-compose -o supergraph.graphql`.
import { createPrefixTransform, defineConfig } from '@graphql-mesh/compose-cli'
import { loadOpenAPISubgraph } from '@omnigraph/openapi'

const agencies: Record<string, string> = JSON.parse(process.env.PEER_AGENCIES ?? '{}')

export const composeConfig = defineConfig({
  subgraphs: Object.entries(agencies).map(([agency, url]) => ({
    sourceHandler: loadOpenAPISubgraph(agency, { source: `${url}/openapi.json`, endpoint: url }),
    // Two agencies both call their type Loan: each agency's types get its name in front.
    transforms: [createPrefixTransform({ value: `${agency}_` })],
  })),
  // Trips hang off the e-tong card number, loans and holds off the patron id: each found by a first lookup.
  additionalTypeDefs: /* GraphQL */ `
    extend type transit_Card {
      trips(limit: Int): transit_v1_cards_by_cardNumber_trips_response
        @resolveTo(sourceName: "transit", sourceTypeName: "Query", sourceFieldName: "v1_cards_by_cardNumber_trips",
                   requiredSelectionSet: "{ cardNumber }", sourceArgs: { cardNumber: "{root.cardNumber}", limit: "{args.limit}" })
    }
    extend type library_Patron {
      loans(limit: Int): library_opac_api_patrons_by_patronId_loans_response
        @resolveTo(sourceName: "library", sourceTypeName: "Query", sourceFieldName: "opac_api_patrons_by_patronId_loans",
                   requiredSelectionSet: "{ patronId }", sourceArgs: { patronId: "{root.patronId}", limit: "{args.limit}" })
      holds(limit: Int): library_opac_api_patrons_by_patronId_holds_response
        @resolveTo(sourceName: "library", sourceTypeName: "Query", sourceFieldName: "opac_api_patrons_by_patronId_holds",
                   requiredSelectionSet: "{ patronId }", sourceArgs: { patronId: "{root.patronId}", limit: "{args.limit}" })
    }
  `,
})

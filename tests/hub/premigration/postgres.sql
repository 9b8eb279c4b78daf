CREATE TABLE IF NOT EXISTS "citizen" (
    "card_number" VARCHAR(20) NOT NULL PRIMARY KEY,
    "name" VARCHAR(64) NOT NULL,
    "username" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS "card" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "status" VARCHAR(16) NOT NULL,
    "issued_on" DATE NOT NULL,
    "virtual_card" BOOL NOT NULL,
    "citizen_id" VARCHAR(20) NOT NULL UNIQUE REFERENCES "citizen" ("card_number") ON DELETE CASCADE
);
COMMENT ON COLUMN "card"."status" IS 'ACTIVE: ACTIVE\nSUSPENDED: SUSPENDED\nREVOKED: REVOKED';
CREATE TABLE IF NOT EXISTS "access_token" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20),
    "scope" TEXT NOT NULL,
    "issued_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "revoked_at" TIMESTAMPTZ,
    "grant_id" INT
);
CREATE INDEX IF NOT EXISTS "idx_access_toke_grant_i_bf7e35" ON "access_token" ("grant_id");
CREATE TABLE IF NOT EXISTS "audit_log" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "at_ms" BIGINT NOT NULL,
    "request_id" VARCHAR(64) NOT NULL,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20) NOT NULL,
    "sections" TEXT NOT NULL,
    "outcome" VARCHAR(16) NOT NULL,
    "reason" VARCHAR(64) NOT NULL,
    "prev_hash" VARCHAR(64) NOT NULL,
    "hash" VARCHAR(64) NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS "idx_audit_log_citizen_4887ab" ON "audit_log" ("citizen");
CREATE TABLE IF NOT EXISTS "client" (
    "client_id" VARCHAR(64) NOT NULL PRIMARY KEY,
    "name" VARCHAR(128) NOT NULL,
    "type" VARCHAR(16) NOT NULL,
    "secret_hash" VARCHAR(64),
    "redirect_uris" JSONB NOT NULL,
    "scope" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "first_party" BOOL NOT NULL,
    "agency" VARCHAR(40),
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON COLUMN "client"."type" IS 'PUBLIC: public\nCONFIDENTIAL: confidential\nAGENCY: agency';
CREATE TABLE IF NOT EXISTS "consent" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "citizen" VARCHAR(20) NOT NULL,
    "client_id" VARCHAR(64) NOT NULL,
    "scope" TEXT NOT NULL,
    "revoked_scope" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "granted_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_consent_citizen_686adb" UNIQUE ("citizen", "client_id")
);
COMMENT ON COLUMN "consent"."status" IS 'ACTIVE: ACTIVE\nREVOKED: REVOKED\nEXPIRED: EXPIRED';
CREATE TABLE IF NOT EXISTS "consent_event" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "at" TIMESTAMPTZ NOT NULL,
    "action" VARCHAR(16) NOT NULL,
    "scope" TEXT NOT NULL,
    "consent_id" INT NOT NULL REFERENCES "consent" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "consent_event" IS 'The history: what changed, when, and the scopes after the change.';
CREATE TABLE IF NOT EXISTS "oauth_grant" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20),
    "scope" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "revoked_at" TIMESTAMPTZ,
    "revoked_why" VARCHAR(64) NOT NULL
);
CREATE TABLE IF NOT EXISTS "refresh_token" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20) NOT NULL,
    "scope" TEXT NOT NULL,
    "issued_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "used_at" TIMESTAMPTZ,
    "revoked_at" TIMESTAMPTZ,
    "grant_id" INT NOT NULL REFERENCES "oauth_grant" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "authorization_code" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "code_hash" VARCHAR(64) NOT NULL UNIQUE,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20) NOT NULL,
    "redirect_uri" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "code_challenge" VARCHAR(128) NOT NULL,
    "code_challenge_method" VARCHAR(8) NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "used_at" TIMESTAMPTZ,
    "grant_id" INT
);
CREATE TABLE IF NOT EXISTS "connector_state" (
    "agency" VARCHAR(40) NOT NULL PRIMARY KEY,
    "section" VARCHAR(40) NOT NULL,
    "version" INT NOT NULL,
    "enabled" BOOL NOT NULL,
    "generation" INT NOT NULL,
    "changed_by" VARCHAR(80) NOT NULL,
    "changed_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_connector_s_section_c610df" ON "connector_state" ("section");
CREATE TABLE IF NOT EXISTS "connector_version" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "agency" VARCHAR(40) NOT NULL,
    "version" INT NOT NULL,
    "section" VARCHAR(40) NOT NULL,
    "manifest" TEXT NOT NULL,
    "digest" VARCHAR(64) NOT NULL,
    "registered_by" VARCHAR(80) NOT NULL,
    "registered_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_connector_v_agency_992153" UNIQUE ("agency", "version")
);
CREATE INDEX IF NOT EXISTS "idx_connector_v_agency_6d44a1" ON "connector_version" ("agency");

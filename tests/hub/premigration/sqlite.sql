CREATE TABLE IF NOT EXISTS "citizen" (
    "card_number" VARCHAR(20) NOT NULL PRIMARY KEY,
    "name" VARCHAR(64) NOT NULL,
    "username" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS "card" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "status" VARCHAR(16) NOT NULL /* ACTIVE: ACTIVE\nSUSPENDED: SUSPENDED\nREVOKED: REVOKED */,
    "issued_on" DATE NOT NULL,
    "virtual_card" INT NOT NULL,
    "citizen_id" VARCHAR(20) NOT NULL UNIQUE REFERENCES "citizen" ("card_number") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "access_token" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20),
    "scope" TEXT NOT NULL,
    "issued_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "revoked_at" TIMESTAMP,
    "grant_id" INT
);
CREATE INDEX IF NOT EXISTS "idx_access_toke_grant_i_bf7e35" ON "access_token" ("grant_id");
CREATE TABLE IF NOT EXISTS "audit_log" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
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
    "type" VARCHAR(16) NOT NULL /* PUBLIC: public\nCONFIDENTIAL: confidential\nAGENCY: agency */,
    "secret_hash" VARCHAR(64),
    "redirect_uris" JSON NOT NULL,
    "scope" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "first_party" INT NOT NULL,
    "agency" VARCHAR(40),
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS "consent" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "citizen" VARCHAR(20) NOT NULL,
    "client_id" VARCHAR(64) NOT NULL,
    "scope" TEXT NOT NULL,
    "revoked_scope" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "granted_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "status" VARCHAR(16) NOT NULL /* ACTIVE: ACTIVE\nREVOKED: REVOKED\nEXPIRED: EXPIRED */,
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_consent_citizen_686adb" UNIQUE ("citizen", "client_id")
);
CREATE TABLE IF NOT EXISTS "consent_event" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "action" VARCHAR(16) NOT NULL,
    "scope" TEXT NOT NULL,
    "consent_id" INT NOT NULL REFERENCES "consent" ("id") ON DELETE CASCADE
) /* The history: what changed, when, and the scopes after the change. */;
CREATE TABLE IF NOT EXISTS "oauth_grant" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20),
    "scope" TEXT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "revoked_at" TIMESTAMP,
    "revoked_why" VARCHAR(64) NOT NULL
);
CREATE TABLE IF NOT EXISTS "refresh_token" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20) NOT NULL,
    "scope" TEXT NOT NULL,
    "issued_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "revoked_at" TIMESTAMP,
    "grant_id" INT NOT NULL REFERENCES "oauth_grant" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "authorization_code" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code_hash" VARCHAR(64) NOT NULL UNIQUE,
    "client_id" VARCHAR(64) NOT NULL,
    "citizen" VARCHAR(20) NOT NULL,
    "redirect_uri" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "code_challenge" VARCHAR(128) NOT NULL,
    "code_challenge_method" VARCHAR(8) NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "grant_id" INT
);
CREATE TABLE IF NOT EXISTS "connector_state" (
    "agency" VARCHAR(40) NOT NULL PRIMARY KEY,
    "section" VARCHAR(40) NOT NULL,
    "version" INT NOT NULL,
    "enabled" INT NOT NULL,
    "generation" INT NOT NULL,
    "changed_by" VARCHAR(80) NOT NULL,
    "changed_at" TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_connector_s_section_c610df" ON "connector_state" ("section");
CREATE TABLE IF NOT EXISTS "connector_version" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "agency" VARCHAR(40) NOT NULL,
    "version" INT NOT NULL,
    "section" VARCHAR(40) NOT NULL,
    "manifest" TEXT NOT NULL,
    "digest" VARCHAR(64) NOT NULL,
    "registered_by" VARCHAR(80) NOT NULL,
    "registered_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_connector_v_agency_992153" UNIQUE ("agency", "version")
);
CREATE INDEX IF NOT EXISTS "idx_connector_v_agency_6d44a1" ON "connector_version" ("agency");

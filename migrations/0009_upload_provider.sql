-- The storage provider that holds an upload's bytes: the name of one of common/storage.c's
-- providers, the one the settle-api that created the upload was configured with
-- (SETTLE_STORAGE). A deployment that changes SETTLE_STORAGE keeps its older uploads where
-- they are, and knows it: chunk registration, complete, download URLs and the worker's
-- integrity check refuse an upload that the configured provider does not hold. Every
-- upload before this migration was stored by the local provider (the default stays for
-- them; settle-api always names the provider). The column is set once, at insert, so it
-- costs updates nothing (no index on it).
ALTER TABLE uploads ADD COLUMN IF NOT EXISTS storage_provider text NOT NULL DEFAULT 'local'
    CONSTRAINT uploads_storage_provider_check CHECK (storage_provider IN ('local', 'swift'));

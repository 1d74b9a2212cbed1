-- The text of the archive's root `livescan.toml`, read once when the archive
-- is received, so a session can plan its tools without unpacking it.
ALTER TABLE uploads ADD COLUMN config TEXT;

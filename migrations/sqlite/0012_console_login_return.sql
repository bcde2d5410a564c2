-- Issue 21: a sign-in returns to the console page the person asked for, and ends the session
-- the browser held before it. Both are kept with the login under way, server-side, never taken
-- from the identity provider's callback.
ALTER TABLE console_logins ADD COLUMN return_to TEXT;        -- a local /ui/ path (console::back)
ALTER TABLE console_logins ADD COLUMN replaces_sha256 TEXT;  -- the earlier session cookie's digest
